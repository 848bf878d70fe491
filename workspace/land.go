package workspace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg"
)

// LandMerge is the embedded forge's merge of a merge commit the caller
// built and validated (a merge train's), for a forge that must land what
// was validated, not a rebuild of it. It works on the origin repository,
// which must already hold commit's objects (Mirror.SendObjects):
//
//   - commit's parents must be exactly expectedTarget and expectedHead, in
//     that order, else an error: it would not be the merge of that request;
//   - refs/heads/<source> must equal expectedHead (agentorg.ErrHeadMoved);
//   - target must be at expectedTarget (agentorg.ErrTargetMoved);
//   - then target moves to commit and the source branch is deleted, in one
//     compare-and-swap transaction.
//
// When expectedHead is in target already (landed before a crash, or merged
// by hand), it returns the commit that brought it in and lands nothing, as
// MergeInto does.
func LandMerge(ctx context.Context, originDir, source, target, expectedHead, expectedTarget, commit, message string, who Identity) (string, error) {
	if err := checkBranch(ctx, source); err != nil {
		return "", err
	}
	if err := checkBranch(ctx, target); err != nil {
		return "", err
	}
	expectedHead, expectedTarget, commit = strings.ToLower(expectedHead), strings.ToLower(expectedTarget), strings.ToLower(commit)
	for _, s := range []string{expectedHead, expectedTarget, commit} {
		if !isSHA(s) {
			return "", fmt.Errorf("land %s into %s: %q is not a full commit SHA", source, target, s)
		}
	}
	parents, err := commitParents(ctx, originDir, commit)
	if err != nil {
		return "", fmt.Errorf("land %s into %s: %w", source, target, err)
	}
	if !slices.Equal(parents, []string{expectedTarget, expectedHead}) {
		return "", fmt.Errorf("land %s into %s: %s is not a merge of %s onto %s (its parents are %s)",
			source, target, commit, expectedHead, expectedTarget, strings.Join(parents, ", "))
	}
	head, ok, err := revParse(ctx, originDir, "refs/heads/"+source)
	if err != nil {
		return "", err
	}
	tip, tipOK, err := revParse(ctx, originDir, "refs/heads/"+target)
	if err != nil {
		return "", err
	}
	if !tipOK {
		return "", fmt.Errorf("land %s into %s: target branch: %w", source, target, agentorg.ErrNotFound)
	}
	// Merged already (landed before a crash, or by hand)? Asked only when
	// something is not as validated, or when landing would change nothing.
	guarded := ok && head == expectedHead && tip == expectedTarget
	if !guarded || !treesDiffer(originDir, commit, tip) {
		merged, err := isAncestor(ctx, originDir, expectedHead, tip)
		if err != nil {
			return "", err
		}
		if merged {
			return mergedAlready(ctx, originDir, who, source, tip, expectedHead, ok && head == expectedHead)
		}
	}
	switch {
	case !ok:
		return "", fmt.Errorf("land %s: branch is gone, expected %s: %w", source, expectedHead, agentorg.ErrHeadMoved)
	case head != expectedHead:
		return "", fmt.Errorf("land %s: head is %s, expected %s: %w", source, head, expectedHead, agentorg.ErrHeadMoved)
	case tip != expectedTarget:
		return "", fmt.Errorf("land %s into %s: %s is at %s, expected %s: %w", source, target, target, tip, expectedTarget, agentorg.ErrTargetMoved)
	}
	if err := moveTarget(ctx, originDir, who, source, target, expectedHead, tip, commit, message); err != nil {
		if errors.Is(err, agentorg.ErrTargetBusy) {
			return "", err
		}
		return "", fmt.Errorf("land %s into %s: %w (%v)", source, target, agentorg.ErrTargetMoved, err)
	}
	return commit, nil
}

// treesDiffer reports, from loose objects, that two commits hold different
// trees; false when they hold the same or it cannot tell.
func treesDiffer(dir, a, b string) bool {
	ta, okA := looseCommitTree(dir, a)
	tb, okB := looseCommitTree(dir, b)
	return okA && okB && ta != tb
}

// commitParents returns a commit's parents, from its loose object when it
// is one, else from git.
func commitParents(ctx context.Context, dir, commit string) ([]string, error) {
	if _, parents, ok := looseCommitHeader(dir, commit); ok {
		return parents, nil
	}
	out, err := git(ctx, dir, "rev-list", "--parents", "-n", "1", commit, "--")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	if len(f) == 0 || f[0] != commit {
		return nil, fmt.Errorf("no commit %s", commit)
	}
	return f[1:], nil
}
