package workspace

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
)

// Numstat lists the files that differ between two commits with their added
// and deleted lines; binary files are marked, as git sees them.
func (m *Mirror) Numstat(ctx context.Context, from, to string) ([]hygiene.Change, error) {
	if err := revArgs(from, to); err != nil {
		return nil, err
	}
	out, err := git(ctx, m.Dir, "diff", "--numstat", "-z", "--no-renames", "--no-color", from, to, "--")
	if err != nil {
		return nil, err
	}
	var cs []hygiene.Change
	for _, rec := range splitZ(out) {
		f := strings.SplitN(rec, "\t", 3)
		if len(f) != 3 {
			continue
		}
		c := hygiene.Change{Path: f[2]}
		if f[0] == "-" && f[1] == "-" {
			c.Binary = true
		} else {
			c.Added, _ = strconv.Atoi(f[0])
			c.Deleted, _ = strconv.Atoi(f[1])
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// AddedLines returns every line added by each commit in from..to (not just
// the net diff: pushing a branch pushes its whole history).
func (m *Mirror) AddedLines(ctx context.Context, from, to string) ([]hygiene.Added, error) {
	if err := revArgs(from, to); err != nil {
		return nil, err
	}
	out, err := git(ctx, m.Dir, "log", "-p", "-U0", "--no-color", "--no-renames", "--no-merges", "--format=%x01%H", from+".."+to, "--")
	if err != nil {
		return nil, err
	}
	var added []hygiene.Added
	var commit, path string
	line := 0
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "\x01"):
			commit, path = l[1:], ""
		case strings.HasPrefix(l, "+++ "):
			path = strings.TrimPrefix(strings.TrimPrefix(l, "+++ "), "b/")
		case strings.HasPrefix(l, "@@ "):
			// @@ -a,b +c,d @@: added lines start at c.
			if i := strings.Index(l, " +"); i >= 0 {
				f := strings.FieldsFunc(l[i+2:], func(r rune) bool { return r == ',' || r == ' ' })
				if len(f) > 0 {
					line, _ = strconv.Atoi(f[0])
				}
			}
		case strings.HasPrefix(l, "+") && path != "" && path != "/dev/null":
			added = append(added, hygiene.Added{Commit: commit, Path: path, Line: line, Text: l[1:]})
			line++
		}
	}
	return added, nil
}

// Diff returns the unified diff between two commits.
func (m *Mirror) Diff(ctx context.Context, from, to string) (string, error) {
	if err := revArgs(from, to); err != nil {
		return "", err
	}
	return git(ctx, m.Dir, "diff", "--no-color", "--no-renames", from, to, "--")
}

// Tree returns the tree a commit records: two commits with the same tree
// hold the same files, so a check's result on one holds for the other.
func (m *Mirror) Tree(ctx context.Context, commit string) (string, error) {
	if err := revArgs(commit); err != nil {
		return "", err
	}
	// A commit the developer just made is a loose object: read it.
	if tree, ok := looseCommitTree(m.Dir, strings.ToLower(commit)); ok {
		return tree, nil
	}
	out, err := git(ctx, m.Dir, "rev-parse", "--verify", "--quiet", commit+"^{tree}")
	if err != nil {
		return "", fmt.Errorf("tree of %s: %w", commit, err)
	}
	return strings.TrimSpace(out), nil
}

// MergeBase returns the best common ancestor of two commits: what a change
// on b was made from, when a is the target it goes into.
func (m *Mirror) MergeBase(ctx context.Context, a, b string) (string, error) {
	if err := revArgs(a, b); err != nil {
		return "", err
	}
	out, err := git(ctx, m.Dir, "merge-base", a, b)
	return strings.TrimSpace(out), err
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) b.
func (m *Mirror) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	if err := revArgs(a, b); err != nil {
		return false, err
	}
	// The common case, a branch one commit ahead of the target it was
	// validated on, is answered from the commit's file.
	if a == b && looseCommit(m.Dir, b) {
		return true, nil
	}
	if _, parents, ok := looseCommitHeader(m.Dir, b); ok && slices.Contains(parents, a) && isSHA(a) {
		return true, nil
	}
	return isAncestor(ctx, m.Dir, a, b)
}

func revArgs(revs ...string) error {
	for _, r := range revs {
		if err := plainArg("revision", r); err != nil {
			return err
		}
	}
	return nil
}
