package role_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/notify"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// The release script: a plan with a command criterion per issue, a file
// per issue, and the release agent's answers (the second proposes a minor
// bump for a fix, which agentorg corrects).
const releaseScript = `
steps:
  - match: {role: pm, issue: 1}
    summary: "Greet.\n\n## Acceptance criteria\n- [ ] ` + "`test -f greet.txt`" + ` passes"
  - match: {role: pm, issue: 2}
    summary: "Fix the typo.\n\n## Acceptance criteria\n- [ ] ` + "`test -f typo.txt`" + ` passes"
  - match: {role: pm, issue: 3}
    summary: "Notes.\n\n## Acceptance criteria\n- [ ] ` + "`test -f notes.txt`" + ` passes"
  - match: {role: pm, issue: 5}
    summary: "Break it.\n\n## Acceptance criteria\n- [ ] ` + "`test -f BAD`" + ` passes"
  - match: {role: developer, issue: 1}
    actions: [{write: {path: greet.txt, content: "hi\n"}}]
    summary: Wrote greet.txt.
  - match: {role: developer, issue: 2}
    actions: [{write: {path: typo.txt, content: "fixed\n"}}]
    summary: Wrote typo.txt.
  - match: {role: developer, issue: 3}
    actions: [{write: {path: notes.txt, content: "notes\n"}}]
    summary: Wrote notes.txt.
  - match: {role: developer, issue: 5}
    actions: [{write: {path: BAD, content: "this version fails verify\n"}}]
    summary: Wrote BAD.
  - match: {role: release, issue: 4}
    summary: "The first release.\n\n` + "```json" + `\n{\"version\": \"0.1.0\", \"summary\": \"A first release: greetings.\", \"kinds\": {\"3\": \"other\"}}\n` + "```" + `"
  - match: {role: release}
    summary: "Another.\n\n` + "```json" + `\n{\"version\": \"0.2.0\", \"summary\": \"A fix.\"}\n` + "```" + `"
`

// releaseWorkflow adds a release section and two environments whose
// deploy writes the version into a directory per environment, and whose
// verify fails for a release carrying a BAD file.
func releaseWorkflow(dir, extra string) func(string) string {
	return func(s string) string {
		return s + fmt.Sprintf(`
release:
  agent: coder
environments:
  - name: staging
    auto: release
    deploy: mkdir -p %[1]s/staging && echo "$AGENTORG_VERSION $AGENTORG_COMMIT" > %[1]s/staging/version
    verify: test ! -f BAD
    rollback: echo "$AGENTORG_VERSION $AGENTORG_COMMIT" > %[1]s/staging/version
  - name: production
    approvers: [alice]
    deploy: mkdir -p %[1]s/production && echo "$AGENTORG_VERSION" > %[1]s/production/version
    verify: "true"
%[2]s`, dir, extra)
	}
}

func deployed(t *testing.T, dir, env string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, env, "version"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))[0]
}

