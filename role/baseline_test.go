package role_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// redVet is a file whose `go vet` fails (a self-assignment, which the vet
// checks of `go test` leave alone): the target branch's own problem.
const redVet = `package calc

// Old assigns x to itself: go vet reports it.
func Old() int {
	x := 1
	x = x
	return x
}
`

// docs/lifecycle.md I11, F3. The target's checks already fail before the
// change: the PM is told, the
// failure is not the change's (not in the distance), and when it is all
// that is left the issue goes to a human at once, saying the target is red.
// A real module, a real go vet and go test.
func TestATargetThatIsRedEscalatesAtOnce(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: sub.go, content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}
    summary: Added Sub.
`
	org := orgtest.New(t, orgtest.Options{Script: script, E2E: "true"})
	pushToMain(t, org, map[string]string{"old.go": redVet})
	n, _ := start(t, org, "Add Sub.\n\n## Acceptance criteria\n- [ ] `go test ./...` passes\n")

	if got := labels(t, org, n); got != "needs:human" {
		t.Fatalf("labels %s, want needs:human", got)
	}
	as := attempts(t, org, n)
	if len(as) != 1 || as[0].Verdict != eventlog.NOGO || as[0].Distance != 0 {
		t.Fatalf("attempts %s: want one NO-GO at distance 0", distances(as))
	}
	red := as[0].TargetFindings()
	if len(red) != 1 || !strings.HasPrefix(red[0].Key, "check:test:") || len(as[0].FindingKeys()) != 0 {
		t.Fatalf("findings %+v: want the check marked as the target's own, and nothing counted", as[0].Findings)
	}
	esc := comment(t, org, n, "## Needs a human")
	for _, want := range []string{"the target is red: 1 check fails on main without this change (`test`)", "agentorg label add 1 dev:done", "old.go"} {
		if !strings.Contains(esc, want) {
			t.Fatalf("escalation lacks %q:\n%s", want, esc)
		}
	}
	report := comment(t, org, n, "## Validation of attempt 1")
	for _, want := range []string{"(fails the same way on main: not counted)", "### Already failing on main (not counted)"} {
		if !strings.Contains(report, want) {
			t.Fatalf("report lacks %q:\n%s", want, report)
		}
	}
	// The PM planned knowing it.
	runs, err := org.Log.Runs(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 || runs[0].Role != "pm" {
		t.Fatalf("runs %+v", runs)
	}
	pm := prompts(t, org, runs[0].Session)
	if !strings.Contains(pm[0].Prompt, "These checks already fail on main") || !strings.Contains(pm[0].Prompt, "old.go") {
		t.Fatalf("the PM's prompt does not name the red check:\n%s", pm[0].Prompt)
	}
}

// A change that adds its own failure to a check that is already red is
// told so, and that failure counts; once fixed, only the target's is left.
func TestAFailureAddedToARedCheckCounts(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions:
      - write: {path: sub.go, content: "package calc\n\nimport \"fmt\"\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { fmt.Printf(\"%d\\n\", \"x\"); return a - b }\n"}
    summary: Added Sub.
  - match: {role: developer}
    actions:
      - write: {path: sub.go, content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}
    summary: Fixed the Printf.
`
	org := orgtest.New(t, orgtest.Options{Script: script, E2E: "true", Edit: setBudget(4, "")})
	pushToMain(t, org, map[string]string{"old.go": redVet})
	n, _ := start(t, org, "Add Sub.")

	as := attempts(t, org, n)
	if got := distances(as); got != "NO-GO:1 NO-GO:0" {
		t.Fatalf("distances %s, want NO-GO:1 NO-GO:0", got)
	}
	if len(as[0].TargetFindings()) != 0 || !strings.Contains(as[0].Findings[0].Text, "already fails on main, before your change") {
		t.Fatalf("attempt 1's finding %+v: its own failure, said to add to a red check", as[0].Findings)
	}
	if got := labels(t, org, n); got != "needs:human" || !strings.Contains(comment(t, org, n, "## Needs a human"), "the target is red") {
		t.Fatalf("labels %s: want needs:human, the target red", got)
	}
}

// docs/lifecycle.md I11. A check red on the target counts when the plan
// takes it on, with an acceptance criterion that runs it: that criterion
// is the change's to meet, and once the developer fixes the target's
// failure the check passes too.
func TestARedCheckThePlanTakesOnCounts(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: |
      ## Goal
      Add Sub, and make go vet pass again.

      ## Acceptance criteria
      - [ ] ` + "`go vet ./...`" + ` passes
  - match: {role: developer, attempt: 1}
    actions:
      - write: {path: sub.go, content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}
    summary: Added Sub.
  - match: {role: developer, prompt: "self-assignment of x"}
    actions:
      - write: {path: old.go, content: "package calc\n\n// Old returns 1.\nfunc Old() int { return 1 }\n"}
    summary: Fixed old.go.
`
	org := orgtest.New(t, orgtest.Options{Script: script, E2E: "true"})
	pushToMain(t, org, map[string]string{"old.go": redVet})
	n, _ := start(t, org, "Add Sub, and make go vet pass.")

	as := attempts(t, org, n)
	if got := distances(as); got != "NO-GO:1 GO:0" {
		t.Fatalf("distances %s, want NO-GO:1 GO:0; first report:\n%s", got, as[0].Report)
	}
	if keys := strings.Join(as[0].FindingKeys(), " "); keys != "criterion:`go vet ./...` passes" {
		t.Fatalf("attempt 1 counts %q: want the plan's criterion", keys)
	}
	if red := as[0].TargetFindings(); len(red) != 1 || !strings.HasPrefix(red[0].Key, "check:test:") {
		t.Fatalf("attempt 1's target findings %+v: want the check, marked the target's", red)
	}
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
}
