package scripted

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// line is any protocol line the agent prints.
type line struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	SessionID    string  `json:"session_id"`
	Summary      string  `json:"summary"`
	IsError      bool    `json:"is_error"`
	Error        string  `json:"error"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

type outcome struct {
	code     int
	lines    []line
	stderr   string
	result   line
	messages []string
}

type runOpts struct {
	script string // YAML text, written to a temp file
	dir    string
	env    map[string]string
	prompt string
}

func play(t *testing.T, o runOpts) outcome {
	t.Helper()
	sp := filepath.Join(t.TempDir(), "script.yaml")
	if err := os.WriteFile(sp, []byte(o.script), 0o644); err != nil {
		t.Fatal(err)
	}
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	env := map[string]string{"AGENTORG_ACCESS": "read-write"}
	for k, v := range o.env {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"--script", sp, "--dir", o.dir}, strings.NewReader(o.prompt), &stdout, &stderr,
		func(k string) string { return env[k] })
	out := outcome{code: code, stderr: stderr.String()}
	results := 0
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if l == "" {
			continue
		}
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			t.Fatalf("stdout line is not JSON: %q", l)
		}
		out.lines = append(out.lines, ln)
		switch ln.Type {
		case "result":
			results++
			out.result = ln
		case "message":
			out.messages = append(out.messages, ln.Text)
		}
	}
	if code != 2 && results != 1 {
		t.Fatalf("want exactly one result line, got %d; stdout:\n%s", results, stdout.String())
	}
	if results == 1 && out.lines[len(out.lines)-1].Type != "result" {
		t.Fatalf("result is not the last line:\n%s", stdout.String())
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const matchScript = `
steps:
  - match: {role: developer, issue: 2, attempt: 1}
    summary: dev-2-1
  - match: {role: developer, issue: 2}
    summary: dev-2-later
  - match: {role: pm, title: "Add subtraction"}
    summary: pm-title
  - match: {prompt: "NO-GO"}
    summary: any-role-nogo
  - match: {role: validator}
    summary: validator
default: {summary: fallback}
`

func TestMatchRules(t *testing.T) {
	cases := []struct {
		role, issue, attempt, prompt, want string
	}{
		{"developer", "2", "1", "Issue #2: Fix Add", "dev-2-1"},
		{"developer", "2", "3", "Issue #2: Fix Add", "dev-2-later"},
		{"pm", "5", "1", "Issue #5: Add subtraction\n\nbody", "pm-title"},
		{"pm", "5", "1", "Issue #5: something else", "fallback"},
		{"developer", "7", "2", "Validation said NO-GO: tests fail", "any-role-nogo"},
		{"validator", "7", "1", "Check issue 7", "validator"},
		{"developer", "3", "1", "Issue #3", "fallback"},
	}
	for _, c := range cases {
		out := play(t, runOpts{script: matchScript, prompt: c.prompt, env: map[string]string{
			"AGENTORG_ROLE": c.role, "AGENTORG_ISSUE": c.issue, "AGENTORG_ATTEMPT": c.attempt,
		}})
		if out.result.IsError || out.result.Summary != c.want {
			t.Errorf("%s #%s attempt %s %q: got %+v, want summary %q", c.role, c.issue, c.attempt, c.prompt, out.result, c.want)
		}
	}
}

func TestNoMatchWithoutDefaultIsAnError(t *testing.T) {
	out := play(t, runOpts{
		script: "steps:\n  - match: {role: pm}\n    summary: plan\n",
		env:    map[string]string{"AGENTORG_ROLE": "developer", "AGENTORG_ISSUE": "4", "AGENTORG_ATTEMPT": "1"},
	})
	if !out.result.IsError || !strings.Contains(out.result.Error, "no step matches role=developer issue=4 attempt=1") {
		t.Fatalf("got %+v", out.result)
	}
	if out.code != 0 {
		t.Fatalf("exit %d", out.code)
	}
}

func TestActionsEditFilesForReal(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old.txt"), []byte("bye"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("one\n"), 0o644)
	script := `
