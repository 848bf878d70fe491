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
// worktrees of it, never in a fresh clone.
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
//   - branch exists but its worktree is gone: added back at the branch's tip
//     (created=false);
//   - otherwise branch is created from base at path (created=true).
//
// Leftovers of a crash (a stale or half-initialised registration, a worktree
// directory whose registration is gone) are pruned before trying. A path that
// is a worktree on another branch, or that holds something other than a
// worktree of this mirror, is an error: it is never deleted.
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
	if _, ok := m.settledWorktree(path); ok {
		w := &Worktree{Path: path, Branch: branch, m: m}
		if w.onBranch(ctx) == nil {
			return w, false, nil
		}
	}
	// Fast path: a new issue, nothing left behind: one `worktree add`.
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		if _, exists, err := revParse(ctx, m.Dir, ref); err == nil && !exists {
			if start, ok, err := revParse(ctx, m.Dir, base); err == nil && ok {
				m.mu.RLock()
				// The branch is created only if it does not exist (the
				// empty old value), then the worktree registered on it.
				_, err := git(ctx, m.Dir, "update-ref", ref, start, "")
				if err == nil {
					if _, err = m.quickWorktree(ctx, path, "ref: "+ref, start); err != nil {
						git(ctx, m.Dir, "update-ref", "-d", ref, start)
					}
				}
				m.mu.RUnlock()
				if err == nil {
					return &Worktree{Path: path, Branch: branch, m: m}, true, nil
				}
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Slow path: find out what is there and repair it.
	if e, err := m.clearStale(ctx, path); err != nil {
		return nil, false, err
	} else if e != nil {
		if e.branch != ref {
			what := "detached"
			if e.branch != "" {
				what = "on " + strings.TrimPrefix(e.branch, "refs/heads/")
			}
			return nil, false, fmt.Errorf("worktree %s is %s, not on %s", path, what, branch)
		}
		w := &Worktree{Path: path, Branch: branch, m: m}
		if _, err := w.Head(ctx); err != nil {
			return nil, false, fmt.Errorf("worktree %s is broken: %w", path, err)
		}
		return w, false, nil
	}

	wts, err := listWorktrees(ctx, m.Dir)
	if err != nil {
		return nil, false, err
	}
	for _, e := range wts {
		if e.branch == ref {
			return nil, false, fmt.Errorf("branch %s is checked out in another worktree, %s", branch, e.path)
		}
	}
	if err := m.removeLeftover(path); err != nil {
		return nil, false, err
	}
	_, exists, err := revParse(ctx, m.Dir, ref)
	if err != nil {
		return nil, false, err
	}
	created := false
	if exists {
		_, err = git(ctx, m.Dir, "worktree", "add", "--quiet", path, branch)
	} else {
		start, ok, rerr := revParse(ctx, m.Dir, base)
		if rerr != nil {
			return nil, false, rerr
		}
		if !ok {
			return nil, false, fmt.Errorf("base %s: %w", base, agentorg.ErrNotFound)
		}
		// From the SHA, not the ref: no upstream tracking gets configured.
		_, err = git(ctx, m.Dir, "worktree", "add", "--quiet", "-b", branch, path, start)
		created = true
	}
	if err != nil {
		return nil, false, err
	}
	return &Worktree{Path: path, Branch: branch, m: m}, created, nil
}

// registration returns the registration directory (<mirror>/worktrees/<id>)
// that path's .git file points to, if it points into this mirror.
func (m *Mirror) registration(path string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(path, ".git"))
	if err != nil {
		return "", false
	}
	gitdir, found := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir:")
	gitdir = strings.TrimSpace(gitdir)
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(path, gitdir)
	}
	inside := strings.HasPrefix(canonical(gitdir), canonical(filepath.Join(m.Dir, "worktrees"))+string(filepath.Separator))
	return gitdir, found && inside
}

// settledWorktree reports, from files alone, whether path is a worktree of
// this mirror whose `git worktree add` finished: its .git file points into the
// mirror, and the registration exists and carries no lock (git leaves
// "initializing" on a worktree whose add was interrupted). It returns the
// registration directory.
func (m *Mirror) settledWorktree(path string) (string, bool) {
	admin, ok := m.registration(path)
	if !ok {
		return "", false
	}
	if _, err := os.Stat(filepath.Join(admin, "locked")); err == nil {
		return "", false
	}
	if _, err := os.Stat(admin); err != nil {
		return "", false
	}
	return admin, true
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

// addDetached makes dir a detached worktree at commit with `git worktree
// add`, replacing whatever a crash left there: the slow path, for when the
// quick one failed.
func (m *Mirror) addDetached(ctx context.Context, dir, commit string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.dropWorktree(ctx, dir); err != nil {
		return err
	}
	if _, err := git(ctx, m.Dir, "worktree", "add", "--quiet", "--detach", dir, commit); err != nil {
		return err
	}
	head, err := git(ctx, dir, "rev-parse", "--verify", "HEAD")
	if err == nil && strings.TrimSpace(head) != commit {
		err = fmt.Errorf("checkout %s: HEAD is %s", commit, strings.TrimSpace(head))
	}
	if err != nil {
		m.dropWorktree(context.WithoutCancel(ctx), dir)
		return err
	}
	return nil
}

// quickDetached registers dir as a detached worktree at commit in the
// layout git itself uses (gitrepository-layout(5): worktrees/<id>/gitdir,
// commondir, HEAD; dir/.git pointing back), then populates it and its index
// with a single `git read-tree`. It returns the registration's directory.
// The registration is locked while it is being made, as `git worktree add`
// does, so that a prune elsewhere leaves it alone.
func (m *Mirror) quickDetached(ctx context.Context, dir, commit string) (string, error) {
	return m.quickWorktree(ctx, dir, commit, commit)
}

// quickWorktree is quickDetached with HEAD given: a SHA for a detached
// worktree, or "ref: refs/heads/<branch>" for one on a branch (which must
// already point at commit).
func (m *Mirror) quickWorktree(ctx context.Context, dir, head, commit string) (string, error) {
	admin := filepath.Join(m.Dir, "worktrees", filepath.Base(dir))
	if err := os.MkdirAll(filepath.Dir(admin), 0o755); err != nil {
		return "", err
	}
	// The registration is written aside and renamed into place whole: git
	// reads every registration on each fetch and push, and one without its
	// commondir yet fails them ("failed to read worktrees/<id>/commondir").
	tmp, err := os.MkdirTemp(m.Dir, ".new-worktree-")
	if err != nil {
		return "", err
	}
	files := []struct{ name, body string }{
		{"locked", "initializing"},
		{"gitdir", filepath.Join(dir, ".git") + "\n"},
		{"commondir", "../..\n"},
		{"HEAD", head + "\n"},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tmp, f.name), []byte(f.body), 0o644); err != nil {
			forceRemoveAll(tmp)
			return "", err
		}
	}
	if err := os.Rename(tmp, admin); err != nil {
		forceRemoveAll(tmp)
		return "", err // the name is taken: the slow path copes
	}
	fail := func(err error) (string, error) {
		forceRemoveAll(dir)
		m.removeRegistration(admin)
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".git"), []byte("gitdir: "+admin+"\n"), 0o644); err != nil {
		return fail(err)
	}
	if _, err := git(ctx, dir, "read-tree", "--reset", "-u", commit); err != nil {
		return fail(err)
	}
	if err := os.Remove(filepath.Join(admin, "locked")); err != nil {
		return fail(err)
	}
	return admin, nil
}

