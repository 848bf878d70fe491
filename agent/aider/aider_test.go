package aider

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
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

func TestSuccessUsageAndSummary(t *testing.T) {
	a, task, transcript := fakeAgent(t, "success", Config{})
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := SessionID(task.Dir)
	want := agentorg.Result{
		SessionID: id,
		Summary:   "Fixed the sign error in Add.\n    indented line kept",
		Usage:     agentorg.Usage{InputTokens: 2300 + 12000, CachedTokens: 1500, OutputTokens: 120 + 87, CostUSD: 0.0041 + 0.03},
	}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	if !regexp.MustCompile(`^aider-[0-9a-f]{16}$`).MatchString(res.SessionID) {
		t.Errorf("session id %q", res.SessionID)
	}
	if !strings.Contains(transcript.String(), "Applied edit to calc.go") {
		t.Error("stdout did not reach the transcript")
	}
}

func TestUsageReportVariants(t *testing.T) {
	a, task, _ := fakeAgent(t, "cache-split", Config{})
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if want := (agentorg.Usage{InputTokens: 15000, CachedTokens: 9800, OutputTokens: 432, CostUSD: 0.12}); res.Usage != want || res.Summary != "Done." {
		t.Fatalf("split report: %+v, want usage %+v", res, want)
	}
	a, task, _ = fakeAgent(t, "no-prices", Config{})
	res, err = a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if want := (agentorg.Usage{InputTokens: 999, OutputTokens: 5}); res.Usage != want || res.Summary != "Answered." {
		t.Fatalf("report without prices: %+v", res)
	}
}

func TestArgvPerCase(t *testing.T) {
	common := func(dir, msg string) []string {
		return []string{"--message-file", msg, "--yes-always",
			"--no-auto-commits", "--no-dirty-commits", "--no-gitignore", "--no-pretty", "--no-fancy-input",
			"--no-check-update", "--no-show-model-warnings", "--no-detect-urls", "--analytics-disable",
			"--chat-history-file", filepath.Join(dir, ".aider.chat.history.md"),
			"--input-history-file", filepath.Join(dir, ".aider.input.history")}
	}
	for _, c := range []struct {
		name   string
		cfg    Config
		access agentorg.Access
		resume bool
		extra  []string
	}{
		{"start read-write", Config{}, agentorg.ReadWrite, false, nil},
		{"start read-only", Config{}, agentorg.ReadOnly, false, []string{"--chat-mode", "ask", "--no-suggest-shell-commands"}},
		{"resume with model and args", Config{Model: "ollama_chat/qwen2.5-coder:7b", Args: []string{"--map-tokens", "0"}}, agentorg.ReadWrite, true,
			[]string{"--restore-chat-history", "--model", "ollama_chat/qwen2.5-coder:7b", "--map-tokens", "0"}},
		{"resume read-only", Config{}, agentorg.ReadOnly, true, []string{"--chat-mode", "ask", "--no-suggest-shell-commands", "--restore-chat-history"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, task, _ := fakeAgent(t, "no-prices", c.cfg)
			task.Access = c.access
			var err error
			if c.resume {
				id, _ := SessionID(task.Dir)
				_, err = a.Resume(context.Background(), id, task)
			} else {
				_, err = a.Start(context.Background(), task)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := fakecli.Argv(t, task.Dir)
			if len(got) < 2 {
				t.Fatalf("argv %q", got)
			}
			msg := got[1]
			if want := append(common(task.Dir, msg), c.extra...); !reflect.DeepEqual(got, want) {
				t.Fatalf("argv %q\nwant %q", got, want)
			}
			// The message file is outside the worktree and gone after the run.
			if strings.HasPrefix(msg, task.Dir) {
				t.Errorf("message file %s is in the worktree", msg)
			}
			if _, err := os.Stat(msg); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("message file %s left behind: %v", msg, err)
			}
		})
	}
}

func TestPromptArrivesIntact(t *testing.T) {
	big := strings.Repeat("Ünïcødé prompt line with \"quotes\" and $vars `ticks` --yes\n", 20000)
	for _, prompt := range []string{"Issue #2: fix the sign — héllo ✓\nno trailing newline", "a /run b", big} {
		a, task, _ := fakeAgent(t, "no-prices", Config{})
		task.Prompt = prompt
		if _, err := a.Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(task.Dir, ".fake-message"))
		if err != nil || string(got) != prompt {
			t.Fatalf("prompt of %d bytes arrived as %d bytes (%v)", len(prompt), len(got), err)
		}
	}
	a, task, _ := fakeAgent(t, "no-prices", Config{})
	task.Prompt = "  "
	if _, err := a.Start(context.Background(), task); err == nil || !strings.Contains(err.Error(), "empty prompt") {
		t.Fatalf("empty prompt: %v", err)
	}
}

func TestCommandPromptIsNotACommand(t *testing.T) {
	for prompt, want := range map[string]string{"/run rm -rf /": "\n/run rm -rf /", "!ls": "\n!ls"} {
		a, task, _ := fakeAgent(t, "no-prices", Config{})
		task.Prompt = prompt
		if _, err := a.Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(task.Dir, ".fake-message")); string(got) != want {
			t.Errorf("prompt %q arrived as %q, want %q", prompt, got, want)
		}
	}
}

