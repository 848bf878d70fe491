package opencode

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

func fakeAgent(t *testing.T, mode string, c Config) (*Agent, agentorg.Task, *bytes.Buffer) {
	t.Helper()
	c.Binary = fakecli.Self(t)
	task, transcript := fakecli.Task(t, append(proc.BaseEnv(), fakeEnv+"="+mode))
	return New(c), task, transcript
}

func TestSuccessSumsSteps(t *testing.T) {
	a, task, transcript := fakeAgent(t, "success", Config{})
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	want := agentorg.Result{
		SessionID: "ses_dec9bef20ffeUKViW5kg2OSDeI",
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
	const session = "ses_dec9bef20ffeUKViW5kg2OSDeI"
	for _, c := range []struct {
		name    string
		cfg     Config
		access  agentorg.Access
		session string
		args    []string // after "run --format json --dir DIR"
	}{
		{"start read-write", Config{}, agentorg.ReadWrite, "", nil},
		{"start read-only", Config{}, agentorg.ReadOnly, "", nil},
		{"resume with model and args", Config{Model: "ollama/qwen2.5-coder:7b", Args: []string{"--agent", "build"}}, agentorg.ReadWrite, session,
			[]string{"-m", "ollama/qwen2.5-coder:7b", "--session", session, "--agent", "build"}},
		{"resume read-only", Config{}, agentorg.ReadOnly, session, []string{"--session", session}},
	} {
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
			want := append([]string{"run", "--format", "json", "--dir", task.Dir}, c.args...)
			if got := fakecli.Argv(t, task.Dir); !reflect.DeepEqual(got, want) {
				t.Fatalf("argv %q, want %q", got, want)
			}
			env := fakecli.Env(t, task.Dir)
			wantEnv := append(append([]string(nil), task.Env...), "OPENCODE_DISABLE_AUTOUPDATE=1")
			if c.access == agentorg.ReadOnly {
				wantEnv = append(wantEnv, `OPENCODE_CONFIG_CONTENT={"permission":{"bash":"deny","edit":"deny"}}`)
			}
			if !reflect.DeepEqual(env, wantEnv) {
				t.Fatalf("env %q, want %q", env, wantEnv)
			}
		})
	}
}

func TestReadOnlyMergesTheCallersConfig(t *testing.T) {
	a, task, _ := fakeAgent(t, "success", Config{})
	task.Access = agentorg.ReadOnly
	task.Env = append(task.Env, "OPENCODE_DISABLE_AUTOUPDATE=0",
		`OPENCODE_CONFIG_CONTENT={"model":"ollama/x","permission":{"webfetch":"deny","edit":"allow"}}`)
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	var cfgs []string
	for _, kv := range fakecli.Env(t, task.Dir) {
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

func TestPromptArrivesOnStdinIntact(t *testing.T) {
	big := strings.Repeat("Ünïcødé prompt line with \"quotes\" and $vars `ticks` --session\n", 20000)
	for _, prompt := range []string{"Issue #2: fix the sign — héllo ✓\nno trailing newline", "--help", big} {
		a, task, _ := fakeAgent(t, "success", Config{})
		task.Prompt = prompt
		if _, err := a.Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if got := fakecli.Recorded(t, task.Dir, ".fake-stdin"); string(got) != prompt {
			t.Fatalf("prompt of %d bytes arrived as %d bytes", len(prompt), len(got))
		}
		if argv := fakecli.Argv(t, task.Dir); len(argv) != 5 {
			t.Fatalf("argv carries more than the flags: %q", argv)
		}
	}
	a, task, _ := fakeAgent(t, "success", Config{})
	task.Prompt = "\n "
	if _, err := a.Start(context.Background(), task); err == nil || !strings.Contains(err.Error(), "empty prompt") {
		t.Fatalf("empty prompt: %v", err)
	}
}

func TestAPIError(t *testing.T) {
	a, task, _ := fakeAgent(t, "api-error", Config{})
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 1 (agent reported an error: APIError: scripted failure): Error: scripted failure")
	if res.SessionID != "ses_dec9bef20ffeUKViW5kg2OSDeI" {
		t.Errorf("the session is lost: %+v", res)
	}
}

func TestErrorLineFailsEvenWithExitZero(t *testing.T) {
	a, task, _ := fakeAgent(t, "error-exit-0", Config{})
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "agent reported an error: APIError: scripted failure")
}

func TestResumeOfAnUnknownSession(t *testing.T) {
	a, task, _ := fakeAgent(t, "session-not-found", Config{})
	_, err := a.Resume(context.Background(), "ses_0000nope", task)
	fakecli.WantAgentErr(t, err, "exit status 1 (session ses_0000nope not found", "Session not found")
	for _, id := range []string{"", "latest", "--continue", "ses_", "ses_a/b"} {
		if _, err := a.Resume(context.Background(), id, task); err == nil || errors.Is(err, agentorg.ErrAgent) {
			t.Errorf("Resume(%q): %v", id, err)
		}
	}
}

func TestMissingOrUnfinishedFinalState(t *testing.T) {
	for mode, want := range map[string]string{
		"nothing":          "no step_finish line",
		"unfinished":       "no step_finish line",
		"tool-calls-last":  `the last step finished with reason "tool-calls", not "stop"`,
		"length":           `the last step finished with reason "length"`,
		"malformed-finish": "malformed step_finish line",
	} {
		a, task, _ := fakeAgent(t, mode, Config{})
		_, err := a.Start(context.Background(), task)
		if !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", mode, err, want)
		}
	}
}

