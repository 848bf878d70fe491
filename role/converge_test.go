package role_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

const criteriaBody = "Add the files.\n\n## Acceptance criteria\n" +
	"- [ ] `test -f a.txt` passes\n" +
	"- [ ] `test -f b.txt` passes\n" +
	"- [ ] The README mentions a.txt\n"

// The loop goes on while the distance falls (3, 2, 1, 0), and each resumed
// session is told only what still fails. (docs/lifecycle.md F1; I2: the
// validator never runs in the developer's session)
func TestConvergesOverSeveralAttemptsWithFallingDistance(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: Add a.txt and b.txt, and mention a.txt in the README.
  - match: {role: developer, attempt: 1}
    actions: [{write: {path: c.txt, content: "c\n"}}]
    summary: Wrote c.txt.
  - match: {role: developer, attempt: 2}
    actions: [{write: {path: a.txt, content: "a\n"}}]
    summary: Wrote a.txt.
  - match: {role: developer, attempt: 3}
    actions: [{write: {path: b.txt, content: "b\n"}}]
    summary: Wrote b.txt.
  - match: {role: developer, attempt: 4}
    actions: [{append: {path: README.md, content: "See a.txt.\n"}}]
    summary: Mentioned a.txt.
  - match: {role: validator, attempt: 4}
    summary: ` + yamlText(answer(map[int]string{3: "met"})) + `
  - match: {role: validator}
    summary: ` + yamlText(answer(map[int]string{3: "unmet"})) + `
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: setBudget(5, "")})
	n, _ := start(t, org, criteriaBody)
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	as := attempts(t, org, n)
	if got := distances(as); got != "NO-GO:3 NO-GO:2 NO-GO:1 GO:0" {
		t.Fatalf("distances %s", got)
	}
	keys := strings.Join(as[0].FindingKeys(), " ")
	if keys != "criterion:`test -f a.txt` passes criterion:`test -f b.txt` passes criterion:The README mentions a.txt" {
		t.Fatalf("attempt 1 findings %s", keys)
	}
	// The GO report holds the criteria table; every attempt's is posted.
	report := comment(t, org, n, "## Validation of attempt 4")
	for _, want := range []string{"| 1 | `test -f a.txt` passes | met | command: `test -f a.txt` passed |",
		"| 3 | The README mentions a.txt | met | validator agent: judged met by the script |"} {
		if !strings.Contains(report, want) {
			t.Fatalf("report lacks %q:\n%s", want, report)
		}
	}
	if !strings.Contains(comment(t, org, n, "## Validation of attempt 1"), "| 3 | The README mentions a.txt | **unmet** |") {
		t.Fatal("attempt 1's report should show criterion 3 unmet")
	}
	// The developer's session: one session, resumed with only what still fails.
	runs := prompts(t, org, as[0].SessionID)
	if len(runs) != 4 {
		t.Fatalf("want 4 developer runs in one session, got %d", len(runs))
	}
	third := runs[2].Prompt // attempt 3: a.txt was fixed by attempt 2
	if strings.Contains(third, "test -f a.txt") || !strings.Contains(third, "test -f b.txt") || !strings.Contains(third, "judged unmet by the script") {
		t.Fatalf("attempt 3's prompt should carry what still fails and nothing already fixed:\n%s", third)
	}
	// The validator never ran in the developer's session.
	for _, r := range runs {
		if r.Role != "developer" {
			t.Fatalf("a %s run in the developer's session", r.Role)
		}
	}
}

