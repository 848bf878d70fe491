package opencode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// These tests run the real OpenCode against the scripted model server.

var realUsage = modelserver.Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34}

// realSetup returns the agent, a task in a fresh git repository, and the
// server. The provider is configured in the fresh home's global OpenCode
// config, as the package comment tells workflows to do, so the repository
// stays clean.
func realSetup(t *testing.T, sc modelserver.Script) (*Agent, agentorg.Task, *modelserver.Server, *bytes.Buffer) {
	t.Helper()
	cli := clitest.Find(t, "opencode")
	srv := modelserver.New(sc)
	t.Cleanup(srv.Close)
	home := clitest.NewHome(t)
	cfg := map[string]any{"provider": map[string]any{"scripted": map[string]any{
		"npm":     "@ai-sdk/openai-compatible",
		"name":    "Scripted model",
		"options": map[string]any{"baseURL": srv.URL() + "/v1", "apiKey": "{env:SCRIPTED_API_KEY}"},
		"models":  map[string]any{"scripted-model": map[string]any{"name": "Scripted model", "tool_call": true}},
	}}}
	data, _ := json.Marshal(cfg)
	cfgDir := filepath.Join(home.Dir, ".config", "opencode")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "opencode.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	var transcript bytes.Buffer
	task := agentorg.Task{
		Role: "developer", Issue: 7, Attempt: 1,
		Dir:        repo,
		Access:     agentorg.ReadWrite,
		Env:        home.Env(cli, "SCRIPTED_API_KEY=scripted", "OPENCODE_DISABLE_MODELS_FETCH=1"),
		Transcript: &transcript,
		Timeout:    3 * time.Minute,
	}
	return New(Config{Binary: cli, Model: "scripted/scripted-model"}), task, srv, &transcript
}

// mainRequests counts the chat requests from index from that declared tools
// (OpenCode's title request declares none).
func mainRequests(srv *modelserver.Server, from int) int {
	n := 0
	for _, r := range srv.Requests()[from:] {
		if r.API == "chat" && bytes.Contains(r.Body, []byte(`"tools"`)) {
			n++
		}
	}
	return n
}

func TestRealStartResumeUsage(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{
			{Match: "STEP-ONE", Actions: []modelserver.Action{
				{Write: &modelserver.Write{Path: "hello.txt", Content: "hello from the scripted model\n"}},
				{Text: "Created hello.txt."}}},
			{Match: "STEP-TWO", Actions: []modelserver.Action{
				{Edit: &modelserver.Edit{Path: "hello.txt", Old: "hello from the scripted model", New: "hello again"}},
				{Text: "Edited hello.txt after resume."}}},
		},
		Usage: realUsage,
	}
	a, task, srv, transcript := realSetup(t, sc)
	// "/init" is an OpenCode command name: the prompt must stay text.
	task.Prompt = "/init Create hello.txt please (STEP-ONE).\nSecond line with \"quotes\"."
	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, transcript)
	}
	if !strings.HasPrefix(first.SessionID, "ses_") || first.Summary != "Created hello.txt." {
		t.Fatalf("start result %+v\n%s", first, transcript)
	}
	if b, err := os.ReadFile(filepath.Join(task.Dir, "hello.txt")); err != nil || string(b) != "hello from the scripted model\n" {
		t.Fatalf("hello.txt after start: %q, %v", b, err)
	}
	// Two steps (the write, then the text), each reporting the script's usage.
	n := mainRequests(srv, 0)
	want := agentorg.Usage{InputTokens: int64(n) * 1200, CachedTokens: int64(n) * 200, OutputTokens: int64(n) * 34}
	if n != 2 || first.Usage != want {
		t.Errorf("start usage %+v, want %+v (%d requests)", first.Usage, want, n)
	}
	// The prompt reached the model as sent, not quoted like message arguments.
	var intact bool
	for _, r := range srv.Requests() {
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

	seen := len(srv.Requests())
	task.Attempt = 2
	task.Prompt = "Validation said NO-GO. Edit hello.txt (STEP-TWO)."
	second, err := a.Resume(context.Background(), first.SessionID, task)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, transcript)
	}
	if second.SessionID != first.SessionID || second.Summary != "Edited hello.txt after resume." {
		t.Fatalf("resume result %+v (first %+v)", second, first)
	}
	if b, _ := os.ReadFile(filepath.Join(task.Dir, "hello.txt")); string(b) != "hello again\n" {
		t.Fatalf("hello.txt after resume: %q", b)
	}
	n2 := mainRequests(srv, seen)
	if want := (agentorg.Usage{InputTokens: int64(n2) * 1200, CachedTokens: int64(n2) * 200, OutputTokens: int64(n2) * 34}); n2 != 2 || second.Usage != want {
		t.Errorf("resume usage %+v, want %+v (%d requests)", second.Usage, want, n2)
	}
	var carried bool
	for _, r := range srv.Requests()[seen:] {
		if bytes.Contains(r.Body, []byte("STEP-ONE")) && bytes.Contains(r.Body, []byte("STEP-TWO")) {
			carried = true
		}
	}
	if !carried {
		t.Error("no resumed request carried the earlier prompt")
	}

	_, err = a.Resume(context.Background(), "ses_0000000000000000000000nope", task)
	fakecli.WantAgentErr(t, err, "session ses_0000000000000000000000nope not found")
}

func TestRealReadOnlyCannotWrite(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{{Match: "*", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "verdict.txt", Content: "GO"}},
			{Shell: "echo GO > shell.txt"},
			{Text: "GO"}}}},
		Usage: realUsage,
	}
	a, task, srv, transcript := realSetup(t, sc)
	task.Role = "validator"
	task.Access = agentorg.ReadOnly
	task.Prompt = "Validate the change."
	res, err := a.Start(context.Background(), task)
	for _, f := range []string{"verdict.txt", "shell.txt"} {
		if _, serr := os.Stat(filepath.Join(task.Dir, f)); serr == nil {
			t.Errorf("a read-only run wrote %s (result %+v, %v)\n%s", f, res, err, transcript)
		}
	}
	checked := 0
	for _, r := range srv.Requests() {
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

func TestRealAPIError(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{{Match: "*", Actions: []modelserver.Action{
			{Fail: &modelserver.Fail{Status: 400, Message: "scripted failure: invalid argument"}}}}},
		Usage: realUsage,
	}
	a, task, _, transcript := realSetup(t, sc)
	task.Prompt = "Do something."
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "scripted failure: invalid argument")
	if !strings.HasPrefix(res.SessionID, "ses_") {
		t.Errorf("no session id on the error result: %+v\n%s", res, transcript)
	}
}

func TestRealStall(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{{Match: "*", Actions: []modelserver.Action{{Stall: true}}}},
		Usage: realUsage,
	}
	a, task, _, _ := realSetup(t, sc)
	task.Prompt = "Do something slowly."
	task.StallTimeout = 5 * time.Second
	var group int
	task.OnStart = func(pgid int) { group = pgid }
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for 5s")
	if err := syscall.Kill(-group, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists: %v", group, err)
	}
}

func TestRealProbe(t *testing.T) {
	cli := clitest.Find(t, "opencode")
	pr := New(Config{Binary: cli}).Probe(context.Background(), clitest.NewHome(t).Env(cli, "OPENCODE_DISABLE_MODELS_FETCH=1"))
	if pr.Problem != "" || pr.Path != cli || !strings.HasPrefix(pr.Version, "1.") {
		t.Fatalf("probe %+v", pr)
	}
}