steps:
  - actions:
      - write: {path: calc/calc.go, content: "package calc\n\nfunc Add(a, b int) int { return a - b }\n"}
      - edit: {path: calc/calc.go, old: "a - b", new: "a + b"}
      - append: {path: notes.txt, content: "two\n"}
      - append: {path: new/log.txt, content: "created\n"}
      - delete: old.txt
      - shell: "printf '%s' \"$AGENTORG_ROLE\" > role.txt && echo to-stderr"
      - sleep: 10ms
    summary: Fixed the sign error in Add.
    usage: {input_tokens: 1200, output_tokens: 80, cached_tokens: 5, cost_usd: 0.01}
`
	out := play(t, runOpts{script: script, dir: dir, env: map[string]string{"AGENTORG_ROLE": "developer"}})
	if out.code != 0 || out.result.IsError || out.result.Summary != "Fixed the sign error in Add." {
		t.Fatalf("got %d %+v\nstderr: %s", out.code, out.result, out.stderr)
	}
	if got := readFile(t, filepath.Join(dir, "calc/calc.go")); got != "package calc\n\nfunc Add(a, b int) int { return a + b }\n" {
		t.Errorf("calc.go = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "notes.txt")); got != "one\ntwo\n" {
		t.Errorf("notes.txt = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "new/log.txt")); got != "created\n" {
		t.Errorf("log.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "old.txt")); !os.IsNotExist(err) {
		t.Errorf("old.txt still there: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "role.txt")); got != "developer" {
		t.Errorf("shell saw role %q", got)
	}
	if !strings.Contains(out.stderr, "to-stderr") {
		t.Errorf("shell output not on stderr: %q", out.stderr)
	}
	msgs := strings.Join(out.messages, "\n")
	for _, want := range []string{"wrote calc/calc.go", "edited calc/calc.go", "appended to notes.txt", "deleted old.txt", "ran printf"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("no message %q in:\n%s", want, msgs)
		}
	}
	var usage *line
	for i := range out.lines {
		if out.lines[i].Type == "usage" {
			usage = &out.lines[i]
		}
	}
	if usage == nil || usage.InputTokens != 1200 || usage.OutputTokens != 80 || usage.CostUSD != 0.01 {
		t.Errorf("usage line = %+v", usage)
	}
}

func TestEditNeedsExactlyOneOccurrence(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"x := a + b", "occurs 0 times"},
		{"a - b; a - b", "occurs 2 times"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "f.go"), []byte(c.content), 0o644)
		out := play(t, runOpts{dir: dir, script: `
default:
  actions:
    - edit: {path: f.go, old: "a - b", new: "a + b"}
    - write: {path: after.txt, content: "should not happen"}
  summary: done
`})
		if !out.result.IsError || !strings.Contains(out.result.Error, c.want) || out.result.Summary != "" {
			t.Errorf("content %q: got %+v", c.content, out.result)
		}
		if got := readFile(t, filepath.Join(dir, "f.go")); got != c.content {
			t.Errorf("file changed to %q", got)
		}
		if _, err := os.Stat(filepath.Join(dir, "after.txt")); err == nil {
			t.Errorf("actions went on after the failed edit")
		}
	}
}

func TestShellFailureIsAnErrorResult(t *testing.T) {
	out := play(t, runOpts{script: `default: {actions: [{shell: "echo compile error >&2; exit 4"}], summary: ok}`})
	if !out.result.IsError || !strings.Contains(out.result.Error, "exit status 4") || !strings.Contains(out.result.Error, "compile error") {
		t.Fatalf("got %+v", out.result)
	}
}

func TestSleepPrintsNothing(t *testing.T) {
	start := time.Now()
	out := play(t, runOpts{script: `default: {actions: [{sleep: 300ms}], summary: slept}`})
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("returned after %s", d)
	}
	if out.result.Summary != "slept" {
		t.Fatalf("got %+v", out.result)
	}
}

func TestErrorAndExitStatus(t *testing.T) {
	out := play(t, runOpts{script: `
