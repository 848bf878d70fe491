package workspace

import (
	"fmt"
	"path/filepath"
	"testing"
)

// localFixture is a fixture whose mirror fetches only main, as the engine's
// does, so that pushes to the local origin take the plumbing path.
func localFixture(t *testing.T) (*fixture, *Mirror) {
	t.Helper()
	f := newFixture(t)
	m := f.mirror(t)
	m.Branches = []string{"main"}
	return f, m
}

// commitIn commits files on a new worktree branch of m from main.
func commitIn(t *testing.T, m *Mirror, root, branch string, files map[string]string) string {
	t.Helper()
	w, _, err := m.Worktree(ctx, filepath.Join(root, "wt", filepath.Base(branch)), branch, "refs/remotes/origin/main")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, filepath.Join(w.Path, name), content)
	}
	sha, _, err := w.CommitAll(ctx, "work on "+branch, tester)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// connected fails the test unless every object reachable from the origin's
// refs is there.
func connected(t *testing.T, dir string) {
	t.Helper()
	if out, err := git(ctx, dir, "fsck", "--connectivity-only", "--no-progress"); err != nil {
		t.Fatalf("origin is not connected: %v\n%s", err, out)
	}
}

func TestPushToLocalOriginWithPlumbing(t *testing.T) {
	f, m := localFixture(t)
	sha := commitIn(t, m, f.root, "agentorg/issue-1", map[string]string{"a.txt": "a\n", "dir/b.txt": "b\n"})
	if err := m.Push(ctx, sha, "agentorg/issue-1"); err != nil {
		t.Fatal(err)
	}
	if got := f.originHead(t, "agentorg/issue-1"); got != sha {
		t.Fatalf("origin has %s, want %s", got, sha)
	}
	connected(t, f.origin)
	// The plumbing path leaves no remote-tracking ref behind (a git push
	// would): the mirror tracks only the target branches.
	if _, ok, _ := revParse(ctx, m.Dir, "refs/remotes/origin/agentorg/issue-1"); ok {
		t.Fatal("a remote-tracking ref was made: the push went through git push")
	}
	// Again, and rewound: forced like a push.
	if err := m.Push(ctx, sha, "agentorg/issue-1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Push(ctx, f.base, "agentorg/issue-1"); err != nil {
		t.Fatal(err)
	}
	if got := f.originHead(t, "agentorg/issue-1"); got != f.base {
		t.Fatalf("origin has %s after the rewind, want %s", got, f.base)
	}
	connected(t, f.origin)
}

func TestPushToLocalOriginLargeCommitKeepsAPack(t *testing.T) {
	f, m := localFixture(t)
	files := map[string]string{}
	for i := range 120 {
		files[fmt.Sprintf("many/f%03d.txt", i)] = fmt.Sprintf("file %d\n", i)
	}
	sha := commitIn(t, m, f.root, "agentorg/issue-2", files)
	packs, _ := filepath.Glob(filepath.Join(f.origin, "objects", "pack", "*.pack"))
	if err := m.Push(ctx, sha, "agentorg/issue-2"); err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(f.origin, "objects", "pack", "*.pack"))
	if len(after) != len(packs)+1 {
		t.Fatalf("packs in origin: %d before, %d after; want one more (index-pack past the unpack limit)", len(packs), len(after))
	}
	if got := f.originHead(t, "agentorg/issue-2"); got != sha {
		t.Fatalf("origin has %s, want %s", got, sha)
	}
	connected(t, f.origin)
}

