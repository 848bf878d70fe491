// Package boardtest gives a test a PostgreSQL database as workers share
// it, with the tables the board reads (the embedded tracker's, the event
// log's, the engine's claims and workers, the issues' holders) and rows
// for workers, what they hold and what they run, written as the engine
// and package homedir would: for the board's tests and the dashboard's.
package boardtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/workflow"
)

// Shared is a PostgreSQL database of the test's own, with the default
// workflow's organization on it.
type Shared struct {
	DB       *store.DB
	Workflow *workflow.Workflow
	Tracker  *embedded.Tracker
	Log      *eventlog.Log
}

// New makes the database and its tables (skipped as pgtest says when no
// PostgreSQL runs).
func New(t testing.TB) *Shared {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	wf, err := workflow.Parse("workflow.yaml", workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, AgentCommand: []string{"agent"}, Check: "true", E2E: "true",
	}), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s := &Shared{DB: db, Workflow: wf, Tracker: embedded.New(db.SQL, embedded.Options{}), Log: eventlog.New(db.SQL)}
	for _, migrate := range []func(context.Context) error{s.Tracker.Migrate, s.Log.Migrate,
		func(ctx context.Context) error { return engine.Migrate(ctx, db.SQL, db.Pool) },
		func(ctx context.Context) error { _, err := homedir.Identify(ctx, db.SQL, t.TempDir()); return err },
	} {
		if err := migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *Shared) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := s.DB.SQL.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Worker records that worker id on host last beat at beat.
func (s *Shared) Worker(t testing.TB, id, host string, beat time.Time) {
	t.Helper()
	s.exec(t, `INSERT INTO agentorg_workers (id, host, beat_at) VALUES (?, ?, ?)`, id, host, beat.UnixMilli())
}

// Hold records that worker holds issue ("": a row from before workers
// were told apart).
func (s *Shared) Hold(t testing.TB, issue int64, worker string) {
	t.Helper()
	s.exec(t, `INSERT INTO agentorg_worktrees (issue, branch, token, pushed, created_at, worker) VALUES (?, ?, 'token', 0, '2026-12-07T00:00:00Z', ?)`,
		issue, fmt.Sprintf("agentorg/issue-%d", issue), worker)
}

// Run records a live claim of job by worker ("": an older version's, which
// named none) on issue's stage, and the event that says it began at since.
func (s *Shared) Run(t testing.TB, job, issue int64, stage, worker string, since time.Time) {
	t.Helper()
	run := fmt.Sprintf("run-%d", job)
	s.exec(t, `INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, worker, heartbeat_at) VALUES (?, ?, ?, ?, 'engine', 'host', ?, ?)`,
		job, issue, stage, run, worker, time.Now().UnixMilli())
	if err := s.Log.Record(context.Background(), eventlog.Event{Issue: issue, Stage: stage, RunID: run, Actor: "bot",
		Kind: eventlog.KindClaim, Reason: "claimed", At: since}); err != nil {
		t.Fatal(err)
	}
}
