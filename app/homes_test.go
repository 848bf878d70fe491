package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// newRepoWorkflow makes <dir>/<name>/.agentorg/workflow.yaml (an empty
// file is enough to resolve paths) and returns its path.
func newRepoWorkflow(t *testing.T, dir, name string) string {
	t.Helper()
	wf := filepath.Join(dir, name, ".agentorg", "workflow.yaml")
	if err := os.MkdirAll(filepath.Dir(wf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wf, []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return wf
}

// A workflow named without a home gets one outside its repository, under
// $XDG_STATE_HOME/agentorg/homes, reached through .agentorg/state; the
// next command finds the same one.
func TestTheDefaultHomeLiesOutsideTheRepository(t *testing.T) {
	dir := t.TempDir()
	wf := newRepoWorkflow(t, dir, "calc")
	env := map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "xdg-state")}
	getenv := func(k string) string { return env[k] }
	home, got, err := ResolvePaths(Options{Workflow: wf, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if got != wf {
		t.Fatalf("workflow %s, want %s", got, wf)
	}
	homes := filepath.Join(dir, "xdg-state", "agentorg", "homes")
	if filepath.Dir(home) != homes || !strings.HasPrefix(filepath.Base(home), "calc-") {
		t.Fatalf("home %s, want calc-… in %s", home, homes)
	}
	if msg := HomeInsideRepository(home, wf); msg != "" {
		t.Fatalf("the new home is said to be inside the repository: %s", msg)
	}
	link := filepath.Join(dir, "calc", ".agentorg", "state")
	if to, err := os.Readlink(link); err != nil || to != home {
		t.Fatalf(".agentorg/state links to %q (%v), want %s", to, err, home)
	}
	again, _, err := ResolvePaths(Options{Workflow: wf, Getenv: getenv})
	if err != nil || again != home {
		t.Fatalf("the second resolution: %s (%v), want %s", again, err, home)
	}
	entries, _ := os.ReadDir(homes)
	if len(entries) != 1 {
		t.Fatalf("homes made: %d, want 1", len(entries))
	}
}

// A home that is a directory in the repository (an earlier version's)
// stays where it is, and is said to be inside.
func TestAHomeInsideTheRepositoryIsKeptAndNamed(t *testing.T) {
	dir := t.TempDir()
	wf := newRepoWorkflow(t, dir, "calc")
	old := filepath.Join(dir, "calc", ".agentorg", "state")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	home, _, err := ResolvePaths(Options{Workflow: wf, Getenv: func(k string) string {
		return map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "xdg")}[k]
	}})
	if err != nil || home != old {
		t.Fatalf("home %s (%v), want %s", home, err, old)
	}
	msg := HomeInsideRepository(home, wf)
	if !strings.Contains(msg, "is inside the repository "+filepath.Join(dir, "calc")) || !strings.Contains(msg, "mv "+old+" ") {
		t.Fatalf("inside: %q", msg)
	}
}

// A copy of a repository copies the link, not the home: the copy is
// refused the home its original still uses; a repository that moved
// keeps it.
func TestACopiedRepositoryIsRefusedItsOriginalsHome(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "xdg")}[k]
	}
	wf := newRepoWorkflow(t, dir, "calc")
	home, _, err := ResolvePaths(Options{Workflow: wf, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "home.json"), []byte(`{"workflow": "`+wf+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	copyWF := newRepoWorkflow(t, dir, "calc-copy")
	if err := os.Symlink(home, filepath.Join(dir, "calc-copy", ".agentorg", "state")); err != nil {
		t.Fatal(err)
	}
	_, _, err = ResolvePaths(Options{Workflow: copyWF, Getenv: getenv})
	if err == nil || !strings.Contains(err.Error(), "looks like a copy of that one") || !strings.Contains(err.Error(), "rm "+filepath.Join(dir, "calc-copy", ".agentorg", "state")) {
		t.Fatalf("a copy on its original's home: %v", err)
	}
	// The original moves away: the copy is where it is now.
	if err := os.Rename(filepath.Join(dir, "calc"), filepath.Join(dir, "calc-old")); err != nil {
		t.Fatal(err)
	}
	got, _, err := ResolvePaths(Options{Workflow: copyWF, Getenv: getenv})
	if err != nil || got != home {
		t.Fatalf("a moved repository's home: %s (%v), want %s", got, err, home)
	}
}

// A link that leads nowhere is an error that says what to do, never a new
// home made in its place.
func TestADanglingHomeLinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	wf := newRepoWorkflow(t, dir, "calc")
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "calc", ".agentorg", "state")); err != nil {
		t.Fatal(err)
	}
	_, _, err := ResolvePaths(Options{Workflow: wf, Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "leads nowhere") {
		t.Fatalf("dangling link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Fatalf("a home was made where the link leads: %v", err)
	}
}

// The link is kept out of git even where an earlier init's .gitignore
// says "state/" (a directory, not a link): in the repository's own
// info/exclude, never a tracked file. Where .gitignore covers it, nothing
// is added.
func TestTheHomesLinkIsIgnoredByGit(t *testing.T) {
	for _, tc := range []struct{ ignore, excluded string }{
		{"state/\n", "/.agentorg/state"},
		{"/state\n", ""},
	} {
		dir := t.TempDir()
		wf := newRepoWorkflow(t, dir, "calc")
		repo := filepath.Join(dir, "calc")
		if err := os.WriteFile(filepath.Join(repo, ".agentorg", ".gitignore"), []byte(tc.ignore), 0o644); err != nil {
			t.Fatal(err)
		}
		git := func(args ...string) string {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
			cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		git("init", "-q", "-b", "main")
		before, _ := os.ReadFile(filepath.Join(repo, ".git", "info", "exclude"))
		if _, _, err := ResolvePaths(Options{Workflow: wf, Getenv: func(k string) string {
			return map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "xdg")}[k]
		}}); err != nil {
			t.Fatal(err)
		}
		if st := git("status", "--porcelain", "--untracked-files=all"); strings.Contains(st, "state") {
			t.Errorf(".gitignore %q: git sees the link:\n%s", tc.ignore, st)
		}
		after, _ := os.ReadFile(filepath.Join(repo, ".git", "info", "exclude"))
		added := strings.TrimPrefix(string(after), string(before))
		if tc.excluded == "" && added != "" || tc.excluded != "" && !strings.Contains(added, tc.excluded+"\n") {
			t.Errorf(".gitignore %q: info/exclude gained %q, want %q", tc.ignore, added, tc.excluded)
		}
	}
}
