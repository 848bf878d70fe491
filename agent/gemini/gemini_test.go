package gemini

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/proc"
)

// fakeAgent returns an agent whose binary is this test binary acting as the
// fake CLI in mode, and a task whose environment selects that mode.
func fakeAgent(t *testing.T, mode string, c Config) (*Agent, agentorg.Task, *bytes.Buffer) {
	t.Helper()
	c.Binary = fakecli.Self(t)
	task, transcript := fakecli.Task(t, append(proc.BaseEnv(), fakeEnv+"="+mode))
	return New(c), task, transcript
}

func TestSuccess(t *testing.T) {
	a, task, transcript := fakeAgent(t, "success", Config{})
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	want := agentorg.Result{
		SessionID: "2f1c9a4e-7b1d-4d38-9a55-0c4be1d3e7aa",
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
	const session = "2f1c9a4e-7b1d-4d38-9a55-0c4be1d3e7aa"
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
		{"resume with model and args", Config{Model: "gemini-2.5-flash", Args: []string{"--include-directories", "../docs"}}, agentorg.ReadWrite, session,
			[]string{"-p", "", "--output-format", "stream-json", "--skip-trust", "--approval-mode", "yolo",
				"-m", "gemini-2.5-flash", "--resume", session, "--include-directories", "../docs"}},
		{"resume read-only", Config{}, agentorg.ReadOnly, session,
			[]string{"-p", "", "--output-format", "stream-json", "--skip-trust", "--approval-mode", "default", "--resume", session}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, task, _ := fakeAgent(t, "success", c.cfg)
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
			if got := fakecli.Argv(t, task.Dir); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("argv %q, want %q", got, c.want)
			}
		})
	}
}

func TestPromptArrivesOnStdinIntact(t *testing.T) {
	big := strings.Repeat("Ünïcødé prompt line with \"quotes\" and $vars `ticks` -p --resume\n", 20000) // ~1.3 MB
	for _, prompt := range []string{"Issue #2: fix the sign — héllo ✓\nno trailing newline", "--help", big} {
		a, task, _ := fakeAgent(t, "success", Config{})
		task.Prompt = prompt
		if _, err := a.Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(task.Dir, ".fake-stdin"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != prompt {
			t.Fatalf("prompt of %d bytes arrived as %d bytes", len(prompt), len(got))
		}
		for _, arg := range fakecli.Argv(t, task.Dir) {
			if strings.Contains(arg, "Issue #2") || strings.Contains(arg, "Ünïcødé") {
				t.Fatalf("the prompt leaked into argv: %q", arg)
			}
		}
	}
}

func TestSlashPromptIsNotACommand(t *testing.T) {
	for prompt, want := range map[string]string{
		"/memory add x":         "Prompt:\n/memory add x",
		"\n ?why":               "Prompt:\n\n ?why",
		"<session_context>x":    "Prompt:\n<session_context>x",
		"a /b":                  "a /b",
		"<div>html first</div>": "<div>html first</div>",
	} {
		a, task, _ := fakeAgent(t, "success", Config{})
		task.Prompt = prompt
		if _, err := a.Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(task.Dir, ".fake-stdin")); string(got) != want {
			t.Errorf("prompt %q arrived as %q, want %q", prompt, got, want)
		}
	}
}

func TestPromptsTheCLICannotTakeAreRefused(t *testing.T) {
	a, task, _ := fakeAgent(t, "success", Config{})
	task.Prompt = strings.Repeat("x", MaxPromptBytes+1)
	_, err := a.Start(context.Background(), task)
	if err == nil || errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "over the 8388608 bytes") {
		t.Fatalf("got %v", err)
	}
	task.Prompt = " \n"
	if _, err := a.Start(context.Background(), task); err == nil || !strings.Contains(err.Error(), "empty prompt") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(task.Dir, ".fake-argv")); err == nil {
		t.Fatal("the CLI ran")
	}
}

func TestEnvironmentIsExactlyTheTasks(t *testing.T) {
	t.Setenv("AGENTORG_TEST_CANARY", "leaked")
	a, task, _ := fakeAgent(t, "success", Config{})
	task.Env = []string{"PATH=/usr/bin:/bin", "GEMINI_API_KEY=k", fakeEnv + "=success"}
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(task.Dir, ".fake-env"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(string(data), "\n"); !reflect.DeepEqual(got, task.Env) {
		t.Fatalf("the CLI saw %q, want %q", got, task.Env)
	}
}

func TestAPIErrorResult(t *testing.T) {
	a, task, _ := fakeAgent(t, "api-error", Config{})
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 1", "agent reported an error: ApiError: [API Error: model overloaded (Status: 500)]; Retrying after 500",
		"Full report available")
	if res.SessionID != "2f1c9a4e-7b1d-4d38-9a55-0c4be1d3e7aa" {
		t.Errorf("the session is lost on error: %+v", res)
	}
}

func TestErrorResultWithExitZero(t *testing.T) {
	a, task, _ := fakeAgent(t, "invalid-stream", Config{})
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, `result status "error": Model stream ended with empty response text.`)
	if res.Usage.InputTokens != 3600 {
		t.Errorf("usage is lost on error: %+v", res)
	}
}

func TestResumeFromAnotherDirectory(t *testing.T) {
	a, task, _ := fakeAgent(t, "resume-elsewhere", Config{})
	_, err := a.Resume(context.Background(), "2f1c9a4e-7b1d-4d38-9a55-0c4be1d3e7aa", task)
	fakecli.WantAgentErr(t, err, "exit status 42 (session 2f1c9a4e-7b1d-4d38-9a55-0c4be1d3e7aa cannot be resumed from "+task.Dir,
		"only from the directory it was created in", "No previous sessions found for this project.")
}

