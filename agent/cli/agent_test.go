package cli

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
)

func TestTotalsGiveThisRunsShare(t *testing.T) {
	before := agentorg.Usage{InputTokens: 100, CachedTokens: 10, OutputTokens: 5, CostUSD: 0.5}
	reported := agentorg.Usage{InputTokens: 250, CachedTokens: 30, OutputTokens: 9, CostUSD: 0.75}
	for k, want := range map[Totals]agentorg.Usage{
		PerRun:           reported,
		SessionTotal:     {InputTokens: 150, CachedTokens: 20, OutputTokens: 4, CostUSD: 0.25},
		CostSessionTotal: {InputTokens: 250, CachedTokens: 30, OutputTokens: 9, CostUSD: 0.25},
	} {
		if got := k.thisRun(reported, before); got != want {
			t.Errorf("totals %d: got %+v, want %+v", k, got, want)
		}
	}
	// Nothing reported is nothing, not a negative share.
	if got := SessionTotal.thisRun(agentorg.Usage{}, before); got != (agentorg.Usage{}) {
		t.Errorf("got %+v", got)
	}
}

func TestSetenvReplacesKeys(t *testing.T) {
	env := []string{"PATH=/bin", "A=1", "B=2", "A=3"}
	got := Setenv(env, "A=9", "C=4")
	if want := []string{"PATH=/bin", "B=2", "A=9", "C=4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := Setenv(env); !reflect.DeepEqual(got, env) {
		t.Fatalf("nothing to set changed env: %q", got)
	}
}

func TestCheckID(t *testing.T) {
	for id, want := range map[string]string{
		"":         "resume needs a thread id",
		"--last":   `invalid thread id "--last"`,
		"a b":      `invalid thread id "a b"`,
		"t-1\n":    `invalid thread id "t-1\n"`,
		"019abc12": "",
	} {
		err := CheckID(id, "thread id")
		if (err == nil) != (want == "") || err != nil && err.Error() != want {
			t.Errorf("CheckID(%q) = %v, want %q", id, err, want)
		}
	}
}

// lineCounter is a Parser that counts lines and reports a fixed result.
type lineCounter struct {
	n   int
	res agentorg.Result
}

func (p *lineCounter) Line([]byte)             { p.n++ }
func (p *lineCounter) Result() agentorg.Result { return p.res }
func (p *lineCounter) Check(o *Outcome, _ *agentorg.Result) error {
	if o.ExitCode != 0 {
		return o.Fail(o.ExitStatus())
	}
	return nil
}

// shTool runs script with /bin/sh -c, its output parsed by a lineCounter
// that reports res.
func shTool(script string, res agentorg.Result) Tool {
	return Tool{
		Name:   "sh",
		Config: Config{Binary: "/bin/sh"},
		Args:   func(Call) []string { return []string{"-c", script} },
		Parse:  func(Call) Parser { return &lineCounter{res: res} },
	}
}

func TestAgentChecksTheTaskBeforeRunning(t *testing.T) {
	tl := shTool("exit 0", agentorg.Result{})
	tl.NeedsPrompt, tl.MaxPrompt = true, 10
	missing := tl
	missing.Config.Binary = "no-such-tool"
	dir := t.TempDir()
	ok := agentorg.Task{Dir: dir, Prompt: "x"}
	for name, c := range map[string]struct {
		tool    Tool
		task    agentorg.Task
		resume  bool
		session string
		want    string
	}{
		"no dir":     {tl, agentorg.Task{Prompt: "x"}, false, "", "sh agent: task has no directory"},
		"empty":      {tl, agentorg.Task{Dir: dir, Prompt: " \n"}, false, "", "sh agent: empty prompt"},
		"too long":   {tl, agentorg.Task{Dir: dir, Prompt: strings.Repeat("x", 11)}, false, "", "over the 10 bytes"},
		"no session": {tl, ok, true, "", "sh agent: resume needs a session id"},
		"flag as id": {tl, ok, true, "--help", `sh agent: invalid session id "--help"`},
		"not found":  {missing, ok, false, "", "sh agent: no-such-tool not found"},
	} {
		a := New(c.tool)
		var err error
		if c.resume {
			_, err = a.Resume(context.Background(), c.session, c.task)
		} else {
			_, err = a.Start(context.Background(), c.task)
		}
		if err == nil || errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
}

func TestAgentReturnsWhatTheToolReportedEvenOnFailure(t *testing.T) {
	reported := agentorg.Result{Summary: "half done", Usage: agentorg.Usage{InputTokens: 300, CostUSD: 1}}
	tl := shTool("echo a; echo b; exit 4", reported)
	tl.Usage = SessionTotal
	task := agentorg.Task{Dir: t.TempDir(), SessionUsage: agentorg.Usage{InputTokens: 100, CostUSD: 0.25}}
	res, err := New(tl).Resume(context.Background(), "s-1", task)
	if !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "sh: exit status 4") {
		t.Fatalf("got %v", err)
	}
	// The session resumed is kept when the tool names none; the usage is
	// this run's share of the session's total.
	want := agentorg.Result{SessionID: "s-1", Summary: "half done", Usage: agentorg.Usage{InputTokens: 200, CostUSD: 0.75}}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
}

func TestAgentGivesThePromptInAFile(t *testing.T) {
	var seen Call
	tl := shTool(`cat "$0" > got.txt`, agentorg.Result{})
	tl.PromptFile = true
	tl.Prompt = func(p string) string { return "> " + p }
	tl.Args = func(r Call) []string { seen = r; return []string{"-c", `cat "$0" > got.txt`, r.PromptFile} }
	task := agentorg.Task{Dir: t.TempDir(), Prompt: "hello", Access: "bogus"}
	if _, err := New(tl).Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(task.Dir + "/got.txt"); string(got) != "> hello" {
		t.Errorf("the tool read %q", got)
	}
	if _, err := os.Stat(seen.PromptFile); !errors.Is(err, os.ErrNotExist) || strings.HasPrefix(seen.PromptFile, task.Dir) {
		t.Errorf("prompt file %s: in the worktree or left behind (%v)", seen.PromptFile, err)
	}
	if seen.Access != agentorg.ReadOnly {
		t.Errorf("access %q: anything but read-write is read-only", seen.Access)
	}
}
