package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg"
)

// A user's own repository is the embedded forge's origin when the workflow
// says repo.url ".", and its target branch is usually checked out there.
// A merge then does what git's receive.denyCurrentBranch=updateInstead does
// for a push: when that working tree is clean, it follows the branch (index
// and files move with it); when it is not, the merge waits and says why.

// BusyError says why the working tree that holds a branch cannot follow a
// merge into it. It wraps agentorg.ErrTargetBusy.
type BusyError struct {
	Branch string
	Path   string   // the working tree
	Why    string   // "has uncommitted changes", "is in the middle of a rebase", ...
	Files  []string // the files concerned, when there are any (at most a few)
}

func (e *BusyError) Error() string {
	msg := fmt.Sprintf("%s is checked out in %s, which %s", e.Branch, e.Path, e.Why)
	if len(e.Files) > 0 {
		msg += " (" + strings.Join(e.Files, ", ") + ")"
	}
	return msg + "; a merge into " + e.Branch + " carries that working tree along, so it must be clean, with nothing under way: commit or stash the changes, or finish the operation"
}

func (e *BusyError) Unwrap() error { return agentorg.ErrTargetBusy }

// busyFilesMax bounds the files a BusyError names.
const busyFilesMax = 5

// inProgress are the files of a git directory that say an operation is
// under way there, and what to call it.
var inProgress = []struct{ file, what string }{
	{"MERGE_HEAD", "is in the middle of a merge"},
	{"CHERRY_PICK_HEAD", "is in the middle of a cherry-pick"},
	{"REVERT_HEAD", "is in the middle of a revert"},
	{"rebase-merge", "is in the middle of a rebase"},
	{"rebase-apply", "is in the middle of a rebase or git am"},
	{"BISECT_LOG", "is in the middle of a bisect"},
}

// TargetCheckout says where branch of the local repository dir is checked
// out and whether that working tree can follow a merge into it. It returns
// "" when the branch is checked out nowhere (a bare repository, or other
// branches checked out), the working tree's path when it is clean, and a
// *BusyError when it has uncommitted changes to tracked files or an
// operation (merge, rebase, cherry-pick, bisect) is under way there.
// Untracked files do not count, as for updateInstead; a merge that would
// overwrite one is refused when it is made.
func TargetCheckout(ctx context.Context, dir, branch string) (string, error) {
	if !mayHaveWorktrees(dir) {
		return "", nil
	}
	wts, err := listWorktrees(ctx, dir)
	if err != nil {
		return "", err
	}
	ref := "refs/heads/" + branch
	path := ""
	for _, e := range wts {
		if e.bare || e.prunable {
			continue
		}
		if e.branch == ref {
			path = e.path
			if err := canFollow(ctx, e.path, branch); err != nil {
				return "", err
			}
			continue
		}
		// A rebase or bisect detaches HEAD: the branch is not "checked
		// out" there, but it will be written when the operation ends.
		if e.branch == "" {
			if err := notRebasing(ctx, e.path, ref, branch); err != nil {
				return "", err
			}
		}
	}
	return path, nil
}

// canFollow checks the working tree at path that holds branch.
func canFollow(ctx context.Context, path, branch string) error {
	gitDir, err := absGitDir(ctx, path)
	if err != nil {
		return err
	}
	for _, p := range inProgress {
		if _, err := os.Stat(filepath.Join(gitDir, p.file)); err == nil {
			return &BusyError{Branch: branch, Path: path, Why: p.what}
		}
	}
	out, err := git(ctx, path, "status", "--porcelain=v1", "-z", "--untracked-files=no")
	if err != nil {
		return err
	}
	var files []string
	n := 0
	fields := strings.Split(out, "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		// "XY path"; a rename or copy is followed by its source path.
		if f[0] == 'R' || f[0] == 'C' || f[1] == 'R' || f[1] == 'C' {
			i++
		}
		n++
		if len(files) < busyFilesMax {
			files = append(files, f[3:])
		}
	}
	if n == 0 {
		return nil
	}
	if n > len(files) {
		files = append(files, fmt.Sprintf("and %d more", n-len(files)))
	}
	return &BusyError{Branch: branch, Path: path, Why: "has uncommitted changes", Files: files}
}

