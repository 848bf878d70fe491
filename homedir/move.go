package homedir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg/workspace"
)

// Moved reports whether a home recorded at old is now at dir: a different
// path that is not the same directory (a symbolic link to it, say).
func Moved(dir, old string) bool {
	if old == "" || filepath.Clean(old) == filepath.Clean(dir) {
		return false
	}
	a, errA := os.Stat(old)
	b, errB := os.Stat(dir)
	return errA != nil || errB != nil || !os.SameFile(a, b)
}

// Relocate repairs what holds the home's old absolute path after the home
// was moved (or copied) from old to dir: the mirror's worktree records and
// the worktrees' links back to it (git worktree repair), and the object
// stores the worktrees and checkouts borrow (alternates). The database
// holds no path but the home's own (SetPath). It returns one line per
// kind of thing repaired.
func Relocate(dir, old string) ([]string, error) {
	var done []string
	linked, err := workspace.RelinkWorktrees(Mirror(dir), old, dir)
	if err != nil {
		return nil, fmt.Errorf("home %s: relink the worktrees: %w", dir, err)
	}
	if linked > 0 {
		done = append(done, fmt.Sprintf("%d worktree link(s)", linked))
	}
	n := 0
	for _, repo := range repositories(dir) {
		changed, err := workspace.RepairAlternates(repo, old, dir)
		if err != nil {
			return nil, fmt.Errorf("home %s: %w", dir, err)
		}
		if changed {
			n++
		}
	}
	if n > 0 {
		done = append(done, fmt.Sprintf("%d object store link(s) (alternates)", n))
	}
	return done, nil
}

// Translate is p, moved from under old to under dir when it was there.
func Translate(p, old, dir string) string {
	if rest, ok := under(p, old); ok {
		return filepath.Join(dir, rest)
	}
	return p
}

// under returns p relative to dir when p lies inside dir.
func under(p, dir string) (string, bool) {
	rest, ok := strings.CutPrefix(filepath.Clean(p), filepath.Clean(dir)+string(filepath.Separator))
	return rest, ok && rest != ""
}

// repositories are the git directories of the home's own repositories
// (the mirror, and each worktree or checkout that is a repository of its
// own rather than a linked worktree).
func repositories(dir string) []string {
	out := []string{Mirror(dir)}
	var places []string
	for _, pattern := range []string{"*", filepath.Join("slots", "*")} {
		found, _ := filepath.Glob(filepath.Join(Checkouts(dir), pattern))
		places = append(places, found...)
	}
	found, _ := filepath.Glob(filepath.Join(Worktrees(dir), "*"))
	places = append(places, found...)
	for _, p := range places {
		if fi, err := os.Stat(filepath.Join(p, ".git")); err == nil && fi.IsDir() {
			out = append(out, filepath.Join(p, ".git"))
		}
	}
	return out
}
