package workspace

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
)

func TestOpenMirrorClonesOnceAndReuses(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	if g(t, m.Dir, "rev-parse", "--is-bare-repository") != "true" {
		t.Fatal("mirror is not bare")
	}
	if got := g(t, m.Dir, "config", "--get-all", "remote.origin.fetch"); got != fetchRefspec {
		t.Fatalf("refspec %q", got)
	}
	if head, err := m.RemoteHead(ctx, "main"); err != nil || head != f.base {
		t.Fatalf("RemoteHead = %q, %v; want %s", head, err, f.base)
	}
	// Something only this clone has must survive a second open.
	g(t, m.Dir, "branch", "only-in-mirror", f.base)
	m2 := f.mirror(t)
	if m2.Dir != m.Dir {
		t.Fatalf("dir %s != %s", m2.Dir, m.Dir)
	}
	if _, err := m2.BranchHead(ctx, "only-in-mirror"); err != nil {
		t.Fatalf("second open re-cloned: %v", err)
	}
	// No clone leftovers beside it.
	entries, _ := os.ReadDir(f.root)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".clone-") {
			t.Fatalf("leftover %s", e.Name())
		}
	}
}

// The first mirror of a repository reports git's progress to the writer it
// is given (serve gives its terminal); opening the mirror again is silent.
func TestOpenMirrorStreamsTheFirstClonesProgress(t *testing.T) {
	f := newFixture(t)
	// Over a transport (not a local path's hard links), as a real origin is.
	origin := "file://" + f.origin
	var progress bytes.Buffer
	dir := filepath.Join(f.root, "mirror.git")
	if _, err := OpenMirror(ctx, dir, origin, Progress(&progress)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "objects") {
		t.Fatalf("no progress from the first clone: %q", progress.String())
	}
	progress.Reset()
	if _, err := OpenMirror(ctx, dir, origin, Progress(&progress)); err != nil {
		t.Fatal(err)
	}
	if progress.Len() != 0 {
		t.Fatalf("reopening the mirror reported %q; want nothing", progress.String())
	}
}

func TestOpenMirrorRefusesForeignDirectory(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(f.root, "notamirror")
	writeFile(t, filepath.Join(dir, "precious"), "keep me")
	if _, err := OpenMirror(ctx, dir, f.origin); err == nil {
		t.Fatal("opened a directory that is not a mirror")
	}
	if readFile(t, filepath.Join(dir, "precious")) != "keep me" {
		t.Fatal("directory was touched")
	}
}

func TestFetchSeesNewCommitsAndKeepsLocalBranches(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "issue-1"), "agentorg/issue-1", "refs/remotes/origin/main")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "work.txt"), "work\n")
	local, _, err := w.CommitAll(ctx, "work", tester)
	if err != nil {
		t.Fatal(err)
	}

	next := f.commit(t, "main", f.base, map[string]string{"README": "hello again\n"}, "second")
	// Origin also gets an unrelated commit on the issue branch's name.
	f.commit(t, "agentorg/issue-1", f.base, map[string]string{"other": "x\n"}, "someone else")
	if head, _ := m.RemoteHead(ctx, "main"); head != f.base {
		t.Fatalf("saw %s before fetching", head)
	}
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if head, err := m.RemoteHead(ctx, "main"); err != nil || head != next {
		t.Fatalf("RemoteHead after fetch = %q, %v; want %s", head, err, next)
	}
	if head, err := m.BranchHead(ctx, "agentorg/issue-1"); err != nil || head != local {
		t.Fatalf("fetch clobbered the local branch: %q, %v; want %s", head, err, local)
	}

	// A branch deleted on origin is pruned.
	g(t, f.origin, "branch", "-D", "agentorg/issue-1")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RemoteHead(ctx, "agentorg/issue-1"); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestPushUpdatesOrigin(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "issue-2"), "agentorg/issue-2", "refs/remotes/origin/main")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "a.txt"), "a\n")
	first, _, err := w.CommitAll(ctx, "a", tester)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Push(ctx, first, "agentorg/issue-2"); err != nil {
		t.Fatal(err)
	}
	if got := f.originHead(t, "agentorg/issue-2"); got != first {
		t.Fatalf("origin has %s, want %s", got, first)
	}
	if got, _ := m.RemoteHead(ctx, "agentorg/issue-2"); got != first {
		t.Fatalf("remote-tracking ref %s, want %s", got, first)
	}
	// Force: the branch belongs to agentorg, a rewind is allowed.
	if err := m.Push(ctx, f.base, "agentorg/issue-2"); err != nil {
		t.Fatal(err)
	}
	if got := f.originHead(t, "agentorg/issue-2"); got != f.base {
		t.Fatalf("origin has %s after forced push, want %s", got, f.base)
	}
	if err := m.Push(ctx, strings.Repeat("ab", 20), "agentorg/issue-2"); err == nil {
		t.Fatal("pushed a commit that does not exist")
	}
}

