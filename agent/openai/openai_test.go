package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/modelserver"
	"github.com/google/uuid"
)

const model = "scripted-model"

func newServer(t *testing.T, sc modelserver.Script) *modelserver.Server {
	t.Helper()
	srv := modelserver.New(sc)
	t.Cleanup(srv.Close)
	return srv
}

// newAgent points an agent at srv, with a state directory of its own unless
// c names one.
func newAgent(t *testing.T, baseURL string, c Config) *Agent {
	t.Helper()
	c.BaseURL = baseURL
	if c.Model == "" {
		c.Model = model
	}
	if c.StateDir == "" {
		c.StateDir = t.TempDir()
	}
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	a.backoff = func(int) time.Duration { return 10 * time.Millisecond }
	return a
}

func task(t *testing.T, dir string, access agentorg.Access, prompt string) agentorg.Task {
	t.Helper()
	role := agentorg.RoleValidator
	if access == agentorg.ReadWrite {
		role = agentorg.RoleDeveloper
	}
	return agentorg.Task{Role: role, Issue: 7, Dir: dir, Prompt: prompt, Access: access,
		Env: []string{"PATH=/usr/bin:/bin"}, Transcript: &syncBuffer{}}
}

// syncBuffer is a transcript that a test reads after the run.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// chatBody is the part of a recorded request the tests look at.
type chatBody struct {
	Model    string    `json:"model"`
	Stream   bool      `json:"stream"`
	Messages []message `json:"messages"`
	Tools    []toolDef `json:"tools"`
}

func bodies(t *testing.T, srv *modelserver.Server) []chatBody {
	t.Helper()
	var out []chatBody
	for i, r := range srv.Requests() {
		if r.Path != "/v1/chat/completions" {
			t.Fatalf("request %d went to %s", i, r.Path)
		}
		var b chatBody
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		out = append(out, b)
	}
	return out
}

func toolNames(b chatBody) []string {
	var out []string
	for _, d := range b.Tools {
		out = append(out, d.Function.Name)
	}
	return out
}

