package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agentorg/agentorg"
)

// fetchRefspec keeps origin's branches under refs/remotes/origin/ so that a
// fetch never touches the local branches worktrees have checked out.
const fetchRefspec = "+refs/heads/*:refs/remotes/origin/*"

// Mirror is a cached bare clone of the origin. Branch work happens in
// work trees whose objects and refs it holds (see tree.go), never in a
// fresh clone; agents see only its objects, read-only.
type Mirror struct {
	Dir    string // absolute path of the bare repository
	Origin string // URL or absolute path of the origin
	// Branches, when set, are the only branches Fetch brings: the engine
	// needs only the target branch, and a fetch that names its refs costs
	// the same with ten branches on the origin or ten thousand.
	Branches []string

	// mu guards the worktree registrations within this process. The
	// common operations (add or remove a worktree at a path of its own,
	// fetch, push) are safe side by side, git taking its own locks, and
	// share it; the repairs (prune, list, drop what a crash left) take it
	// alone, so that a prune never races an add.
	mu sync.RWMutex
	// transportEnv is added to the environment of the git commands that
	// talk to the origin (clone, fetch, push) and of no other: credentials
	// (see TransportEnv) stay out of argv, out of the mirror's config, and
	// out of every worktree an agent works in.
	transportEnv []string
	// progress, when set, shows git's progress of the first clone (see
	// Progress).
	progress io.Writer
	// fetchMu and lastFetch let concurrent callers share one fetch.
	fetchMu   sync.Mutex
	lastFetch time.Time // when the last successful fetch started
	// pools are the checkout slots Lease hands out, by pool directory.
	poolsMu sync.Mutex
	pools   map[string]*slotPool
}

// MirrorOption configures OpenMirror.
type MirrorOption func(*Mirror)

// TransportEnv gives the git commands that talk to the origin (and only
// them) extra environment variables, such as GIT_CONFIG_COUNT/KEY/VALUE
// carrying an http.extraHeader with a token.
func TransportEnv(env []string) MirrorOption {
	return func(m *Mirror) { m.transportEnv = append([]string(nil), env...) }
}

// Progress streams git's progress of the first clone and fetch to w (a
// terminal): a large repository takes minutes to mirror, and silence then
// looks like a hang. Later fetches stay quiet.
func Progress(w io.Writer) MirrorOption {
	return func(m *Mirror) { m.progress = w }
}

// OpenMirror clones origin bare into dir the first time and reuses the clone
// afterwards. The clone is made beside dir and renamed into place, so a crash
// never leaves a half-cloned mirror behind. Safe to call again.
func OpenMirror(ctx context.Context, dir, origin string, opts ...MirrorOption) (*Mirror, error) {
	if err := plainArg("origin", origin); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// A local origin given relative to our cwd must not be read relative to
	// git's.
	if _, err := os.Stat(origin); err == nil && !strings.Contains(origin, "://") {
		if origin, err = filepath.Abs(origin); err != nil {
			return nil, err
		}
	}
	m := &Mirror{Dir: abs, Origin: origin}
	for _, o := range opts {
		o(m)
	}

	if isBare(ctx, abs) {
		if err := configureMirror(ctx, abs, origin); err != nil {
			return nil, err
		}
		return m, nil
	}
	if entries, err := os.ReadDir(abs); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("mirror %s: exists and is not a bare git repository", abs)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".clone-")
	if err != nil {
		return nil, err
	}
	defer forceRemoveAll(tmp) // a no-op once renamed
	if _, err := m.first(ctx, filepath.Dir(abs), "clone", "--bare", "--quiet", "--", origin, tmp); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", abs, err)
	}
	if err := configureMirror(ctx, tmp, origin); err != nil {
		return nil, err
	}
	if _, err := m.first(ctx, tmp, "fetch", "--prune", "--quiet", "origin"); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", abs, err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		// Someone else finished first: use theirs.
		if isBare(ctx, abs) {
			return m, nil
		}
		return nil, fmt.Errorf("mirror %s: %w", abs, err)
	}
	return m, nil
}

