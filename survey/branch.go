// Package survey reads what `agentorg init` needs to write a workflow that
// runs as is: the repository's default branch, how the repository is
// tested, and which coding CLIs are installed. Each finding says where it
// came from, so that init can tell the user why it wrote what it wrote.
package survey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Repo checks that dir is the root of a git work tree with at least one
// commit: the workflow's origin "." is the repository holding it, and the
// engine works from a branch of it.
func Repo(ctx context.Context, dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: pass --dir with your repository's root", dir)
	}
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return fmt.Errorf("%s is not a git repository: run agentorg init at the root of your repository, or pass --dir; to start one: git init && git commit --allow-empty -m 'Initial commit'", dir)
	}
	if !sameDir(top, dir) {
		return fmt.Errorf("%s is inside the repository %s, not its root: run agentorg init in %s (or pass --dir %s)", dir, top, top, top)
	}
	if heads, err := git(ctx, dir, "for-each-ref", "--count=1", "--format=%(refname)", "refs/heads/"); err != nil || heads == "" {
		return fmt.Errorf("the repository in %s has no commit yet: agentorg merges work into a branch, so commit something first (git commit --allow-empty -m 'Initial commit' will do), then run agentorg init again", dir)
	}
	return nil
}

// DefaultBranch is the branch work merges into, and where that came from:
// what origin calls its default (refs/remotes/origin/HEAD) when that branch
// exists here, else the branch checked out, else main or master when
// exactly one of them exists. Call Repo first.
func DefaultBranch(ctx context.Context, dir string) (branch, from string, err error) {
	if ref, err := git(ctx, dir, "symbolic-ref", "-q", "refs/remotes/origin/HEAD"); err == nil {
		b := strings.TrimPrefix(ref, "refs/remotes/origin/")
		if BranchExists(ctx, dir, b) {
			return b, "the branch origin calls its default", nil
		}
	}
	if b, err := git(ctx, dir, "symbolic-ref", "-q", "--short", "HEAD"); err == nil && BranchExists(ctx, dir, b) {
		return b, "the branch checked out", nil
	}
	var found []string
	for _, b := range []string{"main", "master"} {
		if BranchExists(ctx, dir, b) {
			found = append(found, b)
		}
	}
	if len(found) == 1 {
		return found[0], "the only one of main and master", nil
	}
	both := "neither main nor master exists"
	if len(found) == 2 {
		both = "both main and master exist"
	}
	return "", "", fmt.Errorf("cannot tell the default branch of %s: origin names none that exists here, no branch is checked out, and %s: pass --target BRANCH", dir, both)
}

// BranchExists reports whether dir has a local branch named b.
func BranchExists(ctx context.Context, dir, b string) bool {
	_, err := git(ctx, dir, "show-ref", "--verify", "--quiet", "refs/heads/"+b)
	return err == nil
}

// git runs git in dir and returns its output, trimmed; an error carries
// git's own message.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			return "", errors.New(firstLine(msg))
		}
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

// sameDir compares two directories after resolving symbolic links (a
// temporary directory is often reached through one).
func sameDir(a, b string) bool {
	resolve := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return p
	}
	return resolve(a) == resolve(b)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// UserName is git's user.name as the repository in dir sees it (its own
// config first), or "".
func UserName(ctx context.Context, dir string) string {
	name, err := git(ctx, dir, "config", "user.name")
	if err != nil {
		return ""
	}
	return name
}
