package gemini

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// These tests run the real Gemini CLI against the scripted model server
// (realCLI), for what is the Gemini CLI's own; the contract suite does the
// rest.

// geminiRequests counts the model requests the server got from index from.
func geminiRequests(srv *modelserver.Server, from int) int {
	n := 0
	for _, r := range srv.Requests()[from:] {
		if r.API == "gemini" {
			n++
		}
	}
	return n
}

// With no model set, the CLI's router answers first: its request is in the
// usage. A prompt the CLI would take for a command reaches the model as
// text, and a session resumes only where it began.
func TestRealRouterSlashPromptAndResumeElsewhere(t *testing.T) {
	b := realCLI.Bench(t, modelserver.Step{Match: "STEP-ONE", Actions: []modelserver.Action{
		{Write: &modelserver.Write{Path: "hello.txt", Content: "hello from the scripted model\n"}},
		{Text: "Created hello.txt."}}})
	a := New(Config{Binary: b.Bin, Timeout: 3 * time.Minute})
	// A leading "/" would make the CLI run a slash command instead, and drop
	// the prompt from the history a resume restores; "@octocat" names no
	// file: all must reach the model as text.
	task, transcript := b.Task("/help Create hello.txt please (STEP-ONE). cc @octocat", agentorg.ReadWrite)
	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, transcript)
	}
	if first.SessionID == "" || first.Summary != "Created hello.txt." {
		t.Fatalf("start result %+v", first)
	}
	var asText bool
	for _, r := range b.Server.Requests() {
		if bytes.Contains(r.Body, []byte("/help Create hello.txt please (STEP-ONE). cc @octocat")) {
			asText = true
		}
	}
	if !asText {
		t.Error("no request carried the prompt as text")
	}
	n, u := int64(geminiRequests(b.Server, 0)), agenttest.PerRequest
	if want := (agentorg.Usage{InputTokens: n * u.InputTokens, CachedTokens: n * u.CachedInputTokens, OutputTokens: n * u.OutputTokens}); n < 3 || first.Usage != want {
		t.Errorf("start usage %+v, want %+v (%d requests, the router's among them)", first.Usage, want, n)
	}

	// From another directory the CLI finds no session: a clear error.
	task.Dir = t.TempDir()
	_, err = a.Resume(context.Background(), first.SessionID, task)
	fakecli.WantAgentErr(t, err, "exit status 42", "only from the directory it was created in")
}

func TestRealReadOnlyCannotWrite(t *testing.T) {
	b := realCLI.Bench(t, modelserver.Step{Match: "*", Actions: []modelserver.Action{
		{Write: &modelserver.Write{Path: "verdict.txt", Content: "GO"}},
		{Text: "GO"}}})
	a := b.Agent(cli.Config{})
	task, transcript := b.Task("Validate the change.", agentorg.ReadOnly)
	task.Role = "validator"
	// --skip-trust alone must trust the worktree.
	env := task.Env[:0:0]
	for _, kv := range task.Env {
		if !strings.HasPrefix(kv, "GEMINI_CLI_TRUST_WORKSPACE=") {
			env = append(env, kv)
		}
	}
	task.Env = env
	_, err := a.Start(context.Background(), task)
	if _, serr := os.Stat(filepath.Join(task.Dir, "verdict.txt")); serr == nil {
		t.Fatalf("a read-only run wrote a file (err %v)\n%s", err, transcript)
	}
	// The write tools were not even declared to the model.
	checked := 0
	for _, r := range b.Server.Requests() {
		if r.API != "gemini" || !bytes.Contains(r.Body, []byte("functionDeclarations")) {
			continue
		}
		checked++
		for _, tool := range []string{`"write_file"`, `"replace"`, `"run_shell_command"`} {
			if bytes.Contains(r.Body, []byte(tool)) {
				t.Errorf("read-only request declares %s", tool)
			}
		}
		if !bytes.Contains(r.Body, []byte(`"read_file"`)) {
			t.Error("read-only request lacks read_file")
		}
	}
	if checked == 0 {
		t.Fatalf("no request declared tools (run error: %v)\n%s", err, transcript)
	}
}

func TestRealProbe(t *testing.T) {
	bin := clitest.Find(t, "gemini")
	pr := New(Config{Binary: bin}).Probe(context.Background(), clitest.NewHome(t).Env(bin))
	if pr.Problem != "" || pr.Path != bin || !strings.HasPrefix(pr.Version, "0.") {
		t.Fatalf("probe %+v", pr)
	}
}
