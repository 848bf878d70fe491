package workspace

import (
	"os"
	"path/filepath"
	"testing"
)

// OriginBranch answers the same from a local origin's files and, through
// a URL, from git ls-remote: the branch's SHA, or not found.
func TestOriginBranchLocalAndThroughAURL(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"a.txt": "a\n"}, "one")
	local := f.mirror(t)
	byURL, err := OpenMirror(ctx, filepath.Join(f.root, "url-mirror.git"), "file://"+f.origin)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Mirror{local, byURL} {
		got, found, err := m.OriginBranch(ctx, "agentorg/issue-1")
		if err != nil || !found || got != sha {
			t.Errorf("%s: OriginBranch = %s, %v, %v; want %s", m.Origin, got, found, err, sha)
		}
		if _, found, err := m.OriginBranch(ctx, "agentorg/issue-2"); err != nil || found {
			t.Errorf("%s: a missing branch: found %v, %v", m.Origin, found, err)
		}
	}
}

// A worktree moved aside keeps its work, and its branch is renamed aside;
// the place and branch name are free again.
func TestMoveWorktreeAndBranchAside(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "worktrees", "issue-1")
	wt, _, err := m.Worktree(ctx, path, "agentorg/issue-1", "refs/remotes/origin/main")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(path, "work.txt"), "work\n")
	head, _, err := wt.CommitAll(ctx, "work", tester)
	if err != nil {
		t.Fatal(err)
	}
	aside := filepath.Join(f.root, "aside", "issue-1-x")
	if err := m.MoveWorktreeAside(ctx, path, aside); err != nil {
		t.Fatal(err)
	}
	if err := m.MoveBranchAside(ctx, "agentorg/issue-1", "agentorg-aside/x/agentorg/issue-1"); err != nil {
		t.Fatal(err)
	}
	// The tree aside is a repository of its own (I16), at its work; the
	// mirror keeps that work under the branch's new name.
	if got := g(t, m.Dir, "rev-parse", "refs/heads/agentorg-aside/x/agentorg/issue-1"); got != head {
		t.Errorf("the branch aside is at %s, want %s", got, head)
	}
	if got := g(t, aside, "rev-parse", "HEAD"); got != head {
		t.Errorf("the worktree aside is at %s, want %s", got, head)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the worktree's place is not free: %v", err)
	}
	if _, err := m.BranchHead(ctx, "agentorg/issue-1"); err == nil {
		t.Error("the branch name is still taken")
	}
	if _, created, err := m.Worktree(ctx, path, "agentorg/issue-1", "refs/remotes/origin/main"); err != nil || !created {
		t.Errorf("a new worktree at the place: created %v, %v", created, err)
	}
}
