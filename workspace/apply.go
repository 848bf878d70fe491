package workspace

import (
	"context"
	"fmt"
	"strings"
)

// ApplyChange writes a commit on tip that makes the change from commit
// from to commit to, as a three-way merge with from as the base: with
// from = C^1 and to = C it picks C onto tip, with from = C and to = C^1 it
// reverts C. Plumbing only (merge-tree sees the base through two throwaway
// commits that have it as their one parent), so no worktree or ref is
// touched. The commit's dates are tip's committer date, so that the same
// change on the same tip always gives the same commit (a crash and a retry
// agree on it). Conflicts are returned as the conflicting paths, with no
// commit.
func (m *Mirror) ApplyChange(ctx context.Context, tip, from, to, message string, who Identity) (commit string, conflicts []string, err error) {
	if err := revArgs(tip, from, to); err != nil {
		return "", nil, err
	}
	date, err := git(ctx, m.Dir, "show", "-s", "--format=%cI", tip, "--")
	if err != nil {
		return "", nil, err
	}
	env := []string{"GIT_AUTHOR_DATE=" + strings.TrimSpace(date), "GIT_COMMITTER_DATE=" + strings.TrimSpace(date)}
	tree := func(rev string) (string, error) { return m.Tree(ctx, rev) }
	write := func(tree string, parents ...string) (string, error) {
		args := []string{"commit-tree", tree}
		for _, p := range parents {
			args = append(args, "-p", p)
		}
		out, err := gitRun(ctx, m.Dir, who, nil, env, nil, append(args, "-m", message)...)
		return strings.TrimSpace(out), err
	}
	var trees [3]string
	for i, rev := range []string{from, tip, to} {
		if trees[i], err = tree(rev); err != nil {
			return "", nil, err
		}
	}
	base, err := write(trees[0])
	if err != nil {
		return "", nil, err
	}
	ours, err := write(trees[1], base)
	if err != nil {
		return "", nil, err
	}
	theirs, err := write(trees[2], base)
	if err != nil {
		return "", nil, err
	}
	out, err := git(ctx, m.Dir, "merge-tree", "--write-tree", "-z", "--name-only", ours, theirs)
	if err != nil {
		if exitCode(err) == 1 {
			return "", conflictFiles(out), nil
		}
		return "", nil, err
	}
	merged := strings.TrimSpace(strings.SplitN(out, "\x00", 2)[0])
	if commit, err = write(merged, tip); err != nil {
		return "", nil, fmt.Errorf("apply %s..%s onto %s: %w", from, to, tip, err)
	}
	return commit, nil, nil
}

// FirstParents lists head and its first-parent ancestors, newest first, at
// most max of them: the target branch's own history, one commit per merge.
func (m *Mirror) FirstParents(ctx context.Context, head string, max int) ([]string, error) {
	if err := revArgs(head); err != nil {
		return nil, err
	}
	out, err := git(ctx, m.Dir, "rev-list", "--first-parent", fmt.Sprintf("--max-count=%d", max), head, "--")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// Parents lists a commit's parents, first parent first.
func (m *Mirror) Parents(ctx context.Context, commit string) ([]string, error) {
	if err := revArgs(commit); err != nil {
		return nil, err
	}
	out, err := git(ctx, m.Dir, "rev-list", "--parents", "-n", "1", commit, "--")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		return nil, fmt.Errorf("commit %s: not found", commit)
	}
	return f[1:], nil
}
