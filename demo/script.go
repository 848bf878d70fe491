package demo

// issueSpec is one of the demo's issues.
type issueSpec struct {
	Title  string
	Body   string
	Labels []string // the kind a release reads: feature, bug, breaking
}

var demoIssues = []issueSpec{
	{
		Title:  "Add a Sub function",
		Labels: []string{"feature"},
		Body: `calc needs subtraction.

## Acceptance criteria
- [ ] Sub(a, b) returns a - b
- [ ] ` + "`go test ./...`" + ` passes`,
	},
	{
		Title:  "Add a Mul function",
		Labels: []string{"feature"},
		Body: `calc needs multiplication.

## Acceptance criteria
- [ ] Mul(a, b) returns a * b
- [ ] ` + "`go test ./...`" + ` passes`,
	},
	{
		Title:  "Add Div that refuses division by zero",
		Labels: []string{"feature"},
		Body: `calc needs division that returns an error for a zero divisor.

## Acceptance criteria
- [ ] Div(a, 0) returns an error
- [ ] ` + "`go test ./...`" + ` passes`,
	},
	{
		Title:  "Add an Abs function",
		Labels: []string{"feature"},
		Body: `calc needs the absolute value of an int.

## Acceptance criteria
- [ ] Abs(a) returns the absolute value of a
- [ ] ` + "`go test ./...`" + ` passes`,
	},
}

// The review the demo's human gives issue 4's merge request: a must-fix on
// a line of the change and a question on the whole of it.
const (
	absMustFix  = "This comment says nothing: say what Abs returns, and that Abs(math.MinInt) overflows."
	absQuestion = "Why int and not float64?"
)

// fence opens and closes a Markdown code block; a Go raw string cannot hold it.
const fence = "```"

