package claude

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

// Canned lines shaped like `claude -p --output-format stream-json --verbose`
// of Claude Code 2.1.332 (trimmed of fields this package does not read).
const (
	sid       = "e12c2b6f-4eb2-4e98-a227-21dd0aa71779"
	lInit     = `{"type":"system","subtype":"init","cwd":"/work","session_id":"` + sid + `","tools":["Bash","Edit","Read","Write"],"model":"claude-opus-5-5","permissionMode":"acceptEdits","apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.332"}`
	lToolUse  = `{"type":"assistant","message":{"content":[{"id":"toolu_1","input":{"file_path":"/work/hello.txt","content":"hello\n"},"name":"Write","type":"tool_use"}],"id":"msg_1","model":"claude-opus-5-5","role":"assistant","stop_reason":null,"type":"message","usage":{"cache_creation_input_tokens":0,"cache_read_input_tokens":200,"input_tokens":1000,"output_tokens":1}},"parent_tool_use_id":null,"session_id":"` + sid + `"}`
	lToolRes  = `{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"File created successfully at: /work/hello.txt"}]},"parent_tool_use_id":null,"session_id":"` + sid + `"}`
	lText     = `{"type":"assistant","message":{"content":[{"text":"Created hello.txt.","type":"text"}],"id":"msg_2","model":"claude-opus-5-5","role":"assistant","stop_reason":null,"type":"message","usage":{"cache_creation_input_tokens":0,"cache_read_input_tokens":200,"input_tokens":1000,"output_tokens":1}},"parent_tool_use_id":null,"session_id":"` + sid + `"}`
	lRetry    = `{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":560,"error_status":529,"error":"overloaded","session_id":"` + sid + `"}`
	lDenied   = `{"type":"system","subtype":"permission_denied","tool_name":"Write","tool_use_id":"toolu_1","decision_reason_type":"workingDir","decision_reason":"Path is outside allowed working directories","message":"Claude requested permissions to write to /etc/x, but you haven't granted it yet.","session_id":"` + sid + `"}`
	lResultOK = `{"duration_api_ms":62,"stop_reason":"end_turn","session_id":"` + sid + `","total_cost_usd":0.00944,"usage":{"input_tokens":2000,"cache_creation_input_tokens":100,"cache_read_input_tokens":400,"output_tokens":68,"service_tier":"standard"},"modelUsage":{"claude-opus-5-5":{"inputTokens":2000,"outputTokens":68,"costUSD":0.00944}},"permission_denials":[],"terminal_reason":"completed","is_error":false,"num_turns":2,"subtype":"success","api_error_status":null,"result":"Created hello.txt.","type":"result","duration_ms":392}`
)

// result returns lResultOK with some of its fields replaced.
func result(repl ...string) string {
	s := lResultOK
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			panic("result line lacks " + repl[i])
		}
		s = strings.Replace(s, repl[i], repl[i+1], 1)
	}
	return s
}

func TestSuccess(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lToolUse, lToolRes, lText, lResultOK), "FAKE_STDERR=a warning\n")
	task, transcript := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	// input_tokens + cache creation + cache reads; cached = the reads.
	want := agentorg.Result{SessionID: sid, Summary: "Created hello.txt.",
		Usage: agentorg.Usage{InputTokens: 2500, CachedTokens: 400, OutputTokens: 68, CostUSD: 0.00944}}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	for _, s := range []string{`"type":"tool_use"`, "a warning", `"type":"result"`} {
		if !strings.Contains(transcript.String(), s) {
			t.Errorf("transcript lacks %q", s)
		}
	}
}

