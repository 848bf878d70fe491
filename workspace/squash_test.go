package workspace

import (
	"path/filepath"
	"strings"
	"testing"
)

// The commit to push is one commit of the validated tree on the target:
// its history holds nothing of the attempts but their result, the same work
// on the same target gives the same commit, and a conflict the developer
// resolved with a merge stays resolved when the target moves again.
func TestSquash(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	m.Branches = []string{"main"}
	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "issue-1"), "agentorg/issue-1", "refs/remotes/origin/main")
	if err != nil {
		t.Fatal(err)
	}
	// Attempt 1 adds a junk file and a change; attempt 2 deletes the junk.
	writeFile(t, filepath.Join(w.Path, "secret.txt"), "token\n")
	writeFile(t, filepath.Join(w.Path, "shared.txt"), "one\ntwo, mine\nthree\n")
	if _, _, err := w.CommitAll(ctx, "attempt 1", tester); err != nil {
		t.Fatal(err)
	}
	g(t, w.Path, "--git-dir="+w.admin, "--work-tree="+w.Path, "rm", "-q", "secret.txt")
	work, _, err := w.CommitAll(ctx, "attempt 2", tester)
	if err != nil {
		t.Fatal(err)
	}
	p, conflicts, err := m.Squash(ctx, f.base, work, "#1: the change", merger)
	if err != nil || len(conflicts) > 0 {
		t.Fatal(conflicts, err)
	}
	if ps := parents(t, m.Dir, p); len(ps) != 1 || ps[0] != f.base {
		t.Fatalf("parents %v, want only the target %s", ps, f.base)
	}
	if got := g(t, m.Dir, "rev-list", "--objects", f.base+".."+p); strings.Contains(got, "secret.txt") {
		t.Fatalf("the pushed history holds the deleted file:\n%s", got)
	}
	if g(t, m.Dir, "rev-parse", p+"^{tree}") != g(t, m.Dir, "rev-parse", work+"^{tree}") {
		t.Fatal("the squash's tree is not the work's")
	}
	if who := g(t, m.Dir, "show", "-s", "--format=%an <%ae>|%cn <%ce>|%s", p); who != "Merge Bot <merge@example.com>|Merge Bot <merge@example.com>|#1: the change" {
		t.Fatalf("identity and message %q", who)
	}
	if again, _, _ := m.Squash(ctx, f.base, work, "#1: the change", merger); again != p {
		t.Fatalf("the same work on the same target gave %s, then %s", p, again)
	}

	// The target moves on the same line: a conflict, no commit.
	moved := f.commit(t, "main", f.base, map[string]string{"shared.txt": "one\ntwo, theirs\nthree\n"}, "theirs")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, conflicts, err := m.Squash(ctx, moved, work, "#1", merger); err != nil || strings.Join(conflicts, " ") != "shared.txt" {
		t.Fatalf("conflicts %v, %v", conflicts, err)
	}
	// The developer merges the target in and resolves it.
	if _, err := w.StartMerge(ctx, "refs/remotes/origin/main", "HEAD", tester); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "shared.txt"), "one\ntwo, both\nthree\n")
	resolved, _, err := w.CommitAll(ctx, "attempt 3", tester)
	if err != nil {
		t.Fatal(err)
	}
	// The target moves again, elsewhere: the resolution stands.
	again := f.commit(t, "main", moved, map[string]string{"README": "moved again\n"}, "elsewhere")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	p3, conflicts, err := m.Squash(ctx, again, resolved, "#1", merger)
	if err != nil || len(conflicts) > 0 {
		t.Fatalf("after a resolved conflict and a moved target: conflicts %v, %v", conflicts, err)
	}
	if got := g(t, m.Dir, "show", p3+":shared.txt"); got != "one\ntwo, both\nthree" {
		t.Fatalf("shared.txt %q, want the resolution", got)
	}
	if got := g(t, m.Dir, "show", p3+":README"); got != "moved again" {
		t.Fatalf("README %q, want the target's", got)
	}
}
