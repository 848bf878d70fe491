// Package clitest helps tests run the real coding CLIs (Codex, Claude Code,
// Gemini CLI, OpenCode) without touching anyone's configuration: it finds the
// installed CLI, builds an environment from scratch around a fresh home, makes
// a repository for it to work in, and checks that none of its processes
// outlive a run.
package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ToolsDir is where .ci/run installs the pinned CLIs with npm, relative to
// the repository root; the repository ignores it.
const ToolsDir = ".tools/clis"

// Find returns the path of the named CLI executable ("codex", "claude",
// "gemini", "opencode"). It looks in the repository's ToolsDir first, then in
// PATH. When the CLI is missing the test is skipped with a message that says
// how to install it, except under CI=true, where it fails: CI must run them.
func Find(t testing.TB, name string) string {
	t.Helper()
	if root := RepoRoot(); root != "" {
		p := filepath.Join(root, ToolsDir, "node_modules", ".bin", name)
		if isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := name + " is not installed: run .ci/install-clis (npm, pinned versions, into " + ToolsDir + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// RepoRoot is the directory holding go.mod, found from this source file, or
// "" when the source is not available.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Home is a fresh home for one CLI run: its own HOME, CODEX_HOME and XDG
// directories under the test's temporary directory.
type Home struct {
	Dir string
}

// NewHome makes a fresh home under t.TempDir().
func NewHome(t testing.TB) Home {
	t.Helper()
	h := Home{Dir: filepath.Join(t.TempDir(), "home")}
	for _, d := range []string{"", ".codex", ".config", ".local/share", ".cache", ".local/state", "tmp"} {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// Env is an environment built from scratch: PATH (the directory of node and
// of the CLI, plus the system's), the fresh home and its XDG directories,
// LANG, TMPDIR inside the home, then extra ("K=V"). Nothing else from the
// test's own environment gets through: no keys, no config, no sessions.
func (h Home) Env(cli string, extra ...string) []string {
	path := []string{}
	if cli != "" {
		path = append(path, filepath.Dir(cli))
	}
	if node, err := exec.LookPath("node"); err == nil {
		path = append(path, filepath.Dir(node))
	}
	path = append(path, "/usr/local/bin", "/usr/bin", "/bin")
	env := []string{
		"PATH=" + strings.Join(path, ":"),
		"HOME=" + h.Dir,
		"CODEX_HOME=" + filepath.Join(h.Dir, ".codex"),
		"XDG_CONFIG_HOME=" + filepath.Join(h.Dir, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(h.Dir, ".local/share"),
		"XDG_CACHE_HOME=" + filepath.Join(h.Dir, ".cache"),
		"XDG_STATE_HOME=" + filepath.Join(h.Dir, ".local/state"),
		"TMPDIR=" + filepath.Join(h.Dir, "tmp"),
		"LANG=C.UTF-8",
	}
	return append(env, extra...)
}

// Pins are the versions .ci/install-clis installs, by npm package, read
// from its pins=(...) line: what agentorg is tested with.
func Pins(t testing.TB) map[string]string {
	t.Helper()
	root := RepoRoot()
	if root == "" {
		t.Fatal("the repository root is not found from the test's source")
	}
	path := filepath.Join(root, ".ci", "install-clis")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		list, ok := strings.CutPrefix(strings.TrimSpace(line), "pins=(")
		if !ok {
			continue
		}
		list, ok = strings.CutSuffix(list, ")")
		if !ok {
			t.Fatalf("%s: the pins line does not end with ): %q", path, line)
		}
		pins := map[string]string{}
		for _, p := range strings.Fields(list) {
			at := strings.LastIndexByte(p, '@')
			if at <= 0 || at == len(p)-1 {
				t.Fatalf("%s: pin %q is not package@version", path, p)
			}
			pins[p[:at]] = p[at+1:]
		}
		return pins
	}
	t.Fatalf("%s has no pins=(...) line", path)
	return nil
}
