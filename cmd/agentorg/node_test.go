package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A new user's Node package with a dependency: init's check installs the
// dependencies in the clean checkout first (npm ci, from the lockfile),
// into the checks' own npm cache (the user's is the agents'), then runs
// the tests; `check --run` passes. The developer installs them in its
// worktree too (its ~/.npm writable), and its change passes validation. The dependency is a local tarball, so
// that no registry is needed.
func TestFirstContactOnANodePackageWithADependency(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed")
	}
	repo := userRepo(t, "main", map[string]string{
		"package.json":  `{"name": "calc", "version": "1.0.0", "scripts": {"test": "node --test"}, "devDependencies": {"helper": "file:./helper"}}` + "\n",
		"index.js":      "const {double} = require(\"helper\");\nmodule.exports.add = (a, b) => double(a + b) / 2;\n",
		"index.test.js": "const test = require(\"node:test\");\nconst assert = require(\"node:assert\");\nconst {add} = require(\"./index.js\");\ntest(\"adds\", () => assert.strictEqual(add(1, 2), 3));\n",
		".gitignore":    "node_modules/\n",
	})
	if err := os.MkdirAll(filepath.Join(repo, "helper"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"helper/package.json": `{"name": "helper", "version": "1.0.0", "main": "index.js"}` + "\n",
		"helper/index.js":     "module.exports.double = (x) => 2 * x;\n",
	} {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The dependency as a package tarball, which npm installs through its
	// cache (as one from a registry), and the lockfile, as the user's own
	// npm install left them.
	for _, args := range [][]string{{"pack", "./helper"}, {"pkg", "set", "devDependencies.helper=file:helper-1.0.0.tgz"},
		{"install", "--offline", "--no-audit", "--no-fund"}} {
		cmd := exec.Command(npm, append(args, "--cache", t.TempDir())...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm %v: %v\n%s", args, err, out)
		}
	}
	if err := os.RemoveAll(filepath.Join(repo, "helper")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "add", "-A")
	gitIn(t, repo, "commit", "-q", "-m", "calc: add, with helper")

	// The developer installs and tests in its worktree, as a coding CLI
	// would, then adds a function.
	agentState := t.TempDir()
	script := filepath.Join(t.TempDir(), "script.yaml")
	if err := os.WriteFile(script, []byte(`steps:
  - match: {role: pm}
    summary: "Plan: add sub.\n\n## Acceptance criteria\n- [ ] sub.js exports sub"
  - match: {role: developer}
    actions:
      - shell: npm ci && npm test
      - write: {path: sub.js, content: "module.exports.sub = (a, b) => a - b;\n"}
    summary: Added sub.js; npm test passes.
  - match: {role: validator}
    summary: "ok\n\n`+"```json"+`\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"sub.js\"}]}\n`+"```"+`"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A state directory of its own (the checks' caches start empty), and a
	// HOME of its own (the agent's ~/.npm).
	state := t.TempDir()
	env := append(gitIsolation(), "PATH="+filepath.Dir(npm)+string(os.PathListSeparator)+os.Getenv("PATH"), "XDG_STATE_HOME="+state, "HOME="+t.TempDir())
	r := initScripted(t, repo, env, script, agentState)
	wantAll(t, "init", r.stdout, "check: npm ci && npm test (package.json's test script, package-lock.json)")
	r = run(t, repo, env, "check", "--run")
	if r.code != 0 {
		t.Fatalf("check --run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "check --run", r.stdout, "  test: passed", "every check passes")
	// npm wrote its log in the checks' own cache, which the confined check
	// may write (a failing write there fails an install from a registry).
	if logs, err := os.ReadDir(filepath.Join(state, "agentorg", "checks", "npm", "_logs")); err != nil || len(logs) == 0 {
		t.Fatalf("npm wrote no log in the checks' own cache (%v)", err)
	}

	issue := filepath.Join(t.TempDir(), "issue.md")
	if err := os.WriteFile(issue, []byte("calc needs sub.\n\n## Acceptance criteria\n- [ ] sub.js exports sub\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"issue", "new", "--title", "Add sub", "--body-file", issue, "--opt-in"}, {"serve", "--once"},
		{"approve", "1", "--as", "alice"}, {"serve", "--once"}} {
		if r := run(t, repo, env, args...); r.code != 0 {
			show := run(t, repo, env, "issue", "show", "1")
			t.Fatalf("agentorg %s: exit %d\n%s%s\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr, show.stdout)
		}
	}
	if list := run(t, repo, env, "issue", "list").stdout; !strings.Contains(list, "mr:ready-for-review") {
		show := run(t, repo, env, "issue", "show", "1")
		t.Fatalf("the developer's change did not pass validation:\n%s\n%s", list, show.stdout)
	}
}
