package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What an agent could plant in the mirror (through a linked worktree, or
// any other way) is removed; a clean mirror is left alone; fetching and
// pushing still work after.
func TestHardenCleansWhatAgentorgDidNotPutThere(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	if removed, err := m.Harden(ctx); err != nil || len(removed) != 0 {
		t.Fatalf("a fresh mirror: removed %v, %v; want nothing", removed, err)
	}
	evil := filepath.Join(f.root, "evil.git")
	g(t, f.root, "init", "--quiet", "--bare", evil)
	for _, kv := range [][2]string{
		{"url." + evil + ".insteadOf", f.origin},
		{"core.fsmonitor", "touch " + filepath.Join(f.root, "pwned")},
		{"submodule.x.url", "https://example.com/x.git"},
		{"include.path", filepath.Join(f.root, "more.cfg")},
	} {
		g(t, m.Dir, "config", kv[0], kv[1])
	}
	writeFile(t, filepath.Join(m.Dir, "hooks", "post-checkout"), "#!/bin/sh\ntouch "+filepath.Join(f.root, "pwned")+"\n")
	writeFile(t, filepath.Join(m.Dir, "info", "attributes"), "* filter=evil\n")

	removed, err := m.Harden(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(removed, "\n")
	for _, want := range []string{"config url." + evil + ".insteadof=" + f.origin, "config core.fsmonitor=", "config submodule.x.url=", "config include.path=", "hooks/post-checkout", "info/attributes"} {
		if !strings.Contains(got, want) {
			t.Errorf("Harden did not remove %q; it removed:\n%s", want, got)
		}
	}
	entries, err := configEntries(ctx, m.Dir, "--file", filepath.Join(m.Dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !mirrorKeys[e.key] {
			t.Errorf("the mirror still has %s=%s", e.key, e.value)
		}
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "hooks", "post-checkout")); err == nil {
		t.Error("the hook is still there")
	}
	// The mirror still fetches from the origin, not from the planted one.
	tip := f.commit(t, "main", f.base, map[string]string{"new.txt": "new\n"}, "new")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if head, err := m.RemoteHead(ctx, "main"); err != nil || head != tip {
		t.Fatalf("after Harden main is %s (%v), want %s", head, err, tip)
	}
	if _, err := os.Stat(filepath.Join(f.root, "pwned")); err == nil {
		t.Fatal("a planted command ran")
	}
	if again, err := m.Harden(ctx); err != nil || len(again) != 0 {
		t.Fatalf("a second Harden removed %v, %v", again, err)
	}
}

// A local origin's dangerous settings are snapshotted: a new hook, an
// insteadOf, a changed hook show as changes; ordinary settings do not.
func TestOriginSnapshotSeesDangerousChanges(t *testing.T) {
	f := newFixture(t)
	before, err := SnapshotOrigin(ctx, f.origin)
	if err != nil {
		t.Fatal(err)
	}
	g(t, f.origin, "config", "user.email", "someone@example.com") // ordinary
	g(t, f.origin, "config", "branch.topic.remote", "origin")     // ordinary
	if s, _ := SnapshotOrigin(ctx, f.origin); len(s.Changes(before)) != 0 {
		t.Fatalf("ordinary settings counted: %v", s.Changes(before))
	}
	writeFile(t, filepath.Join(f.origin, "hooks", "pre-receive"), "#!/bin/sh\nexit 0\n")
	g(t, f.origin, "config", "url.https://evil.example/.insteadOf", "https://good.example/")
	after, err := SnapshotOrigin(ctx, f.origin)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(after.Changes(before), "\n")
	for _, want := range []string{"hooks/pre-receive (new)", "config url.https://evil.example/.insteadof=https://good.example/ (new)"} {
		if !strings.Contains(got, want) {
			t.Errorf("changes lack %q:\n%s", want, got)
		}
	}
	writeFile(t, filepath.Join(f.origin, "hooks", "pre-receive"), "#!/bin/sh\nexit 1\n")
	again, _ := SnapshotOrigin(ctx, f.origin)
	if c := strings.Join(again.Changes(after), "\n"); c != "hooks/pre-receive (changed)" {
		t.Fatalf("a changed hook: %q", c)
	}
}

// A push to a local origin runs none of its hooks: the embedded forge runs
// none, for pushes as for merges.
func TestPushRunsNoOriginHook(t *testing.T) {
	f := newFixture(t)
	work, m := nonBareOrigin(t, f)
	ran := filepath.Join(f.root, "hook-ran")
	for _, h := range []string{"pre-receive", "update", "post-receive", "post-update", "reference-transaction"} {
		writeFile(t, filepath.Join(work, ".git", "hooks", h), "#!/bin/sh\necho "+h+" >> "+ran+"\n")
		os.Chmod(filepath.Join(work, ".git", "hooks", h), 0o755)
	}
	sha := commitIn(t, m, f.root, "agentorg/issue-5", map[string]string{"e.txt": "e\n"})
	if err := m.Push(ctx, sha, "agentorg/issue-5"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(ran); err == nil {
		t.Fatalf("the origin's hooks ran on a push: %s", b)
	}
	if got := g(t, work, "rev-parse", "refs/heads/agentorg/issue-5"); got != sha {
		t.Fatalf("origin has %s, want %s", got, sha)
	}
}