// remote runs a git command that talks to the origin.
func (m *Mirror) remote(ctx context.Context, dir string, args ...string) (string, error) {
	return gitRun(ctx, dir, defaultIdentity, nil, m.transportEnv, nil, args...)
}

// first is remote for the first clone and fetch: with a progress writer,
// git reports its progress there (--progress keeps it on when stderr is not
// a terminal, as here, and it outlasts --quiet, which silences the rest).
func (m *Mirror) first(ctx context.Context, dir, command string, args ...string) (string, error) {
	if m.progress == nil {
		return m.remote(ctx, dir, append([]string{command}, args...)...)
	}
	argv := append([]string{command, "--progress"}, args...)
	return gitRun(ctx, dir, defaultIdentity, nil, m.transportEnv, m.progress, argv...)
}

func isBare(ctx context.Context, dir string) bool {
	if _, err := os.Stat(dir); err != nil {
		return false
	}
	out, err := git(ctx, dir, "rev-parse", "--is-bare-repository")
	if err != nil || strings.TrimSpace(out) != "true" {
		return false
	}
	// rev-parse walks up; make sure dir itself is the repository.
	gd, err := git(ctx, dir, "rev-parse", "--absolute-git-dir")
	return err == nil && canonical(strings.TrimSpace(gd)) == canonical(dir)
}

// configureMirror points the remote at origin with our refspec, writing the
// config only when it differs (config writes take a lock).
func configureMirror(ctx context.Context, dir, origin string) error {
	url, err := git(ctx, dir, "config", "--get", "remote.origin.url")
	switch {
	case exitCode(err) == 1:
		if _, err := git(ctx, dir, "remote", "add", "origin", origin); err != nil {
			return err
		}
	case err != nil:
		return err
	case strings.TrimSpace(url) != origin:
		// The mirror is only a cache of the origin; follow the new URL
		// (a rotated token, a moved server).
		if _, err := git(ctx, dir, "remote", "set-url", "origin", origin); err != nil {
			return err
		}
	}
	specs, err := git(ctx, dir, "config", "--get-all", "remote.origin.fetch")
	if err != nil && exitCode(err) != 1 {
		return err
	}
	if strings.TrimSpace(specs) != fetchRefspec {
		if _, err := git(ctx, dir, "config", "--replace-all", "remote.origin.fetch", fetchRefspec); err != nil {
			return err
		}
	}
	// A --mirror clone would push and prune local branches.
	if _, err := git(ctx, dir, "config", "--get", "remote.origin.mirror"); err == nil {
		if _, err := git(ctx, dir, "config", "--unset", "remote.origin.mirror"); err != nil {
			return err
		}
	}
	return nil
}

// Fetch brings the remote-tracking branches up to date with origin: when
// it returns, they hold at least what origin had when Fetch was called.
// Concurrent callers share a fetch that started after they called, so a
// busy engine does not fetch once per job.
func (m *Mirror) Fetch(ctx context.Context) error {
	asked := time.Now()
	m.fetchMu.Lock()
	defer m.fetchMu.Unlock()
	if m.lastFetch.After(asked) {
		return nil
	}
	started := time.Now()
	if m.upToDate() {
		m.lastFetch = started
		return nil
	}
	args := []string{"fetch", "--prune", "--quiet", "origin"}
	for _, b := range m.Branches {
		if err := checkBranch(ctx, b); err != nil {
			return err
		}
		args = append(args, "+refs/heads/"+b+":refs/remotes/origin/"+b)
	}
	m.mu.RLock()
	_, err := m.remote(ctx, m.Dir, args...)
	if err == nil {
		m.growGraph(ctx)
	}
	m.mu.RUnlock()
	if err == nil {
		m.lastFetch = started
	}
	return err
}

