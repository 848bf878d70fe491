package role_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// recoveryScript: #1, #2 and #3 each add a file; #2's first attempt also
// leaves broken.txt, and its second (after E2E sent it back) removes it.
const recoveryScript = `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, issue: 1}
    actions: [{write: {path: a.txt, content: "a\n"}}]
    summary: Added a.
  - match: {role: developer, issue: 2, attempt: 1}
    actions: [{write: {path: b.txt, content: "b\n"}}, {write: {path: broken.txt, content: "oops\n"}}]
    summary: Added b.
  - match: {role: developer, issue: 2}
    actions: [{delete: broken.txt}]
    summary: Removed what broke E2E; b stays.
  - match: {role: developer, issue: 3}
    actions: [{write: {path: c.txt, content: "c\n"}}]
    summary: Added c.
`

// threeInOneTrain opens three issues, has alice approve their plans and
// merge requests together so that they merge in one train, and returns
// them with the engine.
func threeInOneTrain(t *testing.T, org *orgtest.Org) ([]int64, *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	var ns []int64
	for range 3 {
		ns = append(ns, optIn(t, org, "Feature", "No criteria."))
	}
	for range 2 { // the plans, then the merge requests
		orgtest.RunUntilIdle(t, eng)
		for _, n := range ns {
			if _, err := org.Humans.Approve(ctx, n, "alice"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ns, eng
}

// approveUntilDone runs the engine, alice approving whatever waits at a
// gate, until nothing waits; it returns the rounds it took.
func approveUntilDone(t *testing.T, org *orgtest.Org, eng *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	for round := 0; round < 12; round++ {
		orgtest.RunUntilIdle(t, eng)
		open, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen})
		if err != nil {
			t.Fatal(err)
		}
		approved := 0
		for _, is := range open {
			for _, g := range org.Workflow.Gates {
				if is.HasLabel(g.Waits) {
					if _, err := org.Humans.Approve(ctx, is.Number, "alice"); err != nil {
						t.Fatalf("#%d: %v", is.Number, err)
					}
					approved++
				}
			}
		}
		if approved == 0 {
			return
		}
	}
	t.Fatal("still approving after 12 rounds")
}

func recoveryEvents(t *testing.T, org *orgtest.Org) []eventlog.Event {
	t.Helper()
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(evs, func(e eventlog.Event) bool { return e.Kind != eventlog.KindRecover })
}

func reasons(evs []eventlog.Event) string {
	var rs []string
	for _, e := range evs {
		rs = append(rs, e.Reason)
	}
	return strings.Join(rs, "\n")
}

// mainFiles lists the files on origin's main.
func mainFiles(t *testing.T, org *orgtest.Org) string {
	t.Helper()
	return strings.Join(strings.Fields(orgtest.Git(t, org.Origin, "ls-tree", "--name-only", "main")), " ")
}

// Issue 17: three issues merge in one train and the second breaks E2E.
// The target closes, the bisect names #2's merge, a revert is opened,
// validated, approved and merged, E2E passes and the target opens; #1 and
// #3 finish; #2 goes back to its developer's same session with the
// failure, converges again and merges.
func TestBisectNamesTheCulpritAndRevertRecovers(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: recoveryScript, Check: "true", E2E: "test ! -f broken.txt"})
	ctx := context.Background()
	ns, eng := threeInOneTrain(t, org)
	approveUntilDone(t, org, eng)

	evs := recoveryEvents(t, org)
	text := reasons(evs)
	for _, want := range []string{"main is closed: E2E failed at", "bisect: E2E passes at", "which merged #2", "main is open again"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the recovery events do not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "fails only together") {
		t.Fatalf("#2 breaks E2E alone, but the bisect names a combination:\n%s", text)
	}
	revert, err := org.Tracker.Issue(ctx, 4)
	if err != nil || !strings.HasPrefix(revert.Title, "Revert #2") || revert.State != agentorg.IssueClosed {
		t.Fatalf("the revert issue: %+v, %v", revert, err)
	}
	if mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, 4); err != nil || mr.State != agentorg.MRMerged {
		t.Fatalf("the revert's merge request: %+v, %v", mr, err)
	}
	if n, _ := org.Tracker.Issue(ctx, 5); n.Number != 0 {
		t.Fatalf("a second recovery issue #5: %+v", n)
	}
	for _, n := range append(ns, 4) {
		is, err := org.Tracker.Issue(ctx, n)
		if err != nil || is.State != agentorg.IssueClosed || strings.Join(is.Labels, ",") != "e2e:done" {
			dumpEvents(t, org)
			t.Fatalf("#%d ended %s with [%s], %v", n, is.State, strings.Join(is.Labels, ","), err)
		}
	}
	if got := mainFiles(t, org); !strings.Contains(got, "a.txt") || !strings.Contains(got, "b.txt") || !strings.Contains(got, "c.txt") || strings.Contains(got, "broken.txt") {
		dumpEvents(t, org)
		t.Fatalf("main holds %s", got)
	}
	// #2 came back in its own session, told what broke.
	as := attempts(t, org, 2)
	if len(as) < 2 || as[0].Verdict != eventlog.GO || as[len(as)-1].Verdict != eventlog.GO || as[len(as)-1].SessionID != as[0].SessionID {
		t.Fatalf("#2's attempts: %+v", as)
	}
	runs := prompts(t, org, as[0].SessionID)
	last := runs[len(runs)-1].Prompt
	if !strings.Contains(last, "E2E broke after this change merged") || !strings.Contains(last, "test ! -f broken.txt") {
		t.Fatalf("#2's developer was not told what broke:\n%s", last)
	}
	mrs, err := org.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: 2})
	if err != nil || len(mrs) != 2 || mrs[0].State != agentorg.MRMerged || mrs[1].State != agentorg.MRMerged {
		t.Fatalf("#2's merge requests: %+v, %v", mrs, err)
	}
	if tgt, _ := org.Log.Target(ctx, "main"); tgt.Closed {
		t.Fatalf("main is still closed: %+v", tgt)
	}
	if n, _ := org.Log.Flakes(ctx, "test ! -f broken.txt"); n != 0 {
		t.Fatalf("%d flakes counted for a real failure", n)
	}
}

