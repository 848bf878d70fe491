package workspace

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mainBase = "refs/remotes/origin/main"

func TestWorktreeCreateReuseRecreate(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-7")

	w, created, err := m.Worktree(ctx, path, "agentorg/issue-7", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	if !created || w.Path != path || w.Branch != "agentorg/issue-7" {
		t.Fatalf("got %+v created=%v", w, created)
	}
	if head, _ := w.Head(ctx); head != f.base {
		t.Fatalf("new branch at %s, want base %s", head, f.base)
	}
	if got := g(t, path, "symbolic-ref", "HEAD"); got != "refs/heads/agentorg/issue-7" {
		t.Fatalf("HEAD is %s", got)
	}
	// No upstream gets configured in the shared mirror config.
	if _, err := git(ctx, m.Dir, "config", "--get", "branch.agentorg/issue-7.remote"); exitCode(err) != 1 {
		t.Fatalf("branch has an upstream: %v", err)
	}

	writeFile(t, filepath.Join(path, "one.txt"), "1\n")
	first, _, err := w.CommitAll(ctx, "one", tester)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(path, "uncommitted.txt"), "wip\n")

	// Reuse: same worktree, uncommitted work intact, base ignored.
	w2, created, err := m.Worktree(ctx, path, "agentorg/issue-7", "refs/remotes/origin/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("reuse reported created")
	}
	if head, _ := w2.Head(ctx); head != first {
		t.Fatalf("reused worktree at %s, want %s", head, first)
	}
	if readFile(t, filepath.Join(path, "uncommitted.txt")) != "wip\n" {
		t.Fatal("reuse lost uncommitted work")
	}

	// The directory vanishes: the branch comes back at its last commit.
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	w3, created, err := m.Worktree(ctx, path, "agentorg/issue-7", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("recreated worktree reported a new branch")
	}
	if head, _ := w3.Head(ctx); head != first {
		t.Fatalf("recreated at %s, want %s", head, first)
	}
	if readFile(t, filepath.Join(path, "one.txt")) != "1\n" {
		t.Fatal("recreated worktree lacks the committed file")
	}
	// And work continues on the branch.
	writeFile(t, filepath.Join(path, "two.txt"), "2\n")
	second, changed, err := w3.CommitAll(ctx, "two", tester)
	if err != nil || !changed {
		t.Fatalf("commit: %v changed=%v", err, changed)
	}
	if parent := g(t, path, "rev-parse", "HEAD^"); parent != first {
		t.Fatalf("new commit's parent %s, want %s", parent, first)
	}
	if bh, _ := m.BranchHead(ctx, "agentorg/issue-7"); bh != second {
		t.Fatalf("branch head %s, want %s", bh, second)
	}
}

func TestWorktreeSurvivesCrashLeftovers(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-8")
	w, _, err := m.Worktree(ctx, path, "agentorg/issue-8", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(path, "a.txt"), "a\n")
	tip, _, err := w.CommitAll(ctx, "a", tester)
	if err != nil {
		t.Fatal(err)
	}

	// A crash while the tree was being made: its git directory is left
	// locked and the checkout is incomplete.
	writeFile(t, filepath.Join(w.admin, "locked"), "initializing")
	os.Remove(filepath.Join(path, "a.txt"))
	w, created, err := m.Worktree(ctx, path, "agentorg/issue-8", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("reported a new branch")
	}
	if head, _ := w.Head(ctx); head != tip {
		t.Fatalf("head %s, want %s", head, tip)
	}
	if readFile(t, filepath.Join(path, "a.txt")) != "a\n" {
		t.Fatal("half-made worktree was reused as is")
	}
	if _, err := os.Stat(filepath.Join(w.admin, "locked")); !os.IsNotExist(err) {
		t.Fatalf("still locked: %v", err)
	}

	// The git directory is gone but the directory was left behind.
	if err := os.RemoveAll(w.admin); err != nil {
		t.Fatal(err)
	}
	w, _, err = m.Worktree(ctx, path, "agentorg/issue-8", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	if head, _ := w.Head(ctx); head != tip {
		t.Fatalf("head %s, want %s", head, tip)
	}
	if st, err := w.Status(ctx); err != nil || len(st) != 0 {
		t.Fatalf("status %q, %v", st, err)
	}

	// A crash left a git directory whose tree is gone, and one half made
	// beside agentorg-trees/: swept at the next start.
	writeFile(t, filepath.Join(m.Dir, treesDir, "issue-99", "gitdir"), filepath.Join(f.root, "wt", "issue-99", ".git")+"\n")
	writeFile(t, filepath.Join(m.Dir, ".new-worktree-1", "HEAD"), f.base+"\n")
	if err := m.RemoveLeftovers(ctx); err != nil {
		t.Fatal(err)
	}
	if got := trees(t, m); len(got) != 1 || got[path] == "" {
		t.Fatalf("git directories left: %v", got)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, ".new-worktree-1")); !os.IsNotExist(err) {
		t.Fatalf("half-made git directory left: %v", err)
	}
}