func TestEnvironmentIsExactlyTheTasks(t *testing.T) {
	t.Setenv("AGENTORG_TEST_CANARY", "leaked")
	a, task, _ := fakeAgent(t, "no-prices", Config{})
	task.Env = []string{"PATH=/usr/bin:/bin", "OPENAI_API_BASE=http://127.0.0.1:1/v1", fakeEnv + "=no-prices"}
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(task.Dir, ".fake-env"))
	if got := strings.Split(string(data), "\n"); !reflect.DeepEqual(got, task.Env) {
		t.Fatalf("aider saw %q, want %q", got, task.Env)
	}
}

func TestResumeReplaysTheHistoryOfItsDirectory(t *testing.T) {
	a, task, _ := fakeAgent(t, "success", Config{})
	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	task.Env = append(proc.BaseEnv(), fakeEnv+"=resume")
	task.Prompt = "Validation said NO-GO.\nTests fail."
	second, err := a.Resume(context.Background(), first.SessionID, task)
	if err != nil {
		t.Fatal(err)
	}
	// The first run logged one user line; the resumed summary is only the
	// second run's reply, and usage only its own.
	if second.SessionID != first.SessionID || second.Summary != "Restored 1 earlier user lines." ||
		second.Usage != (agentorg.Usage{InputTokens: 3100, OutputTokens: 40}) {
		t.Fatalf("resume result %+v", second)
	}
	other := t.TempDir()
	elsewhere, _ := SessionID(other)
	if _, err := a.Resume(context.Background(), elsewhere, task); err == nil || errors.Is(err, agentorg.ErrAgent) ||
		!strings.Contains(err.Error(), "resumes only from the chat history of the directory it ran in") {
		t.Fatalf("resume with another directory's id: %v", err)
	}
}

func TestAPIErrorWithExitZero(t *testing.T) {
	a, task, _ := fakeAgent(t, "api-error", Config{})
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no usage report", "The API provider is not reachable.")
	if res.SessionID == "" {
		t.Error("no session id on the error result")
	}
}

func TestCrashCarriesOutput(t *testing.T) {
	a, task, _ := fakeAgent(t, "crash", Config{})
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 1: ", "ModuleNotFoundError: No module named 'litellm'")
}

func TestVeryLongOutput(t *testing.T) {
	a, task, _ := fakeAgent(t, "long", Config{})
	var n fakecli.Counter
	task.Transcript = &n
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	// The 2 MB line of the reply is dropped from the summary, not the run.
	if res.Summary != "short reply\nend of reply" || res.Usage.InputTokens != 1000 {
		t.Fatalf("got summary %q, usage %+v", res.Summary, res.Usage)
	}
	if n.N < 8_000_000 {
		t.Errorf("transcript got %d bytes", n.N)
	}
}

func TestStallKillsTheProcessGroup(t *testing.T) {
	a, task, _ := fakeAgent(t, "stall", Config{StallTimeout: time.Minute})
	task.StallTimeout = 500 * time.Millisecond
	var group int
	task.OnStart = func(pgid int) { group = pgid }
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for 500ms", "last words")
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
		t.Fatalf("OnStart got %d, aider's process group is %q", group, res.Summary)
	}
}

func TestFailuresToStartAreNotAgentFailures(t *testing.T) {
	_, task, _ := fakeAgent(t, "success", Config{})
	for name, c := range map[string]Config{
		"missing path": {Binary: filepath.Join(t.TempDir(), "aider")},
		"not in PATH":  {Binary: "no-such-aider"},
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

func TestTokenCounts(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "567": 567, "1.2k": 1200, "9.9k": 9900, "12k": 12000, "": 0, "x": 0} {
		if got := tokens(in); got != want {
			t.Errorf("tokens(%q) = %d, want %d", in, got, want)
		}
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
	help := strings.Join(flagsUsed, " ")
	good := write("good", `case "$1" in --version) echo aider 0.86.1;; --help) echo '`+help+`';; esac`)
	if pr := New(Config{Binary: good}).Probe(context.Background(), env); pr.Problem != "" || pr.Version != "0.86.1" || pr.Path != good {
		t.Errorf("good: %+v", pr)
	}
	old := write("old", `case "$1" in --version) echo aider 0.20.0;; --help) echo '--message-file --yes-always';; esac`)
	if pr := New(Config{Binary: old}).Probe(context.Background(), env); !strings.Contains(pr.Problem, "0.20.0 does not support --auto-commits") || pr.Fix == "" {
		t.Errorf("old: %+v", pr)
	}
	if pr := New(Config{Binary: "no-such-aider"}).Probe(context.Background(), env); pr.Path != "" || pr.Problem == "" || pr.Fix == "" {
		t.Errorf("missing: %+v", pr)
	}
}

// aider's history files live in the worktree, for resume; they are excluded
// so that committing the agent's work never picks them up.
func TestHistoryFilesStayOutOfCommits(t *testing.T) {
	a, task, _ := fakeAgent(t, "success", Config{})
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", task.Dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	for i := 0; i < 2; i++ {
		if _, err := a.Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(task.Dir, ChatHistoryFile)); err != nil {
		t.Fatalf("the fake should have written the history: %v", err)
	}
	if st := git("status", "--porcelain", "--untracked-files=all"); strings.Contains(st, ".aider") {
		t.Fatalf("aider's files would be committed:\n%s", st)
	}
	exclude, _ := os.ReadFile(filepath.Join(task.Dir, ".git", "info", "exclude"))
	if n := strings.Count(string(exclude), "/"+ChatHistoryFile); n != 1 {
		t.Fatalf("exclude lists the history %d times:\n%s", n, exclude)
	}
}