default:
  summary: "half done"
  error: model refused
  exit: 3
  usage: {input_tokens: 7, output_tokens: 1}
`})
	if out.code != 3 || !out.result.IsError || out.result.Error != "model refused" || out.result.Summary != "half done" {
		t.Fatalf("got exit %d %+v", out.code, out.result)
	}
}

func TestPathsAreConfinedToTheWorkingDirectory(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o644)
	cases := []struct{ action, want string }{
		{`write: {path: ` + secret + `, content: x}`, "absolute paths are not allowed"},
		{`write: {path: ../escape.txt, content: x}`, "escapes"},
		{`append: {path: a/../../escape.txt, content: x}`, "escapes"},
		{`delete: ..`, "escapes"},
		{`delete: ./sub/..`, "working directory itself"},
		{`write: {path: link/secret.txt, content: pwned}`, "escapes"},
		{`edit: {path: filelink, old: secret, new: pwned}`, "escapes"},
		{`append: {path: filelink, content: pwned}`, "escapes"},
		{`write: {path: "", content: x}`, "empty path"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(secret, filepath.Join(dir, "filelink")); err != nil {
			t.Fatal(err)
		}
		out := play(t, runOpts{dir: dir, script: "default:\n  actions:\n    - " + c.action + "\n  summary: done\n"})
		t.Logf("%s -> %s", c.action, out.result.Error)
		if !out.result.IsError || !strings.Contains(out.result.Error, c.want) {
			t.Errorf("%s: got %+v, want error containing %q", c.action, out.result, c.want)
		}
	}
	if got := readFile(t, secret); got != "secret" {
		t.Fatalf("file outside was changed: %q", got)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("files appeared outside: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(outside), "escape.txt")); err == nil {
		t.Fatal("escape.txt written outside")
	}
}

func TestSymlinkInsideTheDirectoryIsAllowed(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "real"), 0o755)
	os.Symlink("real", filepath.Join(dir, "alias"))
	out := play(t, runOpts{dir: dir, script: `default: {actions: [{write: {path: alias/f.txt, content: ok}}], summary: done}`})
	if out.result.IsError {
		t.Fatalf("got %+v", out.result)
	}
	if got := readFile(t, filepath.Join(dir, "real/f.txt")); got != "ok" {
		t.Fatalf("got %q", got)
	}
}

func TestReadOnlyRunsMayNotWrite(t *testing.T) {
	for _, access := range []string{"read-only", ""} {
		for _, action := range []string{
			`write: {path: new.txt, content: x}`,
			`append: {path: f.txt, content: x}`,
			`edit: {path: f.txt, old: keep, new: changed}`,
			`delete: f.txt`,
		} {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "f.txt"), []byte("keep"), 0o644)
			out := play(t, runOpts{dir: dir, env: map[string]string{"AGENTORG_ACCESS": access},
				script: "default:\n  actions:\n    - " + action + "\n  summary: done\n"})
			if !out.result.IsError || !strings.Contains(out.result.Error, "read-only") {
				t.Errorf("access %q, %s: got %+v", access, action, out.result)
			}
			if got := readFile(t, filepath.Join(dir, "f.txt")); got != "keep" {
				t.Errorf("access %q, %s: f.txt = %q", access, action, got)
			}
			if _, err := os.Stat(filepath.Join(dir, "new.txt")); err == nil {
				t.Errorf("access %q: new.txt written", access)
			}
		}
	}
	// Reading roles still run their checks.
	out := play(t, runOpts{env: map[string]string{"AGENTORG_ACCESS": "read-only"},
		script: `default: {actions: [{shell: "true"}], summary: GO}`})
	if out.result.IsError || out.result.Summary != "GO" {
		t.Fatalf("shell in a read-only run: %+v", out.result)
	}
}

func TestSessionsAreKeptAcrossResume(t *testing.T) {
	state := t.TempDir()
	dir := t.TempDir()
	script := `default: {summary: ok}`
	env := map[string]string{"AGENTORG_SCRIPTED_STATE": state, "AGENTORG_ROLE": "developer", "AGENTORG_ISSUE": "2", "AGENTORG_ATTEMPT": "1"}

	first := play(t, runOpts{script: script, dir: dir, env: env, prompt: "Issue #2: fix it"})
	id := first.result.SessionID
	if !regexp.MustCompile(`^scripted-[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("session id %q", id)
	}
	other := play(t, runOpts{script: script, dir: dir, env: env})
	if other.result.SessionID == id {
		t.Fatal("two starts got the same session id")
	}

	env["AGENTORG_SESSION"] = id
	env["AGENTORG_ATTEMPT"] = "2"
	second := play(t, runOpts{script: script, dir: dir, env: env, prompt: "NO-GO: tests fail"})
	if second.result.SessionID != id || second.result.IsError {
		t.Fatalf("resume returned %+v, want session %s", second.result, id)
	}
	want := "resumed session " + id + " (1 earlier runs)"
	if !strings.Contains(strings.Join(second.messages, "\n"), want) {
		t.Errorf("no %q in %q", want, second.messages)
	}
	runs, err := ReadState(state, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Resumed || !runs[1].Resumed || runs[1].Attempt != 2 ||
		runs[0].Prompt != "Issue #2: fix it" || runs[1].Prompt != "NO-GO: tests fail" {
		t.Fatalf("state = %+v", runs)
	}

	env["AGENTORG_SESSION"] = "scripted-0000000000000000"
	unknown := play(t, runOpts{script: script, dir: dir, env: env})
	if !unknown.result.IsError || !strings.Contains(unknown.result.Error, "unknown session") {
		t.Fatalf("resuming an unknown session: %+v", unknown.result)
	}
	env["AGENTORG_SESSION"] = "../../etc/passwd"
	bad := play(t, runOpts{script: script, dir: dir, env: env})
	if !bad.result.IsError || !strings.Contains(bad.result.Error, "bad session id") {
		t.Fatalf("path-like session: %+v", bad.result)
	}
}

