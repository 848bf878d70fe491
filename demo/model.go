package demo

import "github.com/agentorg/agentorg/modelserver"

// demoModel plays the model for a real CLI in the demo, as demoScript does
// for the scripted agent: issue 1 goes straight through, issue 2 fails its
// test on attempt 1 and is fixed on attempt 2 in the same session, issue 3
// never fixes its bug, issue 4 gets a review round. Steps are picked by a
// phrase of the workflow's prompts (pm: "issue #N of this repository",
// developer: "Implement issue #N in this", fix: "issue #N failed
// validation", validate: "#N meets each acceptance criterion", triage:
// "merge request for issue #N. Decide", review: "issue #N, and triage found
// changes to make"); the CLI's own write and edit tools do the editing.
var demoModel = modelserver.Script{
	Usage: modelserver.Usage{InputTokens: 1800, CachedInputTokens: 600, OutputTokens: 120},
	Steps: []modelserver.Step{
		{Match: "issue #1 of this repository", Actions: []modelserver.Action{{Text: `## Goal
calc gains Sub.

## Approach
1. Add sub.go with Sub(a, b int) int returning a - b.
2. Add sub_test.go with a table test.

## Acceptance criteria
- [ ] Sub(a, b) returns a - b
- [ ] ` + "`go test ./...`" + ` passes`}}},
		{Match: "issue #2 of this repository", Actions: []modelserver.Action{{Text: `## Goal
calc gains Mul.

## Approach
1. Add mul.go with Mul(a, b int) int.
2. Add mul_test.go.

## Acceptance criteria
- [ ] Mul(a, b) returns a * b
- [ ] ` + "`go test ./...`" + ` passes`}}},
		{Match: "issue #3 of this repository", Actions: []modelserver.Action{{Text: `## Goal
calc gains Div, which refuses a zero divisor.

## Approach
1. Add div.go with Div(a, b int) (int, error), an error when b is 0.
2. Add div_test.go covering the zero divisor.

## Acceptance criteria
- [ ] Div(a, 0) returns an error
- [ ] ` + "`go test ./...`" + ` passes`}}},

		{Match: "issue #4 of this repository", Actions: []modelserver.Action{{Text: `## Goal
calc gains Abs.

## Approach
1. Add abs.go with Abs(a int) int.
2. Add abs_test.go.

## Acceptance criteria
- [ ] Abs(a) returns the absolute value of a
- [ ] ` + "`go test ./...`" + ` passes`}}},

		// The release agent, read-only, writes the summary of the release.
		{Match: "You are the release agent", Actions: []modelserver.Action{{Text: "calc can now subtract, multiply and take absolute values.\n\n```json\n" +
			`{"version": "0.1.0", "summary": "calc learns Sub, Mul and Abs."}` + "\n```\n"}}},

		// Review triage of issue 4's merge request, read-only in its own
		// session: thread 1 is the human's must-fix, thread 2 their question.
		{Match: "merge request for issue #4. Decide", Actions: []modelserver.Action{{Text: "The comment is indeed empty; the question deserves an answer.\n\n```json\n" +
			`{"threads": [{"thread": "1", "class": "must-fix", "reason": "abs.go:3 documents nothing and the overflow of Abs(math.MinInt) is not mentioned"}, ` +
			`{"thread": "2", "class": "question", "reason": "asks about the type", "answer": "calc works on int throughout (Add, Sub, Mul take int), so Abs does too."}]}` + "\n```\n"}}},
		// The review fix, in the developer's same session.
		{Match: "issue #4, and triage found changes to make", Actions: []modelserver.Action{
			{Edit: &modelserver.Edit{Path: "abs.go", Old: "// Abs is a helper.", New: "// Abs returns the absolute value of a. Abs(math.MinInt) overflows and\n// returns math.MinInt."}},
			{Text: "Documented what Abs returns and its overflow (review thread 1)."},
		}},

		// The validator judges, read-only and in its own session, the
		// criteria no command checks; it is picked by its prompt and, for
		// issue 2, by the diff it is shown.
		{Match: "+func Mul(a, b int) int { return a + b }", Actions: []modelserver.Action{{Text: verdict("unmet", "mul.go:4 returns a + b, so Mul(3, 4) is 7")}}},
		{Match: "#1 meets each acceptance criterion", Actions: []modelserver.Action{{Text: verdict("met", "sub.go:4 returns a - b; TestSub covers 5-3 and 0-4")}}},
		{Match: "#2 meets each acceptance criterion", Actions: []modelserver.Action{{Text: verdict("met", "mul.go:4 returns a * b; TestMul checks Mul(3, 4) == 12")}}},
		{Match: "#4 meets each acceptance criterion", Actions: []modelserver.Action{{Text: verdict("met", "abs.go returns -a for a < 0, else a; TestAbs covers -3 and 4")}}},
		{Match: "#3 meets each acceptance criterion", Actions: []modelserver.Action{{Text: verdict("unmet", "div.go:6 returns 0, nil when b == 0")}}},

		{Match: "Implement issue #1 in this", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "sub.go", Content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}},
			{Write: &modelserver.Write{Path: "sub_test.go", Content: `package calc

import "testing"

func TestSub(t *testing.T) {
	for _, c := range []struct{ a, b, want int }{{5, 3, 2}, {0, 4, -4}} {
		if got := Sub(c.a, c.b); got != c.want {
			t.Errorf("Sub(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
`}},
			{Text: "Added Sub with a table test."},
		}},

		{Match: "Implement issue #2 in this", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "mul.go", Content: "package calc\n\n// Mul returns a * b.\nfunc Mul(a, b int) int { return a + b }\n"}},
			{Write: &modelserver.Write{Path: "mul_test.go", Content: `package calc

import "testing"

func TestMul(t *testing.T) {
	if got := Mul(3, 4); got != 12 {
		t.Fatalf("Mul(3, 4) = %d, want 12", got)
	}
}
`}},
			{Text: "Added Mul and its test."},
		}},
		{Match: "issue #2 failed validation", Actions: []modelserver.Action{
			{Edit: &modelserver.Edit{Path: "mul.go", Old: "return a + b", New: "return a * b"}},
			{Text: "The validation report shows TestMul failing: Mul added instead of multiplying. Fixed."},
		}},

		{Match: "Implement issue #4 in this", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "abs.go", Content: "package calc\n\n// Abs is a helper.\nfunc Abs(a int) int {\n\tif a < 0 {\n\t\treturn -a\n\t}\n\treturn a\n}\n"}},
			{Write: &modelserver.Write{Path: "abs_test.go", Content: "package calc\n\nimport \"testing\"\n\nfunc TestAbs(t *testing.T) {\n\tif Abs(-3) != 3 || Abs(4) != 4 {\n\t\tt.Fatal(\"Abs is wrong\")\n\t}\n}\n"}},
			{Text: "Added Abs with a test."},
		}},

		{Match: "Implement issue #3 in this", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "div.go", Content: divBroken}},
			{Write: &modelserver.Write{Path: "div_test.go", Content: `package calc

import "testing"

func TestDivByZero(t *testing.T) {
	if _, err := Div(1, 0); err == nil {
		t.Fatal("Div(1, 0) returned no error")
	}
}
`}},
			{Text: "Added Div."},
		}},
		{Match: "issue #3 failed validation", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "div.go", Content: divBroken + "\n// The zero case is still under investigation.\n"}},
			{Text: "Looked at the zero case again; not sure what the test wants."},
		}},
	},
}

// verdict is the validator's structured answer on the one criterion the
// demo's issues leave to judgement.
func verdict(v, evidence string) string {
	return "Judged from the code.\n\n```json\n" +
		`{"criteria": [{"id": 1, "verdict": "` + v + `", "evidence": "` + evidence + `"}]}` + "\n```\n"
}

const divBroken = `package calc

// Div returns a / b.
func Div(a, b int) (int, error) {
	if b == 0 {
		return 0, nil
	}
	return a / b, nil
}
`
