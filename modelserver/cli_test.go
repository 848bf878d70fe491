package modelserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/proc"
)

// These smoke tests run each real CLI against the server: a first run
// writes hello.txt with the CLI's own write tool, then the session is
// resumed by id and edits it with the CLI's own edit tool. The doc comment
// of each test holds the exact invocation, for the adapter authors.

// smokeScript answers STEP-ONE with a write, a read and (when the CLI
// declares a shell tool) a command that copies the file, and STEP-TWO with
// an edit.
func smokeScript(shell bool) Script {
	one := []Action{
		{Write: &Write{Path: "hello.txt", Content: firstContent}},
		{Read: "hello.txt"},
	}
	if shell {
		one = append(one, Action{Shell: "cp hello.txt copy.txt"})
	}
	return Script{
		Steps: []Step{
			{Match: "STEP-ONE", Actions: append(one, Action{Text: "Created hello.txt."})},
			{Match: "STEP-TWO", Actions: []Action{
				{Edit: &Edit{Path: "hello.txt", Old: "from the scripted model", New: "again"}},
				{Text: "Edited hello.txt after resume."},
			}},
		},
		Usage: Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34},
	}
}

const (
	firstContent  = "hello from the scripted model\n"
	secondContent = "hello again\n"
)

// gitRepo makes a repository with one commit, as agentorg's worktrees are.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# smoke\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "README.md"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// Resolve symlinks so that the paths the CLIs report match ours.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

