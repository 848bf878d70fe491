package role_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/workspace"
)

// fakeAgent stands for a worker's coding CLI: each run writes
// <worker>-attempt-<n>.txt in the worktree and reports a session, a new
// one on Start, the resumed one on Resume.
type fakeAgent struct {
	worker string
	mu     sync.Mutex
	runs   []fakeRun
}

type fakeRun struct {
	resumed string // the session resumed; "" for Start
	session string
	prompt  string
}

func (f *fakeAgent) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	return f.run("", t)
}

func (f *fakeAgent) Resume(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	return f.run(session, t)
}

func (f *fakeAgent) run(resumed string, t agentorg.Task) (agentorg.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := fmt.Sprintf("%s-attempt-%d.txt", f.worker, t.Attempt)
	if err := os.WriteFile(filepath.Join(t.Dir, name), []byte(f.worker+" was here\n"), 0o644); err != nil {
		return agentorg.Result{}, err
	}
	session := resumed
	if session == "" {
		session = fmt.Sprintf("%s-session-%d", f.worker, len(f.runs)+1)
	}
	f.runs = append(f.runs, fakeRun{resumed: resumed, session: session, prompt: t.Prompt})
	return agentorg.Result{SessionID: session, Summary: fmt.Sprintf("%s wrote %s", f.worker, name)}, nil
}

func (f *fakeAgent) last(t *testing.T) fakeRun {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.runs) == 0 {
		t.Fatalf("%s's agent never ran", f.worker)
	}
	return f.runs[len(f.runs)-1]
}

// worker is one home of the organization's database: its own directory,
// mirror of the origin, agent and worker id.
type worker struct {
	deps  *role.Deps
	agent *fakeAgent
}

func newWorker(t *testing.T, org *orgtest.Org, name string) worker {
	t.Helper()
	home := filepath.Join(org.Dir, name)
	m, err := workspace.OpenMirror(context.Background(), homedir.Mirror(home), org.Origin)
	if err != nil {
		t.Fatal(err)
	}
	m.Branches = []string{org.Workflow.Repo.TargetBranch}
	ag := &fakeAgent{worker: name}
	agents := map[string]agentorg.Agent{}
	for _, a := range org.Workflow.Agents {
		agents[a.Name] = ag
	}
	bot := org.Workflow.Tracker.Bot
	return worker{agent: ag, deps: &role.Deps{
		Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, Agents: agents, Mirror: m, Home: home,
		Identity: workspace.Identity{Name: bot, Email: bot + "@agentorg.invalid"},
		AgentEnv: app.AgentEnv, CheckEnv: app.CheckEnv(),
		Owners: &homedir.Owners{DB: org.DB, Home: home, ID: org.Identity, Worker: name, Shared: true},
	}}
}

// develop runs the developer stage of issue n on w.
func (w worker) develop(t *testing.T, org *orgtest.Org, n int64, runID string) {
	t.Helper()
	ctx := context.Background()
	is, err := org.Tracker.Issue(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	stage := org.Workflow.StagesWithRole(agentorg.RoleDeveloper)[0]
	if _, err := role.For(agentorg.RoleDeveloper).Run(ctx, w.deps, &role.Run{ID: runID, Stage: stage, Issue: is}); err != nil {
		t.Fatalf("%s develops #%d: %v", w.agent.worker, n, err)
	}
}

// noGo records validation's NO-GO on issue n's attempt.
func noGo(t *testing.T, org *orgtest.Org, n int64, attempt int, finding string) {
	t.Helper()
	fs := []eventlog.Finding{{Key: fmt.Sprintf("criterion:%d", attempt), Text: finding}}
	if err := org.Log.SetVerdict(context.Background(), n, attempt, "validate", eventlog.NOGO, fs, "report of attempt "+fmt.Sprint(attempt)); err != nil {
		t.Fatal(err)
	}
}

// plannedIssue opens an issue with an approved plan.
func plannedIssue(t *testing.T, org *orgtest.Org, plan string) int64 {
	t.Helper()
	n := optIn(t, org, "Greeting", "Greet people.")
	if _, err := org.Tracker.UpsertComment(context.Background(), n, role.PlanKey(n), fmt.Sprintf("## Plan for #%d\n\n%s", n, plan), org.Workflow.Tracker.Bot); err != nil {
		t.Fatal(err)
	}
	return n
}

func takeovers(t *testing.T, org *orgtest.Org, n int64) []eventlog.Event {
	t.Helper()
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{Issue: n, Kind: eventlog.KindTakeover})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func holderOf(t *testing.T, org *orgtest.Org, n int64) string {
	t.Helper()
	who, _, err := homedir.Holder(context.Background(), org.DB, n)
	if err != nil {
		t.Fatal(err)
	}
	return who
}

func fileIn(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "(missing)"
	}
	return string(b)
}

