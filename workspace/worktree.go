package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Worktree is a worktree of the mirror where one branch is worked on.
type Worktree struct {
	Path, Branch string

	m *Mirror
}

// Head returns the SHA HEAD points to.
func (w *Worktree) Head(ctx context.Context) (string, error) {
	if _, sha, ok := w.headFromFiles(); ok && sha != "" {
		return sha, nil
	}
	out, err := git(ctx, w.Path, "rev-parse", "--verify", "HEAD")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// Status lists the paths that are modified, staged, deleted or untracked
// (ignored files are not listed), sorted. A rename lists both names.
func (w *Worktree) Status(ctx context.Context) ([]string, error) {
	out, err := git(ctx, w.Path, "status", "--porcelain=v1", "-z", "--untracked-files=all")
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

// CommitAll stages everything the agent changed (git add -A, so ignored files
// never enter) and commits it as who if anything is staged. It returns HEAD,
// and changed=false when there was nothing to commit.
func (w *Worktree) CommitAll(ctx context.Context, msg string, who Identity) (sha string, changed bool, err error) {
	if strings.TrimSpace(msg) == "" {
		return "", false, errors.New("commit: empty message")
	}
	// An agent that switched branches must not have its commit land
	// somewhere nobody looks.
	if err := w.onBranch(ctx); err != nil {
		return "", false, err
	}
	if _, err := git(ctx, w.Path, "add", "-A"); err != nil {
		return "", false, err
	}
	_, err = git(ctx, w.Path, "diff-index", "--cached", "--quiet", "HEAD", "--")
	staged := exitCode(err) == 1 // 1 means staged changes
	if err != nil && !staged {
		return "", false, err
	}
	// A merge in progress (StartMerge) is committed even if its tree is HEAD's.
	if !staged && !w.merging(ctx) {
		sha, err := w.Head(ctx)
		return sha, false, err
	}
	if _, err := gitWith(ctx, w.Path, who, nil, "commit", "--quiet", "--no-verify", "-m", msg); err != nil {
		return "", false, err
	}
	sha, err = w.Head(ctx)
	return sha, err == nil, err
}

// merging reports a merge in progress (StartMerge, then the agent).
func (w *Worktree) merging(ctx context.Context) bool {
	_, ok, err := revParse(ctx, w.Path, "MERGE_HEAD")
	return err == nil && ok
}

// headFromFiles reads the worktree's HEAD as git stores it, in its
// registration in the mirror: the branch ref it names ("" when detached)
// and the commit ("" on an unborn branch). ok is false when the files
// cannot answer for sure; the caller then asks git.
func (w *Worktree) headFromFiles() (ref, sha string, ok bool) {
	if w.m == nil {
		return "", "", false
	}
	admin, ok := w.m.registration(w.Path)
	if !ok {
		return "", "", false
	}
	b, err := os.ReadFile(filepath.Join(admin, "HEAD"))
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
		out, err = git(ctx, w.Path, "symbolic-ref", "--quiet", "HEAD")
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
// untracked files (ignored files stay: caches, build outputs). It is for
// recovery, when nothing else runs in the worktree: it also clears a stale
// index lock and an abandoned rebase a killed agent may have left.
func (w *Worktree) Reset(ctx context.Context, sha string) error {
	commit, ok, err := revParse(ctx, w.Path, sha)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("reset %s: no such commit", sha)
	}
	if p, err := w.gitPath(ctx, "index.lock"); err == nil {
		os.Remove(p)
	}
	for _, dir := range []string{"rebase-merge", "rebase-apply"} {
		if p, err := w.gitPath(ctx, dir); err == nil {
			if _, err := os.Stat(p); err == nil {
				if _, err := git(ctx, w.Path, "rebase", "--quit"); err != nil {
					return err
				}
				break
			}
		}
	}
	// Point HEAD at the branch first so that reset moves the branch, even
	// if the agent detached HEAD or switched away.
	if _, err := git(ctx, w.Path, "symbolic-ref", "HEAD", "refs/heads/"+w.Branch); err != nil {
		return err
	}
	if _, err := git(ctx, w.Path, "reset", "--hard", "--quiet", commit); err != nil {
		return err
	}
	// -ff also removes untracked nested repositories; no -x keeps ignored files.
	_, err = git(ctx, w.Path, "clean", "-ffdq")
	return err
}

func (w *Worktree) gitPath(ctx context.Context, name string) (string, error) {
	out, err := git(ctx, w.Path, "rev-parse", "--git-path", name)
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(out)
	if !filepath.IsAbs(p) {
		p = filepath.Join(w.Path, p)
	}
	return p, nil
}

// BringIn brings target (a commit or ref the mirror has) into the worktree's
// branch: by rebasing the branch onto it, or with a merge commit when merge
// is true. The worktree must be clean (everything committed). On a conflict
// the operation is undone, the branch stays where it was, and the
// conflicting files are returned.
func (w *Worktree) BringIn(ctx context.Context, target string, merge bool, who Identity) (sha string, conflicts []string, err error) {
	if err := plainArg("revision", target); err != nil {
		return "", nil, err
	}
	if err := w.onBranch(ctx); err != nil {
		return "", nil, err
	}
	args := []string{"rebase", "--quiet", "--no-autosquash", target}
	undo := []string{"rebase", "--abort"}
	if merge {
		args = []string{"merge", "--quiet", "--no-edit", "--no-ff", "-m", "Bring in " + target, target}
		undo = []string{"merge", "--abort"}
	}
	if _, err := gitWith(ctx, w.Path, who, nil, args...); err != nil {
		conflicts, cerr := w.unmerged(ctx)
		if cerr != nil || len(conflicts) == 0 {
			_, _ = git(ctx, w.Path, undo...)
			return "", nil, err
		}
		if _, aerr := git(ctx, w.Path, undo...); aerr != nil {
			return "", nil, aerr
		}
		return "", conflicts, nil
	}
	sha, err = w.Head(ctx)
	return sha, nil, err
}

// StartMerge merges target into the worktree without committing and leaves
// any conflict markers in place, for the developer's agent to resolve; the
// next CommitAll then records the merge. It returns the conflicting files.
func (w *Worktree) StartMerge(ctx context.Context, target string, who Identity) ([]string, error) {
	if err := plainArg("revision", target); err != nil {
		return nil, err
	}
	if w.merging(ctx) { // started before a crash
		return w.unmerged(ctx)
	}
	if _, err := gitWith(ctx, w.Path, who, nil, "merge", "--quiet", "--no-ff", "--no-commit", target); err != nil {
		conflicts, cerr := w.unmerged(ctx)
		if cerr != nil {
			return nil, cerr
		}
		if len(conflicts) == 0 {
			return nil, err
		}
		return conflicts, nil
	}
	return nil, nil
}

func (w *Worktree) unmerged(ctx context.Context) ([]string, error) {
	out, err := git(ctx, w.Path, "diff", "--name-only", "-z", "--diff-filter=U")
	if err != nil {
		return nil, err
	}
	return splitZ(out), nil
}
