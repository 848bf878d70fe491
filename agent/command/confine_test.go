package command

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
)

// A confined command agent, in a worktree of a home as the engine keeps
// one, tries its way out: every write outside its worktree and TMPDIR,
// and reading the database, is refused; its worktree, its TMPDIR and the
// network (its model's API) work.
func TestConfinedAgentTouchesOnlyItsOwn(t *testing.T) {
	sandboxtest.Need(t)
	dir := t.TempDir()
	home, origin := filepath.Join(dir, "home"), filepath.Join(dir, "origin.git")
	wt := filepath.Join(home, "worktrees", "issue-1")
	for _, d := range []string{wt, filepath.Join(home, "mirror.git", "objects"), origin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(home, "agentorg.db")
	if err := os.WriteFile(db, []byte("SECRET-DB-CONTENT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("model says hi\n"))
			c.Close()
		}
	}()
	outside := filepath.Join(os.TempDir(), fmt.Sprintf("agentorg-command-escape-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(outside) })
	a := New(Config{Command: []string{fake(t, fmt.Sprintf(`
cat >/dev/null
try() { if sh -c "$1" 2>/dev/null; then echo "ESCAPED: $2" >&2; else echo "refused: $2" >&2; fi; }
try 'echo x > ../x' '../x'
try 'echo x > %[1]s/escape' 'the home'
try 'echo x >> %[2]s' 'the database'
try 'echo x > %[1]s/mirror.git/objects/x' 'the mirror'
try 'echo x > %[3]s/x' 'the origin'
try 'echo x > %[4]s' '/tmp outside TMPDIR'
try 'cat %[2]s' 'reading the database'
echo in > in.txt && echo tmp > "$TMPDIR/t" && echo "wrote the worktree and TMPDIR" >&2
bash -c 'exec 3<>/dev/tcp/127.0.0.1/%[5]d; head -1 <&3' >&2
echo '{"type":"result","session_id":"s-1","summary":"tried","is_error":false}'
`, home, db, origin, outside, ln.Addr().(*net.TCPAddr).Port))}, Timeout: time.Minute})
	var tr bytes.Buffer
	task := agentorg.Task{Role: "developer", Issue: 1, Attempt: 1, Dir: wt, Prompt: "go", Access: agentorg.ReadWrite,
		Env: proc.BaseEnv(), Transcript: &tr,
		Confine: &agentorg.Confinement{Hidden: []string{home, origin}, Readable: []string{filepath.Join(home, "mirror.git", "objects")}, Writable: []string{wt}}}
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatalf("%v\n%s", err, tr.String())
	}
	out := tr.String()
	for _, want := range []string{"refused: ../x", "refused: the home", "refused: the database", "refused: the mirror", "refused: the origin",
		"refused: /tmp outside TMPDIR", "refused: reading the database", "wrote the worktree and TMPDIR", "model says hi"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("the transcript lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ESCAPED") || strings.Contains(out, "SECRET-DB-CONTENT") {
		t.Errorf("the agent got out:\n%s", out)
	}
	if b, _ := os.ReadFile(db); string(b) != "SECRET-DB-CONTENT\n" {
		t.Errorf("the database changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(wt, "in.txt")); err != nil {
		t.Errorf("the worktree was not written: %v", err)
	}
}
