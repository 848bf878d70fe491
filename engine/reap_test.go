package engine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/workflow"
)

// A dead engine can die between starting a check and recording its process
// group. The restart still kills what that check started, found by the
// claim's mark, including a descendant that left the group (setsid).
func TestRestartKillsADeadClaimsProcessesWithoutItsGroup(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc")
	}
	eachDialect(t, testRestartKillsADeadClaimsProcessesWithoutItsGroup)
}

func testRestartKillsADeadClaimsProcessesWithoutItsGroup(t *testing.T, d store.Dialect) {
	ctx := context.Background()
	dir := t.TempDir()
	e, db := bareEngine(t, dir, d)
	m := metrics.New(metrics.Options{})
	e.cfg.Metrics = m

	// The dead engine's state: its job running, its claim without a group.
	id := deadJob(t, e, db, 1, "dead-engine")

	// Its check: a shell in its own group, and a sleep in a session of its own.
	pidFile := filepath.Join(dir, "escaped.pid")
	script := "setsid sleep 600 >/dev/null 2>&1 & echo $! > " + pidFile + "; sleep 600"
	done := make(chan proc.Result, 1)
	go func() {
		res, _ := proc.Run(proc.WithMark(ctx, claimMark("dead-engine", id)),
			proc.Spec{Argv: []string{"sh", "-c", script}, Env: proc.BaseEnv()})
		done <- res
	}()
	var escaped int
	for wait := time.Now().Add(10 * time.Second); escaped == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatal("the check did not start its background sleep")
		}
		b, _ := os.ReadFile(pidFile)
		escaped, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pg, err := syscall.Getpgid(escaped); err != nil || pg == syscall.Getpgrp() {
		t.Fatalf("the escaped sleep's group: %d, %v", pg, err)
	}

	n, err := e.reapAtStart(ctx)
	if err != nil || n != 1 {
		t.Fatalf("reap: %d, %v; want 1 released claim", n, err)
	}
	// The shell and the sleep that left its group, at least.
	if got := m.Total(metrics.NameReapedProcesses); got < 2 {
		t.Errorf("reaped processes counted %v, want at least 2", got)
	}
	select {
	case res := <-done:
		if res.ExitCode != -1 {
			t.Errorf("the check's shell ended with %+v, want killed", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dead claim's check still runs after the reap")
	}
	for wait := time.Now().Add(10 * time.Second); alive(escaped); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			syscall.Kill(escaped, syscall.SIGKILL)
			t.Fatalf("the sleep that left the group (pid %d) outlived the reap", escaped)
		}
	}
	if j, err := e.client.JobGet(ctx, id); err != nil || j.State != rivertype.JobStateAvailable {
		t.Errorf("job %d after the reap: %+v, %v; want available", id, j, err)
	}
}

// alive reports whether pid runs (a zombie, dead but not yet waited for,
// does not).
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// eachDialect runs f as a subtest on each database agentorg supports.
func eachDialect(t *testing.T, f func(t *testing.T, d store.Dialect)) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) { f(t, d) })
	}
}

// handOut puts job id in the state River leaves it in when it hands the
// job to a worker (running, one more try used), as if that worker then died.
// It writes River's table directly, the one place the engine's tests do:
// River has no API that marks a job running without working it.
func handOut(t *testing.T, db *sql.DB, id int64) {
	t.Helper()
	if _, err := db.Exec(`UPDATE river_job SET state = 'running', attempt = attempt + 1 WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
}

// deadClaim records a claim of job id by owner on e's host whose last
// heartbeat is long past, as a worker that died leaves it, and its entry in
// the claim log.
func deadClaim(t *testing.T, e *Engine, db *sql.DB, id, issue int64, stage, owner string) {
	t.Helper()
	run := fmt.Sprintf("run-%s-%d", owner, id)
	if _, err := db.Exec(`INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, pgid, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, 0)`, id, issue, stage, run, owner, e.host); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO agentorg_claim_log (run_id, job_id, issue, stage, owner, host, started_at)
		VALUES (?, ?, ?, ?, ?, ?, 0)`, run, id, issue, stage, owner, e.host); err != nil {
		t.Fatal(err)
	}
}

// deadJob is a validate job of issue that River handed out and owner
// claimed, then died (see handOut, deadClaim); it returns the job's id.
func deadJob(t *testing.T, e *Engine, db *sql.DB, issue int64, owner string) int64 {
	t.Helper()
	job, err := e.client.Insert(context.Background(), StageArgs{Issue: issue, Stage: "validate"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	handOut(t, db, job.Job.ID)
	deadClaim(t, e, db, job.Job.ID, issue, "validate", owner)
	return job.Job.ID
}

// bareEngine is an engine over a database of its own of dialect d (its
// home in dir), not started: for tests that set its job and claim rows by
// hand.
func bareEngine(t *testing.T, dir string, d store.Dialect) (*Engine, *sql.DB) {
	t.Helper()
	db := storetest.Open(t, d)
	return engineOn(t, db, dir, "host-"+d.String()), db.SQL
}

// engineOn is a bare engine on db, with its home in dir, on host.
// defaultWorkflow is init's workflow with commands that do nothing.
func defaultWorkflow(t *testing.T) *workflow.Workflow {
	t.Helper()
	wf, err := workflow.Parse("workflow.yaml", workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "origin.git",
		AgentCommand: []string{"true"}, Check: "true", E2E: "true",
	}), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func engineOn(t *testing.T, db *store.DB, dir, host string) *Engine {
	t.Helper()
	ctx := context.Background()
	wf := defaultWorkflow(t)
	tr := embedded.New(db.SQL, embedded.Options{})
	if err := tr.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, Config{DB: db.SQL, Pool: db.Pool, Host: host,
		Deps: &role.Deps{Workflow: wf, Tracker: tr, Log: eventlog.New(db.SQL), Home: dir}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}