// removeRegistration deletes a worktree's registration directory, renamed
// out of worktrees/ first so that git, which reads them all, never sees one
// half deleted.
func (m *Mirror) removeRegistration(admin string) error {
	gone, err := os.MkdirTemp(m.Dir, ".old-worktree-")
	if err == nil {
		target := filepath.Join(gone, "x")
		if err = os.Rename(admin, target); err == nil {
			return forceRemoveAll(gone)
		}
		os.Remove(gone)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return forceRemoveAll(admin)
}

// RemoveLeftovers deletes the registrations a crash left half made or half
// deleted beside worktrees/. Call it only when nothing else uses the mirror.
func (m *Mirror) RemoveLeftovers() error {
	var errs []error
	for _, pattern := range []string{".new-worktree-*", ".old-worktree-*"} {
		found, _ := filepath.Glob(filepath.Join(m.Dir, pattern))
		for _, p := range found {
			errs = append(errs, forceRemoveAll(p))
		}
	}
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
// branch is done with). A missing worktree is not an error.
func (m *Mirror) RemoveWorktree(ctx context.Context, path string) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	admin, _ := m.settledWorktree(path)
	return m.removeTree(ctx, path, admin)
}

// removeTree deletes the worktree at dir. When its registration admin is
// known (a settled worktree, one the quick path made) that is two
// directories to delete by hand; otherwise, or if that fails, git repairs.
func (m *Mirror) removeTree(ctx context.Context, dir, admin string) error {
	if admin != "" {
		m.mu.RLock()
		err := errors.Join(forceRemoveAll(dir), m.removeRegistration(admin))
		m.mu.RUnlock()
		if err == nil {
			return nil
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropWorktree(ctx, dir)
}

// dropWorktree removes the worktree at dir, registered or left behind.
func (m *Mirror) dropWorktree(ctx context.Context, dir string) error {
	e, err := m.clearStale(ctx, dir)
	if err != nil {
		return err
	}
	if e != nil {
		git(ctx, m.Dir, "worktree", "unlock", dir)
		if _, err := git(ctx, m.Dir, "worktree", "remove", "--force", "--force", dir); err != nil {
			// Read-only trees defeat git's removal; do it by hand.
			if rerr := forceRemoveAll(dir); rerr != nil {
				return fmt.Errorf("%w; %v", err, rerr)
			}
			if _, err := git(ctx, m.Dir, "worktree", "prune"); err != nil {
				return err
			}
		}
	}
	return m.removeLeftover(dir)
}

// clearStale prunes registrations whose directory is gone and removes a
// half-initialised one at path (git locks a worktree "initializing" until
// `worktree add` finishes, so a crash leaves it locked). It returns the live
// registration at path, if any.
func (m *Mirror) clearStale(ctx context.Context, path string) (*wtEntry, error) {
	if _, err := git(ctx, m.Dir, "worktree", "prune"); err != nil {
		return nil, err
	}
	wts, err := listWorktrees(ctx, m.Dir)
	if err != nil {
		return nil, err
	}
	want := canonical(path)
	for _, e := range wts {
		if e.bare || canonical(e.path) != want {
			continue
		}
		_, statErr := os.Stat(filepath.Join(path, ".git"))
		if !e.prunable && !(e.locked && e.lockReason == "initializing") && statErr == nil {
			return &e, nil
		}
		git(ctx, m.Dir, "worktree", "unlock", path)
		if err := m.removeLeftover(path); err != nil {
			return nil, err
		}
		if _, err := git(ctx, m.Dir, "worktree", "prune"); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, nil
}

// removeLeftover deletes path if it is empty or a worktree directory of this
// mirror whose registration is gone; anything else is refused.
func (m *Mirror) removeLeftover(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return os.Remove(path)
	}
	if _, ok := m.registration(path); ok {
		return forceRemoveAll(path)
	}
	return fmt.Errorf("%s exists and is not a worktree of %s; refusing to remove it", path, m.Dir)
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
