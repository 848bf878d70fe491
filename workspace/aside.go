package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// This file holds what a home needs to keep its hands off work it did not
// make (docs/lifecycle.md, "a new home never reuses"), and to follow a home
// that was moved: small functions over the mirror, so that the rest of
// workspace can change how worktrees are made without them.

// OriginBranch returns the SHA of branch on the origin as it is now (not
// as of the last fetch); found is false when the origin has no such
// branch. A local origin is read from its files when they can answer.
func (m *Mirror) OriginBranch(ctx context.Context, branch string) (sha string, found bool, err error) {
	if err := checkBranch(ctx, branch); err != nil {
		return "", false, err
	}
	ref := "refs/heads/" + branch
	if m.localOrigin() {
		if sha, found, handled := refFromFiles(m.Origin, ref); handled {
			return sha, found, nil
		}
	}
	out, err := m.remote(ctx, m.Dir, "ls-remote", "--quiet", "origin", ref)
	if err != nil {
		return "", false, fmt.Errorf("look up %s on the origin: %w", branch, err)
	}
	for _, line := range strings.Split(out, "\n") {
		if s, name, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok && name == ref {
			return s, true, nil
		}
	}
	return "", false, nil
}

// FetchBranch brings the objects of origin's branch into the mirror, moving
// no ref of the mirror's (FETCH_HEAD only): enough to read the commits
// someone else pushed there.
func (m *Mirror) FetchBranch(ctx context.Context, branch string) error {
	if err := checkBranch(ctx, branch); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, err := m.remote(ctx, m.Dir, "fetch", "--quiet", "--no-write-fetch-head", "origin", "refs/heads/"+branch)
	return err
}

// MoveBranchAside renames the mirror's local branch to newName, keeping
// its commits and any worktree on it (git moves their HEAD along). A
// missing branch is not an error.
func (m *Mirror) MoveBranchAside(ctx context.Context, branch, newName string) error {
	if err := checkBranch(ctx, branch); err != nil {
		return err
	}
	if err := checkBranch(ctx, newName); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok, err := revParse(ctx, m.Dir, "refs/heads/"+branch); err != nil || !ok {
		return err
	}
	if _, err := git(ctx, m.Dir, "branch", "-m", branch, newName); err != nil {
		return fmt.Errorf("move branch %s aside to %s: %w", branch, newName, err)
	}
	return nil
}

// MoveWorktreeAside moves the worktree at path to aside (which must not
// exist), whole, and has git follow it when it is a worktree of this
// mirror, so that what it holds stays a working repository for whoever
// looks at it.
func (m *Mirror) MoveWorktreeAside(ctx context.Context, path, aside string) error {
	if err := os.MkdirAll(filepath.Dir(aside), 0o755); err != nil {
		return err
	}
	_, legacy := m.legacyRegistration(path)
	admin, state := m.treeOf(path)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("move %s aside: %w", path, err)
	}
	if legacy {
		if _, err := git(ctx, m.Dir, "worktree", "repair", aside); err != nil {
			return fmt.Errorf("moved %s to %s, but git could not follow it: %w", path, aside, err)
		}
	}
	// The engine's own git directory for path is of no use aside: the
	// tree's own repository (its .git) stays whole for whoever looks.
	if state != treeNone && state != treeForeign {
		return m.removeRegistration(admin)
	}
	return nil
}

// RelinkWorktrees follows a mirror that moved (or was copied) with its
// worktrees from under oldPrefix to under newPrefix: both ends of each
// link (the mirror's worktrees/<id>/gitdir, the worktree's .git file,
// gitrepository-layout(5)) that name the old place are rewritten to name
// the new one. It returns how many worktrees it relinked. Unlike `git
// worktree repair`, it never follows a link back into the old place, which
// a copy leaves in use.
func RelinkWorktrees(mirrorDir, oldPrefix, newPrefix string) (int, error) {
	// Linked worktrees of an earlier layout (worktrees/), and the engine's
	// own git directories (agentorg-trees/): both name their tree's .git.
	regs, err := filepath.Glob(filepath.Join(mirrorDir, "worktrees", "*", "gitdir"))
	if err != nil {
		return 0, err
	}
	trees, err := filepath.Glob(filepath.Join(mirrorDir, treesDir, "*", "gitdir"))
	if err != nil {
		return 0, err
	}
	regs = append(regs, trees...)
	n := 0
	for _, reg := range regs {
		b, err := os.ReadFile(reg)
		if err != nil {
			return n, err
		}
		dotGit, moved := rebase(strings.TrimSpace(string(b)), oldPrefix, newPrefix)
		if !moved {
			continue
		}
		if err := writeWhole(reg, dotGit+"\n"); err != nil {
			return n, err
		}
		// The worktree's side, when it is there and names the old mirror.
		if b, err := os.ReadFile(dotGit); err == nil {
			if admin, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
				if newAdmin, moved := rebase(admin, oldPrefix, newPrefix); moved {
					if err := writeWhole(dotGit, "gitdir: "+newAdmin+"\n"); err != nil {
						return n, err
					}
				}
			}
		}
		n++
	}
	return n, nil
}

// rebase is p moved from under oldPrefix to under newPrefix, if it was
// under oldPrefix.
func rebase(p, oldPrefix, newPrefix string) (string, bool) {
	rest, ok := strings.CutPrefix(p, filepath.Clean(oldPrefix)+string(filepath.Separator))
	if !ok || rest == "" {
		return p, false
	}
	return filepath.Join(newPrefix, rest), true
}

// writeWhole replaces the file at p with body, written aside and renamed.
func writeWhole(p, body string) error {
	tmp := p + ".agentorg-tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// RepairAlternates rewrites the alternates of the repository whose git
// directory is gitDir (objects/info/alternates: where it borrows objects
// from, such as the mirror) that lie under oldPrefix to lie under
// newPrefix. It reports whether it changed anything; a repository that
// borrows nothing is left as it is.
func RepairAlternates(gitDir, oldPrefix, newPrefix string) (bool, error) {
	p := filepath.Join(gitDir, "objects", "info", "alternates")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	lines := strings.Split(string(b), "\n")
	changed := false
	for i, l := range lines {
		if moved, ok := rebase(l, oldPrefix, newPrefix); ok {
			lines[i], changed = moved, true
		}
	}
	if !changed {
		return false, nil
	}
	return true, writeWhole(p, strings.Join(lines, "\n"))
}

// Trees returns the trees of revs (commits or refs) the mirror has,
// skipping those it does not: one process for all of them.
func (m *Mirror) Trees(ctx context.Context, revs []string) ([]string, error) {
	var in strings.Builder
	for _, r := range revs {
		if err := revArgs(r); err != nil {
			return nil, err
		}
		in.WriteString(r + "^{tree}\n")
	}
	out, err := gitWith(ctx, m.Dir, defaultIdentity, strings.NewReader(in.String()), "cat-file", "--batch-check=%(objectname) %(objecttype)")
	if err != nil {
		return nil, err
	}
	var trees []string
	for _, l := range strings.Split(out, "\n") {
		if sha, kind, ok := strings.Cut(l, " "); ok && kind == "tree" {
			trees = append(trees, sha)
		}
	}
	return trees, nil
}

// LocalBranches lists the mirror's local branches (those worktrees work
// on), by name.
func (m *Mirror) LocalBranches(ctx context.Context) ([]string, error) {
	out, err := git(ctx, m.Dir, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads/")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