// Two workers share the organization's database, each with its own home
// and mirror. Worker a's attempt is never pushed; a is gone, and worker b
// takes the issue over: the work comes from the bundle kept in the
// database, b's agent starts a new session told the history, and the
// event log names a. b's next attempt resumes b's session. Worker a, back,
// moves its stale worktree aside and takes the issue over in turn
// (docs/lifecycle.md I21).
func TestAnotherWorkerTakesTheIssueOverWithItsWork(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: "steps: []\n"})
	ctx := context.Background()
	a, b := newWorker(t, org, "worker-a"), newWorker(t, org, "worker-b")
	plan := "Add a greeting file, and test it."
	n := plannedIssue(t, org, plan)
	branch := org.Workflow.Branch(n)

	a.develop(t, org, n, "run-a-1")
	as := attempts(t, org, n)
	if len(as) != 1 || as[0].SessionID != "worker-a-session-1" || as[0].Work() == "" {
		t.Fatalf("attempt 1: %+v", as)
	}
	workA := as[0].Work()
	if got := originBranch(t, org, branch); got != "" {
		t.Fatalf("attempt 1 was pushed (%s): the test needs it on worker a alone", got)
	}
	if got := holderOf(t, org, n); got != "worker-a" {
		t.Fatalf("holder after worker a's attempt: %q", got)
	}
	noGo(t, org, n, 1, "the greeting has no comma")

	// Worker a is gone; worker b takes the issue over.
	b.develop(t, org, n, "run-b-2")
	run := b.agent.last(t)
	if run.resumed != "" {
		t.Fatalf("worker b resumed worker a's session %s", run.resumed)
	}
	for _, want := range []string{"## Taken over from another worker", "worker worker-a", "holds the work it committed (" + workA[:10],
		"Attempt 1 (NO-GO, distance 1). Its summary: worker-a wrote worker-a-attempt-1.txt", "found: the greeting has no comma"} {
		if !strings.Contains(run.prompt, want) {
			t.Errorf("worker b's prompt lacks %q:\n%s", want, run.prompt)
		}
	}
	if c := strings.Count(run.prompt, plan); c != 1 {
		t.Errorf("worker b's prompt holds the plan %d times, want once:\n%s", c, run.prompt)
	}
	wtB := role.WorktreePath(b.deps.Home, n)
	if got := fileIn(wtB, "worker-a-attempt-1.txt"); got != "worker-a was here\n" {
		t.Errorf("worker a's work in worker b's worktree: %q", got)
	}
	as = attempts(t, org, n)
	if len(as) != 2 || as[1].SessionID != "worker-b-session-1" || as[1].Agent == "" {
		t.Fatalf("attempt 2 should record worker b's new session: %+v", as[1])
	}
	evs := takeovers(t, org, n)
	if len(evs) != 1 {
		t.Fatalf("takeover events: %+v", evs)
	}
	ev := evs[0]
	if ev.Data["from"] != "worker-a" || ev.Data["worker"] != "worker-b" || ev.Data["attempt"] != "2" || ev.Data["source"] != "bundle" ||
		ev.Data["commit"] != workA || !strings.Contains(ev.Reason, "from the bundle worker worker-a kept in the database") {
		t.Errorf("takeover event: %s %v", ev.Reason, ev.Data)
	}
	if got := holderOf(t, org, n); got != "worker-b" {
		t.Fatalf("holder after the takeover: %q", got)
	}

	// Worker b's next attempt resumes worker b's session, with no history.
	noGo(t, org, n, 2, "the greeting is too long")
	b.develop(t, org, n, "run-b-3")
	if run := b.agent.last(t); run.resumed != "worker-b-session-1" || strings.Contains(run.prompt, "Taken over") {
		t.Errorf("worker b's attempt 3 resumed %q, prompt:\n%s", run.resumed, run.prompt)
	}

	// Worker a comes back: its worktree is stale, moved aside, not reused.
	noGo(t, org, n, 3, "the greeting is still too long")
	wtA := role.WorktreePath(a.deps.Home, n)
	a.develop(t, org, n, "run-a-4")
	if run := a.agent.last(t); run.resumed != "" || !strings.Contains(run.prompt, "worker worker-b") {
		t.Errorf("worker a, back, resumed %q; prompt:\n%s", run.resumed, run.prompt)
	}
	aside, _ := filepath.Glob(filepath.Join(homedir.Aside(a.deps.Home), fmt.Sprintf("issue-%d-*", n)))
	if len(aside) != 1 || fileIn(aside[0], "worker-a-attempt-1.txt") != "worker-a was here\n" || fileIn(aside[0], "worker-b-attempt-2.txt") != "(missing)" {
		t.Fatalf("worker a's stale worktree should be aside, as worker a left it: %v", aside)
	}
	for _, name := range []string{"worker-a-attempt-1.txt", "worker-b-attempt-2.txt", "worker-b-attempt-3.txt", "worker-a-attempt-4.txt"} {
		if got := fileIn(wtA, name); got == "(missing)" {
			t.Errorf("worker a's new worktree lacks %s", name)
		}
	}
	evs, err := org.Log.Events(ctx, eventlog.Filter{Issue: n, Kind: eventlog.KindHousekeep})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || !strings.Contains(evs[0].Reason, "is stale") || !strings.Contains(evs[0].Reason, "worker worker-b has held the issue since") ||
		!strings.Contains(evs[1].Reason, "renamed agentorg-aside/") {
		t.Errorf("housekeeping events: %+v", evs)
	}
	if evs := takeovers(t, org, n); len(evs) != 2 || evs[1].Data["from"] != "worker-b" || evs[1].Data["source"] != "bundle" {
		t.Errorf("worker a's takeover: %+v", evs)
	}
	if got := holderOf(t, org, n); got != "worker-a" {
		t.Fatalf("holder after worker a's return: %q", got)
	}
}

