package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/jobstore"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
	"github.com/agentorg/agentorg/workflow"
)

// onGitLab builds an organization whose tracker is a (fake) GitLab project
// holding the sample repository, and a desk for the humans, who act in
// GitLab itself (here: through an administrator's token and Sudo).
func onGitLab(t *testing.T) (*orgtest.Org, *gitlabfake.Server, *human.Desk) {
	t.Helper()
	return onGitLabWith(t, gitlabfake.New(t))
}

func onGitLabWith(t *testing.T, fake *gitlabfake.Server) (*orgtest.Org, *gitlabfake.Server, *human.Desk) {
	t.Helper()
	return onGitLabScript(t, fake, goodScript)
}

func onGitLabScript(t *testing.T, fake *gitlabfake.Server, script string) (*orgtest.Org, *gitlabfake.Server, *human.Desk) {
	t.Helper()
	fake.AddUser("alice", "", false)
	fake.AddUser("mallory", "", false)
	org := orgtest.New(t, orgtest.Options{Script: script, GitLab: fake})
	return org, fake, org.Humans
}

// The whole lifecycle on GitLab, with forged and stale approvals refused in
// comments on the way.
func TestLifecycleOnGitLab(t *testing.T) {
	org, fake, desk := onGitLab(t)
	if _, ok := org.Tracker.(*gitlab.Tracker); !ok {
		t.Fatalf("the workflow's tracker.kind gitlab opened a %T", org.Tracker)
	}
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()

	is, err := desk.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	if err := desk.OptIn(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if commentsWith(t, org, n, "Acceptance criteria") != 1 {
		t.Fatal("the plan is not posted on the GitLab issue")
	}

	// A non-approver and the bot's own account add the approval label in
	// GitLab: both refused, each with a comment saying why.
	for _, forger := range []string{"mallory", "agentorg-bot"} {
		if _, err := desk.Tracker.UpdateLabels(ctx, n, []string{"issue:approved"}, []string{"plan:review"}, forger); err != nil {
			t.Fatal(err)
		}
		orgtest.RunUntilIdle(t, eng)
		wantLabels(t, org, n, "plan:review")
	}
	if got := commentsWith(t, org, n, "## Approval refused"); got != 2 {
		t.Fatalf("%d refusal comments, want 2 (mallory, the bot)", got)
	}
	if commentsWith(t, org, n, "only a human may approve") != 1 {
		t.Fatal("the bot's own label event was not recognised as the bot's")
	}

	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if got := labels(t, org, n); len(got) != 1 || got[0] != "mr:ready-for-review" {
		cs, _ := org.Tracker.Comments(ctx, n)
		for _, c := range cs {
			t.Logf("comment by %s:\n%s", c.Author, c.Body)
		}
		t.Fatalf("#%d labels = %v, want mr:ready-for-review", n, got)
	}
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if mr.SourceBranch != "agentorg/issue-1" || mr.HeadSHA == "" {
		t.Fatalf("merge request %+v", mr)
	}

	// alice approves, then a commit lands on the branch: the approval is void.
	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	stale := mr.HeadSHA
	moved := orgtest.Git(t, fake.Repo, "commit-tree", stale+"^{tree}", "-p", stale, "-m", "pushed after the approval")
	orgtest.Git(t, fake.Repo, "update-ref", "refs/heads/"+mr.SourceBranch, moved)
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	if commentsWith(t, org, n, "void once new commits land") != 1 {
		t.Fatal("want a comment saying the approval is void after the push")
	}
	if cur, _ := org.Tracker.MR(ctx, mr.Number); cur.State != agentorg.MROpen {
		t.Fatalf("a stale approval merged: %+v", cur)
	}

	// Put the validated head back; alice approves at it; it merges.
	orgtest.Git(t, fake.Repo, "update-ref", "refs/heads/"+mr.SourceBranch, stale)
	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	done, err := org.Tracker.MR(ctx, mr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != agentorg.MRMerged || done.MergedBy != org.Workflow.Tracker.Bot {
		t.Fatalf("merge request after approval: %+v", done)
	}
	if main := orgtest.Git(t, fake.Repo, "rev-parse", "main"); main != done.MergeSHA {
		t.Fatalf("GitLab's main is %s, the merge commit %s", main, done.MergeSHA)
	}
	closed, err := org.Tracker.Issue(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != agentorg.IssueClosed || !closed.HasLabel("e2e:done") {
		t.Fatalf("issue after merge: %+v", closed)
	}
	// The validator's results, kept while GitLab lacked the commit, are
	// commit statuses once it has it.
	checks, err := org.Tracker.Checks(ctx, stale)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) == 0 || checks[0].Status != agentorg.CheckPassed {
		t.Fatalf("checks of the validated head: %+v", checks)
	}
	if _, routes := fake.Requests(); routes["POST /api/v4/projects/{id}/statuses/{sha}"] == 0 {
		t.Fatal("no commit status reached GitLab")
	}

	// The token is nowhere in the home: not in the mirror's config, the
	// engine's log, the agents' transcripts or the database.
	filepath.WalkDir(org.Home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), gitlabfake.Token) {
			t.Errorf("the GitLab token is in %s", p)
		}
		return nil
	})
}

