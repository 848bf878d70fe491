package workspace

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agentorg/agentorg"
)

// mergeAttempts bounds the compare-and-swap retries when the target keeps
// moving under concurrent merges.
const mergeAttempts = 8

// beforeUpdateRef, when set by a test, runs between computing a merge and
// swapping the target ref, to force a lost race deterministically.
var beforeUpdateRef func()

// MergeInto is the embedded forge's merge. It works on the origin repository
// itself (bare, or non-bare with target not checked out) with plumbing only:
//
//   - refs/heads/<source> must equal expectedHead, else agentorg.ErrHeadMoved;
//   - if expectedHead is already in target, it returns the first-parent commit
//     of target that brought it in (expectedHead itself when it was
//     fast-forwarded), so a retry after a crash merges nothing twice;
//   - otherwise it merges with merge-tree (conflicts wrap
//     agentorg.ErrConflict and name the files), commits with both parents as
//     who, and moves target with a compare-and-swap, starting over when
//     another merge moved target first.
//
// It returns the SHA of the merge.
func MergeInto(ctx context.Context, originDir, source, target, expectedHead, message string, who Identity) (string, error) {
	return MergeIntoAt(ctx, originDir, source, target, expectedHead, "", message, who)
}

// MergeIntoAt is MergeInto that merges only onto expectedTarget: when target
// is at another commit (and expectedHead is not merged yet) it returns
// agentorg.ErrTargetMoved instead of merging onto a tree nobody validated,
// and a lost compare-and-swap is that error too, not a retry. An empty
// expectedTarget is MergeInto.
func MergeIntoAt(ctx context.Context, originDir, source, target, expectedHead, expectedTarget, message string, who Identity) (string, error) {
	expectedTarget = strings.ToLower(expectedTarget)
	if expectedTarget != "" && !isSHA(expectedTarget) {
		return "", fmt.Errorf("merge %s: expected target %q is not a full commit SHA", source, expectedTarget)
	}
	if err := checkBranch(ctx, source); err != nil {
		return "", err
	}
	if err := checkBranch(ctx, target); err != nil {
		return "", err
	}
	expectedHead = strings.ToLower(expectedHead)
	if !isSHA(expectedHead) {
		return "", fmt.Errorf("merge %s: expected head %q is not a full commit SHA", source, expectedHead)
	}
	if strings.TrimSpace(message) == "" {
		message = fmt.Sprintf("Merge branch '%s' into %s", source, target)
	}
	var lastErr error
	for attempt := 0; attempt < mergeAttempts; attempt++ {
		if attempt > 0 {
			// Back off with jitter so racing mergers do not collide again.
			d := time.Duration(10<<min(attempt, 5))*time.Millisecond + rand.N(20*time.Millisecond)
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(d):
			}
		}
		sha, retry, err := mergeOnce(ctx, originDir, source, target, expectedHead, expectedTarget, message, who)
		if !retry {
			return sha, err
		}
		lastErr = err
	}
	return "", fmt.Errorf("merge %s into %s: target kept moving after %d attempts: %w", source, target, mergeAttempts, lastErr)
}

