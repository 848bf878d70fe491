package codex

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
)

// Canned lines shaped like `codex exec --json` of codex-cli 0.169.0.
const (
	lThread     = `{"type":"thread.started","thread_id":"019abc12-3456-7def-8901-23456789abcd"}`
	lTurn       = `{"type":"turn.started"}`
	lCmdStart   = `{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'cat calc.go'","aggregated_output":"","exit_code":null,"status":"in_progress"}}`
	lCmdDone    = `{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'cat calc.go'","aggregated_output":"package calc\n","exit_code":0,"status":"completed"}}`
	lPatch      = `{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":[{"path":"/work/calc.go","kind":"update"}],"status":"completed"}}`
	lMsg1       = `{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Looking at calc.go."}}`
	lMsg2       = `{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Fixed the sign in Add."}}`
	lDone       = `{"type":"turn.completed","usage":{"input_tokens":2400,"cached_input_tokens":400,"cache_write_input_tokens":0,"output_tokens":68,"reasoning_output_tokens":0}}`
	lWarnItem   = `{"type":"item.completed","item":{"id":"item_4","type":"error","message":"Model metadata for ` + "`gpt-5`" + ` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}`
	lRetryError = `{"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion: error sending request)"}`
)

func TestSuccess(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lThread, lTurn, lCmdStart, lCmdDone, lMsg1, lPatch, lMsg2, lDone), "FAKE_STDERR=WARNING: proceeding\n")
	task, transcript := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	want := agentorg.Result{SessionID: "019abc12-3456-7def-8901-23456789abcd", Summary: "Fixed the sign in Add.",
		Usage: agentorg.Usage{InputTokens: 2400, CachedTokens: 400, OutputTokens: 68}}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	for _, s := range []string{`"type":"file_change"`, "WARNING: proceeding", `"type":"turn.completed"`} {
		if !strings.Contains(transcript.String(), s) {
			t.Errorf("transcript lacks %q", s)
		}
	}
}

func TestArgvPerAccessAndResume(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lThread, lTurn, lMsg2, lDone))
	a := New(Config{Binary: f.Bin, Model: "gpt-5.5",
		Args: []string{"-c", `model_providers.x={name="x",base_url="http://127.0.0.1:1/v1"}`, "-c", "model_provider=x"}})
	common := []string{"exec", "--json", "--skip-git-repo-check", "--disable", "plugins", "-c", "analytics.enabled=false"}
	extra := []string{"-m", "gpt-5.5", "-c", `model_providers.x={name="x",base_url="http://127.0.0.1:1/v1"}`, "-c", "model_provider=x"}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, c := range []struct {
		name    string
		session string
		access  agentorg.Access
		want    []string
	}{
		{"start read-write", "", agentorg.ReadWrite, cat(common, []string{"-c", `sandbox_mode="workspace-write"`}, extra, []string{"-"})},
		{"start read-only", "", agentorg.ReadOnly, cat(common, []string{"-c", `sandbox_mode="read-only"`}, extra, []string{"-"})},
		{"start no access", "", "", cat(common, []string{"-c", `sandbox_mode="read-only"`}, extra, []string{"-"})},
		{"resume read-write", "019abc12-3456-7def-8901-23456789abcd", agentorg.ReadWrite,
			cat(common, []string{"-c", `sandbox_mode="workspace-write"`}, extra, []string{"resume", "019abc12-3456-7def-8901-23456789abcd", "-"})},
		{"resume read-only", "019abc12-3456-7def-8901-23456789abcd", agentorg.ReadOnly,
			cat(common, []string{"-c", `sandbox_mode="read-only"`}, extra, []string{"resume", "019abc12-3456-7def-8901-23456789abcd", "-"})},
	} {
		t.Run(c.name, func(t *testing.T) {
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
			if run := f.Run(); !reflect.DeepEqual(run.Args, c.want) {
				t.Errorf("argv\n got %q\nwant %q", run.Args, c.want)
			}
		})
	}
}

func TestTurnFailed(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lThread, lTurn,
		`{"type":"error","message":"unexpected status 401 Unauthorized: invalid key"}`,
		`{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: invalid key"}}`),
		"FAKE_EXIT=1", "FAKE_STDERR=some log\n")
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "turn failed: unexpected status 401 Unauthorized: invalid key (exit status 1)", "some log")
	if res.SessionID != "019abc12-3456-7def-8901-23456789abcd" {
		t.Errorf("the thread is lost on failure: %+v", res)
	}
}

func TestErrorEventWithoutTurnCompleted(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lThread, lTurn, `{"type":"error","message":"stream disconnected before completion"}`))
	task, _ := fakecli.Task(t, f.Env)
	_, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no turn.completed event (codex reported: stream disconnected before completion)")
}

func TestRetriedErrorsAndWarningsDoNotFailACompletedTurn(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lThread, lTurn, lWarnItem, lRetryError, lMsg2, lDone))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil || res.Summary != "Fixed the sign in Add." {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestMissingEventsAreErrors(t *testing.T) {
	for name, c := range map[string]struct{ out, want string }{
		"nothing":        {"", "no thread.started event"},
		"no thread":      {fakecli.JSONL(lTurn, lMsg2, lDone), "no thread.started event"},
		"no completion":  {fakecli.JSONL(lThread, lTurn, lMsg2), "no turn.completed event"},
		"broken closing": {fakecli.JSONL(lThread, lTurn, lMsg2, `{"type":"turn.completed","usage":{"input_tokens":`), "no turn.completed event"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, c.out)
			task, _ := fakecli.Task(t, f.Env)
			_, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
			fakecli.WantAgentErr(t, err, c.want)
		})
	}
}

