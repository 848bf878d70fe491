package gitlab_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
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