func TestScriptErrors(t *testing.T) {
	cases := map[string]string{
		"unknown key":         "steps:\n  - mach: {role: pm}\n",
		"two verbs":           "default: {actions: [{write: {path: a, content: b}, delete: a}]}\n",
		"empty action":        "default: {actions: [{}]}\n",
		"empty edit old":      "default: {actions: [{edit: {path: a, old: '', new: b}}]}\n",
		"bad duration":        "default: {actions: [{sleep: soon}]}\n",
		"not a script at all": "[1, 2]\n",
	}
	for name, script := range cases {
		out := play(t, runOpts{script: script})
		if out.code != 2 || !strings.Contains(out.stderr, "scripted-agent: script") {
			t.Errorf("%s: exit %d, stderr %q", name, out.code, out.stderr)
		}
	}
	var stderr bytes.Buffer
	if code := Main(nil, strings.NewReader(""), &bytes.Buffer{}, &stderr, func(string) string { return "" }); code != 2 ||
		!strings.Contains(stderr.String(), "no script") {
		t.Errorf("no script: exit %d, %q", code, stderr.String())
	}
}

func TestJSONScriptFromEnvironment(t *testing.T) {
	sp := filepath.Join(t.TempDir(), "script.json")
	os.WriteFile(sp, []byte(`{"steps":[{"match":{"role":"pm"},"summary":"1. do it","usage":{"input_tokens":3,"output_tokens":4}}]}`), 0o644)
	var stdout bytes.Buffer
	env := map[string]string{"AGENTORG_SCRIPT": sp, "AGENTORG_ROLE": "pm"}
	code := Main([]string{"--dir", t.TempDir()}, strings.NewReader("plan"), &stdout, &bytes.Buffer{}, func(k string) string { return env[k] })
	if code != 0 || !strings.Contains(stdout.String(), `"summary":"1. do it"`) || !strings.Contains(stdout.String(), `"input_tokens":3`) {
		t.Fatalf("exit %d:\n%s", code, stdout.String())
	}
}