// An agent's environment is built from scratch: the tracker's token is not
// in it even when agentorg's own environment holds it.
func TestAgentEnvHasNoTrackerToken(t *testing.T) {
	t.Setenv("GITLAB_TOKEN", "glpat-must-not-leak")
	env := app.AgentEnv(&workflow.Agent{Name: "a", Env: map[string]string{"PORT": "8080"}})
	for _, kv := range env {
		if strings.Contains(kv, "glpat-must-not-leak") || strings.HasPrefix(kv, "GITLAB_TOKEN=") {
			t.Fatalf("agent environment holds the token: %v", env)
		}
	}
	if !slices.Contains(env, "PORT=8080") {
		t.Fatalf("agent environment %v lacks what the workflow passes", env)
	}
}

// ciWorkflow adds a ci stage between validation and the merge request
// review.
func ciWorkflow(s string) string {
	s = strings.Replace(s, "  - name: mr:ready-for-review\n", "  - name: ci:pending\n  - name: ci:running\n  - name: mr:ready-for-review\n", 1)
	s = strings.Replace(s, "    running: validate:running\n    success: mr:ready-for-review\n",
		"    running: validate:running\n    success: ci:pending\n", 1)
	return strings.Replace(s, "  merge:\n    role: merge\n",
		"  ci:\n    role: ci\n    on: ci:pending\n    running: ci:running\n    success: mr:ready-for-review\n    failure: dev:ready\n  merge:\n    role: merge\n", 1)
}

