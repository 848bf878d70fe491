package survey

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// isolate keeps the machine's git configuration (user.name,
// init.defaultBranch) out of the tests.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
}

// run runs git in dir, failing the test on error.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newRepo makes a repository whose first commit is on branch.
func newRepo(t *testing.T, branch string) string {
	t.Helper()
	dir := t.TempDir()
	run(t, dir, "init", "-q", "-b", branch)
	run(t, dir, "commit", "-q", "--allow-empty", "-m", "first")
	return dir
}

func TestDefaultBranch(t *testing.T) {
	isolate(t)
	ctx := context.Background()

	// A clone whose origin's default is main, with a feature branch
	// checked out: origin's word wins.
	origin := newRepo(t, "main")
	run(t, origin, "branch", "feature")
	clone := filepath.Join(t.TempDir(), "clone")
	run(t, origin, "clone", "-q", origin, clone)
	run(t, clone, "checkout", "-q", "-b", "feature", "origin/feature")

	// origin's default has no local branch here: the branch checked out.
	noLocal := filepath.Join(t.TempDir(), "nolocal")
	run(t, origin, "clone", "-q", origin, noLocal)
	run(t, noLocal, "checkout", "-q", "-b", "work")
	run(t, noLocal, "branch", "-q", "-D", "main")

	detachedMaster := newRepo(t, "master")
	run(t, detachedMaster, "checkout", "-q", "--detach")
	detachedBoth := newRepo(t, "master")
	run(t, detachedBoth, "branch", "main")
	run(t, detachedBoth, "checkout", "-q", "--detach")

	for _, tc := range []struct {
		name, dir, want, from string
	}{
		{"master repository", newRepo(t, "master"), "master", "the branch checked out"},
		{"main repository", newRepo(t, "main"), "main", "the branch checked out"},
		{"origin's default while another branch is checked out", clone, "main", "the branch origin calls its default"},
		{"origin's default missing here", noLocal, "work", "the branch checked out"},
		{"detached, only master", detachedMaster, "master", "the only one of main and master"},
	} {
		if err := Repo(ctx, tc.dir); err != nil {
			t.Errorf("%s: Repo: %v", tc.name, err)
		}
		b, from, err := DefaultBranch(ctx, tc.dir)
		if err != nil || b != tc.want || from != tc.from {
			t.Errorf("%s: DefaultBranch = %q (%s), %v; want %q (%s)", tc.name, b, from, err, tc.want, tc.from)
		}
	}
	if b, _, err := DefaultBranch(ctx, detachedBoth); err == nil || !strings.Contains(err.Error(), "both main and master exist: pass --target BRANCH") {
		t.Errorf("detached with main and master: %q, %v; want an error asking for --target", b, err)
	}
	if !BranchExists(ctx, clone, "feature") || BranchExists(ctx, clone, "nope") {
		t.Error("BranchExists is wrong")
	}
}

func TestRepoRefusesWhatIsNotARepositoryWithACommit(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	empty := t.TempDir()
	run(t, empty, "init", "-q", "-b", "main")
	repo := newRepo(t, "main")
	sub := filepath.Join(repo, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"empty repository", empty, "has no commit yet: agentorg merges work into a branch, so commit something first"},
		{"not a repository", t.TempDir(), "is not a git repository"},
		{"missing directory", filepath.Join(repo, "nope"), "is not a directory"},
		{"subdirectory", sub, "is inside the repository " + repo + ", not its root: run agentorg init in " + repo},
	} {
		if err := Repo(ctx, tc.dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Repo = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestUserName(t *testing.T) {
	isolate(t)
	repo := newRepo(t, "main")
	if u := UserName(context.Background(), repo); u != "" {
		t.Errorf("no user.name configured: %q", u)
	}
	run(t, repo, "config", "user.name", "Alice Example")
	if u := UserName(context.Background(), repo); u != "Alice Example" {
		t.Errorf("UserName = %q", u)
	}
}