func TestArgvPerAccessAndResume(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, lText, lResultOK))
	a := New(Config{Binary: f.Bin, Model: "sonnet", MaxTurns: 30, Args: []string{"--append-system-prompt", "Be brief."}})
	head := []string{"-p"}
	rw := []string{"--permission-mode", "acceptEdits"}
	ro := []string{"--disallowedTools", "Write,Edit,NotebookEdit", "--permission-mode", "dontAsk"}
	tail := []string{"--output-format", "stream-json", "--verbose", "--model", "sonnet", "--max-turns", "30", "--append-system-prompt", "Be brief."}
	resume := []string{"--resume", sid}
	for _, c := range []struct {
		name    string
		session string
		access  agentorg.Access
		want    []string
	}{
		{"start read-write", "", agentorg.ReadWrite, slices.Concat(head, rw, tail)},
		{"start read-only", "", agentorg.ReadOnly, slices.Concat(head, ro, tail)},
		{"start no access", "", "", slices.Concat(head, ro, tail)},
		{"resume read-write", sid, agentorg.ReadWrite, slices.Concat(head, rw, tail, resume)},
		{"resume read-only", sid, agentorg.ReadOnly, slices.Concat(head, ro, tail, resume)},
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

	// Without a model or max turns, neither flag is passed.
	task, _ := fakecli.Task(t, f.Env)
	if _, err := New(Config{Binary: f.Bin}).Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if want := slices.Concat(head, rw, []string{"--output-format", "stream-json", "--verbose"}); !reflect.DeepEqual(f.Run().Args, want) {
		t.Errorf("argv %q, want %q", f.Run().Args, want)
	}
}

func TestNewestSessionIDWins(t *testing.T) {
	// A resume that forks (or a tool that renames) reports a new id.
	f := newFake(t, fakecli.JSONL(lInit, lText, result(`"session_id":"`+sid, `"session_id":"forked-1`)))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Resume(context.Background(), sid, task)
	if err != nil || res.SessionID != "forked-1" {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestErrorResults(t *testing.T) {
	for name, c := range map[string]struct {
		line string
		exit string
		want string
	}{
		"API error": {result(`"is_error":false`, `"is_error":true`, `"result":"Created hello.txt."`, `"result":"API Error: 400 prompt is too long"`),
			"1", "error result: API Error: 400 prompt is too long (exit status 1)"},
		"max turns": {result(`"subtype":"success"`, `"subtype":"error_max_turns","errors":["Reached maximum number of turns (1)"]`, `"result":"Created hello.txt.",`, ``),
			"1", "error result: error_max_turns: Reached maximum number of turns (1) (exit status 1)"},
		"during execution, exit 0": {result(`"subtype":"success"`, `"subtype":"error_during_execution"`, `"result":"Created hello.txt.",`, ``),
			"0", "error result: error_during_execution"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, fakecli.JSONL(lInit, lToolUse, c.line), "FAKE_EXIT="+c.exit, "FAKE_STDERR=stderr says why\n")
			task, _ := fakecli.Task(t, f.Env)
			res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
			fakecli.WantAgentErr(t, err, c.want, "stderr says why")
			if res.SessionID != sid || res.Usage.OutputTokens != 68 {
				t.Errorf("the session or usage is lost on error: %+v", res)
			}
		})
	}
}

func TestNoResultLine(t *testing.T) {
	for name, out := range map[string]string{
		"nothing":      "",
		"no result":    fakecli.JSONL(lInit, lToolUse, lToolRes, lText),
		"broken":       fakecli.JSONL(lInit, lText, lResultOK[:len(lResultOK)/2]),
		"wrong fields": fakecli.JSONL(lInit, lText, result(`"usage":{`, `"usage":"lots","x":{`)),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, out)
			task, _ := fakecli.Task(t, f.Env)
			res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
			fakecli.WantAgentErr(t, err, "no result line")
			if out != "" && (res.SessionID != sid || res.Summary != "Created hello.txt.") {
				t.Errorf("partial result %+v", res)
			}
		})
	}
}

// Known lines of the wrong shape are skipped like any malformed line (the
// suite covers lines that are not events at all).
func TestWrongShapedLinesAreSkipped(t *testing.T) {
	f := newFake(t, fakecli.JSONL(lInit, `{"type":"assistant","message":"not an object"}`,
		`{"type":"result","usage":"lots"}`, lRetry, lText, lResultOK))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "Created hello.txt." || res.Usage.OutputTokens != 68 {
		t.Fatalf("got %+v", res)
	}
}

