package role_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// docs/lifecycle.md I9: a merge that fails for a reason that is not a
// validation failure (here the origin's target ref is locked, so git cannot
// move it) is tried again, and escalated, without paying the validator
// agent again for the tree it already judged; once the lock is gone and
// the human approves again, it merges.
func TestAMergeRetriedForAGitErrorDoesNotJudgeAgain(t *testing.T) {
	script := "steps:" + writeFeature + `
  - match: {role: validator}
    summary: ` + yamlText(answer(map[int]string{1: "met"})) + `
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	ctx := context.Background()
	n, eng := start(t, org, judgedBody)
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	lock := filepath.Join(org.Origin, "refs", "heads", "main.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Humans.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if got := labels(t, org, n); got != "needs:human" {
		t.Fatalf("labels %s: a merge that keeps failing goes to a human", got)
	}
	judged := func() int {
		k := 0
		for _, e := range eventsOf(t, org, n, eventlog.KindAgent) {
			if e.Data["role"] == agentorg.RoleValidator {
				k++
			}
		}
		return k
	}
	if got := judged(); got != 1 {
		t.Fatalf("the validator agent ran %d times, want once: the merge's retries judged the same tree again", got)
	}

	os.Remove(lock)
	if _, err := org.People.UpdateLabels(ctx, n, []string{"mr:approved"}, []string{"needs:human"}, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil || mr.State != agentorg.MRMerged {
		t.Fatalf("merge request %+v, %v: want merged", mr, err)
	}
	if got := judged(); got != 1 {
		t.Fatalf("the validator agent ran %d times in all, want once", got)
	}
}