// mergeOnce makes one attempt; retry reports a lost compare-and-swap.
func mergeOnce(ctx context.Context, dir, source, target, expected, expectedTarget, message string, who Identity) (sha string, retry bool, err error) {
	head, ok, err := revParse(ctx, dir, "refs/heads/"+source)
	if err != nil {
		return "", false, err
	}
	tip, tipOK, err := revParse(ctx, dir, "refs/heads/"+target)
	if err != nil {
		return "", false, err
	}
	if !tipOK {
		return "", false, fmt.Errorf("merge into %s: target branch: %w", target, agentorg.ErrNotFound)
	}
	// Is expected in tip already (a retry after a crash, or merged by hand)?
	// When the caller validated this very target and the branch is where
	// it was, the merge itself tells (see below): no need to ask git first.
	guarded := ok && head == expected && expectedTarget != "" && tip == expectedTarget
	merged := false
	if !guarded {
		if merged, err = isAncestor(ctx, dir, expected, tip); err != nil {
			return "", false, err
		}
	}
	switch {
	case ok && head != expected:
		return "", false, fmt.Errorf("merge %s: head is %s, expected %s: %w", source, head, expected, agentorg.ErrHeadMoved)
	case !ok && !merged:
		return "", false, fmt.Errorf("merge %s: branch is gone, expected %s: %w", source, expected, agentorg.ErrHeadMoved)
	case merged:
		// Done before (or a source branch deleted after merging).
		sha, err := mergedAlready(ctx, dir, who, source, tip, expected, ok)
		return sha, false, err
	case expectedTarget != "" && tip != expectedTarget:
		return "", false, fmt.Errorf("merge %s into %s: %s is at %s, expected %s: %w", source, target, target, tip, expectedTarget, agentorg.ErrTargetMoved)
	}

	out, err := git(ctx, dir, "merge-tree", "--write-tree", "-z", "--name-only", tip, expected)
	if err != nil {
		if exitCode(err) == 1 {
			return "", false, fmt.Errorf("merge %s into %s: %w in %s", source, target, agentorg.ErrConflict, strings.Join(conflictFiles(out), ", "))
		}
		return "", false, err
	}
	tree := strings.TrimSpace(strings.SplitN(out, "\x00", 2)[0])
	if guarded {
		// A merge of something tip already holds changes nothing; so only
		// a merge that changes nothing needs the ancestry asked.
		if tipTree, ok := looseCommitTree(dir, tip); !ok || tipTree == tree {
			if merged, err = isAncestor(ctx, dir, expected, tip); err != nil {
				return "", false, err
			}
			if merged {
				sha, err := mergedAlready(ctx, dir, who, source, tip, expected, true)
				return sha, false, err
			}
		}
	}
	out, err = gitWith(ctx, dir, who, nil, "commit-tree", tree, "-p", tip, "-p", expected, "-m", message)
	if err != nil {
		return "", false, err
	}
	commit := strings.TrimSpace(out)
	if err := moveTarget(ctx, dir, who, source, target, expected, tip, commit, message); err != nil {
		if errors.Is(err, agentorg.ErrTargetBusy) {
			return "", false, err
		}
		// Another merge moved target (or holds its lock): start over,
		// unless the caller validated this very target.
		if expectedTarget != "" {
			return "", false, fmt.Errorf("merge %s into %s: %w (%v)", source, target, agentorg.ErrTargetMoved, err)
		}
		return "", true, err
	}
	return commit, false, nil
}

// moveTarget moves target from tip to the merge commit in one transaction (a
// compare-and-swap) that, like a forge's "delete source branch", also
// deletes the merged branch if it still points at what was merged: a merged
// branch only slows every later fetch and push. When target is checked out
// in a working tree of dir, that working tree follows (see TargetCheckout);
// when it cannot, the error wraps agentorg.ErrTargetBusy and nothing moves.
func moveTarget(ctx context.Context, dir string, who Identity, source, target, head, tip, commit, message string) error {
	wt, err := TargetCheckout(ctx, dir, target)
	if err != nil {
		return err
	}
	undo := func() error { return nil }
	if wt != "" {
		if undo, err = follow(ctx, wt, target, tip, commit); err != nil {
			return err
		}
	}
	if beforeUpdateRef != nil {
		beforeUpdateRef()
	}
	tx := fmt.Sprintf("update refs/heads/%s %s %s\ndelete refs/heads/%s %s\n", target, commit, tip, source, head)
	if _, err := gitWith(ctx, dir, who, strings.NewReader(tx), "update-ref", "-m", "agentorg: "+firstLine(message), "--stdin"); err != nil {
		return errors.Join(err, undo())
	}
	// Every merge walks the target's history (merge-base, merge-tree); a
	// commit-graph keeps that walk short as history grows, as a forge does.
	// Incremental (--split, from the new commit only: --reachable would
	// visit every ref) and best effort: the merge already happened.
	// Every few merges: the commits since the last write are reachable from
	// this one, so the graph catches up whole.
	if mergesSinceGraph.Add(1)%graphEvery == 1 {
		gitWith(ctx, dir, who, strings.NewReader(commit+"\n"), "commit-graph", "write", "--split", "--stdin-commits", "--no-progress")
	}
	return nil
}

// graphEvery is how many merges share one commit-graph write.
const graphEvery = 8

var mergesSinceGraph atomic.Int64