// growGraph adds the fetched target branches' new commits to the mirror's
// commit-graph. Every merge walks the target's history down to where the
// branch forked (merge-base, merge-tree, is-ancestor); without a graph each
// commit on the way is inflated from its object, and a train's merges
// onto a target a thousand merges deep cost tens of milliseconds each.
// Incremental (--split, from the new tips only) and best effort.
func (m *Mirror) growGraph(ctx context.Context) {
	var tips strings.Builder
	for _, b := range m.Branches {
		if sha, found, handled := refFromFiles(m.Dir, "refs/remotes/origin/"+b); handled && found {
			tips.WriteString(sha + "\n")
		}
	}
	if tips.Len() > 0 {
		gitWith(ctx, m.Dir, defaultIdentity, strings.NewReader(tips.String()), "commit-graph", "write", "--split", "--stdin-commits", "--no-progress")
	}
}

// upToDate reports, from files alone, that a local origin's branches are
// where the mirror's remote-tracking refs already point: a fetch would
// bring nothing (and cost a fetch, an upload-pack and a walk of every ref).
// Anything it cannot read for sure means "fetch".
func (m *Mirror) upToDate() bool {
	if len(m.Branches) == 0 || !m.localOrigin() {
		return false
	}
	for _, b := range m.Branches {
		theirs, found, handled := refFromFiles(m.Origin, "refs/heads/"+b)
		if !handled || !found {
			return false
		}
		ours, found, handled := refFromFiles(m.Dir, "refs/remotes/origin/"+b)
		if !handled || !found || ours != theirs {
			return false
		}
	}
	return true
}

// RemoteHead returns the SHA of origin's branch as of the last fetch. A
// missing branch wraps agentorg.ErrNotFound.
func (m *Mirror) RemoteHead(ctx context.Context, branch string) (string, error) {
	return m.head(ctx, "refs/remotes/origin/", branch)
}

// BranchHead returns the SHA of the mirror's local branch (the one a worktree
// commits to). A missing branch wraps agentorg.ErrNotFound.
func (m *Mirror) BranchHead(ctx context.Context, branch string) (string, error) {
	return m.head(ctx, "refs/heads/", branch)
}

func (m *Mirror) head(ctx context.Context, prefix, branch string) (string, error) {
	if err := checkBranch(ctx, branch); err != nil {
		return "", err
	}
	sha, ok, err := revParse(ctx, m.Dir, prefix+branch)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s%s: %w", prefix, branch, agentorg.ErrNotFound)
	}
	return sha, nil
}

// localOrigin reports whether the origin is a repository on this machine
// (an absolute path, not a URL).
func (m *Mirror) localOrigin() bool {
	return !strings.Contains(m.Origin, "://") && filepath.IsAbs(m.Origin)
}

// DiffFiles lists the paths that differ between two commits (a rename counts
// as both names).
func (m *Mirror) DiffFiles(ctx context.Context, from, to string) ([]string, error) {
	if err := plainArg("revision", from); err != nil {
		return nil, err
	}
	if err := plainArg("revision", to); err != nil {
		return nil, err
	}
	out, err := git(ctx, m.Dir, "diff-tree", "-r", "-z", "--name-only", "--no-renames", from, to, "--")
	if err != nil {
		return nil, err
	}
	return splitZ(out), nil
}