func TestDeveloperStartThenResumeInANewAgent(t *testing.T) {
	usage := modelserver.Usage{InputTokens: 100, CachedInputTokens: 20, OutputTokens: 7}
	srv := newServer(t, modelserver.Script{Usage: usage, Steps: []modelserver.Step{
		{Match: "STEP-ONE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "docs/hello.txt", Content: "hello from the model\n"}},
			{Text: "Created docs/hello.txt."}}},
		{Match: "STEP-TWO", Actions: []modelserver.Action{
			{Read: "docs/hello.txt"},
			{Edit: &modelserver.Edit{Path: "docs/hello.txt", Old: "hello from", New: "hello again from"}},
			{Text: "Edited docs/hello.txt."}}},
	}})
	dir := t.TempDir()
	state := t.TempDir()
	cfg := Config{StateDir: state, APIKeyEnv: "MODEL_KEY"}
	tk := task(t, dir, agentorg.ReadWrite, "Create the file (STEP-ONE)")
	tk.Env = append(tk.Env, "MODEL_KEY=k-123")

	res, err := newAgent(t, srv.URL()+"/v1", cfg).Start(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "docs", "hello.txt")); got != "hello from the model\n" {
		t.Fatalf("hello.txt = %q", got)
	}
	if _, err := uuid.Parse(res.SessionID); err != nil {
		t.Fatalf("session id %q: %v", res.SessionID, err)
	}
	if res.Summary != "Created docs/hello.txt." {
		t.Errorf("summary = %q", res.Summary)
	}
	if want := (agentorg.Usage{InputTokens: 200, CachedTokens: 40, OutputTokens: 14}); res.Usage != want {
		t.Errorf("usage = %+v, want %+v (two requests)", res.Usage, want)
	}
	tr := tk.Transcript.(*syncBuffer).String()
	for _, want := range []string{"--- turn 1", `> write_file {"content":"hello from the model\n","path":"docs/hello.txt"}`, "< wrote 21 bytes to docs/hello.txt", "assistant: Created docs/hello.txt."} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q:\n%s", want, tr)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if h := reqs[0].Header.Get("Authorization"); h == "" {
		t.Error("no Authorization header although MODEL_KEY is set")
	}
	first := bodies(t, srv)[0]
	if first.Model != model || first.Stream {
		t.Errorf("request model %q stream %v", first.Model, first.Stream)
	}
	if sys := first.Messages[0]; sys.Role != "system" || !strings.Contains(sys.Content, "Working directory: "+dir) || !strings.Contains(sys.Content, "developer") {
		t.Errorf("system message = %+v", sys)
	}

	// A new Agent (as after a restart) resumes from the state directory.
	tk2 := task(t, dir, agentorg.ReadWrite, "Now change it (STEP-TWO)")
	tk2.Env = tk.Env
	res2, err := newAgent(t, srv.URL()+"/v1", cfg).Resume(context.Background(), res.SessionID, tk2)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "docs", "hello.txt")); got != "hello again from the model\n" {
		t.Fatalf("after resume hello.txt = %q", got)
	}
	if res2.SessionID != res.SessionID || res2.Summary != "Edited docs/hello.txt." {
		t.Errorf("resume = %+v", res2)
	}
	if want := (agentorg.Usage{InputTokens: 300, CachedTokens: 60, OutputTokens: 21}); res2.Usage != want {
		t.Errorf("resume usage = %+v, want %+v (this run's three requests only)", res2.Usage, want)
	}
	all := bodies(t, srv)
	if len(all) != 5 {
		t.Fatalf("%d requests in all, want 5", len(all))
	}
	// The last request carries the whole conversation of both runs.
	var roles []string
	for _, m := range all[4].Messages {
		roles = append(roles, m.Role)
	}
	wantRoles := []string{"system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant", "tool"}
	if !reflect.DeepEqual(roles, wantRoles) {
		t.Fatalf("roles of the last request = %v, want %v", roles, wantRoles)
	}
	msgs := all[4].Messages
	if msgs[1].Content != "Create the file (STEP-ONE)" || msgs[4].Content != "Created docs/hello.txt." || msgs[7].Content != "hello from the model\n" {
		t.Errorf("history not carried over: %+v", msgs)
	}
	if msgs[3].ToolCallID != msgs[2].ToolCalls[0].ID || msgs[3].ToolCallID == "" {
		t.Errorf("tool result id %q does not answer call %+v", msgs[3].ToolCallID, msgs[2].ToolCalls)
	}

	// The stored session holds the same conversation, with the final text.
	var stored session
	data, err := os.ReadFile(filepath.Join(state, res.SessionID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.Messages) != 11 || stored.Messages[10].Content != "Edited docs/hello.txt." || stored.Runs != 2 {
		t.Errorf("stored session: %d messages, runs %d", len(stored.Messages), stored.Runs)
	}
	if want := (agentorg.Usage{InputTokens: 500, CachedTokens: 100, OutputTokens: 35}); stored.Usage != want {
		t.Errorf("stored session usage = %+v, want %+v", stored.Usage, want)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(state, ".*.tmp")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestReadOnlyTaskCannotWrite(t *testing.T) {
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "REVIEW", Actions: []modelserver.Action{
			{Read: "main.go"},
			{Call: &modelserver.Call{Name: "write_file", Args: map[string]any{"path": "main.go", "content": "hacked"}}},
			{Text: "GO: main.go is fine."}}},
	}})
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.go"), "package main\n")
	tk := task(t, dir, agentorg.ReadOnly, "Validate (REVIEW)")
	res, err := newAgent(t, srv.URL()+"/v1", Config{Commands: []string{"go"}}).Start(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "GO: main.go is fine." {
		t.Errorf("summary = %q", res.Summary)
	}
	if got := read(t, filepath.Join(dir, "main.go")); got != "package main\n" {
		t.Fatalf("a read-only task changed main.go to %q", got)
	}
	all := bodies(t, srv)
	if len(all) != 3 {
		t.Fatalf("%d requests, want 3", len(all))
	}
	for i, b := range all {
		if got := toolNames(b); !reflect.DeepEqual(got, []string{"list_files", "read_file", "search"}) {
			t.Errorf("request %d declares %v", i, got)
		}
	}
	if sys := all[0].Messages[0].Content; !strings.Contains(sys, "read-only") || !strings.Contains(sys, "cannot change any file") {
		t.Errorf("system prompt does not say read-only:\n%s", sys)
	}
	msgs := all[2].Messages
	if got := msgs[len(msgs)-3].Content; got != "package main\n" {
		t.Errorf("read result = %q", got)
	}
	if got := msgs[len(msgs)-1].Content; !strings.Contains(got, `unknown tool "write_file" (this task is read-only)`) {
		t.Errorf("write result = %q", got)
	}
}

