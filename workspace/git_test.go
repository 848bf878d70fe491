package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGitEnvironmentIsBuiltFromScratch(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	// Nothing from the caller's git environment may steer our calls.
	t.Setenv("GIT_DIR", filepath.Join(f.root, "nonexistent"))
	t.Setenv("GIT_AUTHOR_NAME", "Leaked Name")
	t.Setenv("GIT_INDEX_FILE", filepath.Join(f.root, "bogus-index"))
	// Hooks could run code an agent wrote; a failing one must not matter.
	marker := filepath.Join(f.root, "hook-ran")
	hook := "#!/bin/sh\ntouch " + marker + "\nexit 1\n"
	for _, h := range []string{"pre-commit", "commit-msg", "post-checkout", "pre-push"} {
		writeFile(t, filepath.Join(m.Dir, "hooks", h), hook)
		os.Chmod(filepath.Join(m.Dir, "hooks", h), 0o755)
	}
	// And so could the user's global config.
	writeFile(t, filepath.Join(os.Getenv("HOME"), ".gitconfig"), "[commit]\n\tgpgSign = true\n")
	defer os.Remove(filepath.Join(os.Getenv("HOME"), ".gitconfig"))

	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt"), "agentorg/issue-1", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "x"), "x\n")
	sha, _, err := w.CommitAll(ctx, "x", tester)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Push(ctx, sha, "agentorg/issue-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a hook ran")
	}
	if who := g(t, w.Path, "log", "-1", "--format=%an", sha); who != tester.Name {
		t.Fatalf("author %q", who)
	}
}

func TestGitErrorsNameTheCommandAndHideTokens(t *testing.T) {
	dir := t.TempDir()
	_, err := git(ctx, dir, "rev-parse", "--verify", "no-such-ref")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "git -C "+dir+" rev-parse --verify no-such-ref") || !strings.Contains(msg, "fatal:") {
		t.Fatalf("error lacks command or stderr: %s", msg)
	}
	e := &gitError{dir: dir, args: []string{"clone", "https://bot:s3cret@gitlab.example.com/x.git"}, err: os.ErrNotExist,
		stderr: "fatal: unable to access 'https://bot:s3cret@gitlab.example.com/x.git/'"}
	if strings.Contains(e.Error(), "s3cret") || !strings.Contains(e.Error(), "https://bot:***@gitlab.example.com") {
		t.Fatalf("token not redacted: %s", e.Error())
	}
}

// Refs read from their files agree with git, loose or packed.
func TestRefFromFilesAgreesWithGit(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	other := f.commit(t, "feature/x", f.base, map[string]string{"x": "x\n"}, "x")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(ref, want string, wantFound bool) {
		t.Helper()
		sha, found, handled := refFromFiles(m.Dir, ref)
		if !handled || found != wantFound || sha != want {
			t.Fatalf("%s: sha=%q found=%v handled=%v; want %q %v", ref, sha, found, handled, want, wantFound)
		}
	}
	check("refs/remotes/origin/main", f.base, true)
	check("refs/remotes/origin/feature/x", other, true)
	check("refs/heads/nope", "", false)
	g(t, m.Dir, "pack-refs", "--all")
	check("refs/remotes/origin/main", f.base, true)
	check("refs/remotes/origin/feature/x", other, true)
	check("refs/remotes/origin/nope", "", false)
	// Not a bare repository: git answers.
	if _, _, handled := refFromFiles(f.seed, "refs/heads/main"); handled {
		t.Fatal("answered for a non-bare repository from files")
	}
}

// Every name plainBranch accepts without asking git, git accepts too, and
// checkBranch agrees with git on every name.
func TestPlainBranchIsASubsetOfGits(t *testing.T) {
	names := []string{"agentorg/issue-1", "main", "a.b/c_d", "x/.hidden", "x.lock", "a..b", "a/", "/a", "a//b",
		"a.", "release/1.2", "feature/x.lock/y", "a@{b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[b", `a\b`, "@", "ok-", "a/b.lock.x"}
	for _, n := range names {
		_, gitErr := git(ctx, "", "check-ref-format", "refs/heads/"+n)
		if plainBranch(n) && gitErr != nil {
			t.Errorf("plainBranch accepts %q, git does not: %v", n, gitErr)
		}
		if err := checkBranch(ctx, n); (err == nil) != (gitErr == nil) {
			t.Errorf("checkBranch(%q) = %v, git says %v", n, err, gitErr)
		}
	}
}

// A loose commit is recognised from its file; a tree, a blob or a missing
// object is left for git to judge, and revParse still says the truth.
func TestLooseCommitFromItsFile(t *testing.T) {
	f := newFixture(t)
	tree := g(t, f.origin, "rev-parse", f.base+"^{tree}")
	blob := g(t, f.origin, "rev-parse", f.base+":README")
	if !looseCommit(f.origin, f.base) {
		t.Fatal("a loose commit was not recognised")
	}
	if got, ok := looseCommitTree(f.origin, f.base); !ok || got != tree {
		t.Fatalf("tree of the loose commit: %s %v, want %s", got, ok, tree)
	}
	for _, sha := range []string{tree, blob, strings.Repeat("0", 40)} {
		if looseCommit(f.origin, sha) {
			t.Fatalf("%s taken for a loose commit", sha)
		}
		if _, ok, err := revParse(ctx, f.origin, sha); ok || err != nil {
			t.Fatalf("revParse(%s) = %v, %v; want not a commit", sha, ok, err)
		}
	}
	if got, ok, err := revParse(ctx, f.origin, f.base); !ok || err != nil || got != f.base {
		t.Fatalf("revParse(base) = %s %v %v", got, ok, err)
	}
}

// IsAncestor answers a commit's own parents from its file, and anything
// else as git does.
func TestIsAncestorFromParents(t *testing.T) {
	f := newFixture(t)
	child := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"x": "x\n"}, "child")
	grandchild := f.commit(t, "agentorg/issue-1", child, map[string]string{"y": "y\n"}, "grandchild")
	other := f.commit(t, "main", f.base, map[string]string{"z": "z\n"}, "other")
	if _, parents, ok := looseCommitHeader(f.origin, grandchild); !ok || len(parents) != 1 || parents[0] != child {
		t.Fatalf("parents of the grandchild: %v %v", parents, ok)
	}
	m := &Mirror{Dir: f.origin}
	for _, c := range []struct {
		a, b string
		want bool
	}{{f.base, child, true}, {child, child, true}, {f.base, grandchild, true}, {child, f.base, false}, {other, grandchild, false}} {
		if got, err := m.IsAncestor(ctx, c.a, c.b); err != nil || got != c.want {
			t.Errorf("IsAncestor(%.7s, %.7s) = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
}
