package engine

import (
	"context"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/workflow"
)

// workerEngine is an engine of worker id on db (its own pool on the same
// database), not started: enough to enqueue and route.
func workerEngine(t *testing.T, db *store.DB, id string) *Engine {
	t.Helper()
	ctx := context.Background()
	own, err := store.Open(ctx, db.Pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { own.Close() })
	wf := defaultWorkflow(t)
	tr := embedded.New(own.SQL, embedded.Options{})
	if err := tr.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, Config{DB: own.SQL, Pool: own.Pool, Host: "host-" + id, Worker: id,
		Deps: &role.Deps{Workflow: wf, Tracker: tr, Log: eventlog.New(own.SQL), Home: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDeveloperRunsGoToTheHolderWhileItLives: on a shared database a
// developer job for an issue goes to the queue of the worker holding it
// (its session and worktree are on that worker's disk) while that worker
// beats; once it has been silent for TakeoverAfter, new jobs go to the
// stage's queue and the leader moves its waiting ones there, for another
// worker to take the issue over. Other stages, and issues nobody holds,
// use the stage's queue.
func TestDeveloperRunsGoToTheHolderWhileItLives(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	a, b := workerEngine(t, db, "wa"), workerEngine(t, db, "wb")
	if _, err := homedir.Identify(ctx, db.SQL, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, `INSERT INTO agentorg_worktrees (issue, branch, token, pushed, created_at, worker)
		VALUES (1, 'agentorg/issue-1', 'tok', 0, '2026-12-07T00:00:00Z', 'wa')`); err != nil {
		t.Fatal(err)
	}
	dev := b.wf.StagesWithRole(agentorg.RoleDeveloper)[0]
	pm := b.wf.StagesWithRole(agentorg.RolePM)[0]
	queue := func(st *workflow.Stage, issue int64) string {
		t.Helper()
		q, err := b.queueFor(ctx, st, issue)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	// wa never beat: nobody holds issue 1 alive.
	if got := queue(dev, 1); got != b.queues[dev.Name] {
		t.Fatalf("holder never seen alive: queue %q, want the stage's %q", got, b.queues[dev.Name])
	}
	if err := a.beatWorker(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queue(dev, 1); got != "worker_wa" {
		t.Fatalf("holder alive: queue %q, want worker_wa", got)
	}
	if ws, err := Workers(ctx, db.SQL); err != nil || len(ws) != 1 || ws[0].ID != "wa" || ws[0].Host != "host-wa" || !ws[0].Alive {
		t.Fatalf("workers %+v, %v; want wa on host-wa, alive", ws, err)
	}
	if got := queue(pm, 1); got != b.queues[pm.Name] {
		t.Fatalf("the PM's run: queue %q, want the stage's", got)
	}
	if got := queue(dev, 2); got != b.queues[dev.Name] {
		t.Fatalf("an issue nobody holds: queue %q, want the stage's", got)
	}

	// A developer job enqueued now waits in wa's queue.
	is, err := b.tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "held", Labels: []string{dev.On}, Author: "alice"})
	if err != nil || is.Number != 1 {
		t.Fatalf("issue %d, %v", is.Number, err)
	}
	if n, err := b.enqueue(ctx, is); err != nil || n != 1 {
		t.Fatalf("enqueue: %d, %v", n, err)
	}
	jobQueue := func() string {
		t.Helper()
		var q string
		if err := db.SQL.QueryRowContext(ctx, `SELECT queue FROM river_job WHERE args->>'stage' = ?`, dev.Name).Scan(&q); err != nil {
			t.Fatal(err)
		}
		return q
	}
	if q := jobQueue(); q != "worker_wa" {
		t.Fatalf("the job waits in %q, want worker_wa", q)
	}
	// While wa lives, nothing is moved.
	if n, err := b.rescueQueues(ctx); err != nil || n != 0 {
		t.Fatalf("rescue while wa lives: %d, %v", n, err)
	}

	// wa falls silent for longer than TakeoverAfter.
	if _, err := db.SQL.ExecContext(ctx, `UPDATE agentorg_workers SET beat_at = beat_at - ? WHERE id = 'wa'`, 2*b.cfg.TakeoverAfter.Milliseconds()); err != nil {
		t.Fatal(err)
	}
	if got := queue(dev, 1); got != b.queues[dev.Name] {
		t.Fatalf("holder gone: queue %q, want the stage's", got)
	}
	if ws, err := Workers(ctx, db.SQL); err != nil || len(ws) != 1 || ws[0].Alive {
		t.Fatalf("workers %+v, %v; want wa, not alive", ws, err)
	}
	if n, err := b.rescueQueues(ctx); err != nil || n != 1 {
		t.Fatalf("rescue of a gone worker's queue: moved %d, %v; want 1", n, err)
	}
	if q := jobQueue(); q != b.queues[dev.Name] {
		t.Fatalf("after the rescue the job is in %q, want %q", q, b.queues[dev.Name])
	}
}

// TestNoRoutingOnSQLite: one engine per home, so every job uses its
// stage's queue and no worker table is read.
func TestNoRoutingOnSQLite(t *testing.T) {
	e, _ := bareEngine(t, t.TempDir(), store.SQLite)
	e.cfg.Worker = "solo"
	dev := e.wf.StagesWithRole(agentorg.RoleDeveloper)[0]
	q, err := e.queueFor(context.Background(), dev, 1)
	if err != nil || q != e.queues[dev.Name] {
		t.Fatalf("queue %q, %v; want the stage's %q", q, err, e.queues[dev.Name])
	}
	if n, err := e.rescueQueues(context.Background()); err != nil || n != 0 {
		t.Fatalf("rescue on SQLite: %d, %v", n, err)
	}
}

// TestAClaimNamesItsWorker: a claim records the worker whose engine took
// it, so that status can say what each worker runs.
func TestAClaimNamesItsWorker(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	a := workerEngine(t, db, "wa")
	if held, err := a.claim(ctx, 7, StageArgs{Issue: 1, Stage: "develop"}, "run-7"); err != nil || !held {
		t.Fatalf("claim: %v, %v", held, err)
	}
	claims, err := Claims(ctx, db.SQL)
	if err != nil || len(claims) != 1 || claims[0].Worker != "wa" || claims[0].Host != "host-wa" {
		t.Fatalf("claims %+v, %v; want one of worker wa on host-wa", claims, err)
	}
}