// notRebasing checks that the detached working tree at path is not in the
// middle of rebasing ref (or bisecting from it).
func notRebasing(ctx context.Context, path, ref, branch string) error {
	gitDir, err := absGitDir(ctx, path)
	if err != nil {
		return err
	}
	for _, f := range []string{"rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START"} {
		b, err := os.ReadFile(filepath.Join(gitDir, f))
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(b))
		if name == ref || name == branch {
			what := "is in the middle of rebasing it"
			if f == "BISECT_START" {
				what = "is in the middle of a bisect that started from it"
			}
			return &BusyError{Branch: branch, Path: path, Why: what}
		}
	}
	return nil
}

func absGitDir(ctx context.Context, path string) (string, error) {
	out, err := git(ctx, path, "rev-parse", "--absolute-git-dir")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// follow moves the index and files of the clean working tree at path from
// commit from to commit to, as checking out to would; a file the move
// would overwrite (untracked, or changed since the tree was found clean)
// stops it with nothing changed. The caller then moves the branch; undo
// takes the working tree back should that fail.
func follow(ctx context.Context, path, branch, from, to string) (undo func() error, err error) {
	if _, err := git(ctx, path, "read-tree", "-u", "-m", from, to); err != nil {
		var ge *gitError
		why := err.Error()
		if errors.As(err, &ge) && strings.TrimSpace(ge.stderr) != "" {
			why = strings.TrimSpace(ge.stderr)
		}
		return nil, &BusyError{Branch: branch, Path: path, Why: "cannot be brought to the merge: " + firstLine(why)}
	}
	return func() error {
		_, err := git(context.WithoutCancel(ctx), path, "read-tree", "-u", "-m", to, from)
		if err != nil {
			return fmt.Errorf("the working tree %s was brought to %s but %s stayed at %s, and taking it back failed (run `git -C %s read-tree -u --reset %s` there): %w",
				path, to, branch, from, path, from, err)
		}
		return nil
	}, nil
}

// CheckLocalTarget says whether the local repository dir can be the
// embedded forge's origin for target: it is a git repository, target is
// one of its branches (the error lists the others), and where target is
// checked out, that working tree can follow a merge (a *BusyError when not).
func CheckLocalTarget(ctx context.Context, dir, target string) error {
	if _, err := git(ctx, dir, "rev-parse", "--git-dir"); err != nil {
		return fmt.Errorf("%s is not a git repository (repo.url): %w", dir, err)
	}
	if err := checkBranch(ctx, target); err != nil {
		return err
	}
	if _, ok, err := revParse(ctx, dir, "refs/heads/"+target); err != nil {
		return err
	} else if !ok {
		out, err := git(ctx, dir, "for-each-ref", "--format=%(refname:short)", "--count=10", "refs/heads/")
		if err != nil {
			return err
		}
		have := strings.Fields(out)
		if len(have) == 0 {
			return fmt.Errorf("%s has no branch yet (no commit): commit something, then set repo.target_branch to that branch", dir)
		}
		return fmt.Errorf("the target branch %q does not exist in %s (its branches: %s): set repo.target_branch in the workflow", target, dir, strings.Join(have, ", "))
	}
	_, err := TargetCheckout(ctx, dir, target)
	return err
}

// wtEntry is one record of `git worktree list --porcelain`.
type wtEntry struct {
	path, head, branch string
	bare, locked       bool
	prunable           bool
	lockReason         string
}

func listWorktrees(ctx context.Context, dir string) ([]wtEntry, error) {
	out, err := git(ctx, dir, "worktree", "list", "--porcelain", "-z")
	if err != nil {
		return nil, err
	}
	var list []wtEntry
	var cur *wtEntry
	for _, f := range strings.Split(out, "\x00") {
		if f == "" {
			cur = nil
			continue
		}
		key, val, _ := strings.Cut(f, " ")
		if key == "worktree" {
			list = append(list, wtEntry{path: val})
			cur = &list[len(list)-1]
			continue
		}
		if cur == nil {
			continue
		}
		switch key {
		case "HEAD":
			cur.head = val
		case "branch":
			cur.branch = val
		case "bare":
			cur.bare = true
		case "locked":
			cur.locked, cur.lockReason = true, val
		case "prunable":
			cur.prunable = true
		}
	}
	return list, nil
}