// mayHaveWorktrees reports whether a repository may have a branch checked
// out: it is not bare, or it has linked worktrees. From files; when unsure,
// true.
func mayHaveWorktrees(dir string) bool {
	if fi, err := os.Stat(filepath.Join(dir, "objects")); err != nil || !fi.IsDir() {
		return true // not bare: its own work tree has a branch checked out
	}
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		return true
	}
	_, err := os.Stat(filepath.Join(dir, "worktrees"))
	return !errors.Is(err, os.ErrNotExist)
}

// firstLine is a reflog message: one line.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func isAncestor(ctx context.Context, dir, a, b string) (bool, error) {
	_, err := git(ctx, dir, "merge-base", "--is-ancestor", a, b)
	if err == nil {
		return true, nil
	}
	if exitCode(err) == 1 {
		return false, nil
	}
	return false, err
}

// mergedAlready answers a merge of head, which tip already holds: the
// commit that brought it in (mergedBy). When the source branch is still
// there (merged by someone who left it), it is deleted as a merge here
// would, only if it still points at head; best effort.
func mergedAlready(ctx context.Context, dir string, who Identity, source, tip, head string, sourceThere bool) (string, error) {
	sha, err := mergedBy(ctx, dir, tip, head)
	if err == nil && sourceThere {
		gitWith(ctx, dir, who, nil, "update-ref", "-d", "refs/heads/"+source, head)
	}
	return sha, err
}

// mergedBy returns the commit on tip's first-parent history that brought
// expected in: the oldest one of that history that contains it. When expected
// itself lies on that history (a fast-forward), it is the answer.
func mergedBy(ctx context.Context, dir, tip, expected string) (string, error) {
	// The first-parent history newest first, down to where it reaches expected's ancestors.
	chainOut, err := git(ctx, dir, "rev-list", "--first-parent", "--parents", tip, "^"+expected, "--")
	if err != nil {
		return "", err
	}
	descOut, err := git(ctx, dir, "rev-list", "--ancestry-path", expected+".."+tip, "--")
	if err != nil {
		return "", err
	}
	desc := map[string]bool{}
	for _, c := range strings.Fields(descOut) {
		desc[c] = true
	}
	lines := strings.Split(strings.TrimSpace(chainOut), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) == 0 || !desc[f[0]] {
			continue
		}
		if len(f) > 1 && f[1] == expected {
			return expected, nil // fast-forwarded onto the first-parent history
		}
		return f[0], nil
	}
	return tip, nil // tip is expected itself
}

// conflictFiles reads the conflicted paths from `merge-tree -z --name-only`
// output: the tree, then paths up to an empty field, then messages.
func conflictFiles(out string) []string {
	fields := strings.Split(out, "\x00")
	var files []string
	for _, f := range fields[min(1, len(fields)):] {
		if f == "" {
			break
		}
		files = append(files, f)
	}
	return files
}

// MergeCommit merges head into tip in the mirror with plumbing only, as the
// embedded forge's merge does (merge-tree, then a commit with tip and head
// as parents), and touches no ref. A merge train builds its combination this
// way: merging the same heads in the same order on the forge yields the same
// trees. Conflicts are returned as the conflicting paths, with no commit.
func (m *Mirror) MergeCommit(ctx context.Context, tip, head, message string, who Identity) (commit string, conflicts []string, err error) {
	if err := plainArg("revision", tip); err != nil {
		return "", nil, err
	}
	if err := plainArg("revision", head); err != nil {
		return "", nil, err
	}
	out, err := git(ctx, m.Dir, "merge-tree", "--write-tree", "-z", "--name-only", tip, head)
	if err != nil {
		// merge-tree exits 1 on conflicts, and on a commit it does not
		// have ("not something we can merge"): only files are conflicts.
		if files := conflictFiles(out); exitCode(err) == 1 && len(files) > 0 {
			return "", files, nil
		}
		return "", nil, err
	}
	tree := strings.TrimSpace(strings.SplitN(out, "\x00", 2)[0])
	out, err = gitWith(ctx, m.Dir, who, nil, "commit-tree", tree, "-p", tip, "-p", head, "-m", message)
	if err != nil {
		return "", nil, err
	}
	return strings.TrimSpace(out), nil, nil
}
