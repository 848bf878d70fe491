package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The engine works on a work tree (an issue's worktree, a checkout slot)
// through a git directory of its own, <mirror>/agentorg-trees/<id>: the
// tree's HEAD, index and the state of a merge or rebase, with objects,
// refs and config shared with the mirror through its commondir file, as
// git's linked worktrees share theirs. git knows it only because agentorg
// names it (--git-dir, --work-tree): it is not registered under worktrees/.
//
// The work tree's own .git is another repository, the agents' (see
// publish): agentorg never reads it, so nothing an agent writes there (a
// hook, core.fsmonitor, an insteadOf, a filter, core.worktree, a moved
// branch, its own commits) reaches the mirror or changes what agentorg
// commits, validates or pushes.

// treesDir holds the engine's git directories, one per work tree.
const treesDir = "agentorg-trees"

// adminDir is the engine's git directory for the work tree at path.
func (m *Mirror) adminDir(path string) string {
	return filepath.Join(m.Dir, treesDir, filepath.Base(path))
}

// treeArgs make git work on the work tree dir through the engine's git
// directory admin, never through the repository dir/.git holds.
func treeArgs(admin, dir string, args ...string) []string {
	return append([]string{"--git-dir=" + admin, "--work-tree=" + dir}, args...)
}

// treeGit runs one git command as who on the work tree dir through admin.
func treeGit(ctx context.Context, admin, dir string, who Identity, args ...string) (string, error) {
	return gitWith(ctx, dir, who, nil, treeArgs(admin, dir, args...)...)
}

// treeState is what the engine's git directory for a path says.
type treeState int

const (
	treeNone    treeState = iota // no git directory of ours for it
	treeHalf                     // being made, or a crash interrupted it ("locked")
	treeSettled                  // made whole
	treeForeign                  // its id is taken by another path's
	treeBroken                   // no gitdir file: whose it was cannot be told
)

// treeOf returns the engine's git directory for path and its state.
func (m *Mirror) treeOf(path string) (string, treeState) {
	admin := m.adminDir(path)
	b, err := os.ReadFile(filepath.Join(admin, "gitdir"))
	if err != nil {
		if _, serr := os.Stat(admin); serr == nil {
			return admin, treeBroken
		}
		return admin, treeNone
	}
	got, want := strings.TrimSpace(string(b)), filepath.Join(path, ".git")
	if got != want && canonical(got) != canonical(want) {
		return admin, treeForeign
	}
	if _, err := os.Stat(filepath.Join(admin, "locked")); err == nil {
		return admin, treeHalf
	}
	return admin, treeSettled
}

// settledTree reports, from files alone, that path is a work tree of this
// mirror made whole, and returns its git directory.
func (m *Mirror) settledTree(path string) (string, bool) {
	admin, st := m.treeOf(path)
	if st != treeSettled {
		return "", false
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		return "", false
	}
	return admin, true
}

// newTree makes the engine's git directory for dir (HEAD given: a SHA for
// a detached tree, or "ref: refs/heads/<branch>" for one on a branch that
// already points at commit), checks commit out in dir with one `git
// read-tree`, and gives dir its agents' repository (publish). The git
// directory is written aside and renamed into place whole, locked while
// dir is being filled, so that a crash leaves either nothing or a tree
// known to be half made. It returns the git directory.
func (m *Mirror) newTree(ctx context.Context, dir, head, commit string) (string, error) {
	admin := m.adminDir(dir)
	if err := os.MkdirAll(filepath.Dir(admin), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(m.Dir, ".new-worktree-")
	if err != nil {
		return "", err
	}
	files := []struct{ name, body string }{
		{"locked", "initializing"},
		{"gitdir", filepath.Join(dir, ".git") + "\n"},
		{"commondir", "../..\n"},
		{"HEAD", head + "\n"},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tmp, f.name), []byte(f.body), 0o644); err != nil {
			forceRemoveAll(tmp)
			return "", err
		}
	}
	if err := os.Rename(tmp, admin); err != nil {
		forceRemoveAll(tmp)
		return "", err // the id is taken: the caller repairs
	}
	fail := func(err error) (string, error) {
		forceRemoveAll(dir)
		m.removeRegistration(admin)
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	if _, err := treeGit(ctx, admin, dir, defaultIdentity, "read-tree", "--reset", "-u", commit); err != nil {
		return fail(err)
	}
	if err := m.publish(dir, admin, true); err != nil {
		return fail(err)
	}
	if err := os.Remove(filepath.Join(admin, "locked")); err != nil {
		return fail(err)
	}
	return admin, nil
}

// removeRegistration deletes an engine's git directory (or a legacy
// worktree registration), renamed aside first so that nothing ever reads
// one half deleted.
func (m *Mirror) removeRegistration(admin string) error {
	gone, err := os.MkdirTemp(m.Dir, ".old-worktree-")
	if err == nil {
		target := filepath.Join(gone, "x")
		if err = os.Rename(admin, target); err == nil {
			return forceRemoveAll(gone)
		}
		os.Remove(gone)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return forceRemoveAll(admin)
}

// removeOrphanTrees deletes the engine's git directories whose work tree
// is gone (a crash between deleting the one and the other, or a tree
// deleted by hand).
func (m *Mirror) removeOrphanTrees() error {
	entries, err := os.ReadDir(filepath.Join(m.Dir, treesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		admin := filepath.Join(m.Dir, treesDir, e.Name())
		b, err := os.ReadFile(filepath.Join(admin, "gitdir"))
		if err == nil {
			if _, err := os.Lstat(filepath.Dir(strings.TrimSpace(string(b)))); err == nil {
				continue
			}
		}
		errs = append(errs, m.removeRegistration(admin))
	}
	return errors.Join(errs...)
}

// branchTaken returns the work tree, other than path, whose engine's git
// directory has ref checked out ("" when none).
func (m *Mirror) branchTaken(path, ref string) string {
	entries, _ := os.ReadDir(filepath.Join(m.Dir, treesDir))
	for _, e := range entries {
		admin := filepath.Join(m.Dir, treesDir, e.Name())
		if admin == m.adminDir(path) {
			continue
		}
		head, err := os.ReadFile(filepath.Join(admin, "HEAD"))
		if err != nil || strings.TrimSpace(string(head)) != "ref: "+ref {
			continue
		}
		gitdir, _ := os.ReadFile(filepath.Join(admin, "gitdir"))
		return filepath.Dir(strings.TrimSpace(string(gitdir)))
	}
	return ""
}

// ownedTree reports whether dir looks like a work tree this mirror made
// whose git directory is gone: its agents' repository borrows the mirror's
// objects. Only such a directory (or an empty one, or a legacy worktree of
// the mirror) is ever deleted to make a tree in its place.
func (m *Mirror) ownedTree(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ".git", "objects", "info", "alternates"))
	if err != nil {
		return false
	}
	got := strings.TrimSpace(string(b))
	want := filepath.Join(m.Dir, "objects")
	return got == want || canonical(got) == canonical(want)
}

// errTreeTaken says that another path's tree holds the id path needs.
func errTreeTaken(path, admin string) error {
	return fmt.Errorf("worktree %s: its git directory %s belongs to another worktree", path, admin)
}

// EngineGitDir returns the git directory through which the engine works on
// the work tree at dir, in the mirror at mirrorDir: its own (agentorg-trees),
// or, for a tree of an earlier layout, the linked worktree's record its
// .git file names; "" when dir has neither. Agents can write neither.
func EngineGitDir(mirrorDir, dir string) string {
	m := &Mirror{Dir: mirrorDir}
	if admin, st := m.treeOf(dir); st == treeSettled || st == treeHalf {
		return admin
	}
	b, err := os.ReadFile(filepath.Join(dir, ".git"))
	if err != nil {
		return ""
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return ""
	}
	if gitdir = strings.TrimSpace(gitdir); !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(dir, gitdir)
	}
	return gitdir
}
