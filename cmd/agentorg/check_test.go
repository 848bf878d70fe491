package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/workflow"
)

// An agent's env naming a variable that is not set: check warns at the
// line (exit 0), every command that needs no agent works, `agents` reports
// the problem with its fix, and a run of that agent is refused before it
// starts, naming the variable.
func TestUnsetAgentVariableStopsOnlyThatAgent(t *testing.T) {
	repo := userRepo(t, "main", map[string]string{"go.mod": "module x\n"})
	ran := filepath.Join(t.TempDir(), "agent-ran")
	agent := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(agent, []byte("#!/bin/sh\ntouch "+ran+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path, _ := fakeCLIs(t)
	env := initEnv(path)
	if r := run(t, repo, env, "init", "--agent-command", agent, "--check", "true"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wfPath := filepath.Join(repo, workflow.DefaultPath)
	text, err := os.ReadFile(wfPath)
	if err != nil {
		t.Fatal(err)
	}
	const hint = "    # env:\n    #   ANTHROPIC_API_KEY: $ANTHROPIC_API_KEY\n"
	if !strings.Contains(string(text), hint) {
		t.Fatalf("the command agent lacks the commented env:\n%s", text)
	}
	edited := strings.Replace(string(text), hint, "    env:\n      ANTHROPIC_API_KEY: $AGENTORG_TEST_UNSET_KEY\n", 1)
	if err := os.WriteFile(wfPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	line := lineOf(t, edited, "      ANTHROPIC_API_KEY: $AGENTORG_TEST_UNSET_KEY")

	r := run(t, repo, env, "check")
	want := fmt.Sprintf(`%s:%d:26: warning: environment variable AGENTORG_TEST_UNSET_KEY is not set (ANTHROPIC_API_KEY in env in agent "command" refers to it): agent "command" cannot run until it is set`, wfPath, line)
	if r.code != 0 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stdout, "1 agents, 1 warning)") {
		t.Fatalf("check: exit %d, want 0 and\n%s\ngot\n%s%s", r.code, want, r.stdout, r.stderr)
	}

	if r := run(t, repo, env, "issue", "new", "--title", "Add Sub", "--body", "Sub(a, b).", "--opt-in", "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, repo, env, "issue", "list"); r.code != 0 || !strings.Contains(r.stdout, "Add Sub") {
		t.Fatalf("issue list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	const problem = `agent "command" needs $AGENTORG_TEST_UNSET_KEY, which is not set in agentorg's environment`
	r = run(t, repo, env, "agents")
	if r.code != 1 || !strings.Contains(r.stdout, "command: "+problem+"\n  fix: set it and restart agentorg serve") {
		t.Errorf("agents: exit %d, want 1 and the problem with its fix:\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = run(t, repo, env, "serve", "--once")
	if r.code != 1 || !strings.Contains(r.stderr, "warning: environment variable AGENTORG_TEST_UNSET_KEY is not set") {
		t.Fatalf("serve --once: exit %d, want 1 (the issue escalated) with the warning\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, repo, env, "events", "--wide", "--issue", "1")
	if !strings.Contains(r.stdout, "stage plan: "+problem+": set it and restart agentorg serve") {
		t.Errorf("the plan run should fail naming the variable:\n%s%s", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "retries at") {
		t.Errorf("a run no retry can fix was tried again:\n%s", r.stdout)
	}
	if r := run(t, repo, env, "issue", "list"); !strings.Contains(r.stdout, "needs:human") {
		t.Errorf("the issue should wait for a human:\n%s", r.stdout)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the agent ran although its variable is not set")
	}

	// Set, the warning is gone.
	r = run(t, repo, append(env, "AGENTORG_TEST_UNSET_KEY=k"), "check")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("check with the variable set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// docs/lifecycle.md I11. `check --run` runs the workflow's checks once on
// the target branch, a real go vet and go test on a real repository, so
// that a new user learns before the first issue that the target is red;
// doctor says the same. Once the target is fixed, both pass.
func TestCheckRunSaysTheTargetIsRed(t *testing.T) {
	repo := userRepo(t, "master", map[string]string{
		"go.mod":       "module example.com/calc\n\ngo 1.22\n",
		"calc.go":      "package calc\n\n// Add returns a + b.\nfunc Add(a, b int) int { return a + b }\n",
		"calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal(\"Add(2, 3) != 5\")\n\t}\n}\n",
		// go vet reports the self-assignment; go test's own vet checks do not.
		"old.go": "package calc\n\n// Old assigns x to itself.\nfunc Old() int {\n\tx := 1\n\tx = x\n\treturn x\n}\n",
	})
	path, _ := fakeCLIs(t)
	env := initEnv(path)
	initIn(t, repo, env, "--agent-command", "/bin/true")
	gitIn(t, repo, "add", ".agentorg")
	gitIn(t, repo, "commit", "-q", "-m", "Add the agentorg workflow")
	env = gitIsolation() // the machine's PATH, with go
	head := gitIn(t, repo, "rev-parse", "--short=10", "HEAD")

	red := "the target is red: test fail(s) on master at " + head + " before any change."
	r := run(t, repo, env, "check", "--run")
	if r.code != 1 {
		t.Fatalf("check --run on a red target: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "check --run", r.stdout, "running the checks on master ...", "  test: FAILED: exit status 1", "old.go:6:2: self-assignment of x", red)
	r = run(t, repo, env, "doctor")
	if r.code != 1 {
		t.Errorf("doctor on a red target: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "doctor", r.stdout, "  test: FAILED: exit status 1", red)

	if err := os.WriteFile(filepath.Join(repo, "old.go"), []byte("package calc\n\n// Old returns 1.\nfunc Old() int { return 1 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "commit", "-q", "-am", "Fix old.go")
	r = run(t, repo, env, "check", "--run")
	if r.code != 0 {
		t.Fatalf("check --run on a green target: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "check --run", r.stdout, "  test: passed", "master at "+gitIn(t, repo, "rev-parse", "--short=10", "HEAD")+": every check passes")
}

// docs/lifecycle.md I13. On a Go module without a test, go test runs
// none, which does not pass: init's check vets and builds instead, and
// says why; `go test ./...` there, as a check, is said to run no test.
func TestCheckRunOnAModuleWithoutTests(t *testing.T) {
	repo := userRepo(t, "main", map[string]string{
		"go.mod": "module example.com/nt\n\ngo 1.22\n",
		"nt.go":  "package nt\n\n// One returns 1.\nfunc One() int { return 1 }\n",
	})
	path, _ := fakeCLIs(t)
	env := initEnv(path)
	r := initIn(t, repo, env, "--agent-command", "/bin/true")
	wantAll(t, "init", r.stdout, "check: go vet ./... && go build ./... (go.mod)", "the Go module has no _test.go file yet")
	gitIn(t, repo, "add", ".agentorg")
	gitIn(t, repo, "commit", "-q", "-m", "Add the agentorg workflow")
	r = run(t, repo, gitIsolation(), "check", "--run")
	if r.code != 0 {
		t.Fatalf("check --run with init's check: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	wf := filepath.Join(repo, ".agentorg", "workflow.yaml")
	text, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wf, []byte(strings.Replace(string(text), `run: "go vet ./... && go build ./..."`, `run: "go vet ./... && go test ./..."`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "commit", "-q", "-am", "Test, though there is no test")
	r = run(t, repo, gitIsolation(), "check", "--run")
	if r.code != 1 {
		t.Fatalf("check --run with go test: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "check --run", r.stdout, "  test: FAILED: ran no tests: go test ran no test in example.com/nt ([no test files])", "the target is red: test fail(s) on main")
}