// CI feeds the loop: the pipeline of the merge request's first head fails;
// its failed job's log tail reaches the developer's same session, the fix
// is validated and pushed, and the passing pipeline moves the merge request
// on to review.
func TestFailedPipelineGoesBackToTheDeveloper(t *testing.T) {
	const script = `
steps:
  - match: {role: pm}
    summary: "Plan: add feature.go.\n\n## Acceptance criteria\n- [ ] it builds"
  - match: {role: validator}
    summary: "` + "```" + `json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"go vet and go test pass\"}]}\n` + "```" + `"
  - match: {role: developer, prompt: "feature_test.go:9: Feature() = 1, want 2"}
    actions:
      - write: {path: feature.go, content: "package calc\n\n// Feature is new.\nfunc Feature() int { return 2 }\n"}
    summary: Feature returns 2, as CI wants.
  - match: {role: developer}
    actions:
      - write: {path: feature.go, content: "package calc\n\n// Feature is new.\nfunc Feature() int { return 1 }\n"}
    summary: Added Feature.
`
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	first := ""
	fake.CI = func(sha string) *gitlabfake.PipelineSpec {
		if first == "" || first == sha {
			first = sha
			return &gitlabfake.PipelineSpec{Status: "failed", RunningReads: 1, Jobs: []gitlabfake.JobSpec{
				{Name: "lint", Stage: "test", Status: "success", Log: "ok\n"},
				{Name: "unit", Stage: "test", Status: "failed", FailureReason: "script_failure",
					Log: "\x1b[0Ksection_start:1700000000:step_script\r\x1b[0K$ go test ./...\n" +
						strings.Repeat("noise line\n", 200) +
						"--- FAIL: TestFeature (0.00s)\n    feature_test.go:9: Feature() = 1, want 2\nFAIL\n\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m\n"},
			}}
		}
		return &gitlabfake.PipelineSpec{Status: "success", RunningReads: 1,
			Jobs: []gitlabfake.JobSpec{{Name: "unit", Stage: "test", Status: "success", Log: "ok\n"}}}
	}
	org := orgtest.New(t, orgtest.Options{Script: script, GitLab: fake, Edit: ciWorkflow})
	people, desk := org.People, org.Humans
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()

	is, err := people.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	if err := desk.OptIn(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")

	as, err := org.Log.Attempts(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].CommitSHA != first || as[1].SessionID != as[0].SessionID {
		t.Fatalf("attempts %+v: want two, the first at the failed pipeline's head %s, the second in the same session", as, first)
	}
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if mr.HeadSHA != as[1].CommitSHA || fake.Pipelines(mr.HeadSHA) != 1 {
		t.Fatalf("merge request head %s, want the fix %s with its own pipeline", mr.HeadSHA, as[1].CommitSHA)
	}
	cs, err := org.Tracker.Comments(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	var report string
	for _, c := range cs {
		if strings.Contains(c.Body, "## CI failed") {
			report = c.Body
		}
	}
	switch {
	case report == "":
		t.Fatal("no CI failure comment")
	case !strings.Contains(report, "Job `unit`") || strings.Contains(report, "Job `lint`"):
		t.Fatalf("the report should name the failed job only:\n%s", report)
	case strings.Contains(report, "\x1b[") || strings.Contains(report, "section_start"):
		t.Fatalf("terminal escapes reached the report:\n%q", report)
	case strings.Count(report, "noise line") > 80 || !strings.Contains(report, "earlier lines cut"):
		t.Fatalf("the log tail is not trimmed:\n%s", report)
	}
	found := false
	for _, ev := range events(t, org, n, eventlog.KindVerdict) {
		found = found || strings.Contains(ev.Reason, "failed on "+first[:10])
	}
	if !found {
		t.Fatalf("no event records the failed pipeline: %+v", events(t, org, n, eventlog.KindVerdict))
	}
}

// A GitLab outage in the middle of a stage pauses the work and resumes it:
// no try is spent on it, nothing is escalated, nothing is done twice.
// (docs/lifecycle.md F5)
func TestGitLabOutagePausesAndResumes(t *testing.T) {
	fake := gitlabfake.New(t)
	// Quick retries, so that the outage outlasts them.
	b := gitlab.SharedBudget(fake.URL, gitlabfake.Token)
	b.MaxRetries, b.BaseDelay, b.MaxDelay = 2, time.Millisecond, 2*time.Millisecond
	org, _, desk := onGitLabWith(t, fake)
	eng := org.Engine(t, app.EngineOptions{UnavailableDelay: 20 * time.Millisecond, MaxAttempts: 2})
	ctx := context.Background()
	is, err := desk.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	if err := desk.OptIn(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	// The validator's report cannot be posted three times in a row, and
	// the merge request search fails for longer than the budget's retries.
	fake.Inject(gitlabfake.Fault{Method: "POST", Pattern: "POST /api/v4/projects/{id}/issues/{iid}/notes", Status: 503, Times: 3})
	fake.Inject(gitlabfake.Fault{Pattern: "GET /api/v4/projects/{id}/merge_requests", Status: 502, Times: 4})
	orgtest.RunUntilIdle(t, eng)

	wantLabels(t, org, n, "mr:ready-for-review")
	if got := commentsWith(t, org, n, "## Validation of attempt"); got != 1 {
		t.Fatalf("%d validation reports, want 1", got)
	}
	mrs, err := org.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(mrs) != 1 {
		t.Fatalf("%d merge requests, want 1", len(mrs))
	}
	if as, _ := org.Log.Attempts(ctx, n); len(as) != 1 {
		t.Fatalf("%d developer attempts, want 1", len(as))
	}
	waits := 0
	for _, ev := range events(t, org, n, eventlog.KindError) {
		if strings.Contains(ev.Reason, "tracker is unavailable") {
			waits++
		}
	}
	if waits == 0 {
		t.Fatal("the outage never reached the engine: the test proves nothing")
	}
	if esc := events(t, org, n, eventlog.KindEscalate); len(esc) != 0 {
		t.Fatalf("an outage escalated: %+v", esc)
	}
	// The jobs waited: none used up its tries and was thrown away.
	counts, err := jobstore.New(org.DB).Counts(ctx, engine.StageArgs{}.Kind())
	if err != nil {
		t.Fatal(err)
	}
	discarded := 0
	for _, c := range counts {
		if c.State == "discarded" {
			discarded += c.N
		}
	}
	if discarded != 0 {
		t.Fatalf("%d jobs were discarded during the outage", discarded)
	}
}

// On GitLab a person sends a plan back with a plain comment and the label:
// the PM's next run is given their words.
func TestRejectionInGitLabReachesThePM(t *testing.T) {
	const script = `
steps:
  - match: {role: pm, prompt: "Cover negative numbers too."}
    summary: "Plan v2: also covers negative numbers."
  - match: {role: pm}
    summary: "Plan v1."
`
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	org := orgtest.New(t, orgtest.Options{Script: script, GitLab: fake})
	people := org.People
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	// alice writes on the issue before anything happens: not feedback.
	is, err := people.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice", Labels: []string{"agentorg"}})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	if _, err := people.AddComment(ctx, n, "Some context: Cover negative numbers too.", "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if commentsWith(t, org, n, "Plan v1.") != 1 {
		t.Fatal("the first plan took a comment written before any plan as feedback")
	}
	// She sends the plan back, as in GitLab's UI.
	if _, err := people.AddComment(ctx, n, "Cover negative numbers too.", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := people.UpdateLabels(ctx, n, []string{"agentorg"}, []string{"plan:review"}, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if commentsWith(t, org, n, "Plan v2") != 1 || commentsWith(t, org, n, "## Plan for #") != 1 {
		t.Fatal("the replan did not get alice's words")
	}
	if commentsWith(t, org, n, "adds the `issue:approved` label") != 1 {
		t.Fatal("the plan comment should say how to approve in GitLab")
	}
}

// In GitLab a person approves by adding the approve label only: once the
// approval holds, the engine takes the gate's waits label off, as the bot,
// and records it. And the validator's check results reach the merge
// request's head as commit statuses as soon as it is pushed.
func TestGitLabApprovalTakesTheIssueOffTheGate(t *testing.T) {
	org, fake, desk := onGitLab(t)
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	people := desk.Tracker
	is, err := people.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice", Labels: []string{"agentorg"}})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if _, err := people.UpdateLabels(ctx, n, []string{"issue:approved"}, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	left := false
	for _, ev := range events(t, org, n, eventlog.KindTransition) {
		left = left || (ev.From == "plan:review" && ev.Actor == org.Workflow.Tracker.Bot && ev.Data["approver"] == "alice")
	}
	if !left {
		t.Fatalf("no event records the engine taking plan:review off: %+v", events(t, org, n, eventlog.KindTransition))
	}

	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.Statuses(mr.HeadSHA); got["test"] != "success" {
		t.Fatalf("statuses on the merge request's head %s: %v, want the check's success", mr.HeadSHA[:10], got)
	}

	if _, err := people.ApproveMR(ctx, mr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := people.UpdateLabels(ctx, n, []string{"mr:approved"}, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "e2e:done")
}

// The answer to the plan's POST is lost (GitLab made the note, the client
// saw a 502): the stage waits, tries again and posts the plan from the
// record of the run. The PM agent ran once, and the plan names its session.
func TestLostPlanAnswerDoesNotRunThePMAgain(t *testing.T) {
	org, fake, desk := onGitLab(t)
	eng := org.Engine(t, app.EngineOptions{UnavailableDelay: 100 * time.Millisecond})
	ctx := context.Background()
	is, err := desk.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice", Labels: []string{"agentorg"}})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	fake.Inject(gitlabfake.Fault{Method: "POST", Pattern: "POST /api/v4/projects/{id}/issues/{iid}/notes", Status: 502, Times: 1, Lost: true})
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	runs, err := org.Log.Runs(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	var pm []eventlog.Run
	for _, r := range runs {
		if r.Role == agentorg.RolePM {
			pm = append(pm, r)
		}
	}
	if len(pm) != 1 {
		t.Fatalf("the PM agent ran %d times, want once: %+v", len(pm), pm)
	}
	if commentsWith(t, org, n, "## Plan for #") != 1 || commentsWith(t, org, n, "_Session "+pm[0].Session+".") != 1 {
		t.Fatalf("want one plan comment naming the run's session %q", pm[0].Session)
	}
	waited := false
	for _, ev := range events(t, org, n, eventlog.KindError) {
		waited = waited || strings.Contains(ev.Reason, "unavailable")
	}
	if !waited {
		t.Fatal("the lost answer never reached the stage: the test proves nothing")
	}
}

// The validator's commit statuses on a head without a pipeline make GitLab
// create one to hold them (source "external"). Nothing ran there: the ci
// stage does not take it for the project's CI, waits for a pipeline, and
// passes when none came within the grace.
func TestExternalPipelineIsNotCI(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	org := orgtest.New(t, orgtest.Options{Script: goodScript, GitLab: fake, Edit: ciWorkflow})
	eng := org.Engine(t, app.EngineOptions{CINoPipeline: 2 * time.Second})
	ctx := context.Background()
	n := toReview(t, org, eng, org.Humans)
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.PipelineSources(mr.HeadSHA); !slices.Equal(got, []string{"external"}) {
		t.Fatalf("pipelines of the head: %v, want the external one the statuses made", got)
	}
	var passed []string
	for _, ev := range events(t, org, n, eventlog.KindTransition) {
		if ev.Stage == "ci" && ev.To == "mr:ready-for-review" {
			passed = append(passed, ev.Reason)
		}
	}
	if len(passed) != 1 || !strings.Contains(passed[0], "no pipeline ran on") {
		t.Fatalf("the ci stage passed with %q: want it to find no pipeline", passed)
	}
}
