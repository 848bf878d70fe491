package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/workspace"
)

func TestMain(m *testing.M) { orgtest.Main(m) }

// goodScript plans any issue and, as developer, adds a passing Go file.
const goodScript = `
steps:
  - match: {role: pm}
    summary: "Plan: add feature.go.\n\n## Acceptance criteria\n- [ ] it builds"
  - match: {role: developer}
    actions:
      - write: {path: feature.go, content: "package calc\n\n// Feature is new.\nfunc Feature() int { return 1 }\n"}
    summary: Added Feature.
  - match: {role: validator}
    summary: "feature.go builds.\n\n` + "```json" + `\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"feature.go compiles; go vet passed\"}]}\n` + "```" + `"
`

func newIssue(t *testing.T, org *orgtest.Org, title string) int64 {
	t.Helper()
	ctx := context.Background()
	is, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: title, Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Desk.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	return is.Number
}

func labels(t *testing.T, org *orgtest.Org, n int64) []string {
	t.Helper()
	is, err := org.Tracker.Issue(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return is.Labels
}

func wantLabels(t *testing.T, org *orgtest.Org, n int64, want ...string) {
	t.Helper()
	got := labels(t, org, n)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("#%d labels = %v, want %v", n, got, want)
	}
}

func events(t *testing.T, org *orgtest.Org, n int64, kind string) []eventlog.Event {
	t.Helper()
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{Issue: n, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func commentsWith(t *testing.T, org *orgtest.Org, n int64, text string) int {
	t.Helper()
	cs, err := org.Tracker.Comments(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, c := range cs {
		if strings.Contains(c.Body, text) {
			k++
		}
	}
	return k
}

func TestFullLifecycleStraightThrough(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: goodScript})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := newIssue(t, org, "Add Feature")

	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if commentsWith(t, org, n, "## Plan for #1") != 1 {
		t.Fatal("want exactly one plan comment")
	}
	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	// What was pushed is what was validated.
	as, _ := org.Log.Attempts(ctx, n)
	if len(as) != 1 || as[0].Verdict != eventlog.GO || as[0].CommitSHA != mr.HeadSHA {
		t.Fatalf("attempts %+v, MR head %s", as, mr.HeadSHA)
	}
	if got := orgtest.Git(t, org.Origin, "rev-parse", "refs/heads/agentorg/issue-1"); got != mr.HeadSHA {
		t.Fatalf("origin branch at %s, MR head %s", got, mr.HeadSHA)
	}
	checks, _ := org.Tracker.Checks(ctx, mr.HeadSHA)
	if len(checks) != 1 || checks[0].Status != agentorg.CheckPassed {
		t.Fatalf("checks at head: %+v", checks)
	}

	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "e2e:done")
	is, _ := org.Tracker.Issue(ctx, n)
	if is.State != agentorg.IssueClosed {
		t.Fatal("issue should be closed after merge")
	}
	mr, _ = org.Tracker.MR(ctx, mr.Number)
	if mr.State != agentorg.MRMerged {
		t.Fatalf("MR state %s", mr.State)
	}
	files := orgtest.Git(t, org.Origin, "ls-tree", "-r", "--name-only", "main")
	if !strings.Contains(files, "feature.go") {
		t.Fatalf("main lacks feature.go:\n%s", files)
	}
	if parents := orgtest.Git(t, org.Origin, "log", "-1", "--format=%P", "main"); len(strings.Fields(parents)) != 2 {
		t.Fatalf("main's tip should be a merge commit, parents %q", parents)
	}
}

