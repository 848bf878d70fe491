package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bin is the agentorg binary built once for these tests: they run it as a
// user would, in real subprocesses.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agentorg-cli-test-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "agentorg")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building agentorg: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs agentorg with args; env entries are added to a clean environment.
func run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"init", "--help"}, {"check", "--help"}, {"issue", "--help"}, {"issue", "new", "--help"},
		{"issue", "list", "--help"}, {"issue", "show", "--help"}, {"issue", "close", "--help"},
		{"label", "add", "--help"}, {"label", "remove", "--help"}, {"approve", "--help"}, {"reject", "--help"},
		{"mr", "list", "--help"}, {"mr", "show", "--help"}, {"events", "--help"}, {"serve", "--help"},
		{"demo", "--help"}, {"bench", "--help"}, {"labels", "sync", "--help"}, {"doctor", "--help"},
	} {
		r := run(t, t.TempDir(), nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("agentorg %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func TestDemoKeepThenInspectWithTheCLI(t *testing.T) {
	home := filepath.Join(t.TempDir(), "org")
	r := run(t, t.TempDir(), nil, "demo", "--keep", home)
	if r.code != 0 {
		t.Fatalf("demo failed (exit %d):\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "scripted agent, standing in for a model") {
		t.Error("the demo must say that a scripted agent stands in for the model")
	}

	r = run(t, t.TempDir(), nil, "--home", home, "issue", "list", "--json")
	var issues []struct {
		Number int64
		State  string
		Labels []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &issues); err != nil {
		t.Fatalf("issue list --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	want := map[int64]string{1: "closed e2e:done", 2: "closed e2e:done", 3: "open needs:human"}
	if len(issues) != 3 {
		t.Fatalf("want 3 issues, got %+v", issues)
	}
	for _, is := range issues {
		if got := is.State + " " + strings.Join(is.Labels, ","); got != want[is.Number] {
			t.Errorf("#%d: %s, want %s", is.Number, got, want[is.Number])
		}
	}

	r = run(t, t.TempDir(), nil, "--home", home, "events", "--issue", "2", "--json")
	var evs []struct {
		Kind string
		Data map[string]string
	}
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		t.Fatalf("events --json: %v", err)
	}
	var verdicts, sessions []string
	for _, e := range evs {
		if e.Kind == "verdict" {
			verdicts = append(verdicts, e.Data["verdict"])
			sessions = append(sessions, e.Data["session"])
		}
	}
	if strings.Join(verdicts, " ") != "NO-GO GO" || sessions[0] == "" || sessions[0] != sessions[1] {
		t.Fatalf("issue 2 verdicts %v with sessions %v; want NO-GO then GO in one session", verdicts, sessions)
	}

	// The target branch holds the merged work and nothing else.
	out, err := exec.Command("git", "-C", filepath.Join(home, "sample", "origin.git"), "ls-tree", "-r", "--name-only", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(out))
	wantFiles := ".agentorg/.gitignore .agentorg/workflow.yaml .gitignore README.md calc.go calc_test.go go.mod mul.go mul_test.go sub.go sub_test.go"
	if strings.Join(got, " ") != wantFiles {
		t.Fatalf("main holds\n  %s\nwant\n  %s", strings.Join(got, " "), wantFiles)
	}

	r = run(t, t.TempDir(), nil, "--home", home, "mr", "list", "--json")
	var mrs []struct{ State string }
	if err := json.Unmarshal([]byte(r.stdout), &mrs); err != nil || len(mrs) != 2 || mrs[0].State != "merged" || mrs[1].State != "merged" {
		t.Fatalf("mr list: %v %s", err, r.stdout)
	}
}

func TestCheckReportsEveryProblemWithPositions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "workflow.yaml")
	text := `version: 1
opt_in: agentorg
escalation: needs:human
labels:
  - name: agentorg
  - name: needs:human
  - name: plan:review
agents:
  coder: {kind: command, command: [x]}
stages:
  plan: {role: pm, agent: ghost, on: agentorg, success: plan:review, colour: red}
  develop: {role: developer, agent: coder, on: dev:ready, success: dev:done}
gates:
  plan: {waits: plan:review, approve: plan:review, approvers: []}
prompts:
  pm: "{{.Issue.Titel}}"
  developer: "x"
  fix: "x"
`
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, nil, "check", p)
	if r.code != 1 {
		t.Fatalf("check should fail with exit 1, got %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		p + ":11:", // unknown key colour, agent ghost
		"colour",
		"ghost",
		"dev:ready", // label used but never defined
		"approvers", // gate without approvers
		"Titel",     // template error
		p + ":16:",  // ... at the template's line
		"never",     // a stage nothing can reach
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestInitThenCheck(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
	r := run(t, dir, nil, "init", "--approver", "bob")
	if r.code != 0 {
		t.Fatalf("init: %s%s", r.stdout, r.stderr)
	}
	r = run(t, dir, nil, "check")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("check after init: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ".agentorg", "workflow.yaml"))
	if !strings.Contains(string(b), "go test ./...") || !strings.Contains(string(b), "bob") {
		t.Fatalf("init should guess the Go check and name the approver:\n%s", b)
	}
	if r := run(t, dir, nil, "init", "--approver", "bob"); r.code == 0 {
		t.Fatal("init must not overwrite an existing workflow without --force")
	}
}
