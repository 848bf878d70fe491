package role_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// Issue 14: when the push after a GO fails (as after a crash between the
// verdict and the push), the retry pushes the validated commit; the
// merge request's head being agentorg's own earlier push is no reason to
// validate again, so no attempt is spent.
func TestAFailedPushAfterAGoSpendsNoAttempt(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions: [{write: {path: a.txt, content: "one\n"}}]
    summary: One.
  - match: {role: developer}
    actions: [{write: {path: a.txt, content: "two\n"}}]
    summary: Two, as the reviewer asked.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: setBudget(2, "")})
	ctx := context.Background()
	n, _ := start(t, org, "No criteria.")
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	if _, err := org.Desk.Reject(ctx, n, "alice", "Make it two."); err != nil {
		t.Fatal(err)
	}
	// The push of attempt 2's GO fails once: the branch's ref is locked.
	lock := filepath.Join(org.Origin, "refs", "heads", org.Workflow.Branch(n)+".lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eng := org.Engine(t, app.EngineOptions{RetryDelay: 2 * time.Second})
	done := make(chan struct{})
	go func() {
		defer close(done)
		orgtest.RunUntilIdle(t, eng)
	}()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		failed := false
		for _, e := range eventsOf(t, org, n, eventlog.KindError) {
			failed = failed || strings.Contains(e.Reason, "retries at")
		}
		if failed {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Remove(lock)
	<-done

	as := attempts(t, org, n)
	if got := distances(as); got != "GO:0 GO:0" {
		t.Fatalf("distances %s: the failed push cost an attempt", got)
	}
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil || mr.HeadSHA != as[1].CommitSHA {
		t.Fatalf("merge request %+v (%v): want attempt 2's commit %s at its head", mr, err, as[1].CommitSHA)
	}
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
}