func TestMalformedToolCallsAreAnsweredAndTheRunGoesOn(t *testing.T) {
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "*", Actions: []modelserver.Action{
			{Call: &modelserver.Call{Name: "read_file", RawArgs: `{"path": "main.go"`}},
			{Call: &modelserver.Call{Name: "rm_rf", Args: map[string]any{"path": "."}}},
			{Call: &modelserver.Call{Name: "read_file", Args: map[string]any{"path": "main.go"}}},
			{Call: &modelserver.Call{Name: "read_file", Args: map[string]any{"path": 3}}},
			{Call: &modelserver.Call{Name: "edit_file", Args: map[string]any{"path": "main.go"}}},
			{Text: "done"}}},
	}})
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.go"), "package main\n")
	res, err := newAgent(t, srv.URL()+"/v1", Config{}).Start(context.Background(), task(t, dir, agentorg.ReadWrite, "go"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "done" {
		t.Errorf("summary = %q", res.Summary)
	}
	all := bodies(t, srv)
	if len(all) != 6 {
		t.Fatalf("%d requests, want 6", len(all))
	}
	var results []string
	for _, m := range all[5].Messages {
		if m.Role == "tool" {
			results = append(results, m.Content)
		}
	}
	want := []string{
		`error: read_file: arguments are not a JSON object: {"path": "main.go"`,
		`error: unknown tool "rm_rf"; the tools are: list_files, read_file, search, write_file, edit_file`,
		"package main\n",
		`error: read_file: argument "path" must be a string, got 3`,
		`error: edit_file: missing argument "old" (exact text to replace, long enough to be unique)`,
	}
	if !reflect.DeepEqual(results, want) {
		t.Errorf("tool results:\n%q\nwant\n%q", results, want)
	}
}

func TestTooManyInvalidCallsInARowFail(t *testing.T) {
	bad := modelserver.Action{Call: &modelserver.Call{Name: "nope", RawArgs: "{}"}}
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "*", Actions: []modelserver.Action{bad, bad, bad, bad, {Text: "never"}}},
	}})
	res, err := newAgent(t, srv.URL()+"/v1", Config{}).Start(context.Background(), task(t, t.TempDir(), agentorg.ReadOnly, "go"))
	if !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "3 invalid tool calls in a row") {
		t.Fatalf("err = %v", err)
	}
	if res.SessionID == "" {
		t.Error("a failed run lost its session id")
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestRunCommandThroughTheModel(t *testing.T) {
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "*", Actions: []modelserver.Action{{Shell: "echo checks pass"}, {Text: "ran it"}}},
	}})
	_, err := newAgent(t, srv.URL()+"/v1", Config{Commands: []string{"echo"}}).Start(context.Background(), task(t, t.TempDir(), agentorg.ReadWrite, "go"))
	if err != nil {
		t.Fatal(err)
	}
	all := bodies(t, srv)
	if got := toolNames(all[0]); !reflect.DeepEqual(got, []string{"list_files", "read_file", "search", "write_file", "edit_file", "run_command"}) {
		t.Errorf("tools = %v", got)
	}
	msgs := all[1].Messages
	if got := msgs[len(msgs)-1].Content; got != "exit status 0\nchecks pass\n" {
		t.Errorf("command result = %q", got)
	}
}

func TestAPIErrors(t *testing.T) {
	for _, c := range []struct {
		fail     modelserver.Fail
		requests int
		want     string
	}{
		{modelserver.Fail{Status: 400, Message: "model does not support tools"}, 1, "HTTP 400: model does not support tools"},
		{modelserver.Fail{Status: 503, Message: "overloaded"}, 3, "HTTP 503: overloaded (after 3 attempts)"},
		{modelserver.Fail{Status: 429, Message: "slow down"}, 3, "HTTP 429: slow down (after 3 attempts)"},
	} {
		srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
			{Match: "*", Actions: []modelserver.Action{{Fail: &c.fail}}},
		}})
		state := t.TempDir()
		res, err := newAgent(t, srv.URL()+"/v1", Config{StateDir: state}).Start(context.Background(), task(t, t.TempDir(), agentorg.ReadOnly, "go"))
		if !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("HTTP %d: err = %v, want ErrAgent with %q", c.fail.Status, err, c.want)
		}
		if n := len(srv.Requests()); n != c.requests {
			t.Errorf("HTTP %d: %d requests, want %d", c.fail.Status, n, c.requests)
		}
		// The session was stored before the request, so it can be resumed.
		if _, err := os.Stat(filepath.Join(state, res.SessionID+".json")); err != nil {
			t.Errorf("HTTP %d: session not stored: %v", c.fail.Status, err)
		}
	}
}

