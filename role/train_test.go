package role_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// Merge requests approved together go in one merge train: the checks run
// once on the combination, and a merge request that conflicts with the ones
// ahead of it leaves the train and goes back to its developer.
func TestMergeTrainMergesTogetherAndDropsAConflict(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, issue: 1}
    actions: [{write: {path: shared.txt, content: "one\n"}}]
    summary: Wrote one.
  - match: {role: developer, issue: 2}
    actions: [{write: {path: shared.txt, content: "two\n"}}]
    summary: Wrote two.
  - match: {role: developer}
    actions: [{write: {path: other.txt, content: "three\n"}}]
    summary: Wrote three.
`
	runs := filepath.Join(t.TempDir(), "checks.log")
	// Unconfined: the check counts its runs outside its checkout.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "echo run >> " + runs, E2E: "true", Edit: setBudget(1, ""), Unconfined: true})
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	var ns []int64
	for range 3 {
		is, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Feature", Body: "No criteria.", Author: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if err := org.Desk.OptIn(ctx, is.Number, "alice"); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, is.Number)
	}
	for range 2 { // the plans, then the merge requests
		orgtest.RunUntilIdle(t, eng)
		for _, n := range ns {
			if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
				t.Fatal(err)
			}
		}
	}
	orgtest.RunUntilIdle(t, eng)

	trains := map[string]int{}
	var merged, back []int64
	for _, n := range ns {
		mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
		if err != nil {
			t.Fatal(err)
		}
		if mr.State == agentorg.MRMerged {
			merged = append(merged, n)
			evs := eventsOf(t, org, n, eventlog.KindMerge)
			trains[evs[len(evs)-1].Data["train"]]++
			continue
		}
		back = append(back, n)
		as := attempts(t, org, n)
		if got := labels(t, org, n); got != "needs:human" || findingPaths(as[len(as)-1]) != "conflict:shared.txt" {
			t.Fatalf("#%d: labels %s, attempts %s", n, got, distances(as))
		}
	}
	if len(merged) != 2 || len(back) != 1 || back[0] == 3 || len(trains) != 1 || trains[""] != 0 {
		t.Fatalf("merged %v, sent back %v, trains %v: want #3 and one of #1, #2 merged in one train", merged, back, trains)
	}
	ups := eventsOf(t, org, back[0], eventlog.KindUpdate)
	if len(ups) == 0 || !strings.Contains(ups[0].Reason, "left the merge train: it conflicts") {
		t.Fatalf("#%d update events %+v", back[0], ups)
	}
	// The baseline of the target once (the three plans share it: same
	// tree), three validations of the developers' commits, one of the train.
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "run\n"); got != 5 {
		t.Fatalf("the checks ran %d times, want 5", got)
	}
}
