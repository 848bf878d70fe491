package opencode

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// These tests run the real OpenCode against the scripted model server
// (realCLI), for what is OpenCode's own; the contract suite does the rest.

// A prompt that names an OpenCode command reaches the model as text, as
// sent rather than quoted like message arguments; an unknown session is a
// clear error.
func TestRealSlashPromptAndUnknownSession(t *testing.T) {
	b := realCLI.Bench(t, modelserver.Step{Match: "STEP-ONE", Actions: []modelserver.Action{
		{Write: &modelserver.Write{Path: "hello.txt", Content: "hello from the scripted model\n"}},
		{Text: "Created hello.txt."}}})
	a := b.Agent(cli.Config{})
	// "/init" is an OpenCode command name: the prompt must stay text.
	task, transcript := b.Task("/init Create hello.txt please (STEP-ONE).\nSecond line with \"quotes\".", agentorg.ReadWrite)
	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, transcript)
	}
	if !strings.HasPrefix(first.SessionID, "ses_") || first.Summary != "Created hello.txt." {
		t.Fatalf("start result %+v\n%s", first, transcript)
	}
	var intact bool
	for _, r := range b.Server.Requests() {
		var body struct {
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		json.Unmarshal(r.Body, &body)
		for _, m := range body.Messages {
			if m.Role == "user" && bytes.Contains(m.Content, []byte(`/init Create hello.txt please (STEP-ONE).\nSecond line with \"quotes\".`)) &&
				!bytes.Contains(m.Content, []byte(`\"/init Create hello.txt`)) {
				intact = true
			}
		}
	}
	if !intact {
		t.Error("no request carried the prompt intact")
	}

	_, err = a.Resume(context.Background(), "ses_0000000000000000000000nope", task)
	fakecli.WantAgentErr(t, err, "session ses_0000000000000000000000nope not found")
}

func TestRealReadOnlyCannotWrite(t *testing.T) {
	b := realCLI.Bench(t, modelserver.Step{Match: "*", Actions: []modelserver.Action{
		{Write: &modelserver.Write{Path: "verdict.txt", Content: "GO"}},
		{Shell: "echo GO > shell.txt"},
		{Text: "GO"}}})
	a := b.Agent(cli.Config{})
	task, transcript := b.Task("Validate the change.", agentorg.ReadOnly)
	task.Role = "validator"
	res, err := a.Start(context.Background(), task)
	for _, f := range []string{"verdict.txt", "shell.txt"} {
		if _, serr := os.Stat(filepath.Join(task.Dir, f)); serr == nil {
			t.Errorf("a read-only run wrote %s (result %+v, %v)\n%s", f, res, err, transcript)
		}
	}
	checked := 0
	for _, r := range b.Server.Requests() {
		if r.API != "chat" || !bytes.Contains(r.Body, []byte(`"tools"`)) {
			continue
		}
		checked++
		for _, tool := range []string{`"name":"write"`, `"name":"edit"`, `"name":"bash"`} {
			if bytes.Contains(r.Body, []byte(tool)) {
				t.Errorf("read-only request declares %s", tool)
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no request declared tools (run: %+v, %v)\n%s", res, err, transcript)
	}
}

func TestRealProbe(t *testing.T) {
	bin := clitest.Find(t, "opencode")
	pr := New(Config{Binary: bin}).Probe(context.Background(), clitest.NewHome(t).Env(bin, "OPENCODE_DISABLE_MODELS_FETCH=1"))
	if pr.Problem != "" || pr.Path != bin || !strings.HasPrefix(pr.Version, "1.") {
		t.Fatalf("probe %+v", pr)
	}
}
