package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	// Keep the machine's global git config out of the tests.
	home, err := os.MkdirTemp("", "workspace-home-")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

var ctx = context.Background()

var tester = Identity{Name: "Test Dev", Email: "dev@example.com"}

// g runs git in dir and fails the test on error.
func g(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(ctx, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// fixture is a bare origin with a main branch, and a scratch clone used to
// make commits in it.
type fixture struct {
	root, origin, seed string
	base               string // first commit on main
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{root: root, origin: filepath.Join(root, "origin.git"), seed: filepath.Join(root, "seed")}
	g(t, root, "init", "--quiet", "--bare", "-b", "main", f.origin)
	g(t, root, "init", "--quiet", "-b", "main", f.seed)
	g(t, f.seed, "remote", "add", "origin", f.origin)
	f.base = f.commit(t, "main", "", map[string]string{
		"README":     "hello\n",
		"shared.txt": "one\ntwo\nthree\n",
		".gitignore": "ignored/\n*.log\n",
	}, "initial")
	return f
}

// commit makes a commit on parent ("" for a root commit) with files written
// (an empty content deletes the file), pushes it to origin's branch
// (forcibly) and returns its SHA.
func (f *fixture) commit(t *testing.T, branch, parent string, files map[string]string, msg string) string {
	t.Helper()
	return f.commitEdit(t, branch, parent, func(seed string) {
		for name, content := range files {
			p := filepath.Join(seed, name)
			if content == "" {
				os.Remove(p)
				continue
			}
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}, msg)
}

// commitEdit is commit with the change made by edit, in the seed's work
// tree (modes, symlinks, anything git records).
func (f *fixture) commitEdit(t *testing.T, branch, parent string, edit func(seed string), msg string) string {
	t.Helper()
	g(t, f.seed, "fetch", "--quiet", "origin", "+refs/heads/*:refs/remotes/origin/*")
	if parent == "" {
		g(t, f.seed, "checkout", "--quiet", "--orphan", "tmp-"+branch)
		g(t, f.seed, "rm", "-rf", "--quiet", "--ignore-unmatch", ".")
	} else {
		g(t, f.seed, "checkout", "--quiet", "--force", "--detach", parent)
	}
	edit(f.seed)
	g(t, f.seed, "add", "-A")
	if _, err := gitWith(ctx, f.seed, tester, nil, "commit", "--quiet", "-m", msg); err != nil {
		t.Fatal(err)
	}
	sha := g(t, f.seed, "rev-parse", "HEAD")
	g(t, f.seed, "push", "--quiet", "--force", "origin", sha+":refs/heads/"+branch)
	return sha
}

func (f *fixture) originHead(t *testing.T, branch string) string {
	t.Helper()
	return g(t, f.origin, "rev-parse", "refs/heads/"+branch)
}

func (f *fixture) mirror(t *testing.T) *Mirror {
	t.Helper()
	m, err := OpenMirror(ctx, filepath.Join(f.root, "mirror.git"), f.origin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// trees lists the work trees the mirror's engine's git directories are
// for (see tree.go), with what their HEAD holds.
func trees(t *testing.T, m *Mirror) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, _ := os.ReadDir(filepath.Join(m.Dir, treesDir))
	for _, e := range entries {
		admin := filepath.Join(m.Dir, treesDir, e.Name())
		gitdir, err := os.ReadFile(filepath.Join(admin, "gitdir"))
		if err != nil {
			t.Fatalf("%s: %v", admin, err)
		}
		head, _ := os.ReadFile(filepath.Join(admin, "HEAD"))
		out[filepath.Dir(strings.TrimSpace(string(gitdir)))] = strings.TrimSpace(string(head))
	}
	return out
}
