package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg/store"
)

// Issue 15: a crash is not a failed try. A job whose worker died three
// times in a row is worked again at once each time, and when its run then
// fails, the retry comes after the first delay, not after a backoff grown
// by the crashes (2 s × 4³ before the fix). However many tries fail, a
// retry waits minutes at most.
func TestThreeCrashesThenARetryWithinAMinute(t *testing.T) {
	eachDialect(t, testThreeCrashesThenARetryWithinAMinute)
}

func testThreeCrashesThenARetryWithinAMinute(t *testing.T, d store.Dialect) {
	ctx := context.Background()
	e, db := bareEngine(t, t.TempDir(), d)
	job, err := e.client.Insert(ctx, StageArgs{Issue: 1, Stage: "validate"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := job.Job.ID
	for crash := 1; crash <= 3; crash++ {
		// River hands the job to a worker (its try counter goes up), the
		// worker claims it and dies; the next start reaps the claim.
		handOut(t, db, id)
		deadClaim(t, e, db, id, 1, "validate", fmt.Sprintf("dead-engine-%d", crash))
		if n, err := e.reapAtStart(ctx); err != nil || n != 1 {
			t.Fatalf("crash %d: reap released %d, %v", crash, n, err)
		}
		if j, err := e.client.JobGet(ctx, id); err != nil || j.State != rivertype.JobStateAvailable {
			t.Fatalf("crash %d: the job is %+v (%v), want available at once", crash, j, err)
		}
	}
	j, err := e.client.JobGet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tries, maxTries := j.Attempt, j.MaxAttempts
	if tries != 0 || maxTries != e.cfg.MaxAttempts {
		t.Fatalf("after three crashes the job has used %d of %d tries, want 0 of %d", tries, maxTries, e.cfg.MaxAttempts)
	}
	// The run River hands out next is try 1; it fails.
	now := time.Now()
	if wait := e.retryAt(tries+1, now).Sub(now); wait > time.Minute {
		t.Fatalf("the retry after the first failure waits %s, want within a minute", wait)
	}
	for try := 1; try <= 20; try++ {
		if wait := e.retryAt(try, now).Sub(now); wait > e.cfg.MaxRetryDelay || wait <= 0 {
			t.Fatalf("try %d's retry waits %s, want (0, %s]", try, wait, e.cfg.MaxRetryDelay)
		}
	}
}