// Known events of the wrong shape are skipped like any malformed line (the
// suite covers lines that are not events at all).
func TestWrongShapedEventsAreSkipped(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lThread,
		`{"type":"item.completed","item":"not an object"}`, `{"type":"turn.completed","usage":"lots"}`,
		`{"type":"thread.started","thread_id":7}`, lTurn, lMsg2, lDone))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "Fixed the sign in Add." || res.Usage.InputTokens != 2400 || res.SessionID != "019abc12-3456-7def-8901-23456789abcd" {
		t.Fatalf("got %+v", res)
	}
}

// When the line dropped for its length is the closing event, the error says
// so.
func TestDroppedClosingEventIsNamed(t *testing.T) {
	long := `{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1},"pad":"` + strings.Repeat("p", 2000) + `"}`
	f := newFake(t, fakecli.JSONL(lThread, lTurn, lMsg2, long))
	task, _ := fakecli.Task(t, f.Env)
	tl := tool(Config{Binary: f.Bin})
	tl.MaxLine = 1024
	_, err := cli.New(tl).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no turn.completed event (1 stdout lines over 1024 bytes were dropped)")
}

func TestSandboxRefusalFailsAReadWriteRun(t *testing.T) {
	// What codex-cli 0.169.0 prints when workspace-write refuses a patch:
	// nothing on stdout but the model's reply, a log line on stderr.
	refused := fakecli.JSONL(lThread, lTurn,
		`{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc 'rm -rf /'","aggregated_output":"","exit_code":null,"status":"declined"}}`,
		`{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"I could not write the files."}}`,
		lDone)
	stderr := "FAKE_STDERR=2026-11-25T15:44:32.340781Z ERROR codex_core::tools::router: error=patch rejected: writing outside of the project; rejected by user approval settings\n"
	f := newFake(t, refused, stderr)
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "the sandbox refused: command declined: /bin/bash -lc 'rm -rf /'; patch rejected: writing outside of the project; rejected by user approval settings")
	if res.Summary != "I could not write the files." || res.SessionID == "" || res.Usage.InputTokens != 2400 {
		t.Errorf("result on refusal = %+v", res)
	}

	// A read-only run is expected to be refused writes.
	task.Access = agentorg.ReadOnly
	if _, err := New(Config{Binary: f.Bin}).Start(context.Background(), task); err != nil {
		t.Fatalf("read-only run: %v", err)
	}

	// Failing commands and patches that did not apply are the model's
	// business, not refusals.
	f = newFake(t, fakecli.JSONL(lThread, lTurn,
		`{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'go test ./...'","aggregated_output":"FAIL\n","exit_code":1,"status":"failed"}}`,
		`{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":[{"path":"/work/calc.go","kind":"update"}],"status":"failed"}}`,
		lMsg2, lDone), "FAKE_STDERR=2026-11-25T15:44:32Z WARN codex_core::exec: something else\n")
	task, _ = fakecli.Task(t, f.Env)
	if _, err := New(Config{Binary: f.Bin}).Start(context.Background(), task); err != nil {
		t.Fatalf("failing test command: %v", err)
	}
}

func TestProbe(t *testing.T) {
	help := "Usage: codex exec [OPTIONS] [PROMPT]\n  resume  Resume a previous session\n  -c, --config <key=value>\n      --disable <FEATURE>\n      --skip-git-repo-check\n      --json\n"
	f := newFake(t, "", "FAKE_VERSION=codex-cli 0.169.0\n", "FAKE_HELP="+help)
	pr := New(Config{Binary: f.Bin}).Probe(context.Background(), f.Env)
	if pr.Path != f.Bin || pr.Version != "codex-cli 0.169.0" || pr.Problem != "" {
		t.Fatalf("probe %+v", pr)
	}

	old := newFake(t, "", "FAKE_VERSION=codex-cli 0.20.0\n", "FAKE_HELP=Usage: codex exec [OPTIONS] [PROMPT]\n  --json\n")
	pr = New(Config{Binary: old.Bin}).Probe(context.Background(), old.Env)
	if pr.Version != "codex-cli 0.20.0" || !strings.Contains(pr.Problem, "lacks --skip-git-repo-check, --disable, --config, resume") ||
		pr.Fix != "upgrade Codex to the version agentorg is tested with: npm install -g @openai/codex@0.169.0" {
		t.Fatalf("old version probe %+v", pr)
	}

	pr = New(Config{}).Probe(context.Background(), []string{"PATH=" + t.TempDir()})
	if pr.Path != "" || !strings.Contains(pr.Problem, "codex not found in PATH") || pr.Fix != "install Codex: npm install -g @openai/codex@0.169.0 (or set the agent's binary to its path)" {
		t.Fatalf("missing probe %+v", pr)
	}
}
