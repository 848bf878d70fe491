package command

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/proc"
)

// fake writes an executable sh script and returns its path.
func fake(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func newTask(t *testing.T) (agentorg.Task, *bytes.Buffer) {
	return fakecli.Task(t, proc.BaseEnv())
}

func TestSuccessSumsUsage(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `
echo '{"type":"message","text":"reading calc.go"}'
echo 'plain log line from a tool'
echo 'warning on stderr' >&2
echo '{"type":"usage","input_tokens":100,"output_tokens":10,"cached_tokens":50,"cost_usd":0.25}'
echo '{"type":"usage","input_tokens":200,"output_tokens":20,"cost_usd":0.5}'
echo '{"type":"result","session_id":"sess-1","summary":"Fixed Add.","is_error":false,"error":"","usage":{"input_tokens":1,"output_tokens":2}}'
`)}})
	task, transcript := newTask(t)
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	want := agentorg.Result{SessionID: "sess-1", Summary: "Fixed Add.",
		Usage: agentorg.Usage{InputTokens: 301, OutputTokens: 32, CachedTokens: 50, CostUSD: 0.75}}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	for _, s := range []string{"reading calc.go", "plain log line from a tool", "warning on stderr", `"type":"result"`} {
		if !strings.Contains(transcript.String(), s) {
			t.Errorf("transcript lacks %q:\n%s", s, transcript)
		}
	}
}

func TestErrorResult(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `
echo '{"type":"usage","input_tokens":5,"output_tokens":1}'
echo '{"type":"result","session_id":"sess-9","summary":"","is_error":true,"error":"model refused"}'
`)}})
	task, _ := newTask(t)
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "agent reported an error: model refused")
	// The session and usage survive so the caller can resume and account.
	if res.SessionID != "sess-9" || res.Usage.InputTokens != 5 {
		t.Errorf("result on error = %+v", res)
	}
}

func TestKilledBySignal(t *testing.T) {
	a := New(Config{Command: []string{fake(t, "echo 'segfault imminent' >&2\nkill -9 $$\n")}})
	task, _ := newTask(t)
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "killed by a signal: segfault imminent")
}

func TestNonZeroExitAfterErrorResult(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `
echo '{"type":"result","session_id":"s","is_error":true,"error":"quota exceeded"}'
exit 1
`)}})
	task, _ := newTask(t)
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 1", "agent reported an error: quota exceeded")
}

func TestNoResultLine(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `
echo '{"type":"message","text":"thinking"}'
echo 'done, I guess'
`)}})
	task, _ := newTask(t)
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no result line")
}

// A usage line of the wrong types and a log after the result are ignored
// (the suite covers lines that are not JSON objects at all).
func TestWrongShapedLinesAreIgnored(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `
echo '{"type":"usage","input_tokens":"lots"}'
echo '{"type":"message","text":17}'
echo '{"type":"result","session_id":"s2","summary":"ok"}'
echo 'trailing log after the result'
`)}})
	task, _ := newTask(t)
	res, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionID != "s2" || res.Summary != "ok" || res.Usage != (agentorg.Usage{}) {
		t.Fatalf("got %+v", res)
	}
}

func TestMalformedResultLineIsAnError(t *testing.T) {
	for name, body := range map[string]string{
		"truncated JSON": `echo '{"type":"result","session_id":"s3","summary":"half'`,
		"wrong types":    `echo '{"type":"result","session_id":"s3","usage":"many"}'`,
		"two results": `echo '{"type":"result","session_id":"s3","summary":"a"}'
echo '{"type":"result","session_id":"s3","summary":"b"}'`,
	} {
		a := New(Config{Command: []string{fake(t, body+"\n")}})
		task, _ := newTask(t)
		_, err := a.Start(context.Background(), task)
		if name == "two results" {
			fakecli.WantAgentErr(t, err, "more than one result line")
		} else {
			fakecli.WantAgentErr(t, err, "malformed result line")
		}
	}
}

func TestResultWithoutNewlineCounts(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `printf '{"type":"result","session_id":"s4","summary":"no newline"}'`)}})
	task, _ := newTask(t)
	res, err := a.Start(context.Background(), task)
	if err != nil || res.Summary != "no newline" {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestOverlongResultLineIsReported(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `
head -c 5000 /dev/zero | tr '\0' 'x'; echo
printf '{"type":"result","session_id":"s","summary":"'
head -c 5000 /dev/zero | tr '\0' 'y'
printf '"}\n'
`)}})
	a.maxLine = 1024
	task, _ := newTask(t)
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no result line (2 stdout lines over 1024 bytes were dropped)")
}

