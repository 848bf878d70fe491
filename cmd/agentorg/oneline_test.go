package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// noRawLines fails when a line of out holds a control byte or a piece of
// what must be one line (a multi-line text printed raw).
func noRawLines(t *testing.T, what, out string, pieces ...string) {
	t.Helper()
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("%s prints control bytes raw:\n%q", what, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), pieces[len(pieces)-1]) {
			t.Errorf("%s breaks a line: %q starts a line of its own:\n%s", what, pieces[len(pieces)-1], out)
		}
	}
}

// A newer Claude Code than the tested one whose help fails with several
// lines of stderr: `agents` shows the problem on one line, controls made
// visible, and a fix that says it is newer, not an "upgrade" to an older one.
func TestAgentsShowsANewerCLIsFailureOnOneLine(t *testing.T) {
	repo := userRepo(t, "main", map[string]string{"go.mod": "module x\n"})
	path, bin := fakeCLIs(t)
	writeScript(t, filepath.Join(bin, "claude"), `case "$1" in
--version) echo '2.1.400 (Claude Code)';;
*) printf 'Error: unknown option\n\n\033[2J  at cli.js:12\r\n  at node:internal 7\n' >&2; exit 1;;
esac
`)
	env := initEnv(path)
	initIn(t, repo, env, "--check", "true")
	r := run(t, repo, env, "agents")
	if r.code != 1 {
		t.Fatalf("agents: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantAll(t, "agents", r.stdout,
		"2.1.400 (Claude Code)",
		"--help: exit status 1: Error: unknown option / ^[[2J  at cli.js:12 / at node:internal 7\n"+
			"  fix: Claude Code 2.1.400 is newer than the version agentorg is tested with (2.1.332): install the tested one: npm install -g @anthropic-ai/claude-code@2.1.332\n")
	noRawLines(t, "agents", r.stdout, "at node:internal 7")
	r = run(t, repo, env, "doctor")
	wantAll(t, "doctor", r.stdout, "Error: unknown option / ^[[2J  at cli.js:12 / at node:internal 7\n    fix: Claude Code 2.1.400 is newer")
	noRawLines(t, "doctor", r.stdout, "at node:internal 7")
}

// An agent that fails with several lines of stderr, controls among them:
// `events`, wide or not, keeps each event on one line.
func TestEventsKeepAMultiLineReasonOnOneLine(t *testing.T) {
	repo := userRepo(t, "main", map[string]string{"go.mod": "module x\n"})
	agent := filepath.Join(t.TempDir(), "agent")
	writeScript(t, agent, `printf 'model overloaded\n\033[31mretry later\033[0m\r\n  second thoughts\n' >&2; exit 3
`)
	path, _ := fakeCLIs(t)
	env := initEnv(path)
	initIn(t, repo, env, "--agent-command", agent, "--check", "true")
	if r := run(t, repo, env, "issue", "new", "--title", "Add Sub", "--body", "Sub(a, b).", "--opt-in", "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := run(t, repo, env, "serve", "--once")
	// The summary wraps the reason at word boundaries, its lines kept
	// apart with " / " too; the log on stderr is one line an event.
	wantAll(t, "serve --once", r.stdout, "model overloaded / ^[[31mretry")
	wantAll(t, "serve --once", r.stderr, "needs:human  plan failed 3 times: agent failed: exit status 3: model overloaded / ^[[31mretry later^[[0m / second thoughts\n")
	noRawLines(t, "serve --once", r.stderr, "second thoughts")
	if strings.ContainsAny(r.stdout, "\x1b\r") {
		t.Errorf("the summary prints control bytes raw:\n%q", r.stdout)
	}
	for _, args := range [][]string{{"events"}, {"events", "--wide"}} {
		r := run(t, repo, env, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		noRawLines(t, strings.Join(args, " "), r.stdout, "second thoughts")
	}
	r = run(t, repo, env, "events", "--wide")
	wantAll(t, "events --wide", r.stdout, "model overloaded / ^[[31mretry later^[[0m / second thoughts")
}
