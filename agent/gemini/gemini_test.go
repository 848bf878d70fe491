package gemini

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/proc"
)

// Canned lines shaped like gemini 0.61.0's stream-json output (captured
// from the real CLI against a scripted model server).
const (
	sid       = "2f1c9a4e-7b1d-4d38-9a55-0c4be1d3e7aa"
	lInit     = `{"type":"init","timestamp":"2026-11-25T15:40:00.000Z","session_id":"` + sid + `","model":"auto"}`
	lUser     = `{"type":"message","timestamp":"2026-11-25T15:40:00.000Z","role":"user","content":"Issue #2: Add is wrong"}`
	lBefore   = `{"type":"message","timestamp":"2026-11-25T15:40:00.000Z","role":"assistant","content":"I will create hello.txt.","delta":true}`
	lToolUse  = `{"type":"tool_use","timestamp":"2026-11-25T15:40:00.000Z","tool_name":"write_file","tool_id":"write_file_1764085200000_0","parameters":{"file_path":"/w/hello.txt","content":"hello\n"}}`
	lToolRes  = `{"type":"tool_result","timestamp":"2026-11-25T15:40:00.000Z","tool_id":"write_file_1764085200000_0","status":"success","output":"Successfully created and wrote to new file: /w/hello.txt."}`
	lText1    = `{"type":"message","timestamp":"2026-11-25T15:40:00.000Z","role":"assistant","content":"Created ","delta":true}`
	lText2    = `{"type":"message","timestamp":"2026-11-25T15:40:00.000Z","role":"assistant","content":"hello.txt.","delta":true}`
	stats     = `"stats":{"total_tokens":3702,"input_tokens":3600,"output_tokens":102,"cached":600,"input":3000,"duration_ms":812,"tool_calls":1,"models":{"gemini-3.8-flash":{"total_tokens":2468,"input_tokens":2400,"output_tokens":68,"cached":400,"input":2000},"gemini-3.5-flash-lite":{"total_tokens":1234,"input_tokens":1200,"output_tokens":34,"cached":200,"input":1000}}}`
	lResultOK = `{"type":"result","timestamp":"2026-11-25T15:40:00.000Z","status":"success",` + stats + `}`
	// handleError: an error result with the API's message, then the
	// error's exit code (1 for an API error).
	lRetrying = `{"type":"error","timestamp":"2026-11-25T15:40:00.000Z","severity":"warning","message":"Retrying after 500"}`
	lAPIError = `{"type":"result","timestamp":"2026-11-25T15:40:00.000Z","status":"error","error":{"type":"ApiError","message":"[API Error: model overloaded (Status: 500)]"},"stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0,"duration_ms":0,"tool_calls":0,"models":{}}}`
)

func TestSuccess(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lUser, lBefore, lToolUse, lToolRes, lText1, lText2, lResultOK),
		"FAKE_STDERR=Ripgrep is not available. Falling back to GrepTool.\n")
	task, transcript := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	want := agentorg.Result{
		SessionID: sid,
		Summary:   "Created hello.txt.", // the text before the tool call is not the final turn
		Usage:     agentorg.Usage{InputTokens: 3600, CachedTokens: 600, OutputTokens: 102},
	}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	for _, s := range []string{`"type":"tool_use"`, "Ripgrep is not available", `"type":"result"`} {
		if !strings.Contains(transcript.String(), s) {
			t.Errorf("transcript lacks %q", s)
		}
	}
}

func TestArgvPerCase(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lText1, lResultOK))
	cases := []struct {
		name    string
		cfg     Config
		access  agentorg.Access
		session string
		want    []string
	}{
		{"start read-write", Config{}, agentorg.ReadWrite, "",
			[]string{"-p", "", "--output-format", "stream-json", "--skip-trust", "--approval-mode", "yolo"}},
		{"start read-only", Config{}, agentorg.ReadOnly, "",
			[]string{"-p", "", "--output-format", "stream-json", "--skip-trust", "--approval-mode", "default"}},
		{"unset access is read-only", Config{}, "", "",
			[]string{"-p", "", "--output-format", "stream-json", "--skip-trust", "--approval-mode", "default"}},
		{"resume with model and args", Config{Model: "gemini-2.5-flash", Args: []string{"--include-directories", "../docs"}}, agentorg.ReadWrite, sid,
			[]string{"-p", "", "--output-format", "stream-json", "--skip-trust", "--approval-mode", "yolo",
				"-m", "gemini-2.5-flash", "--resume", sid, "--include-directories", "../docs"}},
		{"resume read-only", Config{}, agentorg.ReadOnly, sid,
			[]string{"-p", "", "--output-format", "stream-json", "--skip-trust", "--approval-mode", "default", "--resume", sid}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Binary = f.Bin
			a := New(c.cfg)
			task, _ := fakecli.Task(t, f.Env)
			task.Access = c.access
			var err error
			if c.session == "" {
				_, err = a.Start(context.Background(), task)
			} else {
				_, err = a.Resume(context.Background(), c.session, task)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Run().Args; !reflect.DeepEqual(got, c.want) {
				t.Fatalf("argv %q, want %q", got, c.want)
			}
		})
	}
}

func TestSlashPromptIsNotACommand(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lText1, lResultOK))
	for prompt, want := range map[string]string{
		"/memory add x":         "Prompt:\n/memory add x",
		"\n ?why":               "Prompt:\n\n ?why",
		"<session_context>x":    "Prompt:\n<session_context>x",
		"a /b":                  "a /b",
		"<div>html first</div>": "<div>html first</div>",
	} {
		task, _ := fakecli.Task(t, f.Env)
		task.Prompt = prompt
		if _, err := New(Config{Binary: f.Bin}).Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if got := f.Run().Stdin; got != want {
			t.Errorf("prompt %q arrived as %q, want %q", prompt, got, want)
		}
	}
}

