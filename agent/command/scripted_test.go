package command

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/scripted"
	"github.com/agentorg/agentorg/proc"
)

// TestMain lets the test binary act as the scripted agent, so these tests
// run the real thing as a subprocess through the real protocol, or as the
// contract suite's fake.
func TestMain(m *testing.M) {
	agenttest.ActAs(format{})
	fakecli.Main(m, "AGENTORG_TEST_SCRIPTED_AGENT", func(string) int {
		return scripted.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	})
}

func scriptedAgent(t *testing.T, script string) (*Agent, []string, string) {
	t.Helper()
	self := fakecli.Self(t)
	sp := filepath.Join(t.TempDir(), "script.yaml")
	if err := os.WriteFile(sp, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	env := append(proc.BaseEnv(), "AGENTORG_TEST_SCRIPTED_AGENT=1", "AGENTORG_SCRIPTED_STATE="+state)
	return New(Config{Command: []string{self, "--script", sp}, Timeout: time.Minute}), env, state
}

const calcScript = `
steps:
  - match: {role: developer, issue: 2, attempt: 1}
    actions:
      - write: {path: calc.go, content: "package calc\n\nfunc Add(a, b int) int { return a - b }\n"}
    summary: Wrote Add.
    usage: {input_tokens: 1200, output_tokens: 80, cost_usd: 0.01}
  - match: {role: developer, issue: 2, prompt: "NO-GO"}
    actions:
      - edit: {path: calc.go, old: "a - b", new: "a + b"}
    summary: Fixed the sign error in Add.
    usage: {input_tokens: 300, output_tokens: 20, cost_usd: 0.002}
  - match: {role: validator}
    actions:
      - write: {path: verdict.txt, content: GO}
    summary: GO
`

func TestScriptedAgentStartAndResume(t *testing.T) {
	a, env, state := scriptedAgent(t, calcScript)
	task, transcript := newTask(t)
	task.Env = env

	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, transcript)
	}
	if !regexp.MustCompile(`^scripted-[0-9a-f]{16}$`).MatchString(first.SessionID) {
		t.Fatalf("session id %q", first.SessionID)
	}
	if first.Summary != "Wrote Add." || first.Usage != (agentorg.Usage{InputTokens: 1200, OutputTokens: 80, CostUSD: 0.01}) {
		t.Fatalf("start result %+v", first)
	}
	calc := filepath.Join(task.Dir, "calc.go")
	if b, err := os.ReadFile(calc); err != nil || !strings.Contains(string(b), "a - b") {
		t.Fatalf("calc.go after start: %q, %v", b, err)
	}

	task.Attempt = 2
	task.Prompt = "Validation said NO-GO: TestAdd fails, 1+2 gave -1"
	second, err := a.Resume(context.Background(), first.SessionID, task)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, transcript)
	}
	if second.SessionID != first.SessionID || second.Summary != "Fixed the sign error in Add." || second.Usage.OutputTokens != 20 {
		t.Fatalf("resume result %+v", second)
	}
	if b, _ := os.ReadFile(calc); !strings.Contains(string(b), "return a + b") {
		t.Fatalf("calc.go after resume: %q", b)
	}
	if want := "resumed session " + first.SessionID + " (1 earlier runs)"; !strings.Contains(transcript.String(), want) {
		t.Errorf("transcript lacks %q:\n%s", want, transcript)
	}
	runs, err := scripted.ReadState(state, first.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Attempt != 1 || runs[1].Attempt != 2 || !runs[1].Resumed ||
		runs[1].Prompt != task.Prompt {
		t.Fatalf("state shows %+v", runs)
	}
}

func TestScriptedReadOnlyRoleCannotWrite(t *testing.T) {
	a, env, _ := scriptedAgent(t, calcScript)
	task, _ := newTask(t)
	task.Env = env
	task.Role = "validator"
	task.Access = agentorg.ReadOnly
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "agent reported an error: write verdict.txt: refused: this run is read-only")
	if res.SessionID == "" {
		t.Error("no session on the error result")
	}
	if _, err := os.Stat(filepath.Join(task.Dir, "verdict.txt")); err == nil {
		t.Fatal("read-only run wrote a file")
	}
}

func TestScriptedFailures(t *testing.T) {
	a, env, _ := scriptedAgent(t, `
steps:
  - match: {role: pm}
    summary: half a plan
    error: model refused
    exit: 3
  - match: {role: developer}
    actions:
      - sleep: 30s
    summary: too late
`)
	task, _ := newTask(t)
	task.Env = env
	task.Role = "pm"
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 3 (agent reported an error: model refused)")

	task.Role = "developer"
	task.StallTimeout = 500 * time.Millisecond
	start := time.Now()
	_, err = a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for 500ms")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}
