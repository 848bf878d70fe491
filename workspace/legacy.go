package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Homes made before the engine kept its own git directories had linked
// worktrees of the mirror: a .git file pointing at <mirror>/worktrees/<id>,
// which shares the mirror's config, hooks and refs with whatever runs git
// in the worktree. An issue's worktree of that layout is migrated when it
// is next opened (migrate); a checkout of it is removed (dropWorktree);
// registrations whose worktree is gone are pruned (RemoveLeftovers).

// legacyRegistration returns the registration directory
// (<mirror>/worktrees/<id>) that path's .git file points to, if it points
// into this mirror.
func (m *Mirror) legacyRegistration(path string) (string, bool) {
	fi, err := os.Lstat(filepath.Join(path, ".git"))
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	data, err := os.ReadFile(filepath.Join(path, ".git"))
	if err != nil {
		return "", false
	}
	gitdir, found := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir:")
	gitdir = strings.TrimSpace(gitdir)
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(path, gitdir)
	}
	inside := strings.HasPrefix(canonical(gitdir), canonical(filepath.Join(m.Dir, "worktrees"))+string(filepath.Separator))
	return gitdir, found && inside
}

// migrate turns the legacy worktree at path, registered at reg, into a
// work tree of the current layout, its files (committed or not) and any
// merge under way kept: the registration becomes the engine's git
// directory (same depth under the mirror, so its commondir still names
// the mirror), and the .git file gives way to the agents' repository.
// Each step is one rename or file, and a crash between any two leaves
// something the next Worktree call finishes.
func (m *Mirror) migrate(path, reg string) error {
	admin, st := m.treeOf(path)
	switch st {
	case treeForeign:
		return errTreeTaken(path, admin)
	case treeNone:
		// A lock a person put on the registration means nothing here; it
		// must go before the rename, where it would read "half made".
		if err := os.Remove(filepath.Join(reg, "locked")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(admin), 0o755); err != nil {
			return err
		}
		if err := os.Rename(reg, admin); err != nil {
			return fmt.Errorf("migrate worktree %s: %w", path, err)
		}
	default: // migrated before a crash; the registration is a leftover
		if err := m.removeRegistration(reg); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(admin, "gitdir"), []byte(filepath.Join(path, ".git")+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(path, ".git")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return m.publish(path, admin, false)
}

// removeLegacyRegistrations prunes the legacy registrations whose worktree
// is gone, and worktrees/ with them once empty (git removes it).
func (m *Mirror) removeLegacyRegistrations(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(m.Dir, "worktrees")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := git(ctx, m.Dir, "worktree", "prune")
	return err
}

// dropWorktree removes the legacy worktree at dir, registered or left
// behind.
func (m *Mirror) dropWorktree(ctx context.Context, dir string) error {
	e, err := m.clearStale(ctx, dir)
	if err != nil {
		return err
	}
	if e != nil {
		git(ctx, m.Dir, "worktree", "unlock", dir)
		if _, err := git(ctx, m.Dir, "worktree", "remove", "--force", "--force", dir); err != nil {
			// Read-only trees defeat git's removal; do it by hand.
			if rerr := forceRemoveAll(dir); rerr != nil {
				return fmt.Errorf("%w; %v", err, rerr)
			}
			if _, err := git(ctx, m.Dir, "worktree", "prune"); err != nil {
				return err
			}
		}
	}
	return m.removeLeftover(dir)
}

// clearStale prunes legacy registrations whose directory is gone and
// removes a half-initialised one at path (git locks a worktree
// "initializing" until `worktree add` finishes, so a crash leaves it
// locked). It returns the live registration at path, if any.
func (m *Mirror) clearStale(ctx context.Context, path string) (*wtEntry, error) {
	if _, err := os.Stat(filepath.Join(m.Dir, "worktrees")); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if _, err := git(ctx, m.Dir, "worktree", "prune"); err != nil {
		return nil, err
	}
	wts, err := listWorktrees(ctx, m.Dir)
	if err != nil {
		return nil, err
	}
	want := canonical(path)
	for _, e := range wts {
		if e.bare || canonical(e.path) != want {
			continue
		}
		_, statErr := os.Stat(filepath.Join(path, ".git"))
		if !e.prunable && !(e.locked && e.lockReason == "initializing") && statErr == nil {
			return &e, nil
		}
		git(ctx, m.Dir, "worktree", "unlock", path)
		if err := m.removeLeftover(path); err != nil {
			return nil, err
		}
		if _, err := git(ctx, m.Dir, "worktree", "prune"); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, nil
}

// removeLeftover deletes path if it is empty, or a work tree of this
// mirror whose git directory is gone (ownedTree), or a legacy worktree
// directory of it; anything else is refused.
func (m *Mirror) removeLeftover(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return os.Remove(path)
	}
	if _, ok := m.legacyRegistration(path); ok || m.ownedTree(path) {
		return forceRemoveAll(path)
	}
	return fmt.Errorf("%s exists and is not a worktree of %s; refusing to remove it", path, m.Dir)
}