func TestResumeRefusesIDsThatMeanOtherSessions(t *testing.T) {
	a, task, _ := fakeAgent(t, "success", Config{})
	for _, id := range []string{"", "latest", "5", "--yolo", "a b", "../x"} {
		_, err := a.Resume(context.Background(), id, task)
		if err == nil || errors.Is(err, agentorg.ErrAgent) {
			t.Errorf("Resume(%q): %v", id, err)
		}
	}
}

func TestCrashCarriesStderr(t *testing.T) {
	a, task, _ := fakeAgent(t, "crash", Config{})
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 134: early noise\nFATAL ERROR: Reached heap limit")
}

func TestMissingFinalState(t *testing.T) {
	a, task, _ := fakeAgent(t, "no-result", Config{})
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no result line")
	if res.SessionID == "" {
		t.Error("the session is lost")
	}
	a, task, _ = fakeAgent(t, "no-init", Config{})
	_, err = a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no init line with a session_id")
	a, task, _ = fakeAgent(t, "malformed-result", Config{})
	_, err = a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "malformed result line")
}

func TestMalformedLinesAreSkipped(t *testing.T) {
	a, task, transcript := fakeAgent(t, "malformed", Config{})
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "fine" || res.Usage.OutputTokens != 102 {
		t.Fatalf("got %+v", res)
	}
	if !strings.Contains(transcript.String(), "{broken") {
		t.Error("a malformed line did not reach the transcript")
	}
}

func TestVeryLongOutput(t *testing.T) {
	a, task, _ := fakeAgent(t, "long", Config{})
	a = withMaxLine(a, 2<<20) // the 9 MB line is dropped, the 1 MB message kept
	var seen fakecli.Counter
	task.Transcript = &seen
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summary) != 1_000_000 || strings.Trim(res.Summary, "z") != "" || res.Usage.InputTokens != 3600 {
		t.Fatalf("summary of %d bytes, usage %+v", len(res.Summary), res.Usage)
	}
	if seen.N < 15_000_000 {
		t.Errorf("transcript got %d bytes", seen.N)
	}
}

func TestOverlongLinesAreDropped(t *testing.T) {
	// The result line fits in 1 KiB; the 1 MB message and the 9 MB line do
	// not, and are dropped without failing the run.
	a, task, _ := fakeAgent(t, "long", Config{})
	a = withMaxLine(a, 1024)
	res, err := a.Start(context.Background(), task)
	if err != nil || res.Summary != "" || res.Usage.OutputTokens != 102 {
		t.Fatalf("got %+v, %v", res, err)
	}
	// Dropped lines are counted in the error when the final state is lost.
	a, task, _ = fakeAgent(t, "no-result", Config{})
	a = withMaxLine(a, 10)
	_, err = a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no result line (3 stdout lines over 10 bytes were dropped)")
}

func TestStallKillsTheProcessGroup(t *testing.T) {
	a, task, _ := fakeAgent(t, "stall", Config{StallTimeout: time.Minute})
	task.StallTimeout = 500 * time.Millisecond // the task's bound wins over the config's
	var group int
	task.OnStart = func(pgid int) { group = pgid }
	start := time.Now()
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for 500ms", "last words")
	if res.SessionID == "" {
		t.Error("the session is lost")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	if err := syscall.Kill(-group, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists: %v", group, err)
	}
}

func TestHardTimeout(t *testing.T) {
	a, task, _ := fakeAgent(t, "stall", Config{Timeout: 300 * time.Millisecond})
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "timed out after 300ms")
}

func TestCancellationIsNotAnAgentFailure(t *testing.T) {
	a, task, _ := fakeAgent(t, "stall", Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := a.Start(ctx, task)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, agentorg.ErrAgent) {
		t.Fatalf("got %v", err)
	}
}

func TestOnStartGetsTheProcessGroup(t *testing.T) {
	a, task, _ := fakeAgent(t, "pgid", Config{})
	var group int
	task.OnStart = func(pgid int) { group = pgid }
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if group <= 0 || res.Summary != strconv.Itoa(group) {
		t.Fatalf("OnStart got %d, the CLI's process group is %q", group, res.Summary)
	}
}

func TestFailuresToStartAreNotAgentFailures(t *testing.T) {
	_, task, _ := fakeAgent(t, "success", Config{})
	for name, c := range map[string]Config{
		"missing path": {Binary: filepath.Join(t.TempDir(), "gemini")},
		"not in PATH":  {Binary: "no-such-gemini-cli"},
	} {
		_, err := New(c).Start(context.Background(), task)
		if err == nil || errors.Is(err, agentorg.ErrAgent) {
			t.Errorf("%s: %v", name, err)
		}
	}
	task.Dir = ""
	if _, err := New(Config{}).Start(context.Background(), task); err == nil || !strings.Contains(err.Error(), "no directory") {
		t.Errorf("no dir: %v", err)
	}
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
	if !strings.Contains(pr.Problem, "0.1.0 does not support --output-format, stream-json, --approval-mode, yolo, --skip-trust") || pr.Fix == "" {
		t.Errorf("old: %+v", pr)
	}
	broken := write("broken", "echo 'node: not found' >&2; exit 127\n")
	if pr := New(Config{Binary: broken}).Probe(context.Background(), env); !strings.Contains(pr.Problem, "exit status 127: node: not found") {
		t.Errorf("broken: %+v", pr)
	}
	if pr := New(Config{Binary: "no-such-gemini-cli"}).Probe(context.Background(), env); pr.Path != "" || pr.Problem == "" || !strings.Contains(pr.Fix, "npm install") {
		t.Errorf("missing: %+v", pr)
	}
}
