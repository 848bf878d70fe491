package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docs/lifecycle.md I14: a hook planted in the user's repository (the
// local origin) after agentorg first saw it stops the engine before any
// work, saying what changed; once the person accepts it, the engine runs.
func TestAChangedOriginHookStopsTheEngineUntilAccepted(t *testing.T) {
	repo := userRepo(t, "master", map[string]string{"a.txt": "a\n"})
	path, _ := fakeCLIs(t)
	env := initEnv(path)
	initIn(t, repo, env, "--agent-command", "no-such-agent", "--check", "true", "--yes")
	gitIn(t, repo, "add", ".agentorg")
	gitIn(t, repo, "commit", "-q", "-m", "workflow")

	if r := run(t, repo, env, "serve", "--once"); r.code != 0 {
		t.Fatalf("first serve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	hook := filepath.Join(repo, ".git", "hooks", "post-merge")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ntouch pwned\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := run(t, repo, env, "serve", "--once")
	if r.code == 0 {
		t.Fatalf("serve started on an origin with a new hook:\n%s%s", r.stdout, r.stderr)
	}
	wantAll(t, "serve's refusal", r.stderr, "the engine does not start", "hooks/post-merge (new)", "agentorg doctor --accept-origin")
	if r := run(t, repo, env, "doctor", "--skip-checks"); r.code == 0 {
		t.Fatalf("doctor sees no problem:\n%s", r.stdout)
	} else {
		wantAll(t, "doctor", r.stdout, "problem:", "hooks/post-merge (new)")
	}
	if r := run(t, repo, env, "doctor", "--skip-checks", "--accept-origin"); !strings.Contains(r.stdout, "recorded as known") {
		t.Fatalf("doctor --accept-origin:\n%s%s", r.stdout, r.stderr)
	}
	if r := run(t, repo, env, "serve", "--once"); r.code != 0 {
		t.Fatalf("serve after accepting: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
