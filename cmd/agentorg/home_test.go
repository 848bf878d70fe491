package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A check that failed for a reason outside the repository (a tool not
// installed yet) passes on the next `check --run` once the tool is there:
// the run is afresh, not the outcome kept for the target's tree.
func TestCheckRunRunsAfreshAfterAFixOutsideTheRepository(t *testing.T) {
	repo := userRepo(t, "main", map[string]string{"README.md": "calc\n"})
	path, _ := fakeCLIs(t)
	initIn(t, repo, initEnv(path), "--agent-command", "/bin/true", "--check", "linter")
	gitIn(t, repo, "add", ".agentorg")
	gitIn(t, repo, "commit", "-q", "-m", "Add the agentorg workflow")
	tools := t.TempDir()
	env := append(gitIsolation(), "PATH="+tools+string(os.PathListSeparator)+os.Getenv("PATH"))

	r := run(t, repo, env, "check", "--run")
	if r.code != 1 {
		t.Fatalf("check --run without the linter: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "check --run", r.stdout, "  test: FAILED", "the target is red")
	if err := os.WriteFile(filepath.Join(tools, "linter"), []byte("#!/bin/sh\necho linted\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = run(t, repo, env, "check", "--run")
	if r.code != 0 {
		t.Fatalf("check --run once the linter is installed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "check --run", r.stdout, "  test: passed", "every check passes")
}

// docs/lifecycle.md I10. A new user's Rust repository, the README's
// steps with a scripted agent: the home is made outside the repository
// (so that cargo, looking for a workspace in the worktree's parent
// directories, never meets the repository it may not read), the real
// cargo test runs in validation and E2E, and the change is merged into
// the working tree.
func TestFirstContactOnARustRepository(t *testing.T) {
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		t.Skip("cargo is not installed")
	}
	if out, err := exec.Command(cargo, "--version").CombinedOutput(); err != nil {
		t.Skipf("cargo does not run here: %v\n%s", err, out)
	}
	repo := userRepo(t, "main", map[string]string{
		"Cargo.toml": "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
		".gitignore": "target/\n",
	})
	lib := "pub fn add(a: i32, b: i32) -> i32 { a + b }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(1, 2), 3); }\n}\n"
	if err := os.MkdirAll(filepath.Join(repo, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "src", "lib.rs"), []byte(lib), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "add", "-A")
	gitIn(t, repo, "commit", "-q", "-m", "calc: add")

	sub := "pub fn add(a: i32, b: i32) -> i32 { a + b }\npub fn sub(a: i32, b: i32) -> i32 { a - b }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(1, 2), 3); }\n    #[test]\n    fn subs() { assert_eq!(super::sub(3, 2), 1); }\n}\n"
	state := t.TempDir()
	script := filepath.Join(t.TempDir(), "script.yaml")
	if err := os.WriteFile(script, []byte(`steps:
  - match: {role: pm}
    summary: "Plan: add sub with its test.\n\n## Acceptance criteria\n- [ ] `+"`cargo test subs`"+` passes"
  - match: {role: developer}
    actions:
      - write: {path: src/lib.rs, content: `+quoteYAML(sub)+`}
    summary: Added sub and its test.
  - match: {role: validator}
    summary: "ok\n\n`+"```json"+`\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"subs passes\"}]}\n`+"```"+`"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(gitIsolation(), "PATH="+strings.Join([]string{filepath.Dir(cargo), filepath.Dir(bin), os.Getenv("PATH")}, string(os.PathListSeparator)))
	r := initScripted(t, repo, env, script, state)
	wantAll(t, "init", r.stdout, "check: cargo test (Cargo.toml)")

	step := func(args ...string) result {
		t.Helper()
		r := run(t, repo, env, args...)
		if r.code != 0 {
			t.Fatalf("agentorg %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r
	}
	r = step("check", "--run")
	wantAll(t, "check --run", r.stdout, "  test: passed", "every check passes")
	link := filepath.Join(repo, ".agentorg", "state")
	home, err := os.Readlink(link)
	if err != nil || !strings.HasPrefix(home, filepath.Join(stateHome, "agentorg", "homes")+"/") {
		t.Fatalf(".agentorg/state: %q (%v), want a link into %s", home, err, stateHome)
	}
	if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
		t.Fatalf("the home's link is not ignored by git:\n%s", st)
	}
	issue := filepath.Join(t.TempDir(), "issue.md")
	if err := os.WriteFile(issue, []byte("calc needs sub.\n\n## Acceptance criteria\n- [ ] `cargo test subs` passes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	step("issue", "new", "--title", "Add sub", "--body-file", issue, "--opt-in")
	step("serve", "--once")
	step("approve", "1", "--as", "alice")
	step("serve", "--once")
	step("approve", "1", "--as", "alice")
	step("serve", "--once")
	if list := step("issue", "list").stdout; !strings.Contains(list, "closed") || !strings.Contains(list, "e2e:done") {
		show := run(t, repo, env, "issue", "show", "1")
		t.Fatalf("the issue did not end merged and tested:\n%s\n%s", list, show.stdout)
	}
	got, err := os.ReadFile(filepath.Join(repo, "src", "lib.rs"))
	if err != nil || string(got) != sub {
		t.Fatalf("the working tree's src/lib.rs: %q (%v)", got, err)
	}
	if st := gitIn(t, repo, "status", "--porcelain", "--untracked-files=no"); st != "" {
		t.Fatalf("the working tree is not clean after the merge:\n%s", st)
	}
}

// initScripted runs init in repo with the scripted agent of script for
// every role, lets the agent keep its sessions in state (its writable), and
// commits the workflow; it returns init's result.
func initScripted(t *testing.T, repo string, env []string, script, state string) result {
	t.Helper()
	r := initIn(t, repo, env, "--agent-command", strings.Join([]string{bin, "scripted-agent", "--script", script, "--state", state}, ","))
	wf := filepath.Join(repo, ".agentorg", "workflow.yaml")
	text, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "    timeout: 30m", "    timeout: 30m\n    writable: [\""+state+"/\"]", 1))
	if err := os.WriteFile(wf, text, 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "add", ".agentorg")
	gitIn(t, repo, "commit", "-q", "-m", "Add the agentorg workflow")
	return r
}

// quoteYAML is s as a YAML double-quoted string.
func quoteYAML(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