// runCLI runs argv in dir with env (stdin closed) and returns its stdout
// lines; a non-zero exit fails the test with the output's tail.
func runCLI(t *testing.T, dir string, env []string, argv ...string) []string {
	t.Helper()
	var out bytes.Buffer
	res, err := proc.Run(context.Background(), proc.Spec{
		Argv: argv, Dir: dir, Env: env, Stdout: &out,
		Timeout: 3 * time.Minute, StallTimeout: 90 * time.Second,
	})
	if err != nil {
		t.Fatalf("%s: %v", argv[0], err)
	}
	if res.Reason() != "" {
		t.Fatalf("%s: %s\n%s", filepath.Base(argv[0]), res.Reason(), res.Tail)
	}
	var lines []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// jsonLines decodes the JSON objects among lines (CLIs may print others).
func jsonLines(lines []string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// field finds the first value of key in the events whose "type" is typ
// ("" for any event).
func field(events []map[string]any, typ, key string) string {
	for _, e := range events {
		if typ != "" && e["type"] != typ {
			continue
		}
		if v, ok := e[key].(string); ok && v != "" {
			return v
		}
	}
	return ""
}

func assertFile(t *testing.T, path, want string, lines []string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("%s = %q (%v), want %q\nCLI output:\n%s", path, got, err, want, strings.Join(lines, "\n"))
	}
}

// assertTools checks that the server answered with these tools, in order,
// among the requests of the API since from.
func assertTools(t *testing.T, s *Server, api string, from int, want ...string) int {
	t.Helper()
	reqs := s.Requests()
	var got []string
	for _, r := range reqs[from:] {
		if r.API == api && r.Decision.Tool != "" {
			got = append(got, r.Decision.Tool)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("tools called %v, want %v; decisions:\n%s", got, want, decisions(reqs[from:]))
	}
	return len(reqs)
}

// newLogged starts a server that logs its decisions when the test ends.
func newLogged(t *testing.T, sc Script) *Server {
	s := New(sc)
	t.Cleanup(func() {
		s.Close()
		t.Logf("requests and decisions:\n%s", decisions(s.Requests()))
	})
	return s
}

func decisions(reqs []Request) string {
	var b strings.Builder
	for _, r := range reqs {
		d, _ := json.Marshal(r.Decision)
		b.WriteString(r.API + " " + r.Path + " " + string(d) + "\n")
	}
	return b.String()
}

// TestCodex runs Codex 0.169.0 over the Responses API:
//
//	OPENAI_API_KEY=x codex exec --json --skip-git-repo-check \
//	  -c 'model_providers.scripted={name="scripted",base_url="URL/v1",wire_api="responses",env_key="OPENAI_API_KEY",request_max_retries=0,stream_max_retries=0,stream_idle_timeout_ms=5000}' \
//	  -c model_provider=scripted -m gpt-5.5 --disable plugins -c analytics.enabled=false \
//	  -s workspace-write "PROMPT"
//	codex exec --json --skip-git-repo-check <same -c, -m, --disable> resume -c 'sandbox_mode="workspace-write"' THREAD_ID "PROMPT 2"
//
// with clitest.NewHome(t).Env(codex, "OPENAI_API_KEY=x") (CODEX_HOME in the
// fresh home), stdin closed and the working directory the repository.
// Codex writes with apply_patch (freeform custom_tool_call).
func TestCodex(t *testing.T) {
	codex := clitest.Find(t, "codex")
	s := newLogged(t, smokeScript(true))
	dir := gitRepo(t)
	env := clitest.NewHome(t).Env(codex, "OPENAI_API_KEY=x")

	lines := runCLI(t, dir, env, append([]string{codex}, codexArgs(s, "-s", "workspace-write", "Create hello.txt please (STEP-ONE)")...)...)
	assertFile(t, filepath.Join(dir, "hello.txt"), firstContent, lines)
	events := jsonLines(lines)
	thread := field(events, "thread.started", "thread_id")
	if thread == "" {
		t.Fatalf("no thread.started:\n%s", strings.Join(lines, "\n"))
	}
	assertFile(t, filepath.Join(dir, "copy.txt"), firstContent, lines)
	n := assertTools(t, s, "responses", 0, "apply_patch", "exec_command", "exec_command")
	assertCodexUsage(t, events, 4*1200)

	lines = runCLI(t, dir, env, append([]string{codex}, codexArgs(s, "resume", "-c", `sandbox_mode="workspace-write"`, thread, "Now edit it (STEP-TWO)")...)...)
	assertFile(t, filepath.Join(dir, "hello.txt"), secondContent, lines)
	if got := field(jsonLines(lines), "thread.started", "thread_id"); got != thread {
		t.Errorf("resumed thread %q, want %q", got, thread)
	}
	assertTools(t, s, "responses", n, "apply_patch")
	assertCodexUsage(t, jsonLines(lines), 6*1200)
	for _, r := range s.Requests() {
		if r.API == "responses" && r.Decision.Cwd != dir {
			t.Errorf("request %s: cwd %q, want %q", r.Path, r.Decision.Cwd, dir)
		}
		if got := r.Header.Get("Authorization"); got != "<redacted>" {
			t.Errorf("Authorization recorded as %q", got)
		}
	}
}

// codexArgs are the arguments of codex (after the executable) for the
// server's provider, followed by rest. request_max_retries=0 and
// stream_max_retries=0 make a failure fail at once (Codex retries 5xx and
// cut streams by default); stream_idle_timeout_ms bounds a stalled stream.
func codexArgs(s *Server, rest ...string) []string {
	provider := `model_providers.scripted={name="scripted",base_url="` + s.URL() + `/v1",wire_api="responses",` +
		`env_key="OPENAI_API_KEY",request_max_retries=0,stream_max_retries=0,stream_idle_timeout_ms=5000}`
	args := []string{"exec", "--json", "--skip-git-repo-check", "-c", provider, "-c", "model_provider=scripted",
		"-m", "gpt-5.5", "--disable", "plugins", "-c", "analytics.enabled=false"}
	return append(args, rest...)
}

// assertCodexUsage checks turn.completed: Codex reports the thread's
// running total of input tokens.
func assertCodexUsage(t *testing.T, events []map[string]any, input float64) {
	t.Helper()
	for _, e := range events {
		if e["type"] == "turn.completed" {
			u, _ := e["usage"].(map[string]any)
			if u["input_tokens"] != input {
				t.Errorf("turn.completed usage %v, want input_tokens %v", u, input)
			}
			return
		}
	}
	t.Errorf("no turn.completed event")
}

// TestClaude runs Claude Code 2.1.332 over the Anthropic Messages API:
//
//	ANTHROPIC_BASE_URL=URL ANTHROPIC_API_KEY=x CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
//	  claude -p "PROMPT" --output-format stream-json --verbose --permission-mode acceptEdits
//	claude -p "PROMPT 2" --resume SESSION_ID --output-format stream-json --verbose --permission-mode acceptEdits
//
// with clitest.NewHome(t).Env(claude, those variables), stdin closed and
// the working directory the repository. ANTHROPIC_BASE_URL has no /v1.
func TestClaude(t *testing.T) {
	claude := clitest.Find(t, "claude")
	s := newLogged(t, smokeScript(true))
	dir := gitRepo(t)
	env, flags := claudeEnv(t, claude, s), claudeFlags

	lines := runCLI(t, dir, env, append([]string{claude, "-p", "Create hello.txt please (STEP-ONE)"}, flags...)...)
	assertFile(t, filepath.Join(dir, "hello.txt"), firstContent, lines)
	events := jsonLines(lines)
	session := field(events, "result", "session_id")
	if session == "" || field(events, "result", "result") != "Created hello.txt." {
		t.Fatalf("no successful result:\n%s", strings.Join(lines, "\n"))
	}
	assertFile(t, filepath.Join(dir, "copy.txt"), firstContent, lines)
	n := assertTools(t, s, "messages", 0, "Write", "Read", "Bash")
	assertClaudeUsage(t, events, 4)

	lines = runCLI(t, dir, env, append([]string{claude, "-p", "Now edit it (STEP-TWO)", "--resume", session}, flags...)...)
	assertFile(t, filepath.Join(dir, "hello.txt"), secondContent, lines)
	if got := field(jsonLines(lines), "result", "session_id"); got != session {
		t.Errorf("resumed session %q, want %q", got, session)
	}
	assertTools(t, s, "messages", n, "Edit")
	for _, r := range s.Requests() {
		if r.API == "messages" && r.Decision.Cwd != dir {
			t.Errorf("request %s: cwd %q, want %q", r.Path, r.Decision.Cwd, dir)
		}
	}
}

var claudeFlags = []string{"--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits"}

func claudeEnv(t *testing.T, claude string, s *Server) []string {
	return clitest.NewHome(t).Env(claude, "ANTHROPIC_BASE_URL="+s.URL(), "ANTHROPIC_API_KEY=x",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
}

// assertClaudeUsage checks the result line: Claude sums its n requests,
// and the server sends Anthropic's input_tokens without the cache reads.
func assertClaudeUsage(t *testing.T, events []map[string]any, n float64) {
	t.Helper()
	for _, e := range events {
		if e["type"] == "result" {
			u, _ := e["usage"].(map[string]any)
			if u["input_tokens"] != n*1000 || u["cache_read_input_tokens"] != n*200 || u["output_tokens"] != n*34 {
				t.Errorf("result usage %v, want %v requests of input 1000, cache read 200, output 34", u, n)
			}
			return
		}
	}
	t.Errorf("no result line")
}

// TestGemini runs Gemini CLI 0.61.0 over generateContent (the router) and
// streamGenerateContent?alt=sse:
//
//	echo '{"security":{"auth":{"selectedType":"gemini-api-key"}}}' > $HOME/.gemini/settings.json
//	GEMINI_CLI_TRUST_WORKSPACE=true GEMINI_API_KEY=x GOOGLE_GEMINI_BASE_URL=URL \
//	  gemini -p "PROMPT" --output-format stream-json --approval-mode auto_edit
//	gemini -p "PROMPT 2" --resume SESSION_ID --output-format stream-json --approval-mode auto_edit
//
// with clitest.NewHome(t).Env(gemini, those variables), stdin closed and the
// working directory the repository (sessions belong to the project).
func TestGemini(t *testing.T) {
	gemini := clitest.Find(t, "gemini")
	s := newLogged(t, smokeScript(false)) // auto_edit declares no shell tool
	dir := gitRepo(t)
	env, flags := geminiEnv(t, gemini, s), geminiFlags

	lines := runCLI(t, dir, env, append([]string{gemini, "-p", "Create hello.txt please (STEP-ONE)"}, flags...)...)
	assertFile(t, filepath.Join(dir, "hello.txt"), firstContent, lines)
	events := jsonLines(lines)
	session := field(events, "init", "session_id")
	if session == "" || field(events, "result", "status") != "success" {
		t.Fatalf("no successful run:\n%s", strings.Join(lines, "\n"))
	}
	n := assertTools(t, s, "gemini", 0, "write_file", "read_file")

	lines = runCLI(t, dir, env, append([]string{gemini, "-p", "Now edit it (STEP-TWO)", "--resume", session}, flags...)...)
	assertFile(t, filepath.Join(dir, "hello.txt"), secondContent, lines)
	if got := field(jsonLines(lines), "init", "session_id"); got != session {
		t.Errorf("resumed session %q, want %q", got, session)
	}
	assertTools(t, s, "gemini", n, "replace")
	routed := false
	for _, r := range s.Requests() {
		if r.API == "gemini" && strings.HasSuffix(r.Path, ":generateContent") {
			routed = r.Decision.Text == `{"complexity_reasoning":"scripted","complexity_score":1}`
		}
	}
	if !routed {
		t.Errorf("no router request answered with the schema's JSON:\n%s", decisions(s.Requests()))
	}
}

var geminiFlags = []string{"--output-format", "stream-json", "--approval-mode", "auto_edit"}

// geminiEnv makes a fresh home whose settings select API-key auth.
func geminiEnv(t *testing.T, gemini string, s *Server) []string {
	home := clitest.NewHome(t)
	if err := os.MkdirAll(filepath.Join(home.Dir, ".gemini"), 0o755); err != nil {
		t.Fatal(err)
	}
	settings := `{"security":{"auth":{"selectedType":"gemini-api-key"}}}`
	if err := os.WriteFile(filepath.Join(home.Dir, ".gemini", "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	return home.Env(gemini, "GEMINI_CLI_TRUST_WORKSPACE=true", "GEMINI_API_KEY=x", "GOOGLE_GEMINI_BASE_URL="+s.URL())
}

// TestOpenCode runs OpenCode 1.18.33 over Chat Completions, with the
// provider in opencode.json at the project root:
//
//	{"provider": {"scripted": {"npm": "@ai-sdk/openai-compatible", "name": "Scripted model",
//	   "options": {"baseURL": "URL/v1", "apiKey": "scripted"},
//	   "models": {"scripted-model": {"name": "Scripted model", "tool_call": true}}}},
//	 "model": "scripted/scripted-model"}
//	OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 opencode run --format json "PROMPT"
//	opencode run --format json --session SESSION_ID "PROMPT 2"
//
// with clitest.NewHome(t).Env(opencode, those variables) (XDG dirs in the
// fresh home), stdin closed and the working directory the repository.
func TestOpenCode(t *testing.T) {
	opencode := clitest.Find(t, "opencode")
	s := newLogged(t, smokeScript(true))
	dir := gitRepo(t)
	env := openCodeEnv(t, opencode, s, dir)

	lines := runCLI(t, dir, env, opencode, "run", "--format", "json", "Create hello.txt please (STEP-ONE)")
	assertFile(t, filepath.Join(dir, "hello.txt"), firstContent, lines)
	session := field(jsonLines(lines), "", "sessionID")
	if session == "" {
		t.Fatalf("no sessionID:\n%s", strings.Join(lines, "\n"))
	}
	assertFile(t, filepath.Join(dir, "copy.txt"), firstContent, lines)
	n := assertTools(t, s, "chat", 0, "write", "read", "bash")

	lines = runCLI(t, dir, env, opencode, "run", "--format", "json", "--session", session, "Now edit it (STEP-TWO)")
	assertFile(t, filepath.Join(dir, "hello.txt"), secondContent, lines)
	if got := field(jsonLines(lines), "", "sessionID"); got != session {
		t.Errorf("resumed session %q, want %q", got, session)
	}
	assertTools(t, s, "chat", n, "edit")
}

// openCodeEnv writes opencode.json for the server into the project dir.
func openCodeEnv(t *testing.T, opencode string, s *Server, dir string) []string {
	cfg := `{"provider": {"scripted": {"npm": "@ai-sdk/openai-compatible", "name": "Scripted model",
  "options": {"baseURL": "` + s.URL() + `/v1", "apiKey": "scripted"},
  "models": {"scripted-model": {"name": "Scripted model", "tool_call": true}}}},
 "model": "scripted/scripted-model"}`
	if err := os.WriteFile(filepath.Join(dir, "opencode.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return clitest.NewHome(t).Env(opencode, "OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_AUTOUPDATE=1")
}

// runFailing runs argv and returns its stdout, failing the test unless the
// CLI exits non-zero (an API error must not look like success).
func runFailing(t *testing.T, dir string, env []string, argv ...string) string {
	t.Helper()
	var out bytes.Buffer
	res, err := proc.Run(context.Background(), proc.Spec{Argv: argv, Dir: dir, Env: env, Stdout: &out,
		Timeout: 2 * time.Minute, StallTimeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || res.TimedOut || res.Stalled {
		t.Fatalf("%s: %s (want a non-zero exit)\n%s", filepath.Base(argv[0]), res.Reason(), res.Tail)
	}
	return out.String()
}

// TestCLIsReportAPIErrors plays a Fail (400) to each CLI. Observed: Codex
// prints {"type":"turn.failed","error":{"message":"<the error JSON>"}} and
// exits 1; Claude Code retries six times (varying its betas), then prints a
// result with is_error true and result "API Error: 400 <message>", exit 1;
// Gemini CLI prints a result with status "error" and exits 144; OpenCode
// prints {"type":"error","error":{"name":"APIError","data":{"message",
// "statusCode"}}} and exits 1.
func TestCLIsReportAPIErrors(t *testing.T) {
	const msg = "scripted failure 7f3a"
	sc := Script{Steps: []Step{{Match: "*", Actions: []Action{{Fail: &Fail{Status: 400, Message: msg}}}}}, Usage: testUsage}
	t.Run("codex", func(t *testing.T) {
		codex := clitest.Find(t, "codex")
		s := newLogged(t, sc)
		out := runFailing(t, gitRepo(t), clitest.NewHome(t).Env(codex, "OPENAI_API_KEY=x"), append([]string{codex}, codexArgs(s, "-s", "workspace-write", "hi")...)...)
		if !strings.Contains(out, `"type":"turn.failed"`) || !strings.Contains(out, msg) {
			t.Fatalf("output:\n%s", out)
		}
	})
	t.Run("claude", func(t *testing.T) {
		claude := clitest.Find(t, "claude")
		s := newLogged(t, sc)
		out := runFailing(t, gitRepo(t), claudeEnv(t, claude, s), append([]string{claude, "-p", "hi"}, claudeFlags...)...)
		if !strings.Contains(out, `"is_error":true`) || !strings.Contains(out, "API Error: 400 "+msg) {
			t.Fatalf("output:\n%s", out)
		}
	})
	t.Run("gemini", func(t *testing.T) {
		gemini := clitest.Find(t, "gemini")
		s := newLogged(t, sc)
		out := runFailing(t, gitRepo(t), geminiEnv(t, gemini, s), append([]string{gemini, "-p", "hi"}, geminiFlags...)...)
		if !strings.Contains(out, `"status":"error"`) || !strings.Contains(out, msg) {
			t.Fatalf("output:\n%s", out)
		}
	})
	t.Run("opencode", func(t *testing.T) {
		opencode := clitest.Find(t, "opencode")
		s := newLogged(t, sc)
		dir := gitRepo(t)
		out := runFailing(t, dir, openCodeEnv(t, opencode, s, dir), opencode, "run", "--format", "json", "hi")
		if !strings.Contains(out, `"type":"error"`) || !strings.Contains(out, msg) {
			t.Fatalf("output:\n%s", out)
		}
	})
}

// TestCodexStallHitsItsIdleTimeout: with stream_idle_timeout_ms in the
// provider, Codex gives up on a stalled stream by itself (turn.failed "idle
// timeout waiting for SSE", exit 1). Claude Code, Gemini CLI and OpenCode
// were seen to wait on a stalled stream until killed: their adapters need a
// stall timeout of their own.
func TestCodexStallHitsItsIdleTimeout(t *testing.T) {
	codex := clitest.Find(t, "codex")
	s := newLogged(t, Script{Steps: []Step{{Match: "*", Actions: []Action{{Stall: true}}}}})
	out := runFailing(t, gitRepo(t), clitest.NewHome(t).Env(codex, "OPENAI_API_KEY=x"),
		append([]string{codex}, codexArgs(s, "-s", "workspace-write", "hi")...)...)
	if !strings.Contains(out, "idle timeout") || !strings.Contains(out, `"type":"turn.failed"`) {
		t.Fatalf("output:\n%s", out)
	}
}
