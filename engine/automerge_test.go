package engine_test

import (
	"context"
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
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// autoMergeWorkflow sets auto_merge on the merge stage, and failure when
// given.
func autoMergeWorkflow(t *testing.T, failure string) func(string) string {
	return func(s string) string {
		old := "  merge:\n    role: merge\n    on: mr:approved\n"
		if strings.Count(s, old) != 1 {
			t.Fatalf("the default workflow's merge stage changed:\n%s", s)
		}
		repl := old + "    auto_merge: true\n"
		if failure != "" {
			repl += "    failure: " + failure + "\n"
		}
		return strings.Replace(s, old, repl, 1)
	}
}

// toReview opts an issue in, approves its plan, and runs the organization
// until its merge request waits for review.
func toReview(t *testing.T, org *orgtest.Org, eng *engine.Engine, desk *human.Desk) int64 {
	t.Helper()
	ctx := context.Background()
	is, err := desk.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := desk.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if _, err := desk.Approve(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, is.Number, "mr:ready-for-review")
	return is.Number
}

// The merge stage hands the approved merge request to GitLab's auto-merge
// while its pipeline runs, comes back on later polls without holding a
// worker, and closes the issue once GitLab merged it.
func TestAutoMergeWhenPipelineSucceedsOnGitLab(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	fake.CI = func(sha string) *gitlabfake.PipelineSpec {
		return &gitlabfake.PipelineSpec{Status: "success", RunningReads: 3,
			Jobs: []gitlabfake.JobSpec{{Name: "unit", Stage: "test", Status: "success", Log: "ok\n"}}}
	}
	org, d := onGitLabEdited(t, fake, goodScript, autoMergeWorkflow(t, ""))
	if !org.Workflow.Stage("merge").AutoMerge {
		t.Fatal("the merge stage does not auto-merge")
	}
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := toReview(t, org, eng, d)
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)

	done, err := org.Tracker.MR(ctx, mr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != agentorg.MRMerged || done.MergedBy != org.Workflow.Tracker.Bot {
		t.Fatalf("merge request: %+v", done)
	}
	if main := orgtest.Git(t, fake.Repo, "rev-parse", "main"); main != done.MergeSHA {
		t.Fatalf("GitLab's main is %s, the merge commit %s", main, done.MergeSHA)
	}
	closed, err := org.Tracker.Issue(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != agentorg.IssueClosed || !closed.HasLabel("e2e:done") {
		t.Fatalf("issue after the merge: %+v", closed)
	}
	// GitLab merged it: one merge call, which set auto-merge while the
	// pipeline ran, and the stage came back to find it merged.
	if _, routes := fake.Requests(); routes["PUT /api/v4/projects/{id}/merge_requests/{iid}/merge"] != 1 {
		t.Fatalf("%d merge calls, want the one that set auto-merge", routes["PUT /api/v4/projects/{id}/merge_requests/{iid}/merge"])
	}
	var set, merged bool
	for _, ev := range events(t, org, n, eventlog.KindMerge) {
		set = set || ev.Data["auto_merge"] == "set"
		merged = merged || ev.Data["auto_merge"] == "merged"
	}
	if !set || !merged {
		t.Fatalf("events do not show auto-merge set then done: %+v", events(t, org, n, eventlog.KindMerge))
	}
	counts, err := jobstore.New(org.DB).Counts(ctx, engine.StageArgs{}.Kind())
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	for _, c := range counts {
		if c.Stage == "merge" && c.State == "completed" {
			runs += c.N
		}
	}
	if runs < 2 {
		t.Fatalf("the merge stage ran %d times: it should wait between polls, not inside one run", runs)
	}
}

const ciFixScript = `
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

// failFirst is CI whose first head fails (after running a while) and whose
// later heads pass.
func failFirst(first *string) func(string) *gitlabfake.PipelineSpec {
	return func(sha string) *gitlabfake.PipelineSpec {
		if *first == "" || *first == sha {
			*first = sha
			return &gitlabfake.PipelineSpec{Status: "failed", RunningReads: 2, Jobs: []gitlabfake.JobSpec{
				{Name: "unit", Stage: "test", Status: "failed", FailureReason: "script_failure",
					Log: "--- FAIL: TestFeature (0.00s)\n    feature_test.go:9: Feature() = 1, want 2\nFAIL\n"}}}
		}
		return &gitlabfake.PipelineSpec{Status: "success", RunningReads: 1}
	}
}

// A pipeline that fails while auto-merge waits: GitLab cancels the merge,
// the failure goes back to the developer's session (the merge stage's
// failure label), the fix is validated, reviewed and auto-merged.
func TestAutoMergeFailedPipelineGoesBackToTheDeveloper(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	first := ""
	fake.CI = failFirst(&first)
	org, d := onGitLabEdited(t, fake, ciFixScript, autoMergeWorkflow(t, "dev:ready"))
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := toReview(t, org, eng, d)
	if _, err := d.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	// Back through the developer and validation to review, unmerged.
	wantLabels(t, org, n, "mr:ready-for-review")
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if mr.State != agentorg.MROpen || mr.HeadSHA == first || mr.AutoMerge {
		t.Fatalf("after the failed pipeline: %+v (first head %s)", mr, first)
	}
	if commentsWith(t, org, n, "## CI failed") != 1 || commentsWith(t, org, n, "want 2") == 0 {
		t.Fatal("no CI failure report with the job's log")
	}
	as, err := org.Log.Attempts(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].CommitSHA != first || as[1].SessionID != as[0].SessionID {
		t.Fatalf("attempts %+v: want the fix in the same session", as)
	}
	if _, err := d.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	done, err := org.Tracker.MR(ctx, mr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != agentorg.MRMerged {
		t.Fatalf("the fix was not merged: %+v", done)
	}
}

// Without a failure label for it, a failed pipeline under auto-merge is
// escalated with the reason.
func TestAutoMergeFailedPipelineEscalates(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	first := ""
	fake.CI = failFirst(&first)
	org, d := onGitLabEdited(t, fake, ciFixScript, autoMergeWorkflow(t, ""))
	eng := org.Engine(t, app.EngineOptions{CINoPipeline: time.Minute})
	ctx := context.Background()
	n := toReview(t, org, eng, d)
	if _, err := d.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "needs:human")
	if commentsWith(t, org, n, "merge request !1 was not merged") != 1 {
		t.Fatal("the escalation does not say why")
	}
	if mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n); mr.State != agentorg.MROpen || mr.AutoMerge {
		t.Fatalf("merge request %+v: want open, auto-merge cancelled", mr)
	}
}

// An auto-merge pending on GitLab is withdrawn when the approval behind it
// is refused: GitLab must not merge what the gate no longer allows.
func TestRefusedApprovalCancelsAutoMerge(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	fake.CI = func(string) *gitlabfake.PipelineSpec {
		return &gitlabfake.PipelineSpec{Status: "success", RunningReads: 1000}
	}
	org, d := onGitLabEdited(t, fake, goodScript, autoMergeWorkflow(t, ""))
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := toReview(t, org, eng, d)
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	// Auto-merge is pending (as a run of the merge stage leaves it), then
	// alice adds the label without approving the merge request.
	if _, err := d.Tracker.(agentorg.PipelineReader).Pipeline(ctx, mr.HeadSHA); err != nil {
		t.Fatal(err)
	}
	if set, err := d.Tracker.(agentorg.AutoMerger).AutoMergeMR(ctx, mr.Number, mr.HeadSHA, ""); err != nil || !set.AutoMerge {
		t.Fatalf("setting auto-merge: %+v, %v", set, err)
	}
	if _, err := d.Tracker.UpdateLabels(ctx, n, []string{"mr:approved"}, []string{"mr:ready-for-review"}, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	if fake.AutoMergeSet(mr.Number) {
		t.Fatal("the refused approval left GitLab's auto-merge pending")
	}
	if cur, _ := org.Tracker.MR(ctx, mr.Number); cur.State != agentorg.MROpen {
		t.Fatalf("merge request %+v", cur)
	}
}

// A head that gets no pipeline is waited for up to the CI grace, then
// merged by agentorg itself: auto-merge is never asked for without a
// running pipeline, since GitLab would merge at once.
func TestAutoMergeWithoutPipelineMergesAfterTheGrace(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	org, d := onGitLabEdited(t, fake, goodScript, autoMergeWorkflow(t, ""))
	eng := org.Engine(t, app.EngineOptions{CINoPipeline: time.Nanosecond})
	ctx := context.Background()
	n := toReview(t, org, eng, d)
	if _, err := d.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if mr.State != agentorg.MRMerged {
		t.Fatalf("merge request %+v", mr)
	}
	waited := false
	for _, ev := range events(t, org, n, eventlog.KindUpdate) {
		waited = waited || ev.Data["waiting_for_pipeline"] != ""
	}
	if !waited {
		t.Fatal("no event records the wait for a pipeline")
	}
	for _, ev := range events(t, org, n, eventlog.KindMerge) {
		if ev.Data["auto_merge"] != "" {
			t.Fatalf("auto-merge was asked for without a pipeline: %+v", ev)
		}
	}
}
