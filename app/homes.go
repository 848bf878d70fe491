package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg/homedir"
)

// defaultHome is the home of a workflow named without one: the directory
// <repo>/.agentorg/state leads to. A new home is made outside the
// repository, in HomesDir, and .agentorg/state is made a symbolic link to
// it. The home must not lie inside the repository: agents, checks and the
// E2E command may not read the repository when it is the origin (I10), and
// tools that look for their configuration in the parent directories of
// where they run (cargo for its workspace, pytest for its rootdir, eslint,
// ...) fail on a worktree or checkout inside it. A home that is a
// directory there (made by an earlier version, or by hand) is used as it
// is; `agentorg doctor` and `check` say how to move it.
func defaultHome(wfPath string, getenv func(string) string) (string, error) {
	link := filepath.Join(filepath.Dir(wfPath), "state")
	fi, err := os.Lstat(link)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink == 0:
		return link, nil
	case err == nil:
		home, err := filepath.EvalSymlinks(link)
		if err != nil {
			return "", fmt.Errorf("the home %s leads nowhere (%v): restore what it links to, or remove the link to start a new, empty home", link, err)
		}
		return home, sharedByACopy(home, wfPath, link)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("the home %s: %w", link, err)
	}
	root := HomesDir(getenv)
	if root == "" {
		return link, nil // no place outside: as before, in the repository
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("a home for %s: %w", wfPath, err)
	}
	home, err := os.MkdirTemp(root, homeName(wfPath)+"-")
	if err != nil {
		return "", fmt.Errorf("a home for %s: %w", wfPath, err)
	}
	if err := os.Symlink(home, link); err != nil {
		os.Remove(home)
		if errors.Is(err, fs.ErrExist) {
			return defaultHome(wfPath, getenv) // another command made it first
		}
		return "", fmt.Errorf("a home for %s: %w", wfPath, err)
	}
	ignoreLink(link)
	return home, nil
}

// ignoreLink keeps the home's link out of git where the repository's
// .gitignore does not: an earlier init wrote "state/", which matches a
// directory, not a link, and `git add -A` would commit the link. It adds
// the link to the repository's own info/exclude (never a tracked file: a
// change there would make the working tree dirty). Best effort: without
// git, or outside a repository, nothing is done.
func ignoreLink(link string) {
	dir := filepath.Dir(link)
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "core.fsmonitor=false"}, args...)...)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if _, err := git("check-ignore", "-q", "state"); err == nil {
		return // ignored already
	}
	exclude, err := git("rev-parse", "--path-format=absolute", "--git-path", "info/exclude")
	if err != nil || !filepath.IsAbs(exclude) {
		return
	}
	rel, err := git("rev-parse", "--show-prefix")
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(exclude), 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(exclude, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "\n# agentorg: the link to its home\n/%sstate\n", rel)
}

// HomesDir is where the homes of workflows named without one are made:
// $XDG_STATE_HOME/agentorg/homes, else ~/.local/state/agentorg/homes; ""
// when neither is an absolute path.
func HomesDir(getenv func(string) string) string {
	state := stateDir(getenv)
	if state == "" {
		return ""
	}
	return filepath.Join(state, "agentorg", "homes")
}

// stateDir is $XDG_STATE_HOME, else ~/.local/state; "" when neither is an
// absolute path.
func stateDir(getenv func(string) string) string {
	if state := getenv("XDG_STATE_HOME"); filepath.IsAbs(state) {
		return state
	}
	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state")
	}
	return ""
}

// homeName names a new home after its repository's directory.
func homeName(wfPath string) string {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r < ' ' {
			return '_'
		}
		return r
	}, filepath.Base(RepoRoot(wfPath)))
	if name == "" || name == "." || name == "/" {
		name = "repo"
	}
	return name
}

// sharedByACopy refuses a home another repository's workflow still uses:
// a copy of a repository copies the link, not the home, and two
// repositories on one home would mix their issues, branches and mirror.
// A repository that moved (its old workflow gone) keeps its home.
func sharedByACopy(home, wfPath, link string) error {
	hf, ok := homedir.ReadFile(home)
	if !ok || hf.Workflow == "" || filepath.Dir(hf.Workflow) == filepath.Dir(wfPath) {
		return nil
	}
	if _, err := os.Stat(hf.Workflow); err != nil {
		return nil
	}
	return fmt.Errorf("the home %s (%s) is the home of %s, which is still there: this repository looks like a copy of that one. Remove the link (rm %s) to give this one a new, empty home, or name another with --home",
		link, home, RepoRoot(hf.Workflow), link)
}

// HomeInsideRepository says why home, being inside the repository of
// the workflow at wfPath, keeps agents' and checks' tools from working,
// and how to move it; "" when it is not inside.
func HomeInsideRepository(home, wfPath string) string {
	repo := RepoRoot(wfPath)
	if r, err := filepath.EvalSymlinks(repo); err == nil {
		repo = r
	}
	h := home
	if r, err := filepath.EvalSymlinks(home); err == nil {
		h = r
	}
	rel, err := filepath.Rel(repo, h)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	homes := HomesDir(os.Getenv)
	if homes == "" {
		homes = "$HOME/.local/state/agentorg/homes"
	}
	to := filepath.Join(homes, homeName(wfPath))
	return fmt.Sprintf("the home %s is inside the repository %s: tools that read configuration from parent directories (a cargo workspace, pytest's rootdir, eslint) find the repository's in its worktrees, or are refused it when the repository is the origin; move the home out, with agentorg stopped: mkdir -p %s && mv %s %s && ln -s %s %s",
		home, repo, homes, home, to, to, home)
}
