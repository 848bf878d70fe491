package engine

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/workflow"
	"github.com/agentorg/agentorg/workspace"
)

// stageRuns counts the runs of stage on issue in the claim log.
func stageRuns(t *testing.T, e *Engine, issue int64, stage string) int {
	t.Helper()
	log, err := ClaimLog(context.Background(), e.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	return len(slices.DeleteFunc(log, func(c LoggedClaim) bool { return c.Issue != issue || c.Stage != stage }))
}

// TestAWaitOnAWorkerHoldsForTheLeader: on a shared database a stage run
// that another worker ran and that waits for a person (a developer run
// held for a dependency) is left alone by the leader's polls, and run
// again once a wake (on any worker) or a change of its issue says so.
func TestAWaitOnAWorkerHoldsForTheLeader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := storetest.Open(t, store.Postgres)
	leader, worker := workerEngine(t, db, "wa"), workerEngine(t, db, "wb")
	if _, err := homedir.Identify(ctx, db.SQL, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	// Only the worker works jobs; the test polls for the leader.
	dir := t.TempDir()
	_, origin, err := sample.Make(ctx, filepath.Join(dir, "sample"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if worker.deps.Mirror, err = workspace.OpenMirror(ctx, filepath.Join(dir, "mirror.git"), origin); err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Stop(context.Background()) })
	dev := leader.wf.StagesWithRole(agentorg.RoleDeveloper)[0]
	if _, err := leader.tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "the dependency", Author: "alice"}); err != nil {
		t.Fatal(err)
	}
	is, err := leader.tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "held", Body: "Depends on #1.", Labels: []string{dev.On}, Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	poll := func(want int) {
		t.Helper()
		if n, err := leader.Reconcile(ctx); err != nil || n != want {
			t.Fatalf("the leader's poll enqueued %d, %v; want %d", n, err, want)
		}
		waitUntil(t, ctx, "the worker ran the stage", func() bool {
			idle, err := leader.idle(ctx)
			return err == nil && idle
		})
	}
	runs := func(want int) {
		t.Helper()
		if got := stageRuns(t, leader, is.Number, dev.Name); got != want {
			t.Fatalf("%s ran %d times on #%d, want %d", dev.Name, got, is.Number, want)
		}
	}
	poll(1)
	runs(1)
	evs, err := leader.log.Events(ctx, eventlog.Filter{Issue: is.Number, Kind: eventlog.KindWait})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Reason, "waits for #1") {
		t.Fatalf("wait events %+v, %v; want the run to wait for #1", evs, err)
	}
	for range 3 {
		poll(0)
	}
	runs(1)

	// A wake on the worker reaches the leader's next poll.
	worker.wakeWaiting(ctx)
	poll(1)
	runs(2)
	poll(0)
	// So does a change of the issue.
	if _, err := leader.tracker.UpdateLabels(ctx, is.Number, []string{"note"}, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	poll(1)
	runs(3)
	poll(0)
	runs(3)
}