// Work over the bundle cap is not kept: the worker taking the issue over
// starts again from the target (no branch was pushed), and both the event
// log and the new session are told so.
func TestATakeoverWithoutTheWorkStartsFromTheTarget(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: "steps: []\n"})
	a, b := newWorker(t, org, "worker-a"), newWorker(t, org, "worker-b")
	a.deps.Owners.MaxBundle = 16
	n := plannedIssue(t, org, "Add a greeting file.")

	a.develop(t, org, n, "run-a-1")
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{Issue: n, Kind: eventlog.KindHousekeep})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "is not kept in the database: its bundle") || !strings.Contains(evs[0].Reason, "over the cap") {
		t.Fatalf("the work over the cap should be said not kept: %+v", evs)
	}
	noGo(t, org, n, 1, "the greeting has no comma")

	b.develop(t, org, n, "run-b-2")
	tk := takeovers(t, org, n)
	if len(tk) != 1 || tk[0].Data["source"] != "target" || !strings.Contains(tk[0].Reason, "over the cap and not kept") ||
		!strings.Contains(tk[0].Reason, "it starts again from main") {
		t.Fatalf("takeover event: %+v", tk)
	}
	if run := b.agent.last(t); run.resumed != "" || !strings.Contains(run.prompt, "No work of it could be brought here") {
		t.Errorf("worker b resumed %q; prompt:\n%s", run.resumed, run.prompt)
	}
	wtB := role.WorktreePath(b.deps.Home, n)
	if got := fileIn(wtB, "worker-a-attempt-1.txt"); got != "(missing)" {
		t.Errorf("worker a's lost work is in worker b's worktree: %q", got)
	}
	if got := fileIn(wtB, "worker-b-attempt-2.txt"); got == "(missing)" {
		t.Error("worker b's own work is missing")
	}
}

