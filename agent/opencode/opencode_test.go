package opencode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/proc"
)

// Canned lines shaped like opencode 1.18.33's `run --format json` output,
// captured from the real CLI against the scripted model server.
const sid = "ses_dec9bef20ffeUKViW5kg2OSDeI"

func head(typ string) string {
	return `{"type":"` + typ + `","timestamp":1795621661554,"sessionID":"` + sid + `"`
}

var (
	lStepStart = head("step_start") + `,"part":{"id":"prt_1","messageID":"msg_1","sessionID":"` + sid + `","snapshot":"4b825dc6","type":"step-start"}}`
	lTool      = head("tool_use") + `,"part":{"type":"tool","tool":"write","callID":"call_1","state":{"status":"completed","input":{"filePath":"/w/hello.txt","content":"hello\n"},"output":"Wrote file successfully.","title":"hello.txt","time":{"start":1,"end":2}},"id":"prt_3","sessionID":"` + sid + `","messageID":"msg_1"}}`
	lAPIError  = head("error") + `,"error":{"name":"APIError","data":{"message":"scripted failure","statusCode":400,"isRetryable":false,"responseBody":"{\"error\":{\"message\":\"scripted failure\"}}"}}}`
)

func lText(s string) string {
	return head("text") + `,"part":{"id":"prt_2","messageID":"msg_1","sessionID":"` + sid + `","type":"text","text":` + fakecli.JSONString(s) + `,"time":{"start":1795621661828,"end":1795621661831}}}`
}

func lFinish(reason string, input, read, output, reasoning int, cost float64) string {
	return head("step_finish") + fmt.Sprintf(`,"part":{"id":"prt_4","reason":%q,"snapshot":"4b825dc6","messageID":"msg_1","sessionID":"%s","type":"step-finish","tokens":{"total":%d,"input":%d,"output":%d,"reasoning":%d,"cache":{"write":0,"read":%d}},"cost":%g}}`,
		reason, sid, input+read+output, input, output, reasoning, read, cost)
}

// success is a run of two steps: a tool call, then the answer.
var success = fakecli.JSONL(lStepStart, lText("I will write hello.txt."), lTool, lFinish("tool-calls", 1000, 200, 34, 0, 0.0125),
	lStepStart, lText("Created hello.txt."), lText("All done."), lFinish("stop", 1500, 700, 40, 6, 0.0075))

func TestSuccessSumsSteps(t *testing.T) {
	f := newFake(t, success, "FAKE_STDERR=INFO some log\n")
	task, transcript := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	want := agentorg.Result{
		SessionID: sid,
		Summary:   "Created hello.txt.\nAll done.", // the text of the last step only
		Usage:     agentorg.Usage{InputTokens: 1200 + 2200, CachedTokens: 900, OutputTokens: 34 + 46, CostUSD: 0.02},
	}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	for _, s := range []string{`"type":"tool_use"`, "INFO some log"} {
		if !strings.Contains(transcript.String(), s) {
			t.Errorf("transcript lacks %q", s)
		}
	}
}

func TestArgvAndEnvPerCase(t *testing.T) {
	f := newFake(t, success)
	for _, c := range []struct {
		name    string
		cfg     Config
		access  agentorg.Access
		session string
		args    []string // after "run --format json --dir DIR"
	}{
		{"start read-write", Config{}, agentorg.ReadWrite, "", nil},
		{"start read-only", Config{}, agentorg.ReadOnly, "", nil},
		{"resume with model and args", Config{Model: "ollama/qwen2.5-coder:7b", Args: []string{"--agent", "build"}}, agentorg.ReadWrite, sid,
			[]string{"-m", "ollama/qwen2.5-coder:7b", "--session", sid, "--agent", "build"}},
		{"resume read-only", Config{}, agentorg.ReadOnly, sid, []string{"--session", sid}},
	} {
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
			run := f.Run()
			want := append([]string{"run", "--format", "json", "--dir", task.Dir}, c.args...)
			if !reflect.DeepEqual(run.Args, want) {
				t.Fatalf("argv %q, want %q", run.Args, want)
			}
			wantEnv := append(append([]string(nil), task.Env...), "OPENCODE_DISABLE_AUTOUPDATE=1")
			if c.access == agentorg.ReadOnly {
				wantEnv = append(wantEnv, `OPENCODE_CONFIG_CONTENT={"permission":{"bash":"deny","edit":"deny"}}`)
			}
			if !reflect.DeepEqual(run.Env, wantEnv) {
				t.Fatalf("env %q, want %q", run.Env, wantEnv)
			}
		})
	}
}

func TestReadOnlyMergesTheCallersConfig(t *testing.T) {
	f := newFake(t, success)
	a := New(Config{Binary: f.Bin})
	task, _ := fakecli.Task(t, f.Env)
	task.Access = agentorg.ReadOnly
	task.Env = append(task.Env, "OPENCODE_DISABLE_AUTOUPDATE=0",
		`OPENCODE_CONFIG_CONTENT={"model":"ollama/x","permission":{"webfetch":"deny","edit":"allow"}}`)
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	var cfgs []string
	for _, kv := range f.Run().Env {
		if v, ok := strings.CutPrefix(kv, "OPENCODE_CONFIG_CONTENT="); ok {
			cfgs = append(cfgs, v)
		}
		if strings.HasPrefix(kv, "OPENCODE_DISABLE_AUTOUPDATE=") && kv != "OPENCODE_DISABLE_AUTOUPDATE=0" {
			t.Errorf("the caller's setting was overridden: %s", kv)
		}
	}
	want := `{"model":"ollama/x","permission":{"bash":"deny","edit":"deny","webfetch":"deny"}}`
	if len(cfgs) != 1 || cfgs[0] != want {
		t.Fatalf("OPENCODE_CONFIG_CONTENT %q, want %q", cfgs, want)
	}

	task.Env = append(task.Env, `OPENCODE_CONFIG_CONTENT={"model": "x", // jsonc`)
	_, err := a.Start(context.Background(), task)
	if err == nil || errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "OPENCODE_CONFIG_CONTENT is not a JSON object") {
		t.Fatalf("got %v", err)
	}
}

