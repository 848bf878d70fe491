package aider

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/proc"
)

// rig is the contract suite's rig, whose fake plays aider (format), for
// the tests of what is aider's own.
func rig(t *testing.T) agenttest.Rig {
	return agenttest.Fake{New: func(c cli.Config) agentorg.Agent { return New(c) }}.Rig(t)
}

// A run's history as aider logs it (io.user_input, io.ai_output,
// io.tool_output): two replies, a lint reflection between them.
const twoReplies = `
# aider chat started at 2026-11-25 15:40:00


#### Issue #2: Add is wrong  
#### Fix it.  

I will fix the sign in Add.

calc.go
` + "```go\nfunc Add(a, b int) int {\n\treturn a + b\n}\n```" + `

> Applied edit to calc.go  
> Tokens: 2.3k sent, 120 received. Cost: $0.0041 message, $0.0041 session.  
> Found lint errors; reflecting  

Fixed the sign error in Add.
    indented line kept

> Tokens: 12k sent, 1.5k cache hit, 87 received. Cost: $0.03 message, $0.0341 session.  
`

func TestHistoryGivesTheLastReplyAndSummedUsage(t *testing.T) {
	h := parseHistory([]byte(twoReplies))
	if h.reply != "Fixed the sign error in Add.\n    indented line kept" || h.reports != 2 {
		t.Fatalf("reply %q, %d reports", h.reply, h.reports)
	}
	if want := (agentorg.Usage{InputTokens: 2300 + 12000, CachedTokens: 1500, OutputTokens: 120 + 87, CostUSD: 0.0041 + 0.03}); h.usage != want {
		t.Fatalf("usage %+v, want %+v", h.usage, want)
	}
}

func TestUsageReportVariants(t *testing.T) {
	for name, c := range map[string]struct {
		history string
		want    agentorg.Usage
	}{
		// Both cache parts: the Cost part goes on a line of its own.
		"cache split": {"\nDone.\n\n> Tokens: 15k sent, 1.2k cache write, 9.8k cache hit, 432 received.\nCost: $0.12 message, $0.12 session.  \n",
			agentorg.Usage{InputTokens: 15000, CachedTokens: 9800, OutputTokens: 432, CostUSD: 0.12}},
		"no prices": {"\nAnswered.\n\n> Tokens: 999 sent, 5 received.  \n", agentorg.Usage{InputTokens: 999, OutputTokens: 5}},
	} {
		if h := parseHistory([]byte(c.history)); h.usage != c.want || h.reports != 1 {
			t.Errorf("%s: usage %+v (%d reports), want %+v", name, h.usage, h.reports, c.want)
		}
	}
}

func TestOverlongHistoryLinesAreLeftOut(t *testing.T) {
	h := parseHistory([]byte("\nshort reply\n" + strings.Repeat("z", 2_000_000) + "\nend of reply\n\n> Tokens: 1.0k sent, 10 received.  \n"))
	if h.reply != "short reply\nend of reply" || h.usage.InputTokens != 1000 {
		t.Fatalf("reply %q, usage %+v", h.reply, h.usage)
	}
}

func TestTokenCounts(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "567": 567, "1.2k": 1200, "9.9k": 9900, "12k": 12000, "": 0, "x": 0} {
		if got := tokens(in); got != want {
			t.Errorf("tokens(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSessionIsTheDirectorys(t *testing.T) {
	a, _ := SessionID("/work/x")
	b, _ := SessionID("/work/x/")
	c, _ := SessionID("/work/y")
	if a != b || a == c || !regexp.MustCompile(`^aider-[0-9a-f]{16}$`).MatchString(a) {
		t.Fatalf("ids %q %q %q", a, b, c)
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
		cfg    cli.Config
		access agentorg.Access
		resume bool
		extra  []string
	}{
		{"start read-write", cli.Config{}, agentorg.ReadWrite, false, nil},
		{"start read-only", cli.Config{}, agentorg.ReadOnly, false, []string{"--chat-mode", "ask", "--no-suggest-shell-commands"}},
		{"resume with model and args", cli.Config{Model: "ollama_chat/qwen2.5-coder:7b", Args: []string{"--map-tokens", "0"}}, agentorg.ReadWrite, true,
			[]string{"--restore-chat-history", "--model", "ollama_chat/qwen2.5-coder:7b", "--map-tokens", "0"}},
		{"resume read-only", cli.Config{}, agentorg.ReadOnly, true, []string{"--chat-mode", "ask", "--no-suggest-shell-commands", "--restore-chat-history"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rig(t)
			a := r.Agent(c.cfg)
			task := r.Task(t, agenttest.Turn{Summary: "Answered."})
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
			got := r.Last(t).Argv
			if len(got) < 2 {
				t.Fatalf("argv %q", got)
			}
			msg := got[1]
			if want := append(common(task.Dir, msg), c.extra...); !slices.Equal(got, want) {
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

func TestCommandPromptIsNotACommand(t *testing.T) {
	for prompt, want := range map[string]string{"/run rm -rf /": "\n/run rm -rf /", "!ls": "\n!ls", "a /run b": "a /run b"} {
		r := rig(t)
		task := r.Task(t, agenttest.Turn{Summary: "Answered."})
		task.Prompt = prompt
		if _, err := r.Agent(cli.Config{}).Start(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if got := r.Last(t).Prompt; got != want {
			t.Errorf("prompt %q arrived as %q, want %q", prompt, got, want)
		}
	}
}

func TestEmptyPromptIsRefused(t *testing.T) {
	r := rig(t)
	task := r.Task(t, agenttest.Turn{Summary: "Answered."})
	task.Prompt = "  "
	if _, err := r.Agent(cli.Config{}).Start(context.Background(), task); err == nil || !strings.Contains(err.Error(), "empty prompt") || r.Last(t).Ran {
		t.Fatalf("empty prompt: %v", err)
	}
}

// litellm errors are printed, retried, then aider gives up with exit 0.
func TestAPIErrorWithExitZero(t *testing.T) {
	r := rig(t)
	task := r.Task(t, agenttest.Turn{Error: "OpenAIException - Connection error."})
	_, err := r.Agent(cli.Config{}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no usage report", "The API provider is not reachable.")
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
	r := rig(t)
	a := r.Agent(cli.Config{})
	task := r.Task(t, agenttest.Turn{Summary: "Answered."})
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