func splitZ(s string) []string {
	var out []string
	for _, f := range strings.Split(s, "\x00") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Worktree returns the stable worktree for branch at path:
//   - path already a worktree on branch: reused (created=false);
//   - branch exists but its worktree is gone: made again at the branch's
//     tip (created=false);
//   - otherwise branch is created from base at path (created=true).
//
// A worktree of the legacy layout (a linked worktree of the mirror) is
// migrated, its files kept. Leftovers of a crash (a tree half made, a
// directory whose git directory is gone) are cleared before trying. A
// path that is a worktree on another branch, or that holds something
// other than a worktree of this mirror, is an error: it is never deleted.
func (m *Mirror) Worktree(ctx context.Context, path, branch, base string) (*Worktree, bool, error) {
	if err := checkBranch(ctx, branch); err != nil {
		return nil, false, err
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, false, err
	}
	ref := "refs/heads/" + branch
	// Fast path: the worktree is there and on its branch (every attempt
	// after the first).
	if admin, ok := m.settledTree(path); ok {
		w := &Worktree{Path: path, Branch: branch, admin: admin, m: m}
		if w.onBranch(ctx) == nil {
			// Shown again: a crash may have come between a git step of the
			// engine's and showing its result to the agent.
			return w, false, w.publish()
		}
	}
	// Fast path: a new issue, nothing left behind.
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		if w, ok := m.quickNew(ctx, path, branch, base); ok {
			return w, true, nil
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Slow path: find out what is there and repair it.
	if reg, ok := m.legacyRegistration(path); ok {
		if err := m.openLegacy(ctx, path, reg, ref); err != nil {
			return nil, false, err
		}
	}
	admin, st := m.treeOf(path)
	switch st {
	case treeForeign:
		return nil, false, errTreeTaken(path, admin)
	case treeBroken:
		if err := m.removeRegistration(admin); err != nil {
			return nil, false, err
		}
	case treeHalf:
		// Made by newTree, which a crash interrupted: no agent ever ran
		// there, so there is nothing in it to keep.
		if err := errors.Join(forceRemoveAll(path), m.removeRegistration(admin)); err != nil {
			return nil, false, err
		}
	case treeSettled:
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			// The directory is gone: make it again below.
			if err := m.removeRegistration(admin); err != nil {
				return nil, false, err
			}
			break
		}
		w := &Worktree{Path: path, Branch: branch, admin: admin, m: m}
		if err := w.onBranch(ctx); err != nil {
			return nil, false, err
		}
		if _, err := w.Head(ctx); err != nil {
			return nil, false, fmt.Errorf("worktree %s is broken: %w", path, err)
		}
		return w, false, m.publish(path, admin, false)
	}
	if other := m.branchTaken(path, ref); other != "" {
		return nil, false, fmt.Errorf("branch %s is checked out in another worktree, %s", branch, other)
	}
	if err := m.removeLeftover(path); err != nil {
		return nil, false, err
	}
	return m.makeWorktree(ctx, path, branch, base)
}

// quickNew makes the worktree of a new issue, its branch created from
// base: one ref and one tree. ok is false when anything is in the way; the
// slow path then repairs and tries again.
func (m *Mirror) quickNew(ctx context.Context, path, branch, base string) (*Worktree, bool) {
	ref := "refs/heads/" + branch
	if _, exists, err := revParse(ctx, m.Dir, ref); err != nil || exists {
		return nil, false
	}
	start, ok, err := revParse(ctx, m.Dir, base)
	if err != nil || !ok {
		return nil, false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	// The branch is created only if it does not exist (the empty old
	// value), then the tree made on it.
	if _, err := git(ctx, m.Dir, "update-ref", ref, start, ""); err != nil {
		return nil, false
	}
	admin, err := m.newTree(ctx, path, "ref: "+ref, start)
	if err != nil {
		git(ctx, m.Dir, "update-ref", "-d", ref, start)
		return nil, false
	}
	return &Worktree{Path: path, Branch: branch, admin: admin, m: m}, true
}

// makeWorktree makes the worktree at path, where nothing is: on branch at
// its tip when it exists, else on branch created from base.
func (m *Mirror) makeWorktree(ctx context.Context, path, branch, base string) (*Worktree, bool, error) {
	ref := "refs/heads/" + branch
	start, exists, err := revParse(ctx, m.Dir, ref)
	if err != nil {
		return nil, false, err
	}
	if !exists {
		var ok bool
		if start, ok, err = revParse(ctx, m.Dir, base); err != nil {
			return nil, false, err
		} else if !ok {
			return nil, false, fmt.Errorf("base %s: %w", base, agentorg.ErrNotFound)
		}
		if _, err := git(ctx, m.Dir, "update-ref", ref, start, ""); err != nil {
			return nil, false, err
		}
	}
	admin, err := m.newTree(ctx, path, "ref: "+ref, start)
	if err != nil {
		if !exists {
			git(ctx, m.Dir, "update-ref", "-d", ref, start)
		}
		return nil, false, err
	}
	return &Worktree{Path: path, Branch: branch, admin: admin, m: m}, !exists, nil
}

// openLegacy repairs and migrates the legacy worktree at path, registered
// at reg, which must be on ref; a half-made one is removed instead.
func (m *Mirror) openLegacy(ctx context.Context, path, reg, ref string) error {
	e, err := m.clearStale(ctx, path)
	if err != nil || e == nil {
		return err
	}
	if e.branch != ref {
		what := "detached"
		if e.branch != "" {
			what = "on " + strings.TrimPrefix(e.branch, "refs/heads/")
		}
		return fmt.Errorf("worktree %s is %s, not on %s", path, what, strings.TrimPrefix(ref, "refs/heads/"))
	}
	return m.migrate(path, reg)
}

// exactCommit resolves sha to a commit of the mirror, refusing an abbreviated
// SHA that names another commit than the one asked for.
func (m *Mirror) exactCommit(ctx context.Context, sha string) (string, error) {
	commit, ok, err := revParse(ctx, m.Dir, sha)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("checkout %s: no such commit in %s", sha, m.Dir)
	}
	if isSHA(strings.ToLower(sha)) && !strings.EqualFold(commit, sha) {
		return "", fmt.Errorf("checkout %s resolved to %s", sha, commit)
	}
	return commit, nil
}

// RemoveLeftovers deletes what a crash left in the mirror: git directories
// half made or half deleted beside agentorg-trees/, those whose work tree
// is gone, and legacy worktree registrations whose worktree is gone. Call
// it only when nothing else uses the mirror.
func (m *Mirror) RemoveLeftovers(ctx context.Context) error {
	var errs []error
	for _, pattern := range []string{".new-worktree-*", ".old-worktree-*"} {
		found, _ := filepath.Glob(filepath.Join(m.Dir, pattern))
		for _, p := range found {
			errs = append(errs, forceRemoveAll(p))
		}
	}
	errs = append(errs, m.removeOrphanTrees(), m.removeLegacyRegistrations(ctx))
	return errors.Join(errs...)
}

// DeleteBranch deletes the mirror's local branch (after its merge, once its
// worktree is gone), so that the refs every fetch walks do not pile up. A
// missing branch is not an error.
func (m *Mirror) DeleteBranch(ctx context.Context, branch string) error {
	if err := checkBranch(ctx, branch); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, err := git(ctx, m.Dir, "update-ref", "-d", "refs/heads/"+branch)
	return err
}

// RemoveWorktree deletes the worktree at path (after a merge, when its
// branch is done with), and its git directory. A missing worktree is not
// an error.
func (m *Mirror) RemoveWorktree(ctx context.Context, path string) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	admin, st := m.treeOf(path)
	if st == treeSettled || st == treeHalf {
		return m.removeTree(ctx, path, admin)
	}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return m.removeTree(ctx, path, "")
}

// removeTree deletes the work tree dir and its git directory admin (the
// directory first: a git directory left without its tree is swept by
// RemoveLeftovers). Without admin, dir is a legacy worktree or a leftover,
// for git or removeLeftover to remove.
func (m *Mirror) removeTree(ctx context.Context, dir, admin string) error {
	if admin != "" {
		m.mu.RLock()
		defer m.mu.RUnlock()
		if err := forceRemoveAll(dir); err != nil {
			return err
		}
		return m.removeRegistration(admin)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropWorktree(ctx, dir)
}