func TestDiffFiles(t *testing.T) {
	f := newFixture(t)
	next := f.commit(t, "main", f.base, map[string]string{
		"README":        "",
		"dir/new.go":    "package x\n",
		"shared.txt":    "one\n",
		"unchanged.txt": "",
	}, "change")
	m := f.mirror(t)
	got, err := m.DiffFiles(ctx, f.base, next)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"README", "dir/new.go", "shared.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("DiffFiles = %q, want %q", got, want)
	}
	if got, _ := m.DiffFiles(ctx, next, next); len(got) != 0 {
		t.Fatalf("no change should list nothing: %q", got)
	}
}

func TestLeaseExactSHAAndRelease(t *testing.T) {
	f := newFixture(t)
	next := f.commit(t, "main", f.base, map[string]string{"README": "v2\n"}, "v2")
	m := f.mirror(t)
	pool := filepath.Join(f.root, "slots")

	dir, release, err := m.Lease(ctx, pool, f.base) // not the branch tip
	if err != nil {
		t.Fatal(err)
	}
	if got := g(t, dir, "rev-parse", "HEAD"); got != f.base {
		t.Fatalf("HEAD %s, want %s", got, f.base)
	}
	if got := readFile(t, filepath.Join(dir, "README")); got != "hello\n" {
		t.Fatalf("README %q", got)
	}
	if st := g(t, dir, "status", "--porcelain"); st != "" {
		t.Fatalf("checkout is not clean: %q", st)
	}
	if _, err := git(ctx, dir, "symbolic-ref", "-q", "HEAD"); exitCode(err) != 1 {
		t.Fatalf("HEAD is not detached: %v", err)
	}

	// The run's dirt does not follow the slot to the next lease.
	writeFile(t, filepath.Join(dir, "README"), "dirty\n")
	writeFile(t, filepath.Join(dir, "junk"), "junk\n")
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil { // a second release is harmless
		t.Fatalf("second release: %v", err)
	}
	dir2, release2, err := m.Lease(ctx, pool, next)
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != dir {
		t.Fatalf("the idle slot %s was not reused (got %s)", dir, dir2)
	}
	if got := g(t, dir, "rev-parse", "HEAD"); got != next {
		t.Fatalf("HEAD %s, want %s", got, next)
	}
	if got := readFile(t, filepath.Join(dir, "README")); got != "v2\n" {
		t.Fatalf("README %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "junk")); !os.IsNotExist(err) {
		t.Fatal("leftover file survived a new lease")
	}
	// A check that wrote read-only directories (a Go module cache) must not
	// defeat removal.
	writeFile(t, filepath.Join(dir, "cache", "mod", "f"), "x")
	os.Chmod(filepath.Join(dir, "cache", "mod"), 0o555)
	if err := release2(); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveIdleSlots(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("idle slot still there: %v", err)
	}
	if list := g(t, m.Dir, "worktree", "list"); strings.Contains(list, dir) {
		t.Fatalf("worktree still registered:\n%s", list)
	}
	if _, _, err := m.Lease(ctx, pool, "0123456789abcdef0123456789abcdef01234567"); err == nil {
		t.Fatal("leased a commit the mirror does not have")
	}
}

func TestFetchOnlyTheNamedBranches(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	m.Branches = []string{"main"}
	other := f.commit(t, "other", f.base, map[string]string{"other": "x\n"}, "elsewhere")
	next := f.commit(t, "main", f.base, map[string]string{"README": "again\n"}, "second")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if head, err := m.RemoteHead(ctx, "main"); err != nil || head != next {
		t.Fatalf("main after fetch = %q, %v; want %s", head, err, next)
	}
	if head, err := m.RemoteHead(ctx, "other"); err == nil {
		t.Fatalf("fetched %s of a branch it was not asked for (origin has %s)", head, other)
	}
}

// A slot is a checkout git itself recognises, a repository of its own
// (not a worktree registered in the mirror), detached at the commit and
// clean; its git directory and the engine's go once it is removed.
func TestLeaseIsARealDetachedCheckout(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	pool := filepath.Join(f.root, "checkouts", "slots")
	dir, release, err := m.Lease(ctx, pool, f.base)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, ".git")); err != nil || !fi.IsDir() {
		t.Fatalf("%s/.git is not a directory: %v", dir, err)
	}
	if got := g(t, dir, "rev-parse", "--absolute-git-dir"); got != filepath.Join(dir, ".git") {
		t.Fatalf("git in the slot uses %s", got)
	}
	if got := g(t, dir, "rev-parse", "HEAD"); got != f.base {
		t.Fatalf("HEAD %s", got)
	}
	if sym, err := git(ctx, dir, "symbolic-ref", "-q", "HEAD"); exitCode(err) != 1 {
		t.Fatalf("HEAD not detached: %q %v", sym, err)
	}
	if st := g(t, dir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("not clean: %q", st)
	}
	if list := g(t, m.Dir, "worktree", "list", "--porcelain"); strings.Contains(list, dir) {
		t.Fatalf("registered as a worktree of the mirror:\n%s", list)
	}
	if got := trees(t, m)[dir]; got != f.base {
		t.Fatalf("the engine's git directory has HEAD %q, want %s", got, f.base)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveIdleSlots(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, ok := trees(t, m)[dir]; ok {
		t.Fatal("the engine's git directory is still there after removal")
	}
}

func TestRemoveWorktreeKeepsTheBranch(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-3")
	w, created, err := m.Worktree(ctx, path, "agentorg/issue-3", mainBase)
	if err != nil || !created {
		t.Fatalf("worktree: created=%v err=%v", created, err)
	}
	if got := trees(t, m)[path]; got != "ref: refs/heads/agentorg/issue-3" {
		t.Fatalf("the engine's git directory has HEAD %q", got)
	}
	writeFile(t, filepath.Join(path, "x.txt"), "x\n")
	sha, _, err := w.CommitAll(ctx, "x", tester)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveWorktree(ctx, path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("worktree directory still there")
	}
	if _, ok := trees(t, m)[path]; ok {
		t.Fatal("the engine's git directory is still there")
	}
	if head, err := m.BranchHead(ctx, "agentorg/issue-3"); err != nil || head != sha {
		t.Fatalf("branch lost: %q, %v", head, err)
	}
	if err := m.RemoveWorktree(ctx, path); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestDeleteBranch(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-4")
	if _, _, err := m.Worktree(ctx, path, "agentorg/issue-4", mainBase); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveWorktree(ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteBranch(ctx, "agentorg/issue-4"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.BranchHead(ctx, "agentorg/issue-4"); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("branch still there: %v", err)
	}
	if err := m.DeleteBranch(ctx, "agentorg/issue-4"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

// Registrations are made and removed beside worktrees/ and renamed, so git
// never reads one half there; what a crash leaves beside it is swept.
func TestRegistrationsLeaveNothingBeside(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	pool := filepath.Join(f.root, "slots")
	_, release, err := m.Lease(ctx, pool, f.base)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(ctx); err != nil { // reads every registration
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveIdleSlots(ctx, pool); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(m.Dir, ".*-worktree-*"))
	if len(left) != 0 {
		t.Fatalf("left beside worktrees/: %v", left)
	}
	for _, p := range []string{".new-worktree-1", ".old-worktree-2/x"} {
		writeFile(t, filepath.Join(m.Dir, p, "HEAD"), "crashed\n")
	}
	if err := m.RemoveLeftovers(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(m.Dir, ".*-worktree-*")); len(left) != 0 {
		t.Fatalf("not swept: %v", left)
	}
}
