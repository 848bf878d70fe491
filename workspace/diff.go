package workspace

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
)

// AddedLines returns every line added by each commit in from..to (not just
// the net diff: pushing a branch pushes its whole history).
func (m *Mirror) AddedLines(ctx context.Context, from, to string) ([]hygiene.Added, error) {
	if err := revArgs(from, to); err != nil {
		return nil, err
	}
	out, err := git(ctx, m.Dir, append(append([]string{"log", "-p", "-U0", "--no-merges", "--format=%x01%H"}, diffOptions...), from+".."+to, "--")...)
	if err != nil {
		return nil, err
	}
	// Each commit's patch follows its "\x01<sha>" line; no line of a
	// patch starts with \x01 (each has its prefix: +, -, space, \).
	var added []hygiene.Added
	for _, part := range strings.Split(out, "\n\x01") {
		part = strings.TrimPrefix(part, "\x01")
		commit, patch, _ := strings.Cut(part, "\n")
		_, a := parseDiff(patch, commit)
		added = append(added, a...)
	}
	return added, nil
}

// diffOptions make a diff read the same whatever the user's git config
// says, since it is parsed (parseDiff): no color, no renames, the a/ and b/
// prefixes, paths from the top, no external or converted diff.
var diffOptions = []string{"--no-color", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-relative", "--src-prefix=a/", "--dst-prefix=b/"}

// Diff returns the unified diff between two commits.
func (m *Mirror) Diff(ctx context.Context, from, to string) (string, error) {
	if err := revArgs(from, to); err != nil {
		return "", err
	}
	return git(ctx, m.Dir, append(append([]string{"diff"}, diffOptions...), from, to, "--")...)
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
