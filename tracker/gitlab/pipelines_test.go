package gitlab_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

func TestPipelineOfACommit(t *testing.T) {
	e := newEnv(t, true)
	ctx := t.Context()
	sha := e.push(t, "feature/ci")
	if _, err := e.tr.Pipeline(ctx, sha); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("no pipeline yet: %v, want ErrNotFound", err)
	}
	e.fake.AddPipeline(sha, gitlabfake.PipelineSpec{Status: "success"})
	id := e.fake.AddPipeline(sha, gitlabfake.PipelineSpec{Status: "failed", RunningReads: 1, Jobs: []gitlabfake.JobSpec{
		{Name: "build", Stage: "build", Status: "success", Log: "built\n"},
		{Name: "test", Stage: "test", Status: "failed", FailureReason: "script_failure", Log: "\x1b[32;1m$ make test\x1b[0;m\nboom\n"},
	}})
	p, err := e.tr.Pipeline(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	if done, _ := p.Finished(); p.ID != id || done || len(p.Failed) != 0 {
		t.Fatalf("the newest pipeline, still running: %+v", p)
	}
	p, err = e.tr.Pipeline(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	done, passed := p.Finished()
	if !done || passed || len(p.Failed) != 1 {
		t.Fatalf("the failed pipeline: %+v", p)
	}
	j := p.Failed[0]
	if j.Name != "test" || j.Stage != "test" || j.Reason != "script_failure" || j.LogTail != "$ make test\nboom" {
		t.Fatalf("failed job %+v", j)
	}
}

func TestLogTail(t *testing.T) {
	long := strings.Repeat("x", 50) + "\n"
	cases := []struct {
		name, in string
		lines    int
		bytes    int
		want     string
	}{
		{"plain", "a\nb\n\n", 10, 100, "a\nb"},
		{"escapes and sections", "section_start:1:step\r\x1b[0K\x1b[1mrun\x1b[0m\r\nok\n", 10, 100, "run\nok"},
		{"progress overwritten", "10%\r50%\r100%\ndone\n", 10, 100, "100%\ndone"},
		{"last lines", "1\n2\n3\n4\n", 2, 100, "[... earlier lines cut ...]\n3\n4"},
		{"byte bound keeps whole lines", strings.Repeat(long, 4), 10, 120, "[... earlier lines cut ...]\n" + strings.TrimSuffix(strings.Repeat(long, 2), "\n")},
	}
	for _, c := range cases {
		if got := gitlab.LogTail(c.in, c.lines, c.bytes); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// A commit status on a commit without a pipeline makes GitLab create one
// to hold it (source "external"): nothing ran there, so it is not CI. A
// status on a commit with CI joins that pipeline.
func TestExternalPipelineIsNotCI(t *testing.T) {
	e := newEnv(t, true)
	ctx := t.Context()
	sha := e.push(t, "feature/statuses")
	if err := e.tr.SetCheck(ctx, agentorg.CheckResult{SHA: sha, Name: "test", Status: agentorg.CheckPassed}); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.PipelineSources(sha); len(got) != 1 || got[0] != "external" {
		t.Fatalf("pipelines after a status: %v, want GitLab's external one", got)
	}
	if p, err := e.tr.Pipeline(ctx, sha); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("the external pipeline was taken for CI: %+v, %v", p, err)
	}
	id := e.fake.AddPipeline(sha, gitlabfake.PipelineSpec{Status: "success"})
	if p, err := e.tr.Pipeline(ctx, sha); err != nil || p.ID != id {
		t.Fatalf("CI's pipeline: %+v, %v; want #%d", p, err, id)
	}
}

// Results for a commit GitLab does not have yet are kept, and published by
// PublishChecks once it was pushed.
func TestKeptChecksArePublishedAfterThePush(t *testing.T) {
	eachDialect(t, keptChecksArePublishedAfterThePush)
}

func keptChecksArePublishedAfterThePush(t *testing.T, d store.Dialect) {
	e := newEnvOn(t, true, d)
	ctx := t.Context()
	local := filepath.Join(t.TempDir(), "local.git")
	gitOut(t, e.fake.Repo, "", "clone", "--quiet", "--bare", e.fake.Repo, local)
	main := gitOut(t, local, "", "rev-parse", "main")
	sha := gitOut(t, local, "", "commit-tree", main+"^{tree}", "-p", main, "-m", "validated, not pushed yet")
	if err := e.tr.SetCheck(ctx, agentorg.CheckResult{SHA: sha, Name: "test", Status: agentorg.CheckPassed, Output: "ok"}); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Statuses(sha); len(got) != 0 {
		t.Fatalf("a status on a commit GitLab lacks: %v", got)
	}
	gitOut(t, local, "", "push", "--quiet", e.fake.Repo, sha+":refs/heads/feature/kept")
	if err := e.tr.PublishChecks(ctx, sha); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Statuses(sha); got["test"] != "success" {
		t.Fatalf("statuses after the push: %v", got)
	}
	_, before := e.fake.Requests()
	if err := e.tr.PublishChecks(ctx, sha); err != nil {
		t.Fatal(err)
	}
	if _, after := e.fake.Requests(); after["POST /api/v4/projects/{id}/statuses/{sha}"] != before["POST /api/v4/projects/{id}/statuses/{sha}"] {
		t.Fatal("a published result was published again")
	}
}