func TestWorktreeRefusesForeignContent(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-9")
	writeFile(t, filepath.Join(path, "precious"), "keep me")
	if _, _, err := m.Worktree(ctx, path, "agentorg/issue-9", mainBase); err == nil {
		t.Fatal("took over a directory that is not a worktree")
	}
	if readFile(t, filepath.Join(path, "precious")) != "keep me" {
		t.Fatal("directory was touched")
	}

	// A worktree on another branch is not silently switched.
	other := filepath.Join(f.root, "wt", "issue-10")
	if _, _, err := m.Worktree(ctx, other, "agentorg/issue-10", mainBase); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Worktree(ctx, other, "agentorg/issue-11", mainBase); err == nil {
		t.Fatal("reused a worktree that is on another branch")
	}
	if _, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "x"), "agentorg/bad..name", mainBase); err == nil {
		t.Fatal("accepted an invalid branch name")
	}
}

func TestCommitAllIgnoresIgnoredAndReportsClean(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "issue-3"), "agentorg/issue-3", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	// Clean worktree: nothing to commit.
	sha, changed, err := w.CommitAll(ctx, "nothing", tester)
	if err != nil || changed || sha != f.base {
		t.Fatalf("clean CommitAll = %s, %v, %v", sha, changed, err)
	}

	writeFile(t, filepath.Join(w.Path, "src", "new.go"), "package src\n")
	writeFile(t, filepath.Join(w.Path, "shared.txt"), "changed\n")
	writeFile(t, filepath.Join(w.Path, "ignored", "cache.bin"), "big\n")
	writeFile(t, filepath.Join(w.Path, "debug.log"), "noise\n")
	os.Remove(filepath.Join(w.Path, "README"))

	st, err := w.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"README", "shared.txt", "src/new.go"}; !slices.Equal(st, want) {
		t.Fatalf("Status = %q, want %q", st, want)
	}

	sha, changed, err = w.CommitAll(ctx, "agent work\n\nbody", tester)
	if err != nil || !changed {
		t.Fatalf("CommitAll: %v changed=%v", err, changed)
	}
	if head, _ := w.Head(ctx); head != sha {
		t.Fatalf("returned %s, HEAD %s", sha, head)
	}
	files := strings.Fields(g(t, w.Path, "ls-tree", "-r", "--name-only", sha))
	if want := []string{".gitignore", "shared.txt", "src/new.go"}; !slices.Equal(files, want) {
		t.Fatalf("committed tree %q, want %q", files, want)
	}
	if who := g(t, w.Path, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", sha); who != "Test Dev <dev@example.com>|Test Dev <dev@example.com>|agent work" {
		t.Fatalf("commit identity/message: %s", who)
	}
	if g(t, w.Path, "rev-parse", sha+"^") != f.base {
		t.Fatal("commit is not on the base")
	}

	// Only ignored files remain: nothing to commit.
	again, changed, err := w.CommitAll(ctx, "again", tester)
	if err != nil || changed || again != sha {
		t.Fatalf("second CommitAll = %s, %v, %v", again, changed, err)
	}
	if st, _ := w.Status(ctx); len(st) != 0 {
		t.Fatalf("status after commit %q", st)
	}

	// Wherever the agent's own repository went, the commit lands on the
	// issue branch, and the agent's repository is brought back to it.
	g(t, w.Path, "checkout", "--quiet", "--detach")
	g(t, w.Path, "checkout", "--quiet", "-b", "elsewhere")
	writeFile(t, filepath.Join(w.Path, "stray.txt"), "x\n")
	stray, changed, err := w.CommitAll(ctx, "stray", tester)
	if err != nil || !changed {
		t.Fatalf("CommitAll: %v changed=%v", err, changed)
	}
	if bh, _ := m.BranchHead(ctx, "agentorg/issue-3"); bh != stray || g(t, w.Path, "rev-parse", stray+"^") != sha {
		t.Fatalf("branch at %s, want %s on %s", bh, stray, sha)
	}
	if got := g(t, w.Path, "symbolic-ref", "HEAD"); got != "refs/heads/agentorg/issue-3" {
		t.Fatalf("the agent's repository is on %s", got)
	}
	if st := g(t, w.Path, "status", "--porcelain"); st != "" {
		t.Fatalf("the agent's repository is not clean: %q", st)
	}
}