// A check that fails the same way twice stops the loop at once.
// (docs/lifecycle.md F2)
func TestEscalatesWhenTheSameFindingsComeBack(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions: [{append: {path: notes.txt, content: "tried\n"}}]
    summary: Tried.
`
	// The check passes on the target (no notes.txt): the change breaks it.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "test ! -f notes.txt || { echo 'FAIL: TestX at 0.01s'; exit 1; }", E2E: "true", Edit: setBudget(5, "")})
	n, _ := start(t, org, "No criteria here.")
	if got := labels(t, org, n); got != "needs:human" {
		t.Fatalf("labels %s", got)
	}
	if got := distances(attempts(t, org, n)); got != "NO-GO:1 NO-GO:1" {
		t.Fatalf("distances %s", got)
	}
	esc := comment(t, org, n, "## Needs a human")
	for _, want := range []string{"the same findings came back: attempt 2 fails exactly as attempt 1 did",
		"| attempt | verdict | distance | what changed | still failing |", "| 2 | NO-GO | 1 | fixed none; new none | check:test:"} {
		if !strings.Contains(esc, want) {
			t.Fatalf("escalation lacks %q:\n%s", want, esc)
		}
	}
}

// Different failures, but the distance does not fall for stall_attempts.
// (docs/lifecycle.md F2)
func TestEscalatesWhenTheDistanceStalls(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions: [{shell: "date +%s%N > note.txt"}]
    summary: Changed the note.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "cat note.txt | tr 0-9 a-j; exit 1", E2E: "true", Edit: setBudget(6, "")})
	n, _ := start(t, org, "No criteria.")
	if got := labels(t, org, n); got != "needs:human" {
		t.Fatalf("labels %s", got)
	}
	if got := distances(attempts(t, org, n)); got != "NO-GO:1 NO-GO:1 NO-GO:1" {
		t.Fatalf("distances %s", got)
	}
	if esc := comment(t, org, n, "## Needs a human"); !strings.Contains(esc, "the distance has not fallen below 1 for 2 attempts") {
		t.Fatalf("escalation:\n%s", esc)
	}
}

// The token budget (as the agent reports usage) ends the loop.
// (docs/lifecycle.md F2)
func TestEscalatesWhenTheTokenBudgetIsSpent(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions: [{shell: "date +%s%N > note.txt"}]
    summary: Changed the note.
    usage: {input_tokens: 500, output_tokens: 100}
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "cat note.txt | tr 0-9 a-j; exit 1", E2E: "true", Edit: setBudget(6, "  tokens: 1000\n")})
	n, _ := start(t, org, "No criteria.")
	as := attempts(t, org, n)
	if got := labels(t, org, n); got != "needs:human" || len(as) != 2 {
		t.Fatalf("labels %s, attempts %s", got, distances(as))
	}
	if esc := comment(t, org, n, "## Needs a human"); !strings.Contains(esc, "the token budget (1000) is spent: 1200 tokens used") {
		t.Fatalf("escalation:\n%s", esc)
	}
	if as[1].Verdict != eventlog.NOGO {
		t.Fatal("the budget stops only after a NO-GO")
	}
}

// A check's result is cached by (tree, check definition): an attempt that
// changes nothing is not validated twice, and the report says so.
func TestUnchangedTreeIsNotCheckedTwice(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions: [{write: {path: notes.txt, content: "tried\n"}}]
    summary: Tried.
  - match: {role: developer}
    summary: Changed nothing.
`
	runs := filepath.Join(t.TempDir(), "runs")
	// Counted only on the change's tree (the target has no notes.txt).
	check := fmt.Sprintf("test -f notes.txt || exit 0; echo run >> %s; test -f a.txt", runs)
	// Unconfined: the check counts its runs outside its checkout.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: check, E2E: "true", Edit: setBudget(5, ""), Unconfined: true})
	n, _ := start(t, org, "Add a.txt.\n\n## Acceptance criteria\n- [ ] `test -f a.txt` passes\n")
	if got := distances(attempts(t, org, n)); got != "NO-GO:2 NO-GO:2" {
		t.Fatalf("distances %s", got)
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 1 {
		t.Fatalf("the check ran %d times on one tree, want once", strings.Count(string(b), "run"))
	}
	second := comment(t, org, n, "## Validation of attempt 2")
	for _, want := range []string{"FAILED: exit status 1 (cached: same tree)", "`test -f a.txt` failed (exit status 1) (cached: same tree)"} {
		if !strings.Contains(second, want) {
			t.Fatalf("attempt 2's report lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(comment(t, org, n, "## Validation of attempt 1"), "cached") {
		t.Fatal("attempt 1 ran its checks: nothing is cached yet")
	}
}

// A hung agent is killed by its stall timeout, and the issue says why.
func TestHungAgentIsKilledByTheStallTimeout(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions: [{sleep: 60s}]
    summary: never reached
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: func(s string) string {
		return strings.Replace(s, "stall_timeout: 10m", "stall_timeout: 1s", 1)
	}})
	n, _ := start(t, org, "Anything.")
	if got := labels(t, org, n); got != "needs:human" {
		t.Fatalf("labels %s", got)
	}
	if as := attempts(t, org, n); len(as) != 1 || !strings.Contains(as[0].Summary, "agent failed: ") || !strings.Contains(as[0].Summary, "stalled: no output for 1s") {
		t.Fatalf("the attempt should record the stall: %+v", as)
	}
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{Issue: n})
	if err != nil {
		t.Fatal(err)
	}
	var why string
	for _, e := range evs {
		if e.To == "needs:human" {
			why = e.Reason
		}
	}
	if !strings.Contains(why, "stalled: no output for 1s") {
		t.Fatalf("the escalation should say the agent stalled, says %q", why)
	}
}
