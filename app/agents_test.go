package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/workflow"
)

// Locate looks an agent's executable up and runs nothing: a CLI that would
// leave a mark when run is found without leaving one.
func TestLocateRunsNothing(t *testing.T) {
	bin := t.TempDir()
	ran := filepath.Join(t.TempDir(), "ran")
	script := "#!/bin/sh\ntouch " + ran + "\n"
	for _, name := range []string{"claude", "my-agent"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	home := t.TempDir()
	for _, a := range []workflow.Agent{
		{Name: "claude", Kind: workflow.AgentClaude},
		{Name: "mine", Kind: workflow.AgentCommand, Command: []string{"my-agent"}},
	} {
		p := Locate(a, home)
		if p.Problem != "" || filepath.Dir(p.Path) != bin {
			t.Errorf("%s: Locate = %+v, want it found in %s", a.Name, p, bin)
		}
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("Locate ran the executable")
	}
	// Missing: the adapter's own fix.
	p := Locate(workflow.Agent{Name: "codex", Kind: workflow.AgentCodex}, home)
	if !strings.Contains(p.Problem, "codex not found in PATH") || !strings.Contains(p.Fix, "npm install -g @openai/codex") {
		t.Errorf("missing codex: %+v", p)
	}
	p = Locate(workflow.Agent{Name: "mine", Kind: workflow.AgentCommand, Command: []string{"/nonexistent/agent"}}, home)
	if p.Problem == "" || p.Fix != "install /nonexistent/agent or give its full path in agents.mine.command" {
		t.Errorf("missing command: %+v", p)
	}
	// The built-in agent has no executable: nothing to find.
	if p := Locate(workflow.Agent{Name: "local", Kind: workflow.AgentOpenAI, BaseURL: "http://127.0.0.1:1/v1", Model: "m"}, home); p.Problem != "" {
		t.Errorf("openai: %+v", p)
	}
}

// Probe reports an agent whose env names an unset variable before anything
// else, with the same words a refused run uses.
func TestProbeReportsMissingEnvFirst(t *testing.T) {
	a := workflow.Agent{Name: "claude", Kind: workflow.AgentClaude, Binary: "/nonexistent/claude", MissingEnv: []string{"ANTHROPIC_API_KEY"}}
	p := Probe(context.Background(), a, t.TempDir())
	if p.Problem != `agent "claude" needs $ANTHROPIC_API_KEY, which is not set in agentorg's environment` || p.Fix != "set it and restart agentorg serve" {
		t.Errorf("Probe = %+v", p)
	}
}