func TestPushToLocalOriginAfterTargetRewritten(t *testing.T) {
	f, m := localFixture(t)
	// The mirror fetched main at second; then someone rewinds main on the
	// origin and collects the garbage, so second is gone from it.
	second := f.commit(t, "main", f.base, map[string]string{"second.txt": "2\n"}, "second")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	sha := commitIn(t, m, f.root, "agentorg/issue-3", map[string]string{"c.txt": "c\n"})
	g(t, f.origin, "update-ref", "refs/heads/main", f.base)
	g(t, f.origin, "reflog", "expire", "--expire=now", "--all")
	g(t, f.origin, "gc", "--quiet", "--prune=now")
	if _, err := git(ctx, f.origin, "cat-file", "-e", second); err == nil {
		t.Fatal("setup: second is still in the origin")
	}
	if err := m.Push(ctx, sha, "agentorg/issue-3"); err != nil {
		t.Fatal(err)
	}
	if got := f.originHead(t, "agentorg/issue-3"); got != sha {
		t.Fatalf("origin has %s, want %s", got, sha)
	}
	connected(t, f.origin)
}

func TestPushToNonBareOriginUsesGit(t *testing.T) {
	f := newFixture(t)
	// A non-bare origin may have the branch checked out: only git push
	// (which refuses to move a checked-out branch) may update it.
	work, m2 := nonBareOrigin(t, f)
	sha := commitIn(t, m2, f.root, "agentorg/issue-4", map[string]string{"d.txt": "d\n"})
	if err := m2.Push(ctx, sha, "main"); err == nil {
		t.Fatal("pushed over the branch checked out in the origin's work tree")
	}
	if got := g(t, work, "rev-parse", "HEAD"); got != f.base {
		t.Fatalf("origin's checked-out main moved to %s", got)
	}
	if err := m2.Push(ctx, sha, "agentorg/issue-4"); err != nil {
		t.Fatal(err)
	}
	if got := g(t, work, "rev-parse", "refs/heads/agentorg/issue-4"); got != sha {
		t.Fatalf("origin has %s, want %s", got, sha)
	}
}

// nonBareOrigin clones the fixture's origin into a work tree with main
// checked out, and mirrors that, fetching main only as the engine does.
func nonBareOrigin(t *testing.T, f *fixture) (work string, m *Mirror) {
	t.Helper()
	work = filepath.Join(f.root, "work")
	g(t, f.root, "clone", "--quiet", f.origin, work)
	m, err := OpenMirror(ctx, filepath.Join(f.root, "mirror2.git"), work)
	if err != nil {
		t.Fatal(err)
	}
	m.Branches = []string{"main"}
	return work, m
}

// A leased push moves the branch only from the value it was told; a
// branch someone moved meanwhile (or made, when it was to be absent) is
// left alone, on the plumbing path and on git push's.
func TestPushLeasedLeavesAMovedBranchAlone(t *testing.T) {
	f, local := localFixture(t)
	_, viaGit := nonBareOrigin(t, f)
	for name, m := range map[string]*Mirror{"plumbing": local, "git push": viaGit} {
		origin := f.origin
		if m == viaGit {
			origin = filepath.Join(f.root, "work")
		}
		branch := "agentorg/lease-" + map[string]string{"plumbing": "a", "git push": "b"}[name]
		one := commitIn(t, m, f.root, branch, map[string]string{"one.txt": "1\n"})
		if err := m.PushLeased(ctx, one, branch, ""); err != nil {
			t.Fatalf("%s: first push of an absent branch: %v", name, err)
		}
		two := commitIn(t, m, f.root, branch+"-2", map[string]string{"two.txt": "2\n"})
		if err := m.PushLeased(ctx, two, branch, ""); err == nil {
			t.Fatalf("%s: a push leased on an absent branch went over an existing one", name)
		}
		if err := m.PushLeased(ctx, two, branch, f.base); err == nil {
			t.Fatalf("%s: a push leased on %s went over the branch at %s", name, f.base, one)
		}
		if got := g(t, origin, "rev-parse", "refs/heads/"+branch); got != one {
			t.Fatalf("%s: the branch moved to %s, want %s kept", name, got, one)
		}
		if err := m.PushLeased(ctx, two, branch, one); err != nil {
			t.Fatalf("%s: a push leased on the branch's value: %v", name, err)
		}
		if got := g(t, origin, "rev-parse", "refs/heads/"+branch); got != two {
			t.Fatalf("%s: the branch is at %s, want %s", name, got, two)
		}
	}
}