func TestMaxTurns(t *testing.T) {
	read := modelserver.Action{Read: "a.txt"}
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "*", Actions: []modelserver.Action{read, read, read, {Text: "done"}}},
	}})
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.txt"), "a\n")
	_, err := newAgent(t, srv.URL()+"/v1", Config{MaxTurns: 2}).Start(context.Background(), task(t, dir, agentorg.ReadOnly, "go"))
	if !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "did not finish within 2 turns") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestStallTimeout(t *testing.T) {
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "*", Actions: []modelserver.Action{{Stall: true}}},
	}})
	tk := task(t, t.TempDir(), agentorg.ReadOnly, "go")
	tk.StallTimeout = 200 * time.Millisecond
	_, err := newAgent(t, srv.URL()+"/v1", Config{StallTimeout: time.Hour}).Start(context.Background(), tk)
	if !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "stalled: no response") || !strings.Contains(err.Error(), "200ms") {
		t.Fatalf("err = %v", err)
	}
}

func TestTimeoutAndCancellation(t *testing.T) {
	srv := newServer(t, modelserver.Script{Steps: []modelserver.Step{
		{Match: "*", Actions: []modelserver.Action{{Text: "late", Delay: 60}}},
	}})
	a := newAgent(t, srv.URL()+"/v1", Config{Timeout: 200 * time.Millisecond})
	_, err := a.Start(context.Background(), task(t, t.TempDir(), agentorg.ReadOnly, "go"))
	if !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("timeout: err = %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = newAgent(t, srv.URL()+"/v1", Config{}).Start(ctx, task(t, t.TempDir(), agentorg.ReadOnly, "go"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, agentorg.ErrAgent) {
		t.Errorf("cancel: err = %v, want context.Canceled and not ErrAgent", err)
	}
}

func TestResumeErrors(t *testing.T) {
	srv := newServer(t, modelserver.Script{})
	state := t.TempDir()
	a := newAgent(t, srv.URL()+"/v1", Config{StateDir: state})
	tk := task(t, t.TempDir(), agentorg.ReadOnly, "go")
	missing := uuid.NewString()
	corrupt := uuid.NewString()
	write(t, filepath.Join(state, corrupt+".json"), `{"id": "`+corrupt+`", "messages": [`)
	for id, want := range map[string]string{
		"":                       "resume needs a session id",
		"../../etc/x":            "is not one this agent made",
		"ses_abc":                "is not one this agent made",
		missing:                  "session " + missing + " not found",
		corrupt:                  "is corrupt",
		strings.ToUpper(missing): "is not one this agent made",
	} {
		_, err := a.Resume(context.Background(), id, tk)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resume(%q) = %v, want %q", id, err, want)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests for sessions that cannot be resumed", n)
	}
}

