package gitlab_test

import (
	"errors"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// Auto-merge while the head's pipeline runs: the merge request waits, with
// the sha guard, and merges when the pipeline succeeds; a failed pipeline
// cancels it; asking twice changes nothing.
func TestAutoMergeWhenPipelineSucceeds(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	open := func(branch string, spec *gitlabfake.PipelineSpec) agentorg.MergeRequest {
		t.Helper()
		sha := e.push(t, branch)
		if spec != nil {
			e.fake.AddPipeline(sha, *spec)
		}
		m, err := e.tr.CreateMR(ctx, agentorg.NewMR{Title: branch, SourceBranch: branch, TargetBranch: "main", HeadSHA: sha})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := open("feature/passes", &gitlabfake.PipelineSpec{Status: "success", RunningReads: 2})
	if _, err := e.tr.AutoMergeMR(ctx, m.Number, "0000000000000000000000000000000000000000", ""); !errors.Is(err, agentorg.ErrHeadMoved) {
		t.Fatalf("auto-merge at a stale SHA: %v, want ErrHeadMoved", err)
	}
	got, err := e.tr.AutoMergeMR(ctx, m.Number, m.HeadSHA, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != agentorg.MROpen || !got.AutoMerge || !e.fake.AutoMergeSet(m.Number) {
		t.Fatalf("after setting auto-merge: %+v", got)
	}
	if again, err := e.tr.AutoMergeMR(ctx, m.Number, m.HeadSHA, ""); err != nil || !again.AutoMerge {
		t.Fatalf("asking again: %+v, %v", again, err)
	}
	for i := 0; i < 2; i++ { // the pipeline runs, then passes
		if _, err := e.tr.Pipeline(ctx, m.HeadSHA); err != nil {
			t.Fatal(err)
		}
	}
	done, err := e.tr.MR(ctx, m.Number)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != agentorg.MRMerged || done.AutoMerge || done.MergedBy != "agentorg" || done.MergeSHA == "" {
		t.Fatalf("after the pipeline passed: %+v", done)
	}
	if main := gitOut(t, e.fake.Repo, "", "rev-parse", "main"); main != done.MergeSHA {
		t.Fatalf("main is %s, the merge commit %s", main, done.MergeSHA)
	}

	f := open("feature/fails", &gitlabfake.PipelineSpec{Status: "failed", RunningReads: 1})
	if got, err := e.tr.AutoMergeMR(ctx, f.Number, f.HeadSHA, ""); err != nil || !got.AutoMerge {
		t.Fatalf("auto-merge on a running pipeline: %+v, %v", got, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := e.tr.Pipeline(ctx, f.HeadSHA); err != nil {
			t.Fatal(err)
		}
	}
	if cur, err := e.tr.MR(ctx, f.Number); err != nil || cur.State != agentorg.MROpen || cur.AutoMerge {
		t.Fatalf("after the pipeline failed: %+v, %v (want open, auto-merge cancelled)", cur, err)
	}

	c := open("feature/cancelled", &gitlabfake.PipelineSpec{Status: "success", RunningReads: 5})
	if got, err := e.tr.AutoMergeMR(ctx, c.Number, c.HeadSHA, ""); err != nil || !got.AutoMerge {
		t.Fatalf("auto-merge: %+v, %v", got, err)
	}
	for i := 0; i < 2; i++ { // twice: the second finds nothing to cancel
		if got, err := e.tr.CancelAutoMerge(ctx, c.Number, ""); err != nil || got.AutoMerge || e.fake.AutoMergeSet(c.Number) {
			t.Fatalf("cancel %d: %+v, %v", i, got, err)
		}
	}

	// GitLab's trap, which the fake keeps: with no running pipeline the
	// request merges at once.
	n := open("feature/no-ci", nil)
	if got, err := e.tr.AutoMergeMR(ctx, n.Number, n.HeadSHA, ""); err != nil || got.State != agentorg.MRMerged {
		t.Fatalf("auto-merge without a pipeline: %+v, %v (GitLab merges at once)", got, err)
	}
}