// A release of three merged issues becomes v0.1.0 with its notes, its
// CHANGELOG change merged and its tag on the released commit; staging
// deploys automatically; production waits for alice (bob may not approve
// it) and deploys once she does. A second release, a fix whose version the
// agent over-bumps, is corrected to v0.1.1, fails verify in staging, rolls
// back to v0.1.0, escalates and opens an issue; it may not go to
// production, having not passed staging. (docs/lifecycle.md I20, F11)
func TestReleaseAndDeploy(t *testing.T) {
	envs := t.TempDir()
	org := orgtest.New(t, orgtest.Options{Script: releaseScript, Check: "true", E2E: "true", Unconfined: true, Edit: releaseWorkflow(envs, "")})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	optIn(t, org, "feat: greet the user", "")
	optIn(t, org, "fix: a typo", "")
	optIn(t, org, "Add release notes", "")
	approveUntilDone(t, org, eng)

	rel, err := org.Humans.StartRelease(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if rel.Number != 4 {
		t.Fatalf("the release issue is #%d, the script expects #4", rel.Number)
	}
	if _, err := org.Humans.StartRelease(ctx, "alice"); err == nil || !strings.Contains(err.Error(), "#4 is a release in progress") {
		t.Fatalf("a second release while one is drafted: %v", err)
	}
	approveUntilDone(t, org, eng)

	r, ok, err := org.Log.Release(ctx, "0.1.0")
	if err != nil || !ok || !r.Published || r.Tag != "v0.1.0" {
		t.Fatalf("release 0.1.0: %+v %v %v", r, ok, err)
	}
	for _, want := range []string{"## v0.1.0", "A first release: greetings.", "### Features", "Greet the user", "### Fixes", "A typo", "### Other changes", "Add release notes"} {
		if !strings.Contains(r.Notes, want) {
			t.Fatalf("the notes lack %q:\n%s", want, r.Notes)
		}
	}
	if got := orgtest.Git(t, org.Origin, "rev-parse", "v0.1.0^{commit}"); got != r.Commit {
		t.Fatalf("the tag is on %s, the release on %s", got, r.Commit)
	}
	if msg := orgtest.Git(t, org.Origin, "tag", "-l", "--format=%(contents)", "v0.1.0"); !strings.Contains(msg, "Greet the user") {
		t.Fatalf("the tag's message: %q", msg)
	}
	if cl := orgtest.Git(t, org.Origin, "show", "main:CHANGELOG.md"); !strings.Contains(cl, "## v0.1.0") {
		t.Fatalf("CHANGELOG on main:\n%s", cl)
	}
	if got := deployed(t, envs, "staging"); got != "0.1.0" {
		t.Fatalf("staging runs %q, want 0.1.0 deployed automatically", got)
	}
	if got := deployed(t, envs, "production"); got != "" {
		t.Fatalf("production runs %q before alice approved", got)
	}

	// The wait for production's approvers opens a notice to them.
	var asked eventlog.Event
	evs, err := org.Log.Events(ctx, eventlog.Filter{Issue: 4, Kind: eventlog.KindDeploy})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Data["waiting"] != "" {
			asked = e
		}
	}
	src := notify.Sources{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB}
	nt, err := notify.Build(ctx, src, asked)
	if err != nil || nt.Kind != notify.KindDeploy || !strings.Contains(nt.Title, "v0.1.0 waits to deploy to production") || strings.Join(nt.Mentions, ",") != "alice" {
		t.Fatalf("the notice of the wait for approvers (%+v): %+v, %v", asked, nt, err)
	}

	var refused *human.RefusedError
	if _, err := org.Humans.ApproveDeployment(ctx, "production", "v0.1.0", "bob"); !errors.As(err, &refused) || refused.Rule != "approvers" {
		t.Fatalf("bob's approval: %v", err)
	}
	dec, err := org.Humans.ApproveDeployment(ctx, "production", "v0.1.0", "alice")
	if err != nil || !dec.Allow {
		t.Fatalf("alice's approval: %+v %v", dec, err)
	}
	poll(t, eng)
	if got := deployed(t, envs, "production"); got != "0.1.0" {
		t.Fatalf("production runs %q after alice approved", got)
	}
	if nt, err := notify.Build(ctx, src, asked); err != nil || !nt.Closed || !strings.Contains(nt.Title, "v0.1.0 to production: succeeded") {
		t.Fatalf("the notice once production runs the release: %+v, %v", nt, err)
	}
	if is, _ := org.Tracker.Issue(ctx, 4); is.State != agentorg.IssueClosed {
		t.Fatalf("the release issue is %s after every environment: %v", is.State, is.Labels)
	}

	// The second release: a fix that breaks verify.
	optIn(t, org, "fix: mark this version bad", "")
	approveUntilDone(t, org, eng)
	rel2, err := org.Humans.StartRelease(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	approveUntilDone(t, org, eng)
	r2, ok, err := org.Log.Release(ctx, "0.1.1")
	if err != nil || !ok || !r2.Published {
		t.Fatalf("release 0.1.1: %+v %v %v", r2, ok, err)
	}
	if !strings.Contains(r2.Correction, "proposed 0.2.0") || !strings.Contains(r2.Correction, "#5") {
		t.Fatalf("the over-bumped version was not corrected with its reason: %q", r2.Correction)
	}
	if got := deployed(t, envs, "staging"); got != "0.1.0" {
		t.Fatalf("staging runs %q after v0.1.1 failed verify, want the rollback to 0.1.0", got)
	}
	is2, _ := org.Tracker.Issue(ctx, rel2.Number)
	if !is2.HasLabel(org.Workflow.Escalation) {
		t.Fatalf("the failed release is not escalated: %v", is2.Labels)
	}
	open, _ := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen})
	found := false
	for _, is := range open {
		if is.Title == "Deploying v0.1.1 to staging failed" && strings.Contains(is.Body, "#5") && strings.Contains(is.Body, fmt.Sprintf("release #%d", rel2.Number)) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no issue opened for the failed deployment: %+v", open)
	}
	deps, _ := org.Log.Deployments(ctx, "staging")
	var states []string
	for _, d := range deps {
		states = append(states, fmt.Sprintf("%s:%s:%v", d.Version, d.State, d.Rollback))
	}
	if got := strings.Join(states, " "); got != "0.1.0:succeeded:false 0.1.1:failed:false 0.1.0:rolled-back:true" {
		t.Fatalf("staging's deployments: %s", got)
	}
	if _, err := org.Humans.ApproveDeployment(ctx, "production", "0.1.1", "alice"); !errors.As(err, &refused) || !strings.Contains(refused.Why, "staging") {
		t.Fatalf("promoting a version that failed staging: %v", err)
	}
}