func TestResetDiscardsChangesKeepsIgnored(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "issue-4"), "agentorg/issue-4", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "kept.txt"), "k\n")
	sha, _, err := w.CommitAll(ctx, "kept", tester)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "bad.txt"), "bad\n")
	if _, _, err := w.CommitAll(ctx, "bad", tester); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "README"), "scribbled\n")
	writeFile(t, filepath.Join(w.Path, "new", "untracked.txt"), "u\n")
	writeFile(t, filepath.Join(w.Path, "ignored", "cache"), "c\n")
	// The agent wandered off its branch and left git's index locked.
	g(t, w.Path, "checkout", "--quiet", "--detach")
	writeFile(t, filepath.Join(w.Path, ".git", "index.lock"), "")
	// And a killed engine left its own index locked.
	writeFile(t, filepath.Join(w.admin, "index.lock"), "")

	if err := w.Reset(ctx, sha); err != nil {
		t.Fatal(err)
	}
	if head, _ := w.Head(ctx); head != sha {
		t.Fatalf("head %s, want %s", head, sha)
	}
	if got := g(t, w.Path, "symbolic-ref", "HEAD"); got != "refs/heads/agentorg/issue-4" {
		t.Fatalf("HEAD %s", got)
	}
	if st, _ := w.Status(ctx); len(st) != 0 {
		t.Fatalf("not clean after reset: %q", st)
	}
	if readFile(t, filepath.Join(w.Path, "README")) != "hello\n" {
		t.Fatal("tracked change survived")
	}
	for _, p := range []string{"bad.txt", "new"} {
		if _, err := os.Stat(filepath.Join(w.Path, p)); !os.IsNotExist(err) {
			t.Fatalf("%s survived reset", p)
		}
	}
	if readFile(t, filepath.Join(w.Path, "ignored", "cache")) != "c\n" {
		t.Fatal("ignored file was removed")
	}
}

// Junk an agent's tools left (a log, an OS file, a dependency directory) is
// left out of the commit and named; files of the change are committed, and
// a junk-looking file already in the branch stays in it.
func TestCommitLeavesJunkOut(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "issue-1"), "agentorg/issue-1", "refs/remotes/origin/main")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "calc.go"), "package calc\n")
	writeFile(t, filepath.Join(w.Path, "test-run.tmp"), "ok\n")
	writeFile(t, filepath.Join(w.Path, "sub", ".DS_Store"), "\x00\x01")
	writeFile(t, filepath.Join(w.Path, "node_modules", "a", "index.js"), "a\n")
	writeFile(t, filepath.Join(w.Path, "node_modules", "b", "index.js"), "b\n")
	writeFile(t, filepath.Join(w.Path, "odd*name.tmp"), "x\n")
	junk := []string{"*.tmp", ".DS_Store", "**/node_modules/**"}
	sha, changed, leftOut, err := w.CommitLeavingOut(ctx, "work", tester, junk)
	if err != nil || !changed {
		t.Fatalf("commit: %v, changed %v", err, changed)
	}
	if got := g(t, w.Path, "--git-dir="+w.admin, "ls-tree", "-r", "--name-only", sha); strings.Contains(got, ".tmp") || strings.Contains(got, "node_modules") || strings.Contains(got, "DS_Store") || !strings.Contains(got, "calc.go") {
		t.Fatalf("the commit holds:\n%s", got)
	}
	if got := strings.Join(leftOut, "; "); got != "node_modules/ (2 files); odd*name.tmp; sub/.DS_Store; test-run.tmp" {
		t.Errorf("left out: %s", got)
	}
	if _, err := os.Stat(filepath.Join(w.Path, "test-run.tmp")); err != nil {
		t.Fatal("the left-out file was removed from the work tree")
	}
	// Only junk: nothing to commit.
	writeFile(t, filepath.Join(w.Path, "again.tmp"), "x\n")
	if sha2, changed, leftOut, err := w.CommitLeavingOut(ctx, "junk only", tester, junk); err != nil || changed || sha2 != sha || len(leftOut) == 0 {
		t.Fatalf("junk only: %s, changed %v, left out %v, %v", sha2, changed, leftOut, err)
	}
}
