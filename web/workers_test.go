package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/web"
	"github.com/agentorg/agentorg/workflow"
)

// The board page of a PostgreSQL database two workers share lists them
// with what status says of them: host, beat, what each runs and the open
// issues it holds. (A home's own SQLite has none: TestBoardFiltersWithoutScript.)
func TestBoardListsTheWorkers(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	wf, err := workflow.Parse("workflow.yaml", workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, AgentCommand: []string{"agent"}, Check: "true", E2E: "true",
	}), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	tr := embedded.New(db.SQL, embedded.Options{})
	log := eventlog.New(db.SQL)
	for _, migrate := range []func(context.Context) error{tr.Migrate, log.Migrate,
		func(ctx context.Context) error { return engine.Migrate(ctx, db.SQL, db.Pool) },
		func(ctx context.Context) error { _, err := homedir.Identify(ctx, db.SQL, t.TempDir()); return err }} {
		if err := migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := tr.CreateIssue(ctx, agentorg.NewIssue{Title: "held", Labels: []string{"dev:ready"}, Author: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.SQL.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO agentorg_workers (id, host, beat_at) VALUES ('worker-a', 'host-a', ?), ('worker-b', 'host-b', ?)`,
		now.UnixMilli(), now.Add(-10*time.Minute).UnixMilli())
	exec(`INSERT INTO agentorg_worktrees (issue, branch, token, pushed, created_at, worker) VALUES
		(1, 'agentorg/issue-1', 't1', 0, '2026-12-07T00:00:00Z', 'worker-a'), (2, 'agentorg/issue-2', 't2', 0, '2026-12-07T00:00:00Z', 'worker-b')`)
	exec(`INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, worker, heartbeat_at)
		VALUES (1, 1, 'develop', 'run-1', 'engine-a', 'host-a', 'worker-a', ?)`, now.UnixMilli())
	if err := log.Record(ctx, eventlog.Event{Issue: 1, Stage: "develop", RunID: "run-1", Actor: "bot", Kind: eventlog.KindClaim,
		Reason: "claimed", At: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{Workflow: wf, Tracker: tr, Log: log, DB: db.SQL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	status, page := get(t, srv.URL+"/")
	if status != http.StatusOK {
		t.Fatalf("board: %d\n%s", status, page)
	}
	_, workers, ok := strings.Cut(page, `<section class="workers"`)
	workers, _, _ = strings.Cut(workers, "</section>")
	if !ok {
		t.Fatalf("no workers section on the board:\n%s", page)
	}
	for _, want := range []string{
		"1 alive of 2",
		`<th scope="row">worker-a</th><td>host-a</td>`,
		`<a href="/issues/1">#1</a> develop for 1m`,
		`<th scope="row">worker-b</th><td>host-b</td>`,
		"silent for 10m",
		`<a href="/issues/2">#2</a></td>`,
	} {
		if !strings.Contains(workers, want) {
			t.Errorf("the workers section lacks %q:\n%s", want, workers)
		}
	}
	// worker-a holds #1, worker-b runs nothing.
	a, b, _ := strings.Cut(workers, "worker-b")
	if !strings.Contains(a, `<td><a href="/issues/1">#1</a></td>`) || !strings.Contains(b, "<td>nothing</td>") {
		t.Errorf("worker-a should hold #1 and worker-b run nothing:\n%s", workers)
	}
	// #1's card says which worker runs it.
	if !strings.Contains(page, "develop runs on worker-a for 1m") {
		t.Errorf("#1's card does not name its worker:\n%s", page)
	}
}