func TestEmptyPromptIsRefused(t *testing.T) {
	f := newFake(t, success)
	task, _ := fakecli.Task(t, f.Env)
	task.Prompt = "\n "
	if _, err := New(Config{Binary: f.Bin}).Start(context.Background(), task); err == nil || !strings.Contains(err.Error(), "empty prompt") || f.Ran() {
		t.Fatalf("empty prompt: %v", err)
	}
}

func TestAPIError(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lAPIError), "FAKE_EXIT=1", "FAKE_STDERR=Error: scripted failure\n")
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 1 (agent reported an error: APIError: scripted failure): Error: scripted failure")
	if res.SessionID != sid {
		t.Errorf("the session is lost: %+v", res)
	}
}

func TestErrorLineFailsEvenWithExitZero(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lStepStart, lAPIError, lFinish("stop", 1000, 200, 34, 0, 0)))
	task, _ := fakecli.Task(t, f.Env)
	_, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "agent reported an error: APIError: scripted failure")
}

func TestResumeOfAnUnknownSession(t *testing.T) {
	f := newFake(t, "", "FAKE_EXIT=1", "FAKE_STDERR=\x1b[91m\x1b[1mError: \x1b[0mSession not found\n")
	task, _ := fakecli.Task(t, f.Env)
	_, err := New(Config{Binary: f.Bin}).Resume(context.Background(), "ses_0000nope", task)
	fakecli.WantAgentErr(t, err, "exit status 1 (session ses_0000nope not found", "Session not found")
}

func TestMissingOrUnfinishedFinalState(t *testing.T) {
	for name, c := range map[string]struct{ out, want string }{
		"nothing": {"", "no step_finish line"},
		// A new step began and never finished.
		"unfinished":      {fakecli.JSONL(lStepStart, lText("half an answer"), lFinish("stop", 1000, 200, 34, 0, 0), lStepStart, lText("more")), "no step_finish line"},
		"tool-calls last": {fakecli.JSONL(lStepStart, lTool, lFinish("tool-calls", 1000, 200, 34, 0, 0)), `the last step finished with reason "tool-calls", not "stop"`},
		"length":          {fakecli.JSONL(lStepStart, lText("cut off mid"), lFinish("length", 1000, 200, 34, 0, 0)), `the last step finished with reason "length"`},
		"malformed finish": {fakecli.JSONL(lStepStart, lText("x"), head("step_finish")+`,"part":{"reason":"stop","tokens":{"input":"many"}}}`),
			"malformed step_finish line"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, c.out)
			task, _ := fakecli.Task(t, f.Env)
			_, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
			fakecli.WantAgentErr(t, err, c.want)
		})
	}
}

// Known lines of the wrong shape are skipped like any malformed line (the
// suite covers lines that are not events at all).
func TestWrongShapedLinesAreSkipped(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lStepStart, head("text")+`,"part":{"text":17}}`, lText("fine"), lFinish("stop", 1000, 200, 34, 0, 0)))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil || res.Summary != "fine" || res.Usage.InputTokens != 1200 {
		t.Fatalf("got %+v, %v", res, err)
	}
}

// When the final state is lost to over-long lines, the error counts them.
func TestDroppedLinesAreCounted(t *testing.T) {
	f := newFake(t, success)
	task, _ := fakecli.Task(t, f.Env)
	_, err := withMaxLine(New(Config{Binary: f.Bin}), 100).Start(context.Background(), task) // every line is longer
	fakecli.WantAgentErr(t, err, "no step_finish line (8 stdout lines over 100 bytes were dropped)")
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
	// yargs prints the help on stderr here, as some versions do.
	good := write("good", `case "$1" in --version) echo 1.18.33;; run) echo '--format [choices: "default", "json"] -s, --session -m, --model --dir' >&2;; esac`)
	if pr := New(Config{Binary: good}).Probe(context.Background(), env); pr.Problem != "" || pr.Version != "1.18.33" || pr.Path != good {
		t.Errorf("good: %+v", pr)
	}
	old := write("old", `case "$1" in --version) echo 0.3.0;; run) echo '-s, --session -m, --model';; esac`)
	if pr := New(Config{Binary: old}).Probe(context.Background(), env); !strings.Contains(pr.Problem, "does not support --format, json, --dir") ||
		pr.Fix != "upgrade OpenCode to the version agentorg is tested with: npm install -g opencode-ai@1.18.33" {
		t.Errorf("old: %+v", pr)
	}
	if pr := New(Config{Binary: "no-such-opencode"}).Probe(context.Background(), env); pr.Path != "" || pr.Problem == "" || pr.Fix != "install OpenCode: npm install -g opencode-ai@1.18.33 (or set the agent's binary to its path)" {
		t.Errorf("missing: %+v", pr)
	}
}