// docs/lifecycle.md I4, F7: an approval by someone who may not approve, or by
// the bot, is undone.
func TestForgedPlanApprovalIsRefused(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: goodScript})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := newIssue(t, org, "Add Feature")
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")

	for _, forger := range []string{"mallory", org.Workflow.Tracker.Bot} {
		// A label added straight through the tracker, as any user can.
		if _, err := org.Tracker.UpdateLabels(ctx, n, []string{"issue:approved"}, []string{"plan:review"}, forger); err != nil {
			t.Fatal(err)
		}
		orgtest.RunUntilIdle(t, eng)
		wantLabels(t, org, n, "plan:review")
	}
	if got := commentsWith(t, org, n, "## Approval refused"); got != 2 {
		t.Fatalf("want 2 refusal comments (mallory, bot), got %d", got)
	}
	refused := events(t, org, n, eventlog.KindRefused)
	if len(refused) != 2 || !strings.Contains(refused[0].Reason, "mallory") || !strings.Contains(refused[1].Reason, "only a human may approve") {
		t.Fatalf("refused events: %+v", refused)
	}
	if as, _ := org.Log.Attempts(ctx, n); len(as) != 0 {
		t.Fatal("no developer may start on a forged approval")
	}
	// The CLI path refuses a non-approver before anything changes.
	if _, err := org.Desk.Approve(ctx, n, "mallory"); err == nil || !strings.Contains(err.Error(), "may not approve") {
		t.Fatalf("Desk.Approve by mallory: %v", err)
	}
}

// An approve label added by hand, the waits label left on: once the
// approval holds, the engine takes the issue off the gate, as the bot.
func TestHandAddedApprovalTakesTheIssueOffTheGate(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: goodScript})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := newIssue(t, org, "Add Feature")
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if _, err := org.Desk.Labels(ctx, n, []string{"issue:approved"}, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	var left []eventlog.Event
	for _, ev := range events(t, org, n, eventlog.KindTransition) {
		if ev.From == "plan:review" && ev.To == "issue:approved" {
			left = append(left, ev)
		}
	}
	if len(left) != 1 || left[0].Actor != org.Workflow.Tracker.Bot || !strings.Contains(left[0].Reason, "alice approved") {
		t.Fatalf("events of leaving the gate: %+v", left)
	}
}

// An approve label added too early, before the issue has a merge request:
// refused, and only that label goes. The issue is not moved to a gate it
// never reached.
func TestEarlyApprovalLabelIsOnlyRemoved(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: goodScript})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	is, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice", Labels: []string{"plan:review"}})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	if _, err := org.Desk.Labels(ctx, n, []string{"mr:approved"}, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if commentsWith(t, org, n, "#1 has no merge request to approve yet. Only `mr:approved` was removed: the issue has not reached `mr:ready-for-review`, and stays where it was.") != 1 {
		cs, _ := org.Tracker.Comments(ctx, n)
		t.Fatalf("the refusal does not say the issue stays where it was: %+v", cs)
	}
}

// docs/lifecycle.md I5, F7: an approval at a stale head is undone.
func TestStaleMergeRequestApprovalIsRefused(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: goodScript})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := newIssue(t, org, "Add Feature")
	orgtest.RunUntilIdle(t, eng)
	org.Desk.Approve(ctx, n, "alice")
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	// New commits land after the approval: the approval is void.
	main := orgtest.Git(t, org.Origin, "rev-parse", "main")
	if _, err := org.Tracker.SetMRHead(ctx, mr.Number, main); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	if got := orgtest.Git(t, org.Origin, "rev-parse", "main"); got != main {
		t.Fatal("main moved: a stale approval merged")
	}
	mr, _ = org.Tracker.MR(ctx, mr.Number)
	if mr.State != agentorg.MROpen {
		t.Fatalf("MR should stay open, is %s", mr.State)
	}
	if commentsWith(t, org, n, "void once new commits land") != 1 {
		t.Fatal("want a comment saying why the approval was refused")
	}
}