// Validation on a worker other than the one that made the work finds the
// work commit in the database.
func TestValidationOnAnotherWorkerFindsTheWork(t *testing.T) {
	org, b, n, work := workOnA(t)
	ctx := context.Background()
	is, err := org.Tracker.Issue(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	stage := org.Workflow.StagesWithRole(agentorg.RoleValidator)[0]
	if _, err := role.For(agentorg.RoleValidator).Run(ctx, b.deps, &role.Run{ID: "run-b-validate", Stage: stage, Issue: is}); err != nil {
		t.Fatalf("validation on worker b: %v", err)
	}
	as := attempts(t, org, n)
	if as[0].Verdict == "" || as[0].CommitSHA == "" {
		t.Fatalf("attempt 1 was not validated: %+v", as[0])
	}
	if tree := orgtest.Git(t, b.deps.Mirror.Dir, "rev-parse", as[0].CommitSHA+"^{tree}"); tree != orgtest.Git(t, b.deps.Mirror.Dir, "rev-parse", work+"^{tree}") {
		t.Errorf("the validated commit's tree is not the work's")
	}
}

// Worker a commits attempt 1's work and dies before the label moves; the
// stage runs again on worker b, which never had that commit: it brings it
// from the database to record what the attempt changed (the chaos
// benchmark's escalation: "develop failed 3 times: git merge-base …").
func TestARetriedDeveloperRunOnAnotherWorkerFindsTheWork(t *testing.T) {
	org, b, n, work := workOnA(t)
	ctx := context.Background()
	b.develop(t, org, n, "run-b-1")
	if _, err := b.deps.Mirror.Tree(ctx, work); err != nil {
		t.Fatalf("worker b's mirror lacks the work after the retry: %v", err)
	}
	as := attempts(t, org, n)
	if len(as) != 1 || as[0].Work() != work {
		t.Fatalf("the retry made attempts %+v, want attempt 1 with %s", as, work)
	}
	if len(b.agent.runs) != 0 {
		t.Errorf("the retry ran worker b's agent again: %+v", b.agent.runs)
	}
}

// workOnA has worker a develop attempt 1 of a planned issue, and checks
// that worker b, of the same database, does not have the work commit yet.
func workOnA(t *testing.T) (org *orgtest.Org, b worker, n int64, work string) {
	t.Helper()
	org = orgtest.New(t, orgtest.Options{Script: "steps: []\n", Check: "true", E2E: "true"})
	a := newWorker(t, org, "worker-a")
	b = newWorker(t, org, "worker-b")
	n = plannedIssue(t, org, "Add a greeting file.\n\n## Acceptance criteria\n\n- [ ] `true` passes")
	a.develop(t, org, n, "run-a-1")
	work = attempts(t, org, n)[0].Work()
	if _, err := b.deps.Mirror.Tree(context.Background(), work); err == nil {
		t.Fatal("worker b's mirror has worker a's work before it ran anything")
	}
	return org, b, n, work
}
