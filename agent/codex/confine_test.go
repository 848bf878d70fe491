package codex

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/modelserver"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
)

// The real Codex CLI, confined as the engine confines it: its worktree
// lies in a hidden home, and the model asks its shell and its patch tool
// to write and read outside. The kernel refuses; the worktree is written.
func TestRealConfined(t *testing.T) {
	sandboxtest.Need(t)
	home := filepath.Join(t.TempDir(), "agentorg-home")
	wt := filepath.Join(home, "worktrees", "issue-7")
	if err := os.MkdirAll(wt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "agentorg.db"), []byte("SECRET-DB-CONTENT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", wt}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	tmpOut := filepath.Join(os.TempDir(), fmt.Sprintf("agentorg-codex-escape-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(tmpOut) })

	b := realCLI.Bench(t,
		modelserver.Step{Match: "CONFINED", Actions: []modelserver.Action{
			{Shell: "echo inside > inside.txt && echo tmp > \"$TMPDIR/t\" && echo WROTE-INSIDE"},
			{Shell: "echo escaped > " + filepath.Join(home, "escaped.txt")},
			{Shell: "echo escaped > " + tmpOut},
			{Shell: "cat " + filepath.Join(home, "agentorg.db")},
			{Write: &modelserver.Write{Path: filepath.Join(home, "patched.txt"), Content: "escaped\n"}},
			{Text: "Tried."}}},
		modelserver.Step{Match: "READ-ONLY", Actions: []modelserver.Action{
			{Shell: "echo x > ro-shell.txt"},
			{Write: &modelserver.Write{Path: "ro-patch.txt", Content: "x\n"}},
			{Text: "Reviewed."}}},
	)
	b.Dir = wt
	a := b.Agent(cli.Config{})
	confine := &agentorg.Confinement{Hidden: []string{home}, Writable: []string{wt}}

	task, tr := b.Task("Try the walls (CONFINED)", agentorg.ReadWrite)
	task.Confine = confine
	res, err := a.Start(context.Background(), task)
	if err != nil || res.Summary != "Tried." {
		t.Fatalf("confined start: %+v, %v\n%s", res, err, tr)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "inside.txt")); err != nil || string(b) != "inside\n" {
		t.Errorf("the worktree was not written: %q %v\n%s", b, err, tr)
	}
	for _, p := range []string{filepath.Join(home, "escaped.txt"), filepath.Join(home, "patched.txt"), tmpOut} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("Codex wrote %s\n%s", p, tr)
		}
	}
	var bodies strings.Builder
	for _, req := range b.Server.Requests() {
		bodies.Write(req.Body)
	}
	if strings.Contains(bodies.String(), "SECRET-DB-CONTENT") {
		t.Errorf("the model was shown the database")
	}
	if !strings.Contains(bodies.String(), "WROTE-INSIDE") || !strings.Contains(bodies.String(), "Permission denied") {
		t.Errorf("the model was not told what worked and what was refused:\n%s", tr)
	}

	// Read-only: its own checkout cannot be written either way.
	confine.Readable, confine.Writable = []string{wt}, nil
	task, tr = b.Task("Review (READ-ONLY)", agentorg.ReadOnly)
	task.Confine = confine
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatalf("confined read-only start: %v\n%s", err, tr)
	}
	for _, p := range []string{"ro-shell.txt", "ro-patch.txt"} {
		if _, err := os.Stat(filepath.Join(wt, p)); err == nil {
			t.Errorf("a read-only run wrote %s\n%s", p, tr)
		}
	}
}