func TestRemovingTheLabelCancelsTheRun(t *testing.T) {
	script := goodScript + `
  - match: {role: developer}
    actions: [{sleep: 60s}]
`
	// The sleeping step must win: put it first.
	script = strings.Replace(script, "  - match: {role: developer}\n    actions:\n      - write", "  - match: {role: never}\n    actions:\n      - write", 1)
	org := orgtest.New(t, orgtest.Options{Script: script})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := newIssue(t, org, "Add Feature")
	orgtest.RunUntilIdle(t, eng)
	org.Desk.Approve(ctx, n, "alice")

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- eng.RunUntilIdle(ctx) }()
	waitFor(t, func() bool { return contains(labels(t, org, n), "dev:running") })
	// What runs now, as `agentorg status` reads it from another process:
	// a pool of its own on the same file, beside the working engine.
	other, err := sqlitedb.Open(filepath.Join(org.Home, "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var claims []engine.Claim
	waitFor(t, func() bool {
		claims, err = engine.Claims(ctx, other)
		return err != nil || len(claims) > 0
	})
	claimed := events(t, org, n, eventlog.KindTransition)
	if err != nil || len(claims) != 1 || claims[0].Issue != n || claims[0].Stage != "develop" ||
		claims[0].RunID != claimed[len(claimed)-1].RunID || claims[0].Stale(time.Now()) {
		t.Fatalf("claims while develop runs: %+v, %v; want one live claim of develop's run on #%d", claims, err, n)
	}
	if _, err := org.Tracker.UpdateLabels(ctx, n, nil, []string{"dev:running"}, "alice"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run was not cancelled")
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("cancellation waited for the agent")
	}
	wantLabels(t, org, n)
	if len(events(t, org, n, eventlog.KindCancel)) != 1 {
		t.Fatal("want one cancel event")
	}
	if claims, err := engine.Claims(ctx, other); err != nil || len(claims) != 0 {
		t.Fatalf("claims after the run: %+v, %v; want none", claims, err)
	}
}

func TestStageThatKeepsFailingEscalates(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    error: "model overloaded"
    exit: 3
`
	org := orgtest.New(t, orgtest.Options{Script: script})
	eng := org.Engine(t, app.EngineOptions{MaxAttempts: 2})
	n := newIssue(t, org, "Anything")
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "needs:human")
	if commentsWith(t, org, n, "model overloaded") != 1 {
		t.Fatal("the escalation comment should carry the agent's error")
	}
	errs := events(t, org, n, eventlog.KindError)
	if got := len(errs); got != 1 {
		t.Fatalf("want 1 retried failure before escalation, got %d", got)
	}
	esc := events(t, org, n, eventlog.KindEscalate)
	if len(esc) != 1 || commentsWith(t, org, n, "See `agentorg logs "+esc[0].RunID+"`") != 1 {
		t.Fatalf("the escalation comment should name the command that shows the last run's transcript (%+v)", esc)
	}
}

// docs/lifecycle.md I7: one claimant per (issue, stage), by the job store.
func TestOneClaimantAndConcurrencyLimit(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "spans")
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - shell: "echo start $(date +%s%N) >> ` + log + `; sleep 0.3; echo end $(date +%s%N) >> ` + log + `"
      - write: {path: feature.go, content: "package calc\n"}
    summary: done
`
	// Unconfined: the developers log their spans outside their worktrees.
	org := orgtest.New(t, orgtest.Options{Script: script, Unconfined: true, Edit: func(s string) string {
		return strings.Replace(s, "concurrency: 2", "concurrency: 1", 1)
	}})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	var ns []int64
	for i := 0; i < 3; i++ {
		ns = append(ns, newIssue(t, org, "Issue"))
	}
	orgtest.RunUntilIdle(t, eng)
	// While the queue holds work, a second read of the tracker enqueues nothing new.
	for _, n := range ns {
		org.Desk.Approve(ctx, n, "alice")
	}
	if _, err := eng.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if k, err := eng.Reconcile(ctx); err != nil || k != 0 {
		t.Fatalf("second reconcile enqueued %d (err %v), want 0", k, err)
	}
	orgtest.RunUntilIdle(t, eng)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	// With concurrency 1 the spans alternate start, end, start, end...
	if len(lines) != 12 {
		t.Fatalf("want 3 developer runs, got %q", lines)
	}
	for i := 0; i < len(lines); i += 2 {
		want := "start"
		if (i/2)%2 == 1 {
			want = "end"
		}
		if lines[i] != want {
			t.Fatalf("developer runs overlapped: %q", lines)
		}
	}
	for _, n := range ns {
		wantLabels(t, org, n, "mr:ready-for-review")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestRejectionsGoBackWithTheHumansWords(t *testing.T) {
	script := `
steps:
  - match: {role: pm, prompt: "negative numbers"}
    summary: "Plan v2: also covers negative numbers."
  - match: {role: pm}
    summary: "Plan v1."
  - match: {role: developer, prompt: "sent back by a reviewer"}
    actions:
      - write: {path: feature.go, content: "package calc\n\n// Feature is renamed as asked.\nfunc Feature() int { return 2 }\n"}
    summary: Renamed as asked.
  - match: {role: developer}
    actions:
      - write: {path: feature.go, content: "package calc\n\nfunc Feature() int { return 1 }\n"}
    summary: Added Feature.
`
	org := orgtest.New(t, orgtest.Options{Script: script})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := newIssue(t, org, "Add Feature")
	orgtest.RunUntilIdle(t, eng)

	if _, err := org.Desk.Reject(ctx, n, "alice", ""); err == nil {
		t.Fatal("a rejection without a reason must be refused")
	}
	if _, err := org.Desk.Reject(ctx, n, "alice", "Cover negative numbers too."); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if commentsWith(t, org, n, "## Plan for #") != 1 || commentsWith(t, org, n, "Plan v2") != 1 {
		t.Fatal("the replan must update the one plan comment with the new plan")
	}

	org.Desk.Approve(ctx, n, "alice")
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	first, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	org.Desk.Approve(ctx, n, "alice")
	// Approved, then taken back before the engine merged: reject wins.
	if _, err := org.Tracker.UpdateLabels(ctx, n, []string{"mr:ready-for-review"}, []string{"mr:approved"}, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Desk.Reject(ctx, n, "alice", "Rename it."); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	as, _ := org.Log.Attempts(ctx, n)
	if len(as) != 2 || as[1].SessionID != as[0].SessionID || as[1].Verdict != eventlog.GO {
		t.Fatalf("want a second GO attempt in the same session, got %+v", as)
	}
	mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if mr.Number != first.Number || mr.HeadSHA != as[1].CommitSHA || len(mr.ApprovedAtHead()) != 0 {
		t.Fatalf("the same MR should move to the new commit with no approval: %+v", mr)
	}
	org.Desk.Approve(ctx, n, "alice")
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "e2e:done")
	if !strings.Contains(orgtest.Git(t, org.Origin, "show", "main:feature.go"), "renamed as asked") {
		t.Fatal("main should hold the reviewed version")
	}
}

// Runs lease their clean checkouts from a pool of slots that outlives
// them; a stopped engine leaves none, and a start sweeps what a crash left:
// a slot still leased, dirt and all, and a per-run checkout of an earlier
// version.
func TestCheckoutSlotsOutliveRunsNotTheEngine(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: goodScript})
	ctx := context.Background()
	checkouts := role.CheckoutsDir(org.Home)
	slots := filepath.Join(checkouts, "slots")
	eng := org.Engine(t, app.EngineOptions{})
	n := newIssue(t, org, "Add Feature")
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if idle, _ := os.ReadDir(slots); len(idle) != 1 {
		t.Fatalf("after the plan: idle slots %v, want the plan's", idle)
	}
	if err := eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(checkouts); len(left) != 0 {
		t.Fatalf("a stopped engine left checkouts: %v", left)
	}

	mirror, err := workspace.OpenMirror(ctx, filepath.Join(org.Home, "mirror.git"), org.Origin)
	if err != nil {
		t.Fatal(err)
	}
	head := orgtest.Git(t, org.Origin, "rev-parse", "main")
	crashed, _, err := mirror.Lease(ctx, slots, head) // never released
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, "dirt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(checkouts, "validate-run-1")
	orgtest.Git(t, mirror.Dir, "worktree", "add", "--quiet", "--detach", old, head)

	eng = org.Engine(t, app.EngineOptions{})
	if left, _ := os.ReadDir(checkouts); len(left) != 0 {
		t.Fatalf("a start left what a crash left: %v", left)
	}
	if list := orgtest.Git(t, mirror.Dir, "worktree", "list", "--porcelain"); strings.Contains(list, checkouts) {
		t.Fatalf("checkouts still registered:\n%s", list)
	}
	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	idle, _ := os.ReadDir(slots)
	if len(idle) != 1 || filepath.Join(slots, idle[0].Name()) == crashed {
		t.Fatalf("after the validation: idle slots %v (the crashed one was %s)", idle, crashed)
	}
}
