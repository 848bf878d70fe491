package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
	"github.com/agentorg/agentorg/workflow"
)

// doctor finds the labels missing, labels sync creates them, doctor is
// then happy; a literal token in the workflow is refused.
func TestGitLabDoctorAndLabelsSync(t *testing.T) {
	fake := gitlabfake.New(t)
	dir := t.TempDir()
	text := string(workflow.Default(workflow.DefaultOptions{Approvers: []string{"alice"}, Check: "true", E2E: "true",
		AgentCommand: []string{"true"}}))
	gl := "  kind: gitlab\n  gitlab:\n    url: " + fake.URL + "\n    project: " + fake.ProjectPath + "\n    token: $GITLAB_TOKEN\n"
	wf := filepath.Join(dir, ".agentorg", "workflow.yaml")
	if err := os.MkdirAll(filepath.Dir(wf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wf, []byte(strings.Replace(text, "  kind: embedded\n", gl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"GITLAB_TOKEN=" + gitlabfake.Token}

	r := run(t, dir, env, "doctor")
	if r.code != 1 || !strings.Contains(r.stdout, "labels missing in the project: agentorg, pm:running") ||
		!strings.Contains(r.stdout, "fix: run `agentorg labels sync`") {
		t.Fatalf("doctor before sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, dir, env, "labels", "sync")
	if r.code != 0 || !strings.Contains(r.stdout, "created    agentorg  (#5843ad)") || strings.Contains(r.stdout, "unchanged") {
		t.Fatalf("labels sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = run(t, dir, env, "labels", "sync"); r.code != 0 || strings.Contains(r.stdout, "created") {
		t.Fatalf("second labels sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = run(t, dir, env, "doctor"); r.code != 0 || !strings.Contains(r.stdout, "ok: GitLab is ready") {
		t.Fatalf("doctor after sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = run(t, dir, nil, "doctor"); r.code == 0 || !strings.Contains(r.stderr, "environment variable GITLAB_TOKEN is not set") {
		t.Fatalf("doctor without the token: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, gitlabfake.Token) {
		t.Fatal("the token was printed")
	}
}
