package workspace

import (
	"context"
	"fmt"
	"strings"
)

// What agentorg pushes for a change is one commit it writes itself: the
// validated tree, on top of the target, with agentorg's identity and
// message. The branch in the mirror keeps the developer's attempts
// (and their merges of the target, which resolve conflicts) as they were;
// no attempt's intermediate state (a file added then deleted, a secret
// removed later) reaches any branch on the origin, and a conflict resolved
// by a merge stays resolved whatever the target does next, since nothing
// is ever rebased.

// Squash writes the commit to push for the work at work onto target: its
// tree is work's when work already contains target, else the merge of the
// two (git's merge-tree, the merge base found as git finds it), and its one
// parent is target. It returns the conflicting paths, and no commit, when
// they do not merge. The commit's dates are work's committer date, so that
// the same work on the same target always gives the same commit (a crash
// and a retry agree on it).
func (m *Mirror) Squash(ctx context.Context, target, work, message string, who Identity) (commit string, conflicts []string, err error) {
	if err := revArgs(target, work); err != nil {
		return "", nil, err
	}
	tree := ""
	if contains, err := m.IsAncestor(ctx, target, work); err != nil {
		return "", nil, err
	} else if contains {
		if tree, err = m.Tree(ctx, work); err != nil {
			return "", nil, err
		}
	} else {
		out, err := git(ctx, m.Dir, "merge-tree", "--write-tree", "-z", "--name-only", target, work)
		if err != nil {
			if exitCode(err) == 1 {
				return "", conflictFiles(out), nil
			}
			return "", nil, err
		}
		tree = strings.TrimSpace(strings.SplitN(out, "\x00", 2)[0])
	}
	date, err := git(ctx, m.Dir, "show", "-s", "--format=%cI", work, "--")
	if err != nil {
		return "", nil, err
	}
	date = strings.TrimSpace(date)
	out, err := gitRun(ctx, m.Dir, who, nil, []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}, nil,
		"commit-tree", tree, "-p", target, "-m", message)
	if err != nil {
		return "", nil, fmt.Errorf("squash %s onto %s: %w", work, target, err)
	}
	return strings.TrimSpace(out), nil, nil
}
