package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/command"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/workflow"
	"github.com/agentorg/agentorg/workspace"
)

// sharedWorkflow is a two-stage workflow: the PM plans (an agent run: the
// scripted agent, a real subprocess), then pick moves the issue on.
const sharedWorkflow = `version: 1
opt_in: agentorg
escalation: needs:human
confinement: off
labels:
  - {name: agentorg}
  - {name: pm:running}
  - {name: planned}
  - {name: done}
  - {name: needs:human}
tracker:
  kind: embedded
  bot: agentorg
repo:
  url: @ORIGIN@
  target_branch: main
agents:
  coder:
    kind: command
    command: [scripted-agent]
stages:
  plan: {role: pm, agent: coder, on: agentorg, running: pm:running, success: planned, concurrency: 4}
  pick: {role: pick, on: planned, success: done, concurrency: 4}
checks:
  - name: test
    run: "true"
e2e:
  run: "true"
prompts:
  pm: |
    Plan issue #{{.Issue.Number}}: {{.Issue.Title}}
`

// fastPlan plans any issue at once.
const fastPlan = `
steps:
  - match: {role: pm}
    summary: "Plan: nothing to do.\n\n## Acceptance criteria\n- [ ] it is planned"
`

// sharedOrg is an organization whose database is PostgreSQL's, which
// several engines work, each as a worker of its own would: a pool, a home,
// a host and an agent of its own.
type sharedOrg struct {
	URL    string // the database
	Origin string // the repository's origin
	Dir    string
	DB     *store.DB // the test's own pool: the humans', and the checks'
	// Tracker and Log are the embedded tracker and the event log, as the
	// test reads and writes them.
	Tracker *embedded.Tracker
	Log     *eventlog.Log
}

