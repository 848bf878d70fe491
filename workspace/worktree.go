package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
)

// Worktree is where one branch is worked on: a work tree the agent edits,
// with its own repository in .git for the agent's git, and the engine's
// git directory in the mirror (see tree.go) through which agentorg reads,
// commits and merges, never through the agent's repository.
type Worktree struct {
	Path, Branch string

	admin string // the engine's git directory
	m     *Mirror
}

// git runs one git command on the worktree through the engine's git
// directory.
func (w *Worktree) git(ctx context.Context, args ...string) (string, error) {
	return treeGit(ctx, w.admin, w.Path, defaultIdentity, args...)
}

// gitAs is git as who.
func (w *Worktree) gitAs(ctx context.Context, who Identity, args ...string) (string, error) {
	return treeGit(ctx, w.admin, w.Path, who, args...)
}

// publish shows the engine's state to the agent's repository.
func (w *Worktree) publish() error { return w.m.publish(w.Path, w.admin, false) }

// Head returns the SHA HEAD points to.
func (w *Worktree) Head(ctx context.Context) (string, error) {
	if _, sha, ok := w.headFromFiles(); ok && sha != "" {
		return sha, nil
	}
	out, err := w.git(ctx, "rev-parse", "--verify", "HEAD")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// Status lists the paths that are modified, staged, deleted or untracked
// (ignored files are not listed), sorted. A rename lists both names.
func (w *Worktree) Status(ctx context.Context) ([]string, error) {
	out, err := w.git(ctx, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	fields := strings.Split(out, "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		seen[f[3:]] = true
		// A rename or copy carries its source path in the next field.
		if f[0] == 'R' || f[0] == 'C' || f[1] == 'R' || f[1] == 'C' {
			if i+1 < len(fields) && fields[i+1] != "" {
				seen[fields[i+1]] = true
			}
			i++
		}
	}
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

// CommitAll stages everything in the worktree (git add -A, so ignored
// files never enter) and commits it as who with msg if anything is staged,
// on the engine's branch. The agent's own commits are not looked at: the
// commit holds the tree the agent left, on the commit the engine made
// before, so whatever the agent committed in its repository reaches the
// branch only folded into this one commit, with agentorg's identity and
// message. A merge the engine started (StartMerge) is recorded with the
// target as second parent, unless the agent gave it up (mergeAbandoned).
// It returns HEAD, and changed=false when there was nothing to commit.
func (w *Worktree) CommitAll(ctx context.Context, msg string, who Identity) (sha string, changed bool, err error) {
	sha, changed, _, err = w.CommitLeavingOut(ctx, msg, who, nil)
	return sha, changed, err
}

// CommitLeavingOut is CommitAll leaving out the new files that match one
// of junk (hygiene.Match globs: build output, logs, editors' files): they
// stay in the work tree, untracked, and leftOut names them, a directory
// whose files all went once ("node_modules/ (1200 files)"). Files already
// in the branch are kept whatever they match. The common case, no junk,
// costs no git call more than CommitAll's.
func (w *Worktree) CommitLeavingOut(ctx context.Context, msg string, who Identity, junk []string) (sha string, changed bool, leftOut []string, err error) {
	if strings.TrimSpace(msg) == "" {
		return "", false, nil, errors.New("commit: empty message")
	}
	if err := w.onBranch(ctx); err != nil {
		return "", false, nil, err
	}
	head, err := w.Head(ctx)
	if err != nil {
		return "", false, nil, err
	}
	merging := w.merging()
	if merging && mergeAbandoned(w.Path, head) {
		// As when the merge was aborted in a shared repository: the files
		// are committed as they are, without the target as a parent.
		if _, err := w.git(ctx, "merge", "--quit"); err != nil {
			return "", false, nil, err
		}
		merging = false
	}
	if _, err := w.git(ctx, "add", "-A"); err != nil {
		return "", false, nil, err
	}
	out, err := w.git(ctx, "diff-index", "--cached", "--name-status", "-z", "--no-renames", "HEAD", "--")
	if err != nil {
		return "", false, nil, err
	}
	staged := out != ""
	if junk != nil && staged {
		var paths []string
		if paths, leftOut = junkAdded(out, junk); len(paths) > 0 {
			if _, err := gitWith(ctx, w.Path, defaultIdentity, strings.NewReader(strings.Join(paths, "\x00")),
				treeArgs(w.admin, w.Path, "--literal-pathspecs", "rm", "--cached", "--quiet", "--pathspec-from-file=-", "--pathspec-file-nul")...); err != nil {
				return "", false, nil, err
			}
			staged = len(paths) < countStaged(out)
		}
	}
	// A merge in progress is committed even if its tree is HEAD's.
	if staged || merging {
		if _, err := w.gitAs(ctx, who, "commit", "--quiet", "--no-verify", "-m", msg); err != nil {
			return "", false, nil, err
		}
		if head, err = w.Head(ctx); err != nil {
			return "", false, nil, err
		}
	}
	return head, staged || merging, leftOut, w.publish()
}

// junkAdded reads `diff-index --name-status -z` and returns the files it
// adds that match junk, and their summary for people (a directory whose
// files all went, once).
func junkAdded(nameStatus string, junk []string) (paths, summary []string) {
	fields := strings.Split(nameStatus, "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "A" && hygiene.MatchAny(junk, fields[i+1]) {
			paths = append(paths, fields[i+1])
		}
	}
	return paths, summarizePaths(paths)
}

// countStaged counts the entries of `diff-index --name-status -z`.
func countStaged(nameStatus string) int {
	return strings.Count(nameStatus, "\x00") / 2
}

// summarizePaths names paths for a report: those under a top directory of
// several files as "dir/ (N files)", the others one by one, at most 20.
func summarizePaths(paths []string) []string {
	byTop := map[string]int{}
	for _, p := range paths {
		if top, _, ok := strings.Cut(p, "/"); ok {
			byTop[top]++
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		top, _, nested := strings.Cut(p, "/")
		switch {
		case nested && byTop[top] > 1:
			if !seen[top] {
				seen[top] = true
				out = append(out, fmt.Sprintf("%s/ (%d files)", top, byTop[top]))
			}
		default:
			out = append(out, p)
		}
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("and %d more", len(out)-20))
	}
	return out
}

// merging reports a merge in progress in the engine's git directory
// (StartMerge, then the agent).
func (w *Worktree) merging() bool {
	b, err := os.ReadFile(filepath.Join(w.admin, "MERGE_HEAD"))
	return err == nil && len(strings.TrimSpace(string(b))) > 0
}

// headFromFiles reads the worktree's HEAD as git stores it, in the
// engine's git directory: the branch ref it names ("" when detached) and
// the commit ("" on an unborn branch). ok is false when the files cannot
// answer for sure; the caller then asks git.
func (w *Worktree) headFromFiles() (ref, sha string, ok bool) {
	b, err := os.ReadFile(filepath.Join(w.admin, "HEAD"))
	if err != nil {
		return "", "", false
	}
	v := strings.TrimSpace(string(b))
	if isSHA(v) {
		return "", v, true
	}
	ref, found := strings.CutPrefix(v, "ref: ")
	if !found || !strings.HasPrefix(ref, "refs/heads/") {
		return "", "", false
	}
	sha, found, handled := refFromFiles(w.m.Dir, ref)
	if !handled {
		return "", "", false
	}
	if !found {
		return ref, "", true
	}
	return ref, sha, true
}

func (w *Worktree) onBranch(ctx context.Context) error {
	var out string
	if ref, _, ok := w.headFromFiles(); ok {
		out = ref
	} else {
		var err error
		out, err = w.git(ctx, "symbolic-ref", "--quiet", "HEAD")
		if err != nil && exitCode(err) != 1 {
			return err
		}
	}
	if got := strings.TrimSpace(out); got != "refs/heads/"+w.Branch {
		if got == "" {
			got = "a detached HEAD"
		}
		return fmt.Errorf("worktree %s is on %s, not on %s", w.Path, got, w.Branch)
	}
	return nil
}

// Reset puts the worktree back on its branch at sha, discarding changes and
// untracked files (ignored files stay: caches, build outputs), and the
// agent's repository back to that. It is for recovery, when nothing else
// runs in the worktree: it also clears a stale index lock and an abandoned
// rebase a killed engine may have left.
func (w *Worktree) Reset(ctx context.Context, sha string) error {
	commit, ok, err := revParse(ctx, w.m.Dir, sha)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("reset %s: no such commit", sha)
	}
	os.Remove(filepath.Join(w.admin, "index.lock"))
	for _, dir := range []string{"rebase-merge", "rebase-apply"} {
		if _, err := os.Stat(filepath.Join(w.admin, dir)); err == nil {
			if _, err := w.git(ctx, "rebase", "--quit"); err != nil {
				return err
			}
			break
		}
	}
	// Point HEAD at the branch first so that reset moves the branch, even
	// if something detached HEAD or switched away.
	if _, err := w.git(ctx, "symbolic-ref", "HEAD", "refs/heads/"+w.Branch); err != nil {
		return err
	}
	if _, err := w.git(ctx, "reset", "--hard", "--quiet", commit); err != nil {
		return err
	}
	// -ff also removes untracked nested repositories; no -x keeps ignored
	// files. The agent's .git is git's own name: clean leaves it.
	if _, err = w.git(ctx, "clean", "-ffdq"); err != nil {
		return err
	}
	return w.publish()
}

// StartMerge merges target into the worktree without committing and leaves
// any conflict markers in place, for the developer's agent to resolve; the
// next CommitAll then records the merge. It returns the conflicting files.
// A merge in progress (started before a crash) is continued. Otherwise the
// merge starts from the recorded commit from, the worktree reset to it: a
// git merge killed midway leaves files written and no MERGE_HEAD, which the
// next merge would refuse to overwrite.
func (w *Worktree) StartMerge(ctx context.Context, target, from string, who Identity) ([]string, error) {
	if err := plainArg("revision", target); err != nil {
		return nil, err
	}
	if w.merging() { // started before a crash
		if err := w.publish(); err != nil {
			return nil, err
		}
		return w.unmerged(ctx)
	}
	if err := w.Reset(ctx, from); err != nil {
		return nil, err
	}
	if _, err := w.gitAs(ctx, who, "merge", "--quiet", "--no-ff", "--no-commit", target); err != nil {
		conflicts, cerr := w.unmerged(ctx)
		if cerr != nil {
			return nil, cerr
		}
		if len(conflicts) == 0 {
			return nil, err
		}
		return conflicts, w.publish()
	}
	return nil, w.publish()
}

func (w *Worktree) unmerged(ctx context.Context) ([]string, error) {
	out, err := w.git(ctx, "diff", "--name-only", "-z", "--diff-filter=U")
	if err != nil {
		return nil, err
	}
	return splitZ(out), nil
}