func TestMalformedLinesAreSkipped(t *testing.T) {
	a, task, transcript := fakeAgent(t, "malformed", Config{})
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "fine" || res.Usage.InputTokens != 1200 {
		t.Fatalf("got %+v", res)
	}
	if !strings.Contains(transcript.String(), "{broken") {
		t.Error("a malformed line did not reach the transcript")
	}
}

func TestVeryLongOutput(t *testing.T) {
	a, task, _ := fakeAgent(t, "long", Config{})
	a = withMaxLine(a, 2<<20)
	var seen fakecli.Counter
	task.Transcript = &seen
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summary) != 1_000_000 || strings.Trim(res.Summary, "z") != "" {
		t.Fatalf("summary of %d bytes", len(res.Summary))
	}
	if seen.N < 15_000_000 {
		t.Errorf("transcript got %d bytes", seen.N)
	}
	a, task, _ = fakeAgent(t, "success", Config{})
	a = withMaxLine(a, 100) // every JSON line is longer
	_, err = a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no step_finish line (8 stdout lines over 100 bytes were dropped)")
}

func TestStallKillsTheProcessGroup(t *testing.T) {
	a, task, _ := fakeAgent(t, "stall", Config{StallTimeout: time.Minute})
	task.StallTimeout = 500 * time.Millisecond
	var group int
	task.OnStart = func(pgid int) { group = pgid }
	start := time.Now()
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for 500ms", "last words")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	if err := syscall.Kill(-group, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists: %v", group, err)
	}
}

func TestHardTimeoutAndCancellation(t *testing.T) {
	a, task, _ := fakeAgent(t, "stall", Config{Timeout: 300 * time.Millisecond})
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "timed out after 300ms")

	a, task, _ = fakeAgent(t, "stall", Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = a.Start(ctx, task)
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
		"missing path": {Binary: filepath.Join(t.TempDir(), "opencode")},
		"not in PATH":  {Binary: "no-such-opencode"},
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
	// yargs prints the help on stderr here, as some versions do.
	good := write("good", `case "$1" in --version) echo 1.18.33;; run) echo '--format [choices: "default", "json"] -s, --session -m, --model --dir' >&2;; esac`)
	if pr := New(Config{Binary: good}).Probe(context.Background(), env); pr.Problem != "" || pr.Version != "1.18.33" || pr.Path != good {
		t.Errorf("good: %+v", pr)
	}
	old := write("old", `case "$1" in --version) echo 0.3.0;; run) echo '-s, --session -m, --model';; esac`)
	if pr := New(Config{Binary: old}).Probe(context.Background(), env); !strings.Contains(pr.Problem, "does not support --format, json, --dir") || pr.Fix == "" {
		t.Errorf("old: %+v", pr)
	}
	if pr := New(Config{Binary: "no-such-opencode"}).Probe(context.Background(), env); pr.Path != "" || pr.Problem == "" || !strings.Contains(pr.Fix, "npm install") {
		t.Errorf("missing: %+v", pr)
	}
}