// Issue 17: only the second and third together break E2E. The bisect
// names the third's merge and says it fails only with the second's.
func TestBisectNamesACombination(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, issue: 1}
    actions: [{write: {path: a.txt, content: "a\n"}}]
    summary: Added a.
  - match: {role: developer, issue: 2}
    actions: [{write: {path: b.txt, content: "b\n"}}]
    summary: Added b.
  - match: {role: developer, issue: 3, attempt: 1}
    actions: [{write: {path: c.txt, content: "c\n"}}]
    summary: Added c.
  - match: {role: developer, issue: 3}
    actions: [{delete: c.txt}, {write: {path: c2.txt, content: "c\n"}}]
    summary: Moved c where it does not clash with b.
`
	// The revert is approved by a rule (the others by alice).
	reverts := autoApprove("      grace: 0s\n      rules:\n        - name: reverts\n          all: [{revert: true}]\n")
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "! { test -f b.txt && test -f c.txt; }", Edit: reverts})
	ns, eng := threeInOneTrain(t, org)
	approveUntilDone(t, org, eng)
	text := reasons(recoveryEvents(t, org))
	if !strings.Contains(text, "which merged #3; it passes alone on") || !strings.Contains(text, "fails only together with #2") {
		t.Fatalf("the bisect does not name #3 with #2:\n%s", text)
	}
	ctx := context.Background()
	if revert, err := org.Tracker.Issue(ctx, 4); err != nil || !strings.HasPrefix(revert.Title, "Revert #3") {
		t.Fatalf("the revert issue: %+v, %v", revert, err)
	}
	if evs := policyEvents(t, org, 4); policyStates(evs) != "pending approved" || evs[1].Actor != "policy:reverts" {
		t.Fatalf("the revert's policy events: %+v", evs)
	}
	for _, n := range ns {
		if evs := policyEvents(t, org, n); len(evs) != 0 {
			t.Fatalf("#%d, not a revert, has policy events %+v", n, evs)
		}
	}
	for _, n := range append(ns, 4) {
		if got := labels(t, org, n); got != "e2e:done" {
			t.Fatalf("#%d ended with [%s]", n, got)
		}
	}
	if got := mainFiles(t, org); !strings.Contains(got, "b.txt") || !strings.Contains(got, "c2.txt") || strings.Contains(got, "c.txt ") {
		t.Fatalf("main holds %s", got)
	}
}

// Issue 17: an E2E that fails once and passes when run again is flaky:
// counted, and nothing is reverted or closed.
func TestFlakyE2EIsCountedNotReverted(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ran-once")
	e2e := "if [ -f " + flag + " ]; then exit 0; fi; touch " + flag + "; echo flaky; exit 1"
	// Unconfined: the E2E command keeps its state outside its checkout.
	org := orgtest.New(t, orgtest.Options{Script: recoveryScript, Check: "true", E2E: e2e, Unconfined: true})
	n, eng := start(t, org, "No criteria.")
	approveUntilDone(t, org, eng)
	ctx := context.Background()
	if got := labels(t, org, n); got != "e2e:done" {
		t.Fatalf("#%d ended with [%s]", n, got)
	}
	if c, err := org.Log.Flakes(ctx, e2e); err != nil || c != 1 {
		t.Fatalf("flakes %d, %v; want 1", c, err)
	}
	if _, err := os.Stat(flag); err != nil {
		t.Fatal(err)
	}
	text := reasons(recoveryEvents(t, org))
	if !strings.Contains(text, "then passed when run again: flaky (1 flaky failures") || strings.Contains(text, "closed") {
		t.Fatalf("recovery events:\n%s", text)
	}
	if is, _ := org.Tracker.Issue(ctx, n+1); is.Number != 0 {
		t.Fatalf("an issue was opened: %+v", is)
	}
	if !strings.Contains(comment(t, org, n, "E2E passed on"), "counted as flaky") {
		t.Fatal("the E2E comment does not say it was flaky")
	}
}

func dumpEvents(t *testing.T, org *orgtest.Org) {
	evs, _ := org.Log.Events(context.Background(), eventlog.Filter{})
	for _, e := range evs {
		t.Logf("#%d %s %s %s→%s %s", e.Issue, e.Stage, e.Kind, e.From, e.To, e.Reason)
	}
}