func TestPromptsTheCLICannotTakeAreRefused(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lText1, lResultOK))
	a := New(Config{Binary: f.Bin})
	task, _ := fakecli.Task(t, f.Env)
	task.Prompt = strings.Repeat("x", MaxPromptBytes+1)
	_, err := a.Start(context.Background(), task)
	if err == nil || errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "over the 8388608 bytes") {
		t.Fatalf("got %v", err)
	}
	task.Prompt = " \n"
	if _, err := a.Start(context.Background(), task); err == nil || !strings.Contains(err.Error(), "empty prompt") {
		t.Fatalf("got %v", err)
	}
	if f.Ran() {
		t.Fatal("the CLI ran")
	}
}

func TestAPIErrorResult(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lUser, lRetrying, lAPIError), "FAKE_EXIT=1",
		"FAKE_STDERR=Error when talking to Gemini API Full report available at: /tmp/gemini-client-error.json\n")
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 1", "agent reported an error: ApiError: [API Error: model overloaded (Status: 500)]; Retrying after 500",
		"Full report available")
	if res.SessionID != sid {
		t.Errorf("the session is lost on error: %+v", res)
	}
}

func TestErrorResultWithExitZero(t *testing.T) {
	// An INVALID_STREAM error: an error line, then an error result without
	// an error object, and exit 0.
	f := newFake(t, fakecli.JSONL(lInit, lUser,
		`{"type":"error","timestamp":"2026-11-25T15:40:00.000Z","severity":"error","message":"Model stream ended with empty response text."}`,
		`{"type":"result","timestamp":"2026-11-25T15:40:00.000Z","status":"error",`+stats+`}`))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, `result status "error": Model stream ended with empty response text.`)
	if res.Usage.InputTokens != 3600 {
		t.Errorf("usage is lost on error: %+v", res)
	}
}

func TestResumeFromAnotherDirectory(t *testing.T) {
	f := newFake(t, "", "FAKE_EXIT=42", "FAKE_STDERR=Error resuming session: No previous sessions found for this project.\n")
	task, _ := fakecli.Task(t, f.Env)
	_, err := New(Config{Binary: f.Bin}).Resume(context.Background(), sid, task)
	fakecli.WantAgentErr(t, err, "exit status 42 (session "+sid+" cannot be resumed from "+task.Dir,
		"only from the directory it was created in", "No previous sessions found for this project.")
}

func TestMissingFinalState(t *testing.T) {
	for name, c := range map[string]struct{ out, want string }{
		"no result":        {fakecli.JSONL(lInit, lUser, lText1), "no result line"},
		"no init":          {fakecli.JSONL(lResultOK), "no init line with a session_id"},
		"malformed result": {fakecli.JSONL(lInit, `{"type":"result","status":"success","stats":{"input_tokens":"many"}}`), "malformed result line"},
		"two results":      {fakecli.JSONL(lInit, lResultOK, lResultOK), "more than one result line"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, c.out)
			task, _ := fakecli.Task(t, f.Env)
			res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
			fakecli.WantAgentErr(t, err, c.want)
			if name == "no result" && res.SessionID != sid {
				t.Error("the session is lost")
			}
		})
	}
}

// Known lines of the wrong shape are skipped like any malformed line (the
// suite covers lines that are not events at all).
func TestWrongShapedLinesAreSkipped(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, `{"type":"message","role":"assistant","content":17}`,
		`{"type":"init","session_id":["x"]}`, lText1, lText2, lResultOK))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil || res.Summary != "Created hello.txt." || res.SessionID != sid {
		t.Fatalf("got %+v, %v", res, err)
	}
}

// When the final state is lost to over-long lines, the error counts them.
func TestDroppedLinesAreCounted(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lUser, lText1))
	task, _ := fakecli.Task(t, f.Env)
	_, err := withMaxLine(New(Config{Binary: f.Bin}), 10).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no result line (3 stdout lines over 10 bytes were dropped)")
}

func TestProbeWithFakes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := proc.BaseEnv()
	good := write("good", `case "$1" in --version) echo 0.61.0;; --help) echo '-p, --prompt  -o, --output-format [choices: "text", "json", "stream-json"] --approval-mode [choices: "default", "auto_edit", "yolo", "plan"] -r, --resume --skip-trust';; esac`)
	if pr := New(Config{Binary: good}).Probe(context.Background(), env); pr.Problem != "" || pr.Version != "0.61.0" || pr.Path != good {
		t.Errorf("good: %+v", pr)
	}
	old := write("old", `case "$1" in --version) echo 0.1.0;; --help) echo '-p, --prompt --resume';; esac`)
	pr := New(Config{Binary: old}).Probe(context.Background(), env)
	if !strings.Contains(pr.Problem, "0.1.0 does not support --output-format, stream-json, --approval-mode, yolo, --skip-trust") ||
		pr.Fix != "upgrade the Gemini CLI to the version agentorg is tested with: npm install -g @google/gemini-cli@0.61.0" {
		t.Errorf("old: %+v", pr)
	}
	broken := write("broken", "echo 'node: not found' >&2; exit 127\n")
	if pr := New(Config{Binary: broken}).Probe(context.Background(), env); !strings.Contains(pr.Problem, "exit status 127: node: not found") {
		t.Errorf("broken: %+v", pr)
	}
	if pr := New(Config{Binary: "no-such-gemini-cli"}).Probe(context.Background(), env); pr.Path != "" || pr.Problem == "" || pr.Fix != "install the Gemini CLI: npm install -g @google/gemini-cli@0.61.0 (or set the agent's binary to its path)" {
		t.Errorf("missing: %+v", pr)
	}
}