func TestResumePassesTheSession(t *testing.T) {
	script := fake(t, `
case "$AGENTORG_SESSION" in
"") echo '{"type":"result","session_id":"first","summary":"started"}' ;;
keep) echo '{"type":"result","session_id":"","summary":"kept"}' ;;
*) printf '{"type":"result","session_id":"%s-next","summary":"resumed %s"}\n' "$AGENTORG_SESSION" "$AGENTORG_SESSION" ;;
esac
`)
	a := New(Config{Command: []string{script}})
	task, _ := newTask(t)
	res, err := a.Start(context.Background(), task)
	if err != nil || res.SessionID != "first" || res.Summary != "started" {
		t.Fatalf("start: %+v, %v", res, err)
	}
	task.Attempt = 2
	res, err = a.Resume(context.Background(), res.SessionID, task)
	if err != nil || res.SessionID != "first-next" || res.Summary != "resumed first" {
		t.Fatalf("resume: %+v, %v", res, err)
	}
	// An agent that does not repeat the id keeps the one it was given.
	res, err = a.Resume(context.Background(), "keep", task)
	if err != nil || res.SessionID != "keep" {
		t.Fatalf("resume without id: %+v, %v", res, err)
	}
	if _, err := a.Resume(context.Background(), "", task); err == nil || errors.Is(err, agentorg.ErrAgent) {
		t.Fatalf("resume of no session: %v", err)
	}
}

func TestStartWithoutSessionIDIsAnError(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `echo '{"type":"result","summary":"anonymous"}'`+"\n")}})
	task, _ := newTask(t)
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "no session_id")
}

func TestEnvironmentIsOnlyWhatIsGiven(t *testing.T) {
	t.Setenv("AGENTORG_TEST_CANARY", "leaked")
	t.Setenv("AGENTORG_TRACKER_TOKEN", "secret")
	a := New(Config{Command: []string{fake(t, `
env > env.txt
echo '{"type":"result","session_id":"e","summary":"ok"}'
`)}})
	task, _ := newTask(t)
	task.Access = agentorg.ReadOnly
	task.Issue, task.Attempt = 17, 3
	task.Env = []string{"PATH=" + os.Getenv("PATH"), "FOO=bar baz", "AGENTORG_ROLE=spoofed"}
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(task.Dir, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	delete(got, "PWD") // sh sets it from the working directory
	want := map[string]string{
		"PATH": os.Getenv("PATH"), "FOO": "bar baz",
		"AGENTORG_ROLE": "developer", "AGENTORG_ISSUE": "17", "AGENTORG_ATTEMPT": "3",
		"AGENTORG_ACCESS": "read-only", "AGENTORG_SESSION": "", "AGENTORG_INPUT": "",
	}
	if len(got) != len(want) {
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Fatalf("agent saw %v", keys)
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("%s = %q (present %v), want %q", k, gv, ok, v)
		}
	}
}

// A task's structured input reaches the agent as a file named by
// AGENTORG_INPUT, removed once the run ends.
func TestInputArrivesAsAFile(t *testing.T) {
	a := New(Config{Command: []string{fake(t, `
echo "$AGENTORG_INPUT" > input-path.txt
cp "$AGENTORG_INPUT" input-copy.json
echo '{"type":"result","session_id":"i","summary":"ok"}'
`)}})
	task, _ := newTask(t)
	task.Input = []byte(`{"role":"validator","judge":[1]}`)
	if _, err := a.Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(task.Dir, "input-copy.json"))
	if err != nil || string(got) != string(task.Input) {
		t.Fatalf("the agent read %q (%v), want %q", got, err, task.Input)
	}
	path, _ := os.ReadFile(filepath.Join(task.Dir, "input-path.txt"))
	if _, err := os.Stat(strings.TrimSpace(string(path))); !os.IsNotExist(err) {
		t.Fatalf("the input file %s outlived the run: %v", path, err)
	}
}

func TestNoCommandIsNotAnAgentFailure(t *testing.T) {
	task, _ := newTask(t)
	if _, err := New(Config{}).Start(context.Background(), task); err == nil || errors.Is(err, agentorg.ErrAgent) {
		t.Fatalf("no command: %v", err)
	}
}