func TestNewChecksTheConfig(t *testing.T) {
	dir := t.TempDir()
	ok := Config{BaseURL: "http://127.0.0.1:11434/v1/", Model: "qwen3", StateDir: dir}
	a, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.BaseURL != "http://127.0.0.1:11434/v1" || a.cfg.MaxTurns != DefaultMaxTurns {
		t.Errorf("defaults: %+v", a.cfg)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.BaseURL = "" }, "base_url is required"},
		{func(c *Config) { c.BaseURL = "127.0.0.1:11434" }, "not an http(s) URL"},
		{func(c *Config) { c.BaseURL = "https://user:pw@api.example.com/v1" }, "must not hold credentials"},
		{func(c *Config) { c.Model = " " }, "model is required"},
		{func(c *Config) { c.StateDir = "" }, "state_dir is required"},
		{func(c *Config) { c.StateDir = "state" }, "must be an absolute path"},
		{func(c *Config) { c.MaxTurns = -1 }, "max_turns -1 is negative"},
		{func(c *Config) { c.Timeout = -time.Second }, "must not be negative"},
		{func(c *Config) { c.APIKeyEnv = "$KEY" }, "bare name"},
		{func(c *Config) { c.Commands = []string{"go", "/bin/sh"} }, `commands[1] "/bin/sh"`},
		{func(c *Config) { c.Commands = []string{"go test"} }, "without a path or arguments"},
	} {
		cfg := ok
		c.mod(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", cfg, err, c.want)
		}
	}
	// A key variable named but missing from the task is an error before
	// any request.
	a, _ = New(Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m", StateDir: dir, APIKeyEnv: "KEY"})
	if _, err := a.Start(context.Background(), agentorg.Task{Dir: dir, Prompt: "p"}); err == nil || !strings.Contains(err.Error(), "KEY is not set in the task's environment") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := a.Start(context.Background(), agentorg.Task{Dir: filepath.Join(dir, "nope"), Prompt: "p", Env: []string{"KEY=k"}}); err == nil || !strings.Contains(err.Error(), "task directory") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestProbe(t *testing.T) {
	srv := newServer(t, modelserver.Script{})
	base := srv.URL() + "/v1"
	if p := newAgent(t, base, Config{}).Probe(context.Background(), nil); p.Problem != "" || p.Path != base {
		t.Errorf("probe of a served model = %+v", p)
	}
	p := newAgent(t, base, Config{Model: "llama3"}).Probe(context.Background(), nil)
	if !strings.Contains(p.Problem, `model "llama3" is not served`) || !strings.Contains(p.Problem, "scripted-model") || !strings.Contains(p.Fix, "ollama pull llama3") {
		t.Errorf("probe of a missing model = %+v", p)
	}
	p = newAgent(t, base, Config{APIKeyEnv: "KEY"}).Probe(context.Background(), []string{"PATH=/bin"})
	if !strings.Contains(p.Problem, "KEY is not set") {
		t.Errorf("probe without the key = %+v", p)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	p = newAgent(t, deadURL+"/v1", Config{}).Probe(context.Background(), nil)
	if !strings.Contains(p.Problem, "cannot reach") || p.Fix == "" {
		t.Errorf("probe of a dead server = %+v", p)
	}
}

// The retry honours Retry-After and sends the key; the model server has no
// Retry-After, so this one fake speaks the documented wire shape itself.
func TestRetryAfterAndAuthorization(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	var auths []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		times = append(times, time.Now())
		auths = append(auths, r.Header.Get("Authorization"))
		n := len(times)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":"fine","refusal":null},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55,"prompt_tokens_details":{"cached_tokens":10}}}`)
	}))
	defer ts.Close()
	a := newAgent(t, ts.URL+"/v1", Config{Model: "m", APIKeyEnv: "OPENAI_API_KEY"})
	tk := task(t, t.TempDir(), agentorg.ReadOnly, "go")
	tk.Env = []string{"OPENAI_API_KEY=sk-test"}
	res, err := a.Start(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "fine" || res.Usage != (agentorg.Usage{InputTokens: 50, CachedTokens: 10, OutputTokens: 5}) {
		t.Errorf("result = %+v", res)
	}
	if len(times) != 2 {
		t.Fatalf("%d requests, want 2", len(times))
	}
	// The test backoff is 10 ms; only Retry-After makes the gap a second.
	if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond {
		t.Errorf("retried after %s, before Retry-After's 1 s", gap)
	}
	if auths[0] != "Bearer sk-test" || auths[1] != "Bearer sk-test" {
		t.Errorf("Authorization headers = %q", auths)
	}
}

func TestDecodeReplyShapes(t *testing.T) {
	r, err := decodeReply([]byte(`{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],
		"tool_calls":[{"type":"function","function":{"name":"read_file","arguments":{"path":"x"}}}]},"finish_reason":"tool_calls"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.msg.Content != "ab" || len(r.msg.ToolCalls) != 1 || r.msg.ToolCalls[0].Function.Arguments != `{"path":"x"}` || r.msg.ToolCalls[0].ID == "" {
		t.Errorf("reply = %+v", r)
	}
	for body, want := range map[string]string{
		`<html>bad gateway</html>`:                "not chat-completion JSON",
		`{"choices":[]}`:                          "no choices",
		`{"choices":[{"message":{"content":5}}]}`: "neither a string nor text parts",
	} {
		if _, err := decodeReply([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decodeReply(%s) = %v, want %q", body, err, want)
		}
	}
	if got := apiError([]byte(`{"error":"model 'x' not found"}`)); got != "model 'x' not found" {
		t.Errorf("apiError string form = %q", got)
	}
	if d, ok := retryAfter("Wed, 25 Nov 2026 10:00:05 GMT", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)); !ok || d != 5*time.Second {
		t.Errorf("retryAfter date = %v %v", d, ok)
	}
}