func newSharedOrg(t *testing.T) *sharedOrg {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	_, origin, err := sample.Make(ctx, filepath.Join(dir, "sample"), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &sharedOrg{URL: pgtest.New(t), Origin: origin, Dir: dir}
	o.DB = o.open(t)
	o.Tracker = embedded.New(o.DB.SQL, embedded.Options{})
	if err := o.Tracker.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	o.Log = eventlog.New(o.DB.SQL)
	if err := o.Log.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *sharedOrg) open(t testing.TB) *store.DB {
	t.Helper()
	return storetest.OpenTarget(t, o.URL)
}

// countingTracker counts the reads of the issue list: the engine's polls
// (the stages of sharedWorkflow never list issues).
type countingTracker struct {
	agentorg.Tracker
	lists atomic.Int64
}

func (c *countingTracker) ListIssues(ctx context.Context, f agentorg.IssueFilter) ([]agentorg.Issue, error) {
	c.lists.Add(1)
	return c.Tracker.ListIssues(ctx, f)
}

// worker is one engine of a sharedOrg, serving.
type worker struct {
	Engine  *engine.Engine
	Tracker *countingTracker
	Host    string
	stop    func()
}

// workerOptions shape a worker.
type workerOptions struct {
	Host                  string
	Script                string // the scripted agent's script; default fastPlan
	Heartbeat, StaleAfter time.Duration
}

// newWorker builds an engine of o with its own pool, home and agent, starts
// it and serves it until the test ends (or Stop). The engine polls every
// 50 ms, or leads only while River's elector says so.
func (o *sharedOrg) newWorker(t testing.TB, wo workerOptions) *worker {
	t.Helper()
	ctx := context.Background()
	db := o.open(t)
	home := filepath.Join(o.Dir, "home-"+wo.Host)
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	wf, err := workflow.Parse("workflow.yaml", []byte(strings.Replace(sharedWorkflow, "@ORIGIN@", o.Origin, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	script := wo.Script
	if script == "" {
		script = fastPlan
	}
	scriptFile := filepath.Join(home, "script.yaml")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	sessions := filepath.Join(home, "sessions")
	if err := os.MkdirAll(sessions, 0o755); err != nil {
		t.Fatal(err)
	}
	mirror, err := workspace.OpenMirror(ctx, filepath.Join(home, "mirror.git"), o.Origin)
	if err != nil {
		t.Fatal(err)
	}
	mirror.Branches = []string{"main"}
	tr := &countingTracker{Tracker: embedded.New(db.SQL, embedded.Options{})}
	agent := command.New(command.Config{Command: []string{os.Args[0], "scripted-agent", "--script", scriptFile, "--state", sessions}})
	eng, err := engine.New(ctx, engine.Config{
		DB: db.SQL, Pool: db.Pool, Host: wo.Host,
		PollInterval: 50 * time.Millisecond, Heartbeat: wo.Heartbeat, StaleAfter: wo.StaleAfter, RetryDelay: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps: &role.Deps{
			Workflow: wf, Tracker: tr, Log: eventlog.New(db.SQL), Home: home, Mirror: mirror,
			Agents:   map[string]agentorg.Agent{"coder": agent},
			Identity: workspace.Identity{Name: "agentorg", Email: "agentorg@agentorg.invalid"},
			AgentEnv: func(*workflow.Agent) []string { return proc.BaseEnv() },
			CheckEnv: proc.BaseEnv(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Serve(sctx, nil)
	}()
	var once sync.Once
	w := &worker{Engine: eng, Tracker: tr, Host: wo.Host}
	w.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = eng.Stop(stopCtx)
		})
	}
	t.Cleanup(w.stop)
	return w
}

// Stop stops serving and working, as a worker that shuts down does.
func (w *worker) Stop() { w.stop() }

// status is the worker's readiness, in words.
func (w *worker) status() string {
	s, err := w.Engine.Readiness(context.Background())
	if err != nil {
		return "not ready: " + err.Error()
	}
	return s
}

// optIn opens n issues the organization works on.
func (o *sharedOrg) optIn(t *testing.T, n int) []int64 {
	t.Helper()
	var out []int64
	for i := range n {
		is, err := o.Tracker.CreateIssue(context.Background(), agentorg.NewIssue{Title: fmt.Sprintf("Issue %d", i+1), Author: "alice",
			Labels: []string{"agentorg"}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, is.Number)
	}
	return out
}

// waitDone waits until every issue carries only label "done".
func (o *sharedOrg) waitDone(t *testing.T, issues []int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		for _, n := range issues {
			is, err := o.Tracker.Issue(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(is.Labels, ",") != "done" {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d issues are not done after %s", left, len(issues), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// transitionsTo counts the issue's transitions to label to by stage.
func (o *sharedOrg) transitionsTo(t *testing.T, issue int64, stage, to string) int {
	t.Helper()
	evs, err := o.Log.Events(context.Background(), eventlog.Filter{Issue: issue, Kind: eventlog.KindTransition})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Stage == stage && ev.To == to {
			n++
		}
	}
	return n
}

// wantEachStageOnce checks that each issue was planned once and picked
// once, and that no two runs of a stage on an issue ever overlapped.
func (o *sharedOrg) wantEachStageOnce(t *testing.T, issues []int64) {
	t.Helper()
	for _, n := range issues {
		for _, tr := range [][3]string{{"plan", "pm:running"}, {"plan", "planned"}, {"pick", "done"}} {
			if got := o.transitionsTo(t, n, tr[0], tr[1]); got != 1 {
				t.Errorf("#%d: %d transitions of %s to %s, want 1", n, got, tr[0], tr[1])
			}
		}
	}
	if n, err := engine.DoubleClaims(context.Background(), o.DB.SQL); err != nil || n != 0 {
		t.Errorf("double claims: %d, %v; want 0", n, err)
	}
}

// Two engines, each with its own pool, home and host, work one tracker on
// PostgreSQL: every issue ends where it should, each stage ran once per
// issue and never twice at once, and one engine alone read the tracker
// while both served (River's elector chose it), the other waiting to lead.
// Both worked jobs.
func TestTwoEnginesWorkOneTracker(t *testing.T) {
	o := newSharedOrg(t)
	a := o.newWorker(t, workerOptions{Host: "host-a"})
	b := o.newWorker(t, workerOptions{Host: "host-b"})
	// One leads before the work comes in: the other then says so.
	deadline := time.Now().Add(time.Minute)
	for !(a.status() == "polls the tracker" && b.status() == "waiting to lead: another worker polls" ||
		b.status() == "polls the tracker" && a.status() == "waiting to lead: another worker polls") {
		if time.Now().After(deadline) {
			t.Fatalf("no engine leads with the other waiting: %q, %q", a.status(), b.status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	leader, follower := a, b
	if b.status() == "polls the tracker" {
		leader, follower = b, a
	}
	followerLists := follower.Tracker.lists.Load()

	issues := o.optIn(t, 20)
	o.waitDone(t, issues, 2*time.Minute)
	if got := follower.Tracker.lists.Load(); got != followerLists || got != 0 {
		t.Errorf("the engine that does not lead read the tracker %d times (%d before the issues came), want never", got, followerLists)
	}
	if leader.Tracker.lists.Load() == 0 {
		t.Error("the leading engine never read the tracker")
	}
	a.Stop()
	b.Stop()
	o.wantEachStageOnce(t, issues)

	// Each engine worked some of them, by the claim log.
	rows, err := o.DB.SQL.Query(`SELECT host, count(*) FROM agentorg_claim_log GROUP BY host`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	runs := map[string]int{}
	for rows.Next() {
		var host string
		var n int
		if err := rows.Scan(&host, &n); err != nil {
			t.Fatal(err)
		}
		runs[host] = n
	}
	if runs["host-a"] == 0 || runs["host-b"] == 0 {
		t.Errorf("runs by host: %v; want both engines to have worked", runs)
	}
}

// When the leading engine stops, it resigns and the other engine leads and
// polls: an issue opened after is worked.
func TestAnotherEngineLeadsWhenTheLeaderStops(t *testing.T) {
	o := newSharedOrg(t)
	a := o.newWorker(t, workerOptions{Host: "host-a"})
	b := o.newWorker(t, workerOptions{Host: "host-b"})
	deadline := time.Now().Add(time.Minute)
	for a.status() != "polls the tracker" && b.status() != "polls the tracker" {
		if time.Now().After(deadline) {
			t.Fatalf("no engine leads: %q, %q", a.status(), b.status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	leader, other := a, b
	if b.status() == "polls the tracker" {
		leader, other = b, a
	}
	leader.Stop()
	issues := o.optIn(t, 2)
	o.waitDone(t, issues, 2*time.Minute)
	if other.status() != "polls the tracker" {
		t.Errorf("the remaining engine: %q, want it polling", other.status())
	}
	o.wantEachStageOnce(t, issues)
}

// blockingPlan never ends a plan: the agent runs a command that sleeps.
// When the agent's engine dies, the agent dies with it (proc's Pdeathsig),
// and the command, a process it started, lives on.
const blockingPlan = `
steps:
  - match: {role: pm}
    actions: [{shell: "sleep 600"}]
    summary: never
`

// deadWorkerEnv carries a dead worker's organization to the subprocess
// that plays it (TestDeadWorkerHelper).
const deadWorkerEnv = "AGENTORG_TEST_DEAD_WORKER"

// TestDeadWorkerHelper is not a test: run by TestAWorkerThatDiesIsReaped
// in a process of its own, it is an engine of the organization deadWorkerEnv
// describes, whose plan blocks, serving until it is killed.
func TestDeadWorkerHelper(t *testing.T) {
	spec := os.Getenv(deadWorkerEnv)
	if spec == "" {
		t.Skip("run by TestAWorkerThatDiesIsReaped")
	}
	var o sharedOrg
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		t.Fatal(err)
	}
	o.newWorker(t, workerOptions{Host: "host-a", Script: blockingPlan, Heartbeat: 100 * time.Millisecond, StaleAfter: time.Second})
	select {} // until killed
}

// A worker dies (killed with -9) while its run's agent works: its claim
// stays and its agent lives on, on its host. Another engine, on another
// host, leads once the dead one's term ran out, releases the claim once its
// heartbeat is StaleAfter old, and works the job: the issue is planned
// once, and the record says the job was released because its worker died.
// The other host cannot kill the dead worker's agent; an engine started
// again on the dead worker's host does, before it takes any job.
func TestAWorkerThatDiesIsReaped(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc: the test finds the dead worker's agent by its mark")
	}
	ctx := context.Background()
	o := newSharedOrg(t)
	issues := o.optIn(t, 1)
	n := issues[0]

	spec, err := json.Marshal(sharedOrg{URL: o.URL, Origin: o.Origin, Dir: o.Dir})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeadWorkerHelper$", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), deadWorkerEnv+"="+string(spec))
	var output strings.Builder
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	// The dead-to-be claims the plan, and its agent runs.
	var claim engine.Claim
	deadline := time.Now().Add(2 * time.Minute)
	for {
		claims, err := engine.Claims(ctx, o.DB.SQL)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) == 1 && claims[0].Host == "host-a" && claims[0].Issue == n {
			claim = claims[0]
			if sleeping(agentsOf(t, o, claim)) {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("the first worker ended before it ran its agent:\n%s", output.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first worker never ran its agent; claims %+v", claims)
		}
	}
	agents := agentsOf(t, o, claim)
	t.Cleanup(func() {
		for _, pid := range agents {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	b := o.newWorker(t, workerOptions{Host: "host-b", Heartbeat: 100 * time.Millisecond, StaleAfter: time.Second})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	o.waitDone(t, issues, 2*time.Minute)
	if b.status() != "polls the tracker" {
		t.Errorf("the surviving engine: %q, want it leading", b.status())
	}
	o.wantEachStageOnce(t, issues)
	evs, err := o.Log.Events(ctx, eventlog.Filter{Issue: n, Kind: eventlog.KindClaim})
	if err != nil {
		t.Fatal(err)
	}
	released := false
	for _, ev := range evs {
		released = released || (strings.Contains(ev.Reason, fmt.Sprintf("released job %d: its worker died", claim.Job)) &&
			ev.RunID == claim.RunID && ev.Data["host"] == "host-a")
	}
	if !released {
		t.Errorf("no record says job %d was released because its worker died: %+v", claim.Job, evs)
	}
	var ended string
	if err := o.DB.SQL.QueryRow(`SELECT ended FROM agentorg_claim_log WHERE run_id = ?`, claim.RunID).Scan(&ended); err != nil || ended != "reaped" {
		t.Errorf("the dead run's claim ended %q (%v), want reaped", ended, err)
	}

	// Another host could not kill the dead worker's agent; an engine
	// started on its host does.
	if live(agents) == 0 {
		t.Fatal("the dead worker's agent was killed by an engine of another host")
	}
	o.newWorker(t, workerOptions{Host: "host-a"})
	if left := live(agents); left != 0 {
		t.Fatalf("%d of the dead worker's agent processes outlived a start on its host", left)
	}
}

// agentsOf returns the processes of the claim's run (by its mark: its
// engine's id and its job), nil when none runs.
func agentsOf(t *testing.T, o *sharedOrg, c engine.Claim) []int {
	t.Helper()
	var owner string
	if err := o.DB.SQL.QueryRow(`SELECT owner FROM agentorg_claims WHERE job_id = ?`, c.Job).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	mark := fmt.Sprintf("%s/%d", owner, c.Job)
	return markedWith(func(m string) bool { return m == mark })
}

// sleeping reports whether one of pids is a sleep: the blocking plan's
// command runs.
func sleeping(pids []int) bool {
	for _, pid := range pids {
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "sleep" {
			return true
		}
	}
	return false
}

// markedWith lists the live processes whose mark (proc.MarkVar) match
// accepts.
func markedWith(match func(string) bool) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range ents {
		var pid int
		if _, err := fmt.Sscan(ent.Name(), &pid); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, proc.MarkVar+"="); ok && match(v) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// live counts the processes of pids that still run (not zombies).
func live(pids []int) int {
	n := 0
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X' {
			n++
		}
	}
	return n
}

// A worker taken for dead that was not (its heartbeats stalled past
// StaleAfter) finds at its next heartbeat that its claim was released: it
// stops its run, kills its agent, says so in the record, and leaves the
// job, now another worker's, alone.
func TestARunStopsWhenItsClaimIsReleased(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc: the test finds the run's agent by its mark")
	}
	ctx := context.Background()
	o := newSharedOrg(t)
	a := o.newWorker(t, workerOptions{Host: "host-a", Script: blockingPlan, Heartbeat: 50 * time.Millisecond})
	n := o.optIn(t, 1)[0]
	var claim engine.Claim
	var agents []int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		claims, err := engine.Claims(ctx, o.DB.SQL)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) == 1 {
			claim = claims[0]
			if agents = agentsOf(t, o, claim); sleeping(agents) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plan never ran its agent; claims %+v", claims)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// What another engine's reaper does with a claim it takes for dead.
	if _, err := o.DB.SQL.Exec(`UPDATE agentorg_claim_log SET ended_at = ?, ended = 'reaped' WHERE run_id = ?`,
		time.Now().UnixMilli(), claim.RunID); err != nil {
		t.Fatal(err)
	}
	if _, err := o.DB.SQL.Exec(`DELETE FROM agentorg_claims WHERE job_id = ?`, claim.Job); err != nil {
		t.Fatal(err)
	}
	for stopped := false; !stopped; {
		evs, err := o.Log.Events(ctx, eventlog.Filter{Issue: n, Kind: eventlog.KindClaim})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			stopped = stopped || (ev.RunID == claim.RunID && strings.Contains(ev.Reason, "the claim was released by another engine"))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never said it stopped: %+v", evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for live(agents) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the stopped run's agent still runs")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := o.transitionsTo(t, n, "plan", "planned"); got != 0 {
		t.Errorf("the stopped run moved the issue on (%d transitions)", got)
	}
	var ended string
	if err := o.DB.SQL.QueryRow(`SELECT ended FROM agentorg_claim_log WHERE run_id = ?`, claim.RunID).Scan(&ended); err != nil || ended != "reaped" {
		t.Errorf("the stopped run's claim ended %q (%v), want reaped, as its reaper logged it", ended, err)
	}
	// The issue leaves the stage, so that the next poll's run of it, which
	// would block again, ends at once.
	if _, err := o.Tracker.UpdateLabels(ctx, n, nil, []string{"agentorg", "pm:running"}, "alice"); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	if n, err := engine.DoubleClaims(ctx, o.DB.SQL); err != nil || n != 0 {
		t.Errorf("double claims: %d, %v; want 0", n, err)
	}
}
