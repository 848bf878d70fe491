package sandbox

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

// fakeFS lists directories from a map, as plan needs.
func fakeFS(files ...string) dirReader {
	m := fstest.MapFS{}
	for _, f := range files {
		if strings.HasSuffix(f, "/") {
			m[strings.TrimPrefix(strings.TrimSuffix(f, "/"), "/")] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		} else if target, ok := strings.CutPrefix(f, "link:"); ok {
			m[strings.TrimPrefix(target, "/")] = &fstest.MapFile{Mode: fs.ModeSymlink | 0o777}
		} else {
			m[strings.TrimPrefix(f, "/")] = &fstest.MapFile{Data: []byte("x")}
		}
	}
	return func(dir string) ([]fs.DirEntry, error) {
		name := strings.TrimPrefix(dir, "/")
		if name == "" {
			name = "."
		}
		return fs.ReadDir(m, name)
	}
}

func TestPlanAllowsReadOnEverySiblingOnTheWayToAHiddenPath(t *testing.T) {
	r := resolved{Hidden: []string{"/dev", "/repo", "/repo/.agentorg/state", "/root/.config/agentorg"}}
	readDir := fakeFS("/bin/", "/dev/null", "/etc/passwd", "/vmlinuz", "link:/lib",
		"/repo/src/x.go", "/repo/.agentorg/state/agentorg.db",
		"/root/.bashrc", "/root/.codex/", "/root/.config/gh/", "/root/.config/agentorg/token")
	pl, err := r.plan(readDir)
	if err != nil {
		t.Fatal(err)
	}
	// /, /root and /root/.config are walked; /repo is hidden, so nothing
	// in it (its state directory included) is opened up; /lib is a link.
	if want := []string{"/bin", "/etc", "/root/.codex", "/root/.config/gh"}; !reflect.DeepEqual(pl.readDirs, want) {
		t.Errorf("read dirs %v, want %v", pl.readDirs, want)
	}
	if want := []string{"/vmlinuz", "/root/.bashrc"}; !reflect.DeepEqual(pl.readFiles, want) {
		t.Errorf("read files %v, want %v", pl.readFiles, want)
	}
}

func TestPlanWithoutHiddenPathsReadsEverything(t *testing.T) {
	pl, err := resolved{}.plan(fakeFS("/bin/"))
	if err != nil || !reflect.DeepEqual(pl.readDirs, []string{"/"}) {
		t.Fatalf("plan %+v %v", pl, err)
	}
}

func TestPlanSplitsExceptionsByKind(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pl, err := resolved{Readable: []string{dir}, Writable: []string{file, filepath.Join(dir, "missing")}}.plan(fakeFS())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pl.readDirs, []string{"/", dir}) || !reflect.DeepEqual(pl.writeFiles, []string{file}) || len(pl.writeDirs) != 0 {
		t.Fatalf("plan %+v", pl)
	}
}

func TestResolveRefusesWhatWouldOpenAHiddenPath(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, "worktrees", "issue-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{Hidden: []string{home}, Writable: []string{dir}}, "writable path " + dir + " holds the hidden path " + home},
		{Policy{Hidden: []string{home}, Readable: []string{home}}, "readable path " + home + " holds the hidden path " + home},
		{Policy{Hidden: []string{"home"}}, `hidden path "home" is not absolute`},
	} {
		if _, err := tc.p.resolve(); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	// Inside a hidden path is fine: that is what exceptions are for.
	wt := filepath.Join(home, "worktrees", "issue-1")
	if _, err := (Policy{Hidden: []string{home}, Writable: []string{wt}}).resolve(); err != nil {
		t.Fatal(err)
	}
}

func TestResolveFollowsLinksAndKeepsMissingHiddenPaths(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	r, err := Policy{
		Hidden:   []string{link, filepath.Join(link, "not-yet")},
		Writable: []string{filepath.Join(dir, "missing")},
	}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	realDir, _ := filepath.EvalSymlinks(real)
	if want := []string{realDir, filepath.Join(realDir, "not-yet")}; !reflect.DeepEqual(r.Hidden, want) {
		t.Errorf("hidden %v, want %v", r.Hidden, want)
	}
	if len(r.Writable) != 0 {
		t.Errorf("a missing writable path was kept: %v", r.Writable)
	}
}

func TestArgsRoundTrip(t *testing.T) {
	p := Policy{Hidden: []string{"/h"}, Readable: []string{"/r"}, Writable: []string{"/w", "/w2"}}
	got, path, argv, err := parseArgs(append(p.args(), "-exec", "/bin/sh", "--", "sh", "-c", "true"))
	if err != nil || !reflect.DeepEqual(got, p) || path != "/bin/sh" || !reflect.DeepEqual(argv, []string{"sh", "-c", "true"}) {
		t.Fatalf("%+v %q %v %v", got, path, argv, err)
	}
	for _, bad := range [][]string{{"-hide"}, {"-x", "/a", "--", "sh"}, {"-hide", "/a"}, {"--"}} {
		if _, _, _, err := parseArgs(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The helper refuses to run outside a PID namespace of its own: there,
// its exit would not end what the command started.
func TestHelperRefusesOutsideItsNamespace(t *testing.T) {
	out, err := exec.Command(os.Args[0], HelperArg, "--", "true").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 125 || !strings.Contains(string(out), "not PID 1 of a PID namespace of its own") {
		t.Fatalf("%v: %s", err, out)
	}
}

func TestAvailableCanBeSimulatedAway(t *testing.T) {
	t.Setenv(UnavailableEnv, "no Landlock on this test machine")
	_, err := Available()
	if err == nil || err.Error() != "no Landlock on this test machine ("+UnavailableEnv+" is set)" {
		t.Fatalf("Available: %v", err)
	}
}
