package housekeep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/homedir"
)

// worktrees removes the worktrees and local branches of closed issues
// (merged, or closed by a person after an escalation). A worktree this
// home did not make, or of an issue the tracker does not know, is left:
// fsck names it.
func worktrees(ctx context.Context, s Sources, o Options, open map[int64]bool, w io.Writer) error {
	if s.Mirror == nil {
		fmt.Fprintln(w, "  worktrees: none (no mirror yet)")
		return nil
	}
	entries, err := os.ReadDir(homedir.Worktrees(s.Home))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var gone, kept int
	for _, e := range entries {
		n, ok := s.WorktreeIssue(e.Name())
		path := filepath.Join(homedir.Worktrees(s.Home), e.Name())
		if !ok || open[n] {
			kept++
			continue
		}
		if closed, err := isClosed(ctx, s.Tracker, n); err != nil || !closed {
			kept++
			if err != nil {
				return err
			}
			continue
		}
		if mine, err := s.Owners.Owns(ctx, n, path); err != nil || !mine {
			kept++
			if err != nil {
				return err
			}
			continue
		}
		gone++
		if !o.DryRun {
			if err := s.Mirror.RemoveWorktree(ctx, path); err != nil {
				return fmt.Errorf("gc: remove worktree %s: %w", path, err)
			}
		}
	}
	fmt.Fprintf(w, "  %-16s %8d -> %-8d (%d of closed issues)\n", "worktrees", len(entries), kept, gone)
	branches, err := s.Mirror.LocalBranches(ctx)
	if err != nil {
		return err
	}
	var issueBranches, deleted int
	for _, b := range branches {
		n, ok := s.BranchIssue(b)
		if ok {
			issueBranches++
		}
		if !ok || open[n] {
			continue
		}
		if closed, err := isClosed(ctx, s.Tracker, n); err != nil || !closed {
			if err != nil {
				return err
			}
			continue
		}
		if _, err := os.Stat(s.WorktreePath(n)); err == nil && !o.DryRun {
			continue // a worktree gc kept is on it
		}
		deleted++
		if !o.DryRun {
			if err := s.Mirror.DeleteBranch(ctx, b); err != nil {
				return fmt.Errorf("gc: delete branch %s: %w", b, err)
			}
		}
	}
	fmt.Fprintf(w, "  %-16s %8d -> %-8d (%d of closed issues)\n", "issue branches", issueBranches, issueBranches-deleted, deleted)
	return nil
}

func isClosed(ctx context.Context, t agentorg.Tracker, n int64) (bool, error) {
	is, err := t.Issue(ctx, n)
	if errors.Is(err, agentorg.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return is.State == agentorg.IssueClosed, nil
}