// A freeze holds a promotion a person approved: the deployment waits,
// saying why, and nothing runs.
func TestFreezeHoldsAPromotion(t *testing.T) {
	envs := t.TempDir()
	today := time.Now().UTC().Format("2006-01-02")
	org := orgtest.New(t, orgtest.Options{Script: releaseScript, Check: "true", E2E: "true", Unconfined: true,
		Edit: releaseWorkflow(envs, fmt.Sprintf("    freezes: [\"%s year-end\"]\n", today))})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	optIn(t, org, "feat: greet the user", "")
	approveUntilDone(t, org, eng)
	rel, err := org.Humans.StartRelease(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	approveUntilDone(t, org, eng)
	if got := deployed(t, envs, "staging"); got != "0.1.0" {
		t.Fatalf("staging runs %q", got)
	}
	dec, err := org.Humans.ApproveDeployment(ctx, "production", "v0.1.0", "alice")
	if err != nil || dec.Allow || !strings.Contains(dec.Rule, "freeze") {
		t.Fatalf("alice's approval in a freeze: %+v %v", dec, err)
	}
	poll(t, eng)
	if got := deployed(t, envs, "production"); got != "" {
		t.Fatalf("production deployed %q in a freeze", got)
	}
	evs, err := org.Log.Events(ctx, eventlog.Filter{Issue: rel.Number})
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Kind != eventlog.KindWait || !strings.Contains(last.Reason, "may not go to production yet: deployments are frozen") || !strings.Contains(last.Reason, "year-end") {
		t.Fatalf("the wait is not recorded with its freeze: %+v", last)
	}
}

// poll is the daemon's next read of the tracker, which looks again at the
// runs that wait for a person, then the work it starts.
func poll(t *testing.T, eng *engine.Engine) {
	t.Helper()
	if _, err := eng.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
}

// On GitLab the release is a GitLab Release with the notes and the links
// to its issues, and each deployment a Deployment of its environment.
func TestReleaseOnGitLab(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	envs := t.TempDir()
	org := orgtest.New(t, orgtest.Options{Script: releaseScript, Check: "true", E2E: "true", Unconfined: true, GitLab: fake, Edit: releaseWorkflow(envs, "")})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	optIn(t, org, "feat: greet the user", "")
	approveUntilDone(t, org, eng)
	if _, err := org.Humans.StartRelease(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	approveUntilDone(t, org, eng)
	rels := fake.Releases()
	if len(rels) != 1 || rels[0].TagName != "v0.1.0" || !strings.Contains(rels[0].Description, "Greet the user") {
		t.Fatalf("GitLab's releases: %+v", rels)
	}
	want := fmt.Sprintf("%s/%s/-/issues/1", fake.URL, fake.ProjectPath)
	if len(rels[0].Links) != 1 || !strings.Contains(fmt.Sprint(rels[0].Links), want) {
		t.Fatalf("the release's links %+v, want %s", rels[0].Links, want)
	}
	r, _, _ := org.Log.Release(ctx, "0.1.0")
	if r.URL == "" || rels[0].Commit != r.Commit {
		t.Fatalf("the release record %+v against GitLab's %+v", r, rels[0])
	}
	deps := fake.Deployments()
	if len(deps) != 1 || deps[0].Environment != "staging" || deps[0].Status != "success" || deps[0].Ref != "v0.1.0" || deps[0].SHA != r.Commit {
		t.Fatalf("GitLab's deployments: %+v", deps)
	}
}

// release.schedule opens a release by itself once something merged and
// passed E2E, and not again while nothing new merged.
func TestScheduledRelease(t *testing.T) {
	envs := t.TempDir()
	org := orgtest.New(t, orgtest.Options{Script: releaseScript, Check: "true", E2E: "true", Unconfined: true,
		Edit: func(s string) string {
			return strings.Replace(releaseWorkflow(envs, "")(s), "release:\n  agent: coder\n", "release:\n  agent: coder\n  schedule: 1s\n", 1)
		}})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	optIn(t, org, "feat: greet the user", "")
	approveUntilDone(t, org, eng)
	time.Sleep(1100 * time.Millisecond) // past the schedule's look-again delay
	poll(t, eng)
	approveUntilDone(t, org, eng)
	r, ok, err := org.Log.Release(ctx, "0.1.0")
	if err != nil || !ok || !r.Published {
		t.Fatalf("no scheduled release: %+v %v %v", r, ok, err)
	}
	is, err := org.Tracker.Issue(ctx, r.Issue)
	if err != nil || is.Title != "Release (scheduled)" {
		t.Fatalf("the release came from #%d %q (%v)", r.Issue, is.Title, err)
	}
	time.Sleep(1100 * time.Millisecond)
	poll(t, eng)
	all, _ := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{})
	if len(all) != 2 {
		t.Fatalf("%d issues: a release was opened with nothing new to release", len(all))
	}
}

// The target moved between the draft and the approval: the CHANGELOG
// change is made again on the new head and checked there, and that is what
// lands, beside the commit that moved the target.
func TestPublishAfterTheTargetMoved(t *testing.T) {
	envs := t.TempDir()
	org := orgtest.New(t, orgtest.Options{Script: releaseScript, Check: "true", E2E: "true", Unconfined: true, Edit: releaseWorkflow(envs, "")})
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	optIn(t, org, "feat: greet the user", "")
	approveUntilDone(t, org, eng)
	rel, err := org.Humans.StartRelease(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	r, _, _ := org.Log.ReleaseOf(ctx, rel.Number)
	mr, err := org.Tracker.MR(ctx, r.MR)
	if err != nil {
		t.Fatal(err)
	}
	// A teammate pushes to main meanwhile.
	tip := orgtest.Git(t, org.Origin, "rev-parse", "main")
	moved := orgtest.Git(t, org.Origin, "commit-tree", tip+"^{tree}", "-p", tip, "-m", "a teammate's commit")
	orgtest.Git(t, org.Origin, "update-ref", "refs/heads/main", moved)
	if _, err := org.Humans.Approve(ctx, rel.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	got, err := org.Tracker.MR(ctx, r.MR)
	if err != nil || got.State != agentorg.MRMerged || got.HeadSHA == mr.HeadSHA {
		t.Fatalf("the CHANGELOG change: %+v (first head %s), %v", got, mr.HeadSHA, err)
	}
	if parent := orgtest.Git(t, org.Origin, "rev-parse", got.HeadSHA+"^"); parent != moved {
		t.Fatalf("the change landed on %s, not on the moved main %s", parent, moved)
	}
	if cl := orgtest.Git(t, org.Origin, "show", "main:CHANGELOG.md"); strings.Count(cl, "## v0.1.0") != 1 {
		t.Fatalf("CHANGELOG on main:\n%s", cl)
	}
	if r, _, _ := org.Log.Release(ctx, "0.1.0"); !r.Published {
		t.Fatalf("not published: %+v", r)
	}
}
