package role_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// crossAgentScript plans and develops two issues that write the same
// file: #1 writes "one", #2 "two". resolution is the rest of the script:
// what #2's developer does once it meets #1's merged change.
func crossAgentScript(resolution string) string {
	return `
steps:
  - match: {role: pm, issue: 1}
    summary: "Plan of one: shared.txt says one."
  - match: {role: pm, issue: 2}
    summary: "Plan of two: shared.txt says two."
  - match: {role: developer, issue: 1}
    actions: [{write: {path: shared.txt, content: "one\n"}}]
    summary: Wrote one.
  - match: {role: developer, issue: 2, attempt: 1}
    actions: [{write: {path: shared.txt, content: "two\n"}}]
    summary: Wrote two.
` + resolution
}

// crossAgentStart opens #1 and #2, each with a command criterion on
// shared.txt, plans and develops them side by side (both are validated GO
// on the same target), merges #1, then approves #2: its merge meets the
// conflict with #1's merged change and sends it back to its developer.
func crossAgentStart(t *testing.T, script string) (*orgtest.Org, *engine.Engine) {
	t.Helper()
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	for _, word := range []string{"one", "two"} {
		body := "shared.txt says " + word + ".\n\n## Acceptance criteria\n- [ ] `grep -q " + word + " shared.txt` passes\n"
		optIn(t, org, "Say "+word, body)
	}
	orgtest.RunUntilIdle(t, eng)
	for _, n := range []int64{1, 2} {
		if _, err := org.Humans.Approve(ctx, n, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	orgtest.RunUntilIdle(t, eng)
	for _, n := range []int64{1, 2} {
		if got := labels(t, org, n); got != "mr:ready-for-review" {
			t.Fatalf("#%d is at %s (attempts %s), want its merge request", n, got, distances(attempts(t, org, n)))
		}
	}
	if _, err := org.Humans.Approve(ctx, 1, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, 1); err != nil || mr.State != agentorg.MRMerged {
		t.Fatalf("#1's merge request: %+v, %v; want it merged", mr, err)
	}
	if _, err := org.Humans.Approve(ctx, 2, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	return org, eng
}

// crossAgentMerge approves #2's new head and checks that it merges with
// both changes on the target.
func crossAgentMerge(t *testing.T, org *orgtest.Org, eng *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	if got := labels(t, org, 2); got != "mr:ready-for-review" {
		t.Fatalf("#2 is at %s (attempts %s), want its new head waiting for approval", got, distances(attempts(t, org, 2)))
	}
	if _, err := org.Humans.Approve(ctx, 2, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, 2); err != nil || mr.State != agentorg.MRMerged {
		t.Fatalf("#2's merge request: %+v, %v; want it merged", mr, err)
	}
	if got := orgtest.Git(t, org.Origin, "show", "main:shared.txt"); !strings.Contains(got, "one") || !strings.Contains(got, "two") {
		t.Fatalf("main's shared.txt is %q, want both changes", got)
	}
}

// Issue 20: a conflict between two issues' changes goes to the later
// one's developer with both intents (the other issue's plan, criteria and
// merged diff, and the conflicting hunks); a resolution that keeps both is
// validated against both issues' command criteria on the combined tree,
// and merges.
func TestCrossAgentConflictGetsBothIntentsAndMerges(t *testing.T) {
	org, eng := crossAgentStart(t, crossAgentScript(`
  - match: {role: developer, issue: 2, prompt: "Your change conflicts with #1's"}
    actions: [{write: {path: shared.txt, content: "one\ntwo\n"}}]
    summary: Kept both.
`))
	as := attempts(t, org, 2)
	if got := distances(as); got != "GO:0 NO-GO:1 GO:0" {
		t.Fatalf("#2's attempts %s, want the merge queue's conflict, then a GO", got)
	}
	if findingPaths(as[1]) != "conflict:shared.txt" {
		t.Fatalf("attempt 2 findings %v", as[1].FindingKeys())
	}
	runs := prompts(t, org, as[0].SessionID)
	if len(runs) != 2 {
		t.Fatalf("%d runs in #2's developer session, want 2", len(runs))
	}
	fix := runs[1].Prompt
	for _, want := range []string{
		"Your change conflicts with #1's (Say one), merged on\nmain meanwhile",
		"Plan of one: shared.txt says one.",     // its plan
		"- [ ] `grep -q one shared.txt` passes", // its criteria
		"diff --git a/shared.txt b/shared.txt",  // its merged diff
		"+one",                                  // of the conflicting file
		"Keep both",                             //
		"`shared.txt`:",                         // the hunks
		"<<<<<<<", "=======", ">>>>>>>",         //
		"conflicts with your change in: shared.txt", // the findings still say what
	} {
		if !strings.Contains(fix, want) {
			t.Fatalf("#2's fix prompt lacks %q:\n%s", want, fix)
		}
	}
	// Validated against both issues' command criteria, on the combined tree.
	report := comment(t, org, 2, "## Validation of attempt 3")
	for _, want := range []string{
		"| 1 | `grep -q two shared.txt` passes | met |",
		"### Acceptance criteria of #1 (merged on main meanwhile",
		"| 1 (from #1) | `grep -q one shared.txt` passes | met | command: `grep -q one shared.txt` passed",
	} {
		if !strings.Contains(report, want) {
			t.Fatalf("attempt 3's report lacks %q:\n%s", want, report)
		}
	}
	// The event log says whose change it conflicted with.
	var found bool
	for _, e := range eventsOf(t, org, 2, eventlog.KindUpdate) {
		if e.Data["conflicts_with"] == "1" && strings.Contains(e.Reason, "#1 (shared.txt)") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no event names #1 as the change #2 conflicts with: %+v", eventsOf(t, org, 2, eventlog.KindUpdate))
	}
	crossAgentMerge(t, org, eng)
}

// Issue 20: a resolution that drops the other issue's change (it writes
// only its own version) fails that issue's command criterion on the
// combined tree: a NO-GO whose finding names #1. The next attempt is told
// so, with #1's intent again, and keeping both merges.
func TestCrossAgentResolutionThatDropsTheOtherChangeIsNoGo(t *testing.T) {
	org, eng := crossAgentStart(t, crossAgentScript(`
  - match: {role: developer, issue: 2, prompt: "Keep #1's change as well as yours"}
    actions: [{write: {path: shared.txt, content: "one\ntwo\n"}}]
    summary: Kept both.
  - match: {role: developer, issue: 2, attempt: 3}
    actions: [{write: {path: shared.txt, content: "two\n"}}]
    summary: Kept mine.
`))
	as := attempts(t, org, 2)
	if got := distances(as); got != "GO:0 NO-GO:1 NO-GO:1 GO:0" {
		t.Fatalf("#2's attempts %s, want the conflict, the NO-GO of the resolution that dropped #1's change, then a GO", got)
	}
	if got := strings.Join(as[2].FindingKeys(), " "); got != "criterion:#1:`grep -q one shared.txt` passes" {
		t.Fatalf("attempt 3 findings %q, want #1's criterion", got)
	}
	report := comment(t, org, 2, "## Validation of attempt 3")
	for _, want := range []string{
		"| 1 | `grep -q two shared.txt` passes | met |",
		"| 1 (from #1) | `grep -q one shared.txt` passes | **unmet** |",
		"Acceptance criterion 1 of #1, whose change you resolved a conflict with, is unmet",
	} {
		if !strings.Contains(report, want) {
			t.Fatalf("attempt 3's report lacks %q:\n%s", want, report)
		}
	}
	runs := prompts(t, org, as[0].SessionID)
	if len(runs) != 3 {
		t.Fatalf("%d runs in #2's developer session, want 3", len(runs))
	}
	// Attempt 4 is told what failed, and given #1's intent again (there
	// is no merge to resolve any more: no hunks).
	if p := runs[2].Prompt; !strings.Contains(p, "Plan of one") || strings.Contains(p, "<<<<<<<") {
		t.Fatalf("attempt 4's prompt:\n%s", p)
	}
	if !strings.Contains(comment(t, org, 2, "## Validation of attempt 4"), "| 1 (from #1) | `grep -q one shared.txt` passes | met |") {
		t.Fatal("attempt 4 should meet #1's criterion")
	}
	crossAgentMerge(t, org, eng)
}