// When the line dropped for its length is the result, the error says so,
// and the last assistant text is kept.
func TestDroppedResultIsNamed(t *testing.T) {
	long := result(`"result":"Created hello.txt."`, `"result":"`+strings.Repeat("y", 2000)+`"`)
	f := newFake(t, fakecli.JSONL(lInit, lText, long))
	task, _ := fakecli.Task(t, f.Env)
	tl := tool(Config{Binary: f.Bin})
	tl.MaxLine = 1024
	res, err := cli.New(tl).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no result line (1 stdout lines over 1024 bytes were dropped)")
	if res.Summary != "Created hello.txt." {
		t.Errorf("the last assistant text is lost: %+v", res)
	}
}

func TestPermissionDenials(t *testing.T) {
	denied := result(`"permission_denials":[]`, `"permission_denials":[{"tool_name":"Write","tool_use_id":"toolu_1","tool_input":{"file_path":"/etc/x","content":"x"}},{"tool_name":"Bash","tool_use_id":"toolu_2","tool_input":{"command":"curl example.com"}},{"tool_name":"Write","tool_use_id":"toolu_3","tool_input":{"file_path":"/etc/y","content":"y"}}]`)
	f := newFake(t, fakecli.JSONL(lInit, lToolUse, lDenied, lText, denied))
	task, _ := fakecli.Task(t, f.Env)
	res, err := New(Config{Binary: f.Bin}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "permission denied for Bash, Write (2)")
	if res.SessionID != sid || res.Summary != "Created hello.txt." || res.Usage.CostUSD == 0 {
		t.Errorf("result on denial %+v", res)
	}

	// A denied shell command alone does not fail the run (acceptEdits
	// denies `go test`); it is noted in the summary.
	bashOnly := result(`"permission_denials":[]`, `"permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_2","tool_input":{"command":"go test ./..."}}]`)
	f2 := newFake(t, fakecli.JSONL(lInit, lToolUse, lText, bashOnly))
	task2, _ := fakecli.Task(t, f2.Env)
	res, err = New(Config{Binary: f2.Bin}).Start(context.Background(), task2)
	if err != nil || !strings.Contains(res.Summary, "Claude Code denied: Bash") {
		t.Fatalf("a denied shell command: %v, summary %q", err, res.Summary)
	}

	// A read-only run is denied writes by design: that is no failure.
	task.Access = agentorg.ReadOnly
	if _, err := New(Config{Binary: f.Bin}).Start(context.Background(), task); err != nil {
		t.Fatalf("read-only run: %v", err)
	}
}

func TestProbe(t *testing.T) {
	help := "Usage: claude [options] [command] [prompt]\n  -p, --print\n  --output-format <format> \"stream-json\"\n  --verbose\n" +
		"  -r, --resume [value]\n  --permission-mode <mode> (choices: \"acceptEdits\", \"dontAsk\", \"plan\")\n  --disallowedTools <tools...>\n  --model <model>\n"
	f := newFake(t, "", "FAKE_VERSION=2.1.332 (Claude Code)\n", "FAKE_HELP="+help)
	pr := New(Config{Binary: f.Bin}).Probe(context.Background(), f.Env)
	if pr.Path != f.Bin || pr.Version != "2.1.332 (Claude Code)" || pr.Problem != "" {
		t.Fatalf("probe %+v", pr)
	}

	old := newFake(t, "", "FAKE_VERSION=1.0.3 (Claude Code)\n", "FAKE_HELP=Usage: claude [options]\n  -p, --print\n  --output-format <format> \"stream-json\"\n  --verbose\n  -r, --resume\n  --model <model>\n")
	pr = New(Config{Binary: old.Bin}).Probe(context.Background(), old.Env)
	if !strings.Contains(pr.Problem, "claude 1.0.3 (Claude Code) lacks --permission-mode, acceptEdits, dontAsk, --disallowedTools") ||
		pr.Fix != "upgrade Claude Code to the version agentorg is tested with: npm install -g @anthropic-ai/claude-code@2.1.332" {
		t.Fatalf("old version probe %+v", pr)
	}

	pr = New(Config{}).Probe(context.Background(), []string{"PATH=" + t.TempDir()})
	if pr.Path != "" || !strings.Contains(pr.Problem, "claude not found in PATH") || pr.Fix != "install Claude Code: npm install -g @anthropic-ai/claude-code@2.1.332 (or set the agent's binary to its path)" {
		t.Fatalf("missing probe %+v", pr)
	}
}