// TestWaitsAreSharedWhereWorkersShareTheDatabase: a wait recorded on one
// engine of a shared database is what another's poll reads, a wake on any
// of them forgets the waits for a person everywhere, even that of a run
// that decided before the wake and records after it, and a poll's
// forgetting (an issue that left, changes missed) reaches every engine.
// On SQLite nothing of it touches the database.
func TestWaitsAreSharedWhereWorkersShareTheDatabase(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := storetest.Open(t, d)
		a := engineOn(t, db, t.TempDir(), "host-a")
		b := a // SQLite: one engine per home
		if d == store.Postgres {
			b = workerEngine(t, db, "wb")
		}
		human := StageArgs{Issue: 1, Stage: "develop"}
		pipeline := StageArgs{Issue: 1, Stage: "validate"}
		now := time.Now()
		sees := func(e *Engine, s StageArgs) (waitState, bool) {
			t.Helper()
			if err := e.loadWaits(ctx); err != nil {
				t.Fatal(err)
			}
			return e.waitOf(s)
		}

		// A run decides to wait for a person, a wake comes, and then it
		// records its wait: the wait is not kept.
		since, err := b.wakeCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a.wakeWaiting(ctx)
		b.setWaitingSince(ctx, human, waitState{forHuman: true, watch: &role.Watch{}, issueAt: now, since: now}, since)
		if w, ok := sees(a, human); ok {
			t.Fatalf("a wait decided before a wake was kept: %+v", w)
		}

		// Decided after it, it is kept, watch and all, and the other
		// engine sees it.
		if since, err = b.wakeCount(ctx); err != nil {
			t.Fatal(err)
		}
		b.setWaitingSince(ctx, human, waitState{forHuman: true, watch: &role.Watch{}, issueAt: now, since: now}, since)
		watch := &role.Watch{MR: 7, SHA: "abc", Pipeline: "running", Until: now.Add(time.Minute)}
		b.setWaiting(ctx, pipeline, &waitState{watch: watch, issueAt: now, since: now})
		if w, ok := sees(a, human); !ok || !w.forHuman || w.watch == nil || *w.watch != (role.Watch{}) || !w.issueAt.Equal(now) || !w.since.Equal(now) {
			t.Fatalf("the wait for a person, as the other engine reads it: %+v, %v", w, ok)
		}
		if w, ok := sees(a, pipeline); !ok || w.forHuman || w.watch == nil || w.watch.MR != 7 || w.watch.SHA != "abc" ||
			w.watch.Pipeline != "running" || !w.watch.Until.Equal(watch.Until) {
			t.Fatalf("the wait for a pipeline, as the other engine reads it: %+v, %v", w, ok)
		}
		if !a.needsMRs(nil) {
			t.Fatal("a wait watches a merge request, and the poll does not ask which changed")
		}

		// A wake on the other engine forgets the wait for a person only.
		a.wakeWaiting(ctx)
		if _, ok := sees(b, human); ok {
			t.Fatal("the wait for a person outlived a wake")
		}
		if _, ok := b.lastWait(ctx, pipeline); !ok {
			t.Fatal("a wake forgot a wait for a pipeline")
		}

		// A poll that failed forgets what the waits watch, everywhere.
		a.forgetChanges(ctx)
		if w, ok := b.lastWait(ctx, pipeline); !ok || w.watch != nil {
			t.Fatalf("after forgetChanges the wait for a pipeline is %+v, %v; want it kept, watching nothing", w, ok)
		}

		// The issue left its stages: a poll forgets its waits.
		if _, err := a.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if w, ok := sees(b, pipeline); ok {
			t.Fatalf("the wait of an issue that left the stage: %+v", w)
		}

		var rows int
		if err := db.SQL.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM agentorg_waits) + (SELECT count(*) FROM agentorg_wakes)`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if d == store.SQLite && rows != 0 {
			t.Errorf("%d rows of waits on SQLite, want none: one engine keeps them in memory", rows)
		}
		if d == store.Postgres && rows != 1 {
			t.Errorf("%d rows of waits and wakes, want the wakes' only", rows)
		}
	})
}

// threadReads counts the reads of review threads.
type threadReads struct {
	*embedded.Tracker
	n atomic.Int64
}

func (r *threadReads) Threads(ctx context.Context, mr int64) ([]agentorg.ReviewThread, error) {
	r.n.Add(1)
	return r.Tracker.Threads(ctx, mr)
}

// TestReviewMarksOutliveALeader: on a shared database the threads a poll
// read at a review gate count as read for the next leader's poll too,
// until their merge request changes; a poll that failed (forgetChanges)
// makes every leader read them again, and an issue that left the gate
// leaves no mark.
func TestReviewMarksOutliveALeader(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	a, b := engineOn(t, db, t.TempDir(), "host-a"), workerEngine(t, db, "wb")
	reads := &threadReads{Tracker: embedded.New(db.SQL, embedded.Options{})}
	for _, e := range []*Engine{a, b} {
		e.tracker, e.deps.Tracker = reads, reads
	}
	var gate *workflow.Gate
	for i := range a.wf.Gates {
		if a.reviewGate(&a.wf.Gates[i]) {
			gate = &a.wf.Gates[i]
		}
	}
	is, err := reads.CreateIssue(ctx, agentorg.NewIssue{Title: "at review", Labels: []string{gate.Waits}, Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := reads.CreateMR(ctx, agentorg.NewMR{Issue: is.Number, Title: "at review", SourceBranch: a.wf.Branch(is.Number),
		TargetBranch: "main", HeadSHA: strings.Repeat("a", 40), Author: a.wf.Tracker.Bot})
	if err != nil {
		t.Fatal(err)
	}
	issues := []agentorg.Issue{is}
	review := func(e *Engine, issues []agentorg.Issue, changed mrSet, want int64) {
		t.Helper()
		if moved, err := e.reviews(ctx, issues, changed); err != nil || moved != 0 {
			t.Fatalf("reviews moved %d, %v", moved, err)
		}
		if got := reads.n.Load(); got != want {
			t.Fatalf("the threads were read %d times, want %d", got, want)
		}
	}
	review(a, issues, mrSet{}, 1)
	review(b, issues, mrSet{}, 1)
	review(b, issues, mrSet{mr.Number: mr}, 2)
	b.forgetChanges(ctx)
	review(a, issues, mrSet{}, 3)
	review(a, nil, mrSet{}, 3)
	var marks int
	if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM agentorg_reviewed`).Scan(&marks); err != nil || marks != 0 {
		t.Fatalf("%d review marks after the issue left the gate (%v), want none", marks, err)
	}
}
