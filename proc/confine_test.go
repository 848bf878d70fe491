package proc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	sandbox.Main()
	os.Exit(m.Run())
}

// layout is a home as agentorg keeps one (database, mirror, a worktree)
// and a local origin, in a test's temporary directory.
type layout struct {
	home, db, objects, worktree, origin string
}

func newLayout(t *testing.T) layout {
	t.Helper()
	dir := t.TempDir()
	l := layout{
		home:   filepath.Join(dir, "home"),
		origin: filepath.Join(dir, "origin.git"),
	}
	l.db = filepath.Join(l.home, "agentorg.db")
	l.objects = filepath.Join(l.home, "mirror.git", "objects")
	l.worktree = filepath.Join(l.home, "worktrees", "issue-1")
	for _, d := range []string{l.objects, l.worktree, l.origin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, s := range map[string]string{l.db: "SECRET-DB-CONTENT\n", filepath.Join(l.objects, "pack"): "objects\n", filepath.Join(l.origin, "HEAD"): "ref: refs/heads/main\n"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// policy is what the engine gives a read-write run in l.worktree.
func (l layout) policy() *sandbox.Policy {
	return &sandbox.Policy{Hidden: []string{l.home, l.origin}, Readable: []string{l.objects}, Writable: []string{l.worktree}}
}

// attack tries every way out a worktree offers and says, one line each,
// what got through. It also writes where it may, and connects to a
// listener on 127.0.0.1.
const attack = `
try() { if sh -c "$1" 2>/dev/null; then echo "ESCAPED: $2"; else echo "refused: $2"; fi; }
try 'echo x > ../x' "../x"
try 'echo x > "$H/escape"' "a new file in the home"
try 'echo x >> "$H/agentorg.db"' "appending to the database"
try 'truncate -s 0 "$H/agentorg.db"' "truncating the database"
try 'echo x > "$H/mirror.git/objects/x"' "writing the mirror's objects"
try 'echo x > "$O/x"' "writing the origin"
try 'echo x > "$OUT"' "writing /tmp outside TMPDIR"
try 'cat "$H/agentorg.db"' "reading the database"
try 'ls "$H"' "listing the home"
try 'cat "$O/HEAD"' "reading the origin"
try 'cat "$H/mirror.git/objects/pack" >/dev/null' "reading the mirror's objects"
echo inside > inside.txt && echo "wrote the worktree"
echo tmp > "$TMPDIR/t.txt" && echo "wrote TMPDIR"
bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"' && echo hello >&3' && echo "connected to 127.0.0.1"
`

func TestConfinedProcessWritesOnlyItsOwnDirectories(t *testing.T) {
	sandboxtest.Need(t)
	l := newLayout(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b := make([]byte, 5)
		c.Read(b)
		c.Close()
		got <- string(b)
	}()
	out := filepath.Join(os.TempDir(), fmt.Sprintf("agentorg-escape-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(out) })
	env := append(BaseEnv(), "H="+l.home, "O="+l.origin, "OUT="+out, "PORT="+strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:"))

	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", attack}, Dir: l.worktree, Env: env, Confine: l.policy()})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d:\n%s", res.ExitCode, res.Tail)
	}
	for _, want := range []string{
		"refused: ../x", "refused: a new file in the home", "refused: appending to the database",
		"refused: truncating the database", "refused: writing the mirror's objects", "refused: writing the origin",
		"refused: writing /tmp outside TMPDIR", "refused: reading the database", "refused: listing the home",
		"refused: reading the origin",
		"ESCAPED: reading the mirror's objects", // a readable exception
		"wrote the worktree", "wrote TMPDIR", "connected to 127.0.0.1",
	} {
		if !strings.Contains(res.Tail, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, res.Tail)
		}
	}
	if strings.Contains(res.Tail, "SECRET-DB-CONTENT") {
		t.Errorf("the database was read:\n%s", res.Tail)
	}
	if b, _ := os.ReadFile(l.db); string(b) != "SECRET-DB-CONTENT\n" {
		t.Errorf("the database changed: %q", b)
	}
	for _, p := range []string{filepath.Join(l.home, "worktrees", "x"), filepath.Join(l.home, "escape"), filepath.Join(l.objects, "x"), filepath.Join(l.origin, "x"), out} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if b, err := os.ReadFile(filepath.Join(l.worktree, "inside.txt")); err != nil || string(b) != "inside\n" {
		t.Errorf("the worktree was not written: %q %v", b, err)
	}
	if s := <-got; s != "hello" {
		t.Errorf("the listener got %q", s)
	}
}

// The same attack unconfined gets through: the test above sees escapes.
func TestUnconfinedAttackEscapes(t *testing.T) {
	l := newLayout(t)
	out := filepath.Join(os.TempDir(), fmt.Sprintf("agentorg-escape-unconfined-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(out) })
	env := append(BaseEnv(), "H="+l.home, "O="+l.origin, "OUT="+out, "PORT=1")
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", attack}, Dir: l.worktree, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ESCAPED: a new file in the home", "ESCAPED: writing /tmp outside TMPDIR", "ESCAPED: reading the database"} {
		if !strings.Contains(res.Tail, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, res.Tail)
		}
	}
}

func TestConfinedReadOnlyRunCannotWriteItsDirectory(t *testing.T) {
	sandboxtest.Need(t)
	l := newLayout(t)
	if err := os.WriteFile(filepath.Join(l.worktree, "code.go"), []byte("package x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &sandbox.Policy{Hidden: []string{l.home, l.origin}, Readable: []string{l.worktree}}
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", `
cat code.go
echo x > new.txt || echo "refused: a new file"
echo x >> code.go || echo "refused: an edit"
rm code.go || echo "refused: a removal"
echo t > "$TMPDIR/t" && echo "wrote TMPDIR"`}, Dir: l.worktree, Env: BaseEnv(), Confine: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"package x", "refused: a new file", "refused: an edit", "refused: a removal", "wrote TMPDIR"} {
		if !strings.Contains(res.Tail, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, res.Tail)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(l.worktree, "code.go")); string(b) != "package x\n" {
		t.Errorf("code.go changed: %q", b)
	}
}

// detach starts a child that leaves the group (setsid) and one that
// leaves by a double fork, each recording in the directory that it
// runs, then prints "ready" and, unless told to end ($1), sleeps. The
// children hold the run's stdout and stderr.
const detach = `
setsid sh -c 'echo up > setsid.up; exec sleep 300' &
sh -c '(sleep 300 & echo up > fork.up) &'
while [ ! -f setsid.up ] || [ ! -f fork.up ]; do sleep 0.01; done
echo ready
[ "$1" = wait ] && exec sleep 300
exit 0
`

// alive lists the processes that carry mark.
func alive(t *testing.T, mark string) []int {
	t.Helper()
	pids, ok := marked(func(m string) bool { return m == mark })
	if !ok {
		t.Skip("needs /proc")
	}
	return pids
}

func TestNothingAConfinedRunStartedOutlivesIt(t *testing.T) {
	sandboxtest.Need(t)
	for _, tc := range []struct {
		name string
		arg  string
		spec func(*Spec)
	}{
		{"ends by itself", "exit", func(*Spec) {}},
		{"killed by a timeout", "wait", func(s *Spec) { s.Timeout, s.KillGrace = 2*time.Second, 100*time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mark := fmt.Sprintf("detach-test/%d/%s", os.Getpid(), tc.name)
			s := Spec{Argv: []string{"sh", "-c", detach, "detach", tc.arg}, Dir: dir, Env: BaseEnv(),
				Confine: &sandbox.Policy{Writable: []string{dir}}}
			tc.spec(&s)
			res, err := Run(WithMark(context.Background(), mark), s)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(res.Tail, "ready") {
				t.Fatalf("the children did not start:\n%s", res.Tail)
			}
			if pids := alive(t, mark); len(pids) > 0 {
				t.Fatalf("processes %v outlived the run (%+v)", pids, res)
			}
		})
	}
}

// Unconfined, the setsid child survives its run: the test above would see
// it. Holding the run's stdout, it does not keep the run from ending.
func TestUnconfinedDetachedChildSurvives(t *testing.T) {
	dir := t.TempDir()
	mark := fmt.Sprintf("detach-test/%d/unconfined", os.Getpid())
	res, err := Run(WithMark(context.Background(), mark), Spec{Argv: []string{"sh", "-c", detach, "detach", "exit"}, Dir: dir, Env: BaseEnv(), KillGrace: 100 * time.Millisecond})
	if err != nil || !strings.Contains(res.Tail, "ready") {
		t.Fatalf("%v\n%s", err, res.Tail)
	}
	t.Cleanup(func() { KillMarked(func(m string) bool { return m == mark }) })
	if pids := alive(t, mark); len(pids) == 0 {
		t.Fatal("no detached child survived an unconfined run")
	}
}

func TestConfinedExitStatusIsTheCommands(t *testing.T) {
	sandboxtest.Need(t)
	dir := t.TempDir()
	p := &sandbox.Policy{Writable: []string{dir}}
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", "echo out; exit 3"}, Dir: dir, Env: BaseEnv(), Confine: p})
	if err != nil || res.ExitCode != 3 || res.Reason() != "exit status 3" {
		t.Fatalf("exit 3: %+v %v", res, err)
	}
	res, err = Run(context.Background(), Spec{Argv: []string{"sh", "-c", "kill -9 $$"}, Dir: dir, Env: BaseEnv(), Confine: p})
	if err != nil || res.ExitCode != -1 {
		t.Fatalf("killed by a signal: %+v %v", res, err)
	}
	// The program is found as unconfined (in agentorg's PATH, not the
	// command's), and keeps its argv[0].
	res, err = Run(context.Background(), Spec{Argv: []string{"sh", "-c", "echo $0"}, Dir: dir, Env: []string{"ONLY=1"}, Confine: p})
	if err != nil || res.ExitCode != 0 || res.Tail != "sh\n" {
		t.Fatalf("sh without PATH: %+v %v", res, err)
	}
	// Not found is a start error, as unconfined.
	_, err = Run(context.Background(), Spec{Argv: []string{"/nonexistent/agentorg-binary"}, Dir: dir, Env: BaseEnv(), Confine: p})
	if err == nil || !strings.Contains(err.Error(), "start /nonexistent/agentorg-binary") {
		t.Fatalf("start error %v", err)
	}
	// A policy that would open a hidden path up is refused before anything runs.
	bad := &sandbox.Policy{Hidden: []string{filepath.Join(dir, "secret")}, Writable: []string{dir}}
	_, err = Run(context.Background(), Spec{Argv: []string{"true"}, Dir: dir, Env: BaseEnv(), Confine: bad})
	if err == nil || !strings.Contains(err.Error(), "holds the hidden path") {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestConfinedTMPDIRIsItsOwnAndRemoved(t *testing.T) {
	sandboxtest.Need(t)
	dir := t.TempDir()
	var out bytes.Buffer
	_, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", `echo "$TMPDIR"; touch "$TMPDIR/x"`}, Dir: dir,
		Env: append(BaseEnv(), "TMPDIR=/somewhere/else"), Stdout: &out, Confine: &sandbox.Policy{Writable: []string{dir}}})
	if err != nil {
		t.Fatal(err)
	}
	tmp := strings.TrimSpace(out.String())
	if !strings.Contains(tmp, "agentorg-run-") {
		t.Fatalf("TMPDIR %q", tmp)
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Fatalf("%s outlived the run", tmp)
	}
	// Under the policy's TempRoot, when it has one.
	root := filepath.Join(dir, "tmp")
	out.Reset()
	_, err = Run(context.Background(), Spec{Argv: []string{"sh", "-c", `echo "$TMPDIR"`}, Dir: dir,
		Env: BaseEnv(), Stdout: &out, Confine: &sandbox.Policy{Writable: []string{dir}, TempRoot: root}})
	if err != nil {
		t.Fatal(err)
	}
	tmp = strings.TrimSpace(out.String())
	if filepath.Dir(tmp) != root {
		t.Fatalf("TMPDIR %q, want one in %s", tmp, root)
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Fatalf("%s outlived the run", tmp)
	}
}

// The crash reaper finds a confined run by its mark (docs/lifecycle.md
// I8): the helper and the command carry it, and killing them ends the run
// and everything it started, even what left its group.
func TestConfinedRunKeepsItsMark(t *testing.T) {
	sandboxtest.Need(t)
	dir := t.TempDir()
	mark := fmt.Sprintf("confined-mark/%d", os.Getpid())
	ended := make(chan Result, 1)
	go func() {
		res, _ := Run(WithMark(context.Background(), mark), Spec{Argv: []string{"sh", "-c", "setsid sleep 300 & sleep 300"}, Dir: dir, Env: BaseEnv(),
			Confine: &sandbox.Policy{Writable: []string{dir}}})
		ended <- res
	}()
	// The helper, the shell, and its two sleeps.
	for deadline := time.Now().Add(10 * time.Second); len(alive(t, mark)) < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("marked processes: %v, want 4", alive(t, mark))
		}
	}
	if n, ok := KillMarked(func(m string) bool { return m == mark }); !ok || n < 1 {
		t.Fatalf("KillMarked = %d, %v", n, ok)
	}
	select {
	case res := <-ended:
		if res.ExitCode != -1 {
			t.Fatalf("the run ended %+v, want killed", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run still runs after KillMarked")
	}
	if pids := alive(t, mark); len(pids) > 0 {
		t.Fatalf("%v outlived KillMarked", pids)
	}
}

// A confined process cannot reach a service on an abstract unix socket
// outside its run (Landlock ABI 6), nor signal a process outside it.
func TestConfinedProcessCannotReachOutsideItsRun(t *testing.T) {
	if abi := sandboxtest.Need(t); abi < 6 {
		t.Skipf("Landlock ABI %d scopes neither signals nor abstract sockets", abi)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3 to connect to an abstract socket")
	}
	name := fmt.Sprintf("agentorg-test-%d", os.Getpid())
	ln, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	connect := fmt.Sprintf(`%s -c 'import socket; socket.socket(socket.AF_UNIX).connect("\0%s")' 2>/dev/null && echo connected || echo "refused: the socket"`, py, name)
	signal := fmt.Sprintf(`kill -0 %d 2>/dev/null && echo signalled || echo "refused: the signal"`, os.Getpid())
	dir := t.TempDir()
	for _, tc := range []struct {
		confine *sandbox.Policy
		want    string
	}{
		{nil, "connected\nsignalled\n"},
		{&sandbox.Policy{Writable: []string{dir}}, "refused: the socket\nrefused: the signal\n"},
	} {
		res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", connect + "; " + signal}, Dir: dir, Env: BaseEnv(), Confine: tc.confine})
		if err != nil || res.Tail != tc.want {
			t.Errorf("confined %v: %q %v, want %q", tc.confine != nil, res.Tail, err, tc.want)
		}
	}
}
