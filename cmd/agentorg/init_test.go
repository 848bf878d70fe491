package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/workflow"
)

// gitIn runs git in dir as a fixed author, with no global or system
// configuration, failing the test on error.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), gitIsolation()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitIsolation keeps the machine's git configuration out of a command.
func gitIsolation() []string {
	return []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t.invalid"}
}

// userRepo makes a repository like a user's: files committed on branch,
// user.name alice in its own config.
func userRepo(t *testing.T, branch string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", branch)
	gitIn(t, dir, "config", "user.name", "alice")
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "--allow-empty", "-m", "first")
	return dir
}

// fakeCLIs makes a directory of tiny executables named after coding CLIs,
// and returns a PATH of it and git's directory (nothing else: no real CLI
// of the machine can be found).
func fakeCLIs(t *testing.T, names ...string) (path, bin string) {
	t.Helper()
	bin = t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(bin, n), []byte("#!/bin/sh\necho \"$0 1.0.0\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	return "PATH=" + bin + string(os.PathListSeparator) + filepath.Dir(git), bin
}

// initEnv is the environment init runs with: a PATH, and git isolated.
func initEnv(path string) []string { return append([]string{path}, gitIsolation()...) }

// initIn runs init in dir and fails the test unless it succeeds.
func initIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r := run(t, dir, env, append([]string{"init"}, args...)...)
	if r.code != 0 {
		t.Fatalf("init %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// wantAll reports each of wants that out lacks.
func wantAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

func TestInitOnAMasterRepository(t *testing.T) {
	repo := userRepo(t, "master", map[string]string{"go.mod": "module x\n", "Makefile": "test:\n\tgo test ./...\n"})
	path, bin := fakeCLIs(t, "codex", "claude")
	r := initIn(t, repo, initEnv(path))
	wantAll(t, "init's output", r.stdout,
		"target_branch: master (the branch checked out)\n",
		"check: make test (Makefile's test target, which usually runs the rest; also found go.mod)\n",
		"e2e: make test (the check, run on the target branch after each merge; --e2e to change)\n",
		"agents: claude for every role (found "+filepath.Join(bin, "claude")+"; also on PATH: codex; the first found of claude, codex, gemini, opencode, aider is chosen; another: --agent KIND",
		"approver: alice (git config user.name)\n",
		"wrote .agentorg/workflow.yaml, and .agentorg/.gitignore to keep agentorg's state out of git\n",
		"next: review .agentorg/workflow.yaml, run `agentorg check`, then commit .agentorg",
	)
	if strings.Contains(r.stdout, "[Y/n]") {
		t.Error("init asked a question without a terminal")
	}
	wf, err := workflow.Load(filepath.Join(repo, workflow.DefaultPath))
	if err != nil {
		t.Fatal(err)
	}
	if wf.Repo.TargetBranch != "master" || len(wf.Checks) != 1 || wf.Checks[0].Run != "make test" || wf.E2E.Run != "make test" ||
		len(wf.Agents) != 1 || wf.Agents[0].Name != "claude" || wf.Agents[0].Kind != "claude" || wf.Agents[0].Binary != "" {
		t.Errorf("written workflow: target %q, checks %+v, e2e %q, agents %+v", wf.Repo.TargetBranch, wf.Checks, wf.E2E.Run, wf.Agents)
	}
	for _, s := range []string{"plan", "develop", "validate", "triage"} {
		if got := wf.Stage(s).Agent; got != "claude" {
			t.Errorf("stage %s names %q, want claude", s, got)
		}
	}
	if g := wf.Gate("plan"); len(g.Approvers) != 1 || g.Approvers[0] != "alice" {
		t.Errorf("plan gate approvers %v", g.Approvers)
	}

	// check finds the CLI where init did, and warns (exit 0) where it is
	// not on PATH.
	r = run(t, repo, initEnv(path), "check")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "ok (7 stages, 2 gates, 1 checks, 1 agents)") {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	noCLI, _ := fakeCLIs(t)
	r = run(t, repo, initEnv(noCLI), "check")
	wfPath := filepath.Join(repo, workflow.DefaultPath)
	if r.code != 0 || !strings.Contains(r.stderr, wfPath+`: warning: agent "claude": claude not found in PATH`) ||
		!strings.Contains(r.stderr, "fix: install Claude Code") || !strings.Contains(r.stdout, "1 agents, 1 warning)") {
		t.Errorf("check without claude on PATH: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := run(t, repo, initEnv(path), "init"); r.code == 0 || !strings.Contains(r.stderr, "exists; pass --force to overwrite it") {
		t.Errorf("init over an existing workflow: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, repo, initEnv(path), "init", "--force", "--target", "master"); r.code != 0 || !strings.Contains(r.stdout, "target_branch: master (--target)") {
		t.Errorf("init --force --target: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
}

// A clone whose origin's default is main, with another branch checked out,
// in a subdirectory given by --dir.
func TestInitTakesOriginsDefaultBranch(t *testing.T) {
	origin := userRepo(t, "main", map[string]string{"Cargo.toml": "[package]\n"})
	gitIn(t, origin, "branch", "develop")
	clone := filepath.Join(t.TempDir(), "clone")
	gitIn(t, origin, "clone", "-q", origin, clone)
	gitIn(t, clone, "checkout", "-q", "-b", "develop", "origin/develop")
	path, _ := fakeCLIs(t, "gemini")
	r := initIn(t, t.TempDir(), initEnv(path), "--dir", clone, "--approver", "bob")
	wantAll(t, "init's output", r.stdout, "target_branch: main (the branch origin calls its default)\n", "check: cargo test (Cargo.toml)\n",
		"approver: bob (--approver)\n", "wrote "+filepath.Join(clone, workflow.DefaultPath))
	if _, err := os.Stat(filepath.Join(clone, ".agentorg", ".gitignore")); err != nil {
		t.Errorf("init writes a .gitignore for the state: %v", err)
	}
}

func TestInitRefuses(t *testing.T) {
	path, _ := fakeCLIs(t, "claude")
	empty := t.TempDir()
	gitIn(t, empty, "init", "-q", "-b", "main")
	noCLI, _ := fakeCLIs(t)
	repo := userRepo(t, "main", map[string]string{"go.mod": "module x\n"})
	for _, tc := range []struct {
		name, dir, path string
		args            []string
		want            string
	}{
		{"an empty repository", empty, path, nil, "has no commit yet: agentorg merges work into a branch, so commit something first"},
		{"not a repository", t.TempDir(), path, nil, "is not a git repository"},
		{"no CLI found", repo, noCLI, nil, "no coding agent CLI found on PATH (looked for claude, codex, gemini, opencode, aider): install one"},
		{"a target that is no branch", repo, path, []string{"--target", "trunk"}, "--target trunk: the repository in . has no branch trunk"},
		{"an unknown agent kind", repo, path, []string{"--validator-agent", "cursor"}, `--validator-agent "cursor" is not an agent kind`},
	} {
		r := run(t, tc.dir, initEnv(tc.path), append([]string{"init"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want an error with %q", tc.name, r.code, r.stderr, tc.want)
		}
		if _, err := os.Stat(filepath.Join(tc.dir, workflow.DefaultPath)); err == nil {
			t.Errorf("%s: a workflow was written", tc.name)
		}
	}
}

// With no check found, init says so and writes a workflow that check
// refuses at the line to fill in.
func TestInitWithoutChecksLeavesThemToFillIn(t *testing.T) {
	repo := userRepo(t, "main", map[string]string{"package.json": `{"scripts": {"build": "tsc"}}`, "Makefile": "build:\n\ttsc\n"})
	path, _ := fakeCLIs(t)
	r := initIn(t, repo, initEnv(path), "--agent-command", "my-agent,--fast")
	wantAll(t, "init's output", r.stdout,
		"check: none found (package.json has no test script; Makefile has no test target; looked for go.mod, package.json with a test script, Cargo.toml, pyproject.toml, setup.py, pytest.ini and a Makefile test target): fill it in; agentorg check fails until you do\n",
		"e2e: none (fill it in, or pass --e2e)\n",
		"agents: command for every role (--agent-command; runs my-agent --fast)\n",
		"next: fill in the check and the e2e command in .agentorg/workflow.yaml (agentorg check fails until you do)",
	)
	wfPath := filepath.Join(repo, workflow.DefaultPath)
	text, err := os.ReadFile(wfPath)
	if err != nil {
		t.Fatal(err)
	}
	runLine, e2eLine := lineOf(t, string(text), `    run: ""`), lineOf(t, string(text), `  run: ""`)
	r = run(t, repo, initEnv(path), "check")
	if r.code != 1 {
		t.Errorf("check: exit %d, want 1", r.code)
	}
	wantAll(t, "check's errors", r.stderr,
		fmt.Sprintf("%s:%d:10: run in check \"test\" is empty", wfPath, runLine),
		fmt.Sprintf("%s:%d:8: stage \"e2e\" has role e2e but e2e.run is empty: set the end-to-end command", wfPath, e2eLine),
	)
}

// lineOf is the 1-based line of the first line of text that is exactly s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if l == s {
			return i + 1
		}
	}
	t.Fatalf("no line %q", s)
	return 0
}

func TestInitAgentsPerRole(t *testing.T) {
	repo := userRepo(t, "main", map[string]string{"go.mod": "module x\n", "x_test.go": "package x\n", "package.json": `{"scripts": {"test": "vitest run"}}`, "pnpm-lock.yaml": ""})
	path, _ := fakeCLIs(t, "codex", "claude", "gemini")
	r := initIn(t, repo, initEnv(path), "--agent", "codex", "--validator-agent", "claude", "--triage-agent", "command", "--agent-command", "my-agent")
	wantAll(t, "init's output", r.stdout,
		"check go: go vet ./... && go test ./... (go.mod)\n",
		"check pnpm: pnpm test (package.json's test script, pnpm-lock.yaml)\n",
		"e2e: go vet ./... && go test ./... && pnpm test (the checks, one after the other",
		"agents: codex for pm and developer (--agent; found ",
		"agents: claude for validator (--validator-agent; found ",
		"agents: command for triage (--triage-agent; runs my-agent)\n",
	)
	wf, err := workflow.Load(filepath.Join(repo, workflow.DefaultPath))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range wf.Agents {
		names = append(names, a.Name+":"+a.Kind)
	}
	if strings.Join(names, " ") != "codex:codex claude:claude command:command" || strings.Join(wf.Agent("command").Command, " ") != "my-agent" {
		t.Errorf("agents %v", names)
	}
	for stage, want := range map[string]string{"plan": "codex", "develop": "codex", "validate": "claude", "triage": "command"} {
		if got := wf.Stage(stage).Agent; got != want {
			t.Errorf("stage %s names %q, want %q", stage, got, want)
		}
	}
	if len(wf.Checks) != 2 || wf.Checks[0].Name != "go" || wf.Checks[1].Run != "pnpm test" {
		t.Errorf("checks %+v", wf.Checks)
	}
}

// On a terminal init asks before writing; --yes does not ask. `script`
// gives the command a terminal.
func TestInitAsksOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) is not installed: no way to give init a terminal")
	}
	repo := userRepo(t, "main", map[string]string{"go.mod": "module x\n"})
	path, _ := fakeCLIs(t, "claude")
	onTTY := func(answer string, args ...string) string {
		t.Helper()
		cmd := exec.Command(script, "-q", "-e", "-c", bin+" init "+strings.Join(args, " "), os.DevNull)
		cmd.Dir = repo
		cmd.Env = append(append(baseEnv(), initEnv(path)...), "TERM=dumb")
		cmd.Stdin = strings.NewReader(answer)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("init on a terminal: %v\n%s", err, out)
		}
		return string(out)
	}
	wfPath := filepath.Join(repo, workflow.DefaultPath)
	out := onTTY("n\n")
	if !strings.Contains(out, "Write .agentorg/workflow.yaml? [Y/n]") || !strings.Contains(out, "nothing written") {
		t.Errorf("init on a terminal, answered n:\n%s", out)
	}
	if _, err := os.Stat(wfPath); err == nil {
		t.Fatal("init wrote the workflow after the answer n")
	}
	out = onTTY("\n")
	if _, err := os.Stat(wfPath); err != nil || !strings.Contains(out, "wrote .agentorg/workflow.yaml") {
		t.Fatalf("init on a terminal, answered with Enter: %v\n%s", err, out)
	}
	out = onTTY("", "--yes", "--force")
	if strings.Contains(out, "[Y/n]") || !strings.Contains(out, "wrote .agentorg/workflow.yaml") {
		t.Errorf("init --yes on a terminal:\n%s", out)
	}
}
