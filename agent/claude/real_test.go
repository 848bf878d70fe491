package claude

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// These tests run the real Claude Code CLI against the scripted model
// server (realCLI), for what is Claude Code's own; the contract suite does
// the rest.

// realAgent is Claude Code as c says, with the bench's CLI.
func realAgent(b *agenttest.Bench, c Config) *Agent {
	c.Binary, c.Timeout = b.Bin, 3*time.Minute
	return New(c)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRealReadOnlyCannotWrite(t *testing.T) {
	b := realCLI.Bench(t,
		// With no Write tool declared, the server writes through Bash.
		modelserver.Step{Match: "WRITE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "ro.txt", Content: "must not exist\n"}},
			{Shell: "echo x > ro-shell.txt"},
			{Shell: "ls -a"},
			{Text: "Reviewed."}}},
	)
	a := realAgent(b, Config{})
	task, tr := b.Task("Review the change (WRITE)", agentorg.ReadOnly)
	res, err := a.Start(context.Background(), task)
	if err != nil || res.Summary != "Reviewed." {
		t.Fatalf("read-only run: %+v, %v\n%s", res, err, tr)
	}
	for _, f := range []string{"ro.txt", "ro-shell.txt"} {
		if _, err := os.Stat(filepath.Join(b.Dir, f)); err == nil {
			t.Errorf("a read-only run wrote %s", f)
		}
	}
	reqs := b.Server.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests\n%s", len(reqs), tr)
	}
	for _, name := range []string{`"name":"Write"`, `"name":"Edit"`, `"name":"NotebookEdit"`} {
		if strings.Contains(string(reqs[0].Body), name) {
			t.Errorf("a read-only run was offered %s", name)
		}
	}
	// Reading commands still run: the model got the listing.
	if !strings.Contains(string(reqs[3].Body), ".git") {
		t.Errorf("ls -a did not run:\n%s", tr)
	}
}

func TestRealDeniedWriteFailsAReadWriteRun(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.txt") // not under Task.Dir
	b := realCLI.Bench(t,
		modelserver.Step{Match: "OUTSIDE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: outside, Content: "must not exist\n"}},
			{Text: "Wrote it."}}},
	)
	a := realAgent(b, Config{})
	task, tr := b.Task("Write outside (OUTSIDE)", agentorg.ReadWrite)
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "permission denied for Write")
	if res.SessionID == "" || res.Summary != "Wrote it." || res.Usage.InputTokens == 0 {
		t.Errorf("result on denial %+v\n%s", res, tr)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("Claude Code wrote outside the project")
	}
}

func TestRealCommandsNeedAllowedTools(t *testing.T) {
	// acceptEdits runs file edits and read-only or filesystem commands, but
	// denies any other command (go, make, npm): the run still succeeds, the
	// denial noted in its summary, and a workflow whose developer should run
	// them allows them through Config.Args.
	steps := []modelserver.Step{{Match: "SH", Actions: []modelserver.Action{
		{Shell: "git status --short"},
		{Shell: "echo hi > made-by-shell.txt"},
		{Shell: "go version"},
		{Text: "Ran them."}}}}
	b := realCLI.Bench(t, steps...)
	a := realAgent(b, Config{})
	task, tr := b.Task("Run the commands (SH)", agentorg.ReadWrite)
	res, err := a.Start(context.Background(), task)
	if err != nil || res.Summary != "Ran them.\n\n(Claude Code denied: Bash)" {
		t.Errorf("result %+v, %v\n%s", res, err, tr)
	}
	if got := readFile(t, filepath.Join(b.Dir, "made-by-shell.txt")); got != "hi\n" {
		t.Errorf("made-by-shell.txt: %q", got)
	}
	if !strings.Contains(tr.String(), `"permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_scripted_3","tool_input":{"command":"go version"`) {
		t.Errorf("the denial is not the go command's:\n%s", tr)
	}

	b = realCLI.Bench(t, steps...)
	a = realAgent(b, Config{Args: []string{"--allowedTools", "Bash(go *)"}})
	task, tr = b.Task("Run the commands (SH)", agentorg.ReadWrite)
	res, err = a.Start(context.Background(), task)
	if err != nil || strings.Contains(res.Summary, "denied") {
		t.Fatalf("with go allowed: %+v, %v\n%s", res, err, tr)
	}
}

func TestRealMaxTurns(t *testing.T) {
	b := realCLI.Bench(t,
		modelserver.Step{Match: "LONG", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "a.txt", Content: "a\n"}},
			{Write: &modelserver.Write{Path: "b.txt", Content: "b\n"}},
			{Text: "Done."}}},
	)
	a := realAgent(b, Config{MaxTurns: 1})
	task, tr := b.Task("A long job (LONG)", agentorg.ReadWrite)
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "error_max_turns")
	if res.SessionID == "" {
		t.Errorf("no session on max turns: %+v\n%s", res, tr)
	}
}

func TestRealProbe(t *testing.T) {
	bin := clitest.Find(t, "claude")
	pr := New(Config{}).Probe(context.Background(), clitest.NewHome(t).Env(bin))
	if pr.Problem != "" || pr.Path != bin || !strings.Contains(pr.Version, "Claude Code") {
		b, _ := json.Marshal(pr)
		t.Fatalf("probe of the installed Claude Code: %s", b)
	}
}
