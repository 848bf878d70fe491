package openai

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/modelserver"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	sandbox.Main() // confined commands start through the test binary
	os.Exit(m.Run())
}

// The built-in agent's commands run confined: a command the model asks
// for writes its worktree, never the hidden home around it.
func TestRunCommandConfined(t *testing.T) {
	sandboxtest.Need(t)
	home := filepath.Join(t.TempDir(), "home")
	dir := filepath.Join(home, "worktrees", "issue-1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(home, "escaped.txt")
	cmd := "sh -c 'echo in > in.txt && echo WROTE-IN; echo out > " + escape + " || echo REFUSED-OUT'"
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "*", Actions: []modelserver.Action{{Shell: cmd}, {Text: "ran it"}}},
	}})
	tk := task(t, dir, agentorg.ReadWrite, "go")
	tk.Confine = &agentorg.Confinement{Hidden: []string{home}, Writable: []string{dir}}
	if _, err := newAgent(t, srv.URL()+"/v1", Config{Commands: []string{"sh"}}).Start(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	msgs := bodies(t, srv)[1].Messages
	if got := msgs[len(msgs)-1].Content; !strings.Contains(got, "WROTE-IN") || !strings.Contains(got, "REFUSED-OUT") {
		t.Errorf("command result = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "in.txt")); err != nil {
		t.Errorf("the worktree was not written: %v", err)
	}
	if _, err := os.Stat(escape); err == nil {
		t.Errorf("the command wrote %s", escape)
	}
}