// demoScript plays the model for every role: issue 1 goes straight through,
// issue 2 fails its test and a criterion on attempt 1 (distance 3) and is
// fixed on attempt 2 in the same session (distance 0), issue 3 never fixes
// its bug, and the same findings coming back send it to a human. Issue 4
// goes through, then its merge request gets a review: triage finds one
// thread to fix and one question, the fix is made in the same session.
const demoScript = `# The scripted agent's script for agentorg demo. It stands in for a model:
# each step says what the "model" does for a (role, issue, attempt).
steps:
  - match: {role: pm, issue: 1}
    summary: |
      1. Add sub.go with Sub(a, b int) int returning a - b.
      2. Add sub_test.go with a table test.

      ## Acceptance criteria
      - [ ] Sub(a, b) returns a - b
      - [ ] ` + "`go test ./...`" + ` passes
  - match: {role: pm, issue: 2}
    summary: |
      1. Add mul.go with Mul(a, b int) int.
      2. Add mul_test.go.

      ## Acceptance criteria
      - [ ] Mul(a, b) returns a * b
      - [ ] ` + "`go test ./...`" + ` passes
  - match: {role: pm, issue: 3}
    summary: |
      1. Add div.go with Div(a, b int) (int, error), an error when b is 0.
      2. Add div_test.go covering the zero divisor.

      ## Acceptance criteria
      - [ ] Div(a, 0) returns an error
      - [ ] ` + "`go test ./...`" + ` passes

  - match: {role: developer, issue: 1}
    actions:
      - write:
          path: sub.go
          content: |
            package calc

            // Sub returns a - b.
            func Sub(a, b int) int { return a - b }
      - write:
          path: sub_test.go
          content: |
            package calc

            import "testing"

            func TestSub(t *testing.T) {
            	for _, c := range []struct{ a, b, want int }{{5, 3, 2}, {0, 4, -4}} {
            		if got := Sub(c.a, c.b); got != c.want {
            			t.Errorf("Sub(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
            		}
            	}
            }
    summary: Added Sub with a table test.
    usage: {input_tokens: 1800, output_tokens: 220}

  - match: {role: developer, issue: 2, attempt: 1}
    actions:
      - write:
          path: mul.go
          content: |
            package calc

            // Mul returns a * b.
            func Mul(a, b int) int { return a + b }
      - write:
          path: mul_test.go
          content: |
            package calc

            import "testing"

            func TestMul(t *testing.T) {
            	if got := Mul(3, 4); got != 12 {
            		t.Fatalf("Mul(3, 4) = %d, want 12", got)
            	}
            }
    summary: Added Mul and its test.
    usage: {input_tokens: 1700, output_tokens: 190}
  - match: {role: developer, issue: 2, attempt: 2}
    actions:
      - edit: {path: mul.go, old: "return a + b", new: "return a * b"}
    summary: "The validation report shows TestMul failing: Mul added instead of multiplying. Fixed."
    usage: {input_tokens: 2600, output_tokens: 60}

  - match: {role: pm, issue: 4}
    summary: |
      1. Add abs.go with Abs(a int) int.
      2. Add abs_test.go.

      ## Acceptance criteria
      - [ ] Abs(a) returns the absolute value of a
      - [ ] ` + "`go test ./...`" + ` passes
  - match: {role: developer, issue: 4, attempt: 1}
    actions:
      - write: {path: abs.go, content: ` + "\"" + `package calc\n\n// Abs is a helper.\nfunc Abs(a int) int {\n\tif a < 0 {\n\t\treturn -a\n\t}\n\treturn a\n}\n` + "\"" + `}
      - write: {path: abs_test.go, content: ` + "\"" + `package calc\n\nimport \"testing\"\n\nfunc TestAbs(t *testing.T) {\n\tif Abs(-3) != 3 || Abs(4) != 4 {\n\t\tt.Fatal(\"Abs is wrong\")\n\t}\n}\n` + "\"" + `}
    summary: Added Abs with a test.
    usage: {input_tokens: 1500, output_tokens: 150}
  # Review triage, read-only in its own session: thread 1 is the human's
  # must-fix on abs.go:3, thread 2 their question.
  - match: {role: triage, issue: 4}
    summary: |
      The comment is indeed empty; the question deserves an answer.

      ` + fence + `json
      {"threads": [
        {"thread": "1", "class": "must-fix", "reason": "abs.go:3 documents nothing and the overflow of Abs(math.MinInt) is not mentioned"},
        {"thread": "2", "class": "question", "reason": "asks about the type", "answer": "calc works on int throughout (Add, Sub, Mul take int), so Abs does too."}
      ]}
      ` + fence + `
  # The review fix, in the developer's same session.
  - match: {role: developer, issue: 4, attempt: 2}
    actions:
      - edit: {path: abs.go, old: "// Abs is a helper.", new: "// Abs returns the absolute value of a. Abs(math.MinInt) overflows and\n// returns math.MinInt."}
    summary: Documented what Abs returns and its overflow (review thread 1).
    usage: {input_tokens: 2100, output_tokens: 70}

  - match: {role: developer, issue: 3, attempt: 1}
    actions:
      - write:
          path: div.go
          content: |
            package calc

            // Div returns a / b.
            func Div(a, b int) (int, error) {
            	if b == 0 {
            		return 0, nil
            	}
            	return a / b, nil
            }
      - write:
          path: div_test.go
          content: |
            package calc

            import "testing"

            func TestDivByZero(t *testing.T) {
            	if _, err := Div(1, 0); err == nil {
            		t.Fatal("Div(1, 0) returned no error")
            	}
            }
    summary: Added Div.
    usage: {input_tokens: 1750, output_tokens: 200}
  - match: {role: developer, issue: 3}
    actions:
      - append: {path: div.go, content: "\n// The zero case is still under investigation.\n"}
    summary: Looked at the zero case again; not sure what the test wants.
    usage: {input_tokens: 2900, output_tokens: 40}

  # The validator agent judges, read-only and in its own session, the
  # criteria no command checks ("` + "`go test ./...`" + ` passes" is run instead).
  - match: {role: validator, issue: 1}
    summary: |
      Sub is implemented and tested.

      ` + fence + `json
      {"criteria": [{"id": 1, "verdict": "met", "evidence": "sub.go:4 returns a - b; TestSub covers 5-3 and 0-4"}]}
      ` + fence + `
  - match: {role: validator, issue: 2, attempt: 1}
    summary: |
      Mul adds instead of multiplying.

      ` + fence + `json
      {"criteria": [{"id": 1, "verdict": "unmet", "evidence": "mul.go:4 returns a + b, so Mul(3, 4) is 7"}]}
      ` + fence + `
  - match: {role: validator, issue: 2}
    summary: |
      Mul multiplies.

      ` + fence + `json
      {"criteria": [{"id": 1, "verdict": "met", "evidence": "mul.go:4 returns a * b; TestMul checks Mul(3, 4) == 12"}]}
      ` + fence + `
  - match: {role: validator, issue: 4}
    summary: |
      Abs is implemented and tested.

      ` + fence + `json
      {"criteria": [{"id": 1, "verdict": "met", "evidence": "abs.go returns -a for a < 0, else a; TestAbs covers -3 and 4"}]}
      ` + fence + `
  - match: {role: validator, issue: 3}
    summary: |
      The zero divisor is not refused.

      ` + fence + `json
      {"criteria": [{"id": 1, "verdict": "unmet", "evidence": "div.go:6 returns 0, nil when b == 0"}]}
      ` + fence + `
  - match: {role: release}
    summary: |
      calc can now subtract, multiply and take absolute values.

      ` + fence + `json
      {"version": "0.1.0", "summary": "calc learns Sub, Mul and Abs."}
      ` + fence + `
`
