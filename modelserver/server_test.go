package modelserver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bodies below are cut-down copies of what the CLIs send (see
// /work/shared/notes/real-coding-clis.md); the smoke tests in cli_test.go
// run the real CLIs.

var testUsage = Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34}

func startServer(t *testing.T, sc Script) *Server {
	t.Helper()
	s := New(sc)
	t.Cleanup(s.Close)
	return s
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func post(t *testing.T, s *Server, path string, body any, header ...string) httpResult {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{resp.StatusCode, resp.Header, out}
}

type sseEvent struct {
	name string
	data map[string]any
	raw  string
}

// parseSSE reads event:/data: blocks; data that is not a JSON object is
// kept in raw only.
func parseSSE(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.raw != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.raw = strings.TrimPrefix(line, "data: ")
			json.Unmarshal([]byte(cur.raw), &cur.data) //nolint:errcheck // [DONE]
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	return out
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	return m
}

// get walks a decoded JSON value: keys for objects, ints for arrays.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func lastDecision(t *testing.T, s *Server) Decision {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request recorded")
	}
	return reqs[len(reqs)-1].Decision
}

// ---- request bodies shaped like the CLIs' ----

const codexCwd = "/work/codex-repo"

func codexTools() []any {
	return []any{
		map[string]any{"type": "function", "name": "exec_command", "parameters": map[string]any{"type": "object",
			"properties": map[string]any{"cmd": map[string]any{"type": "string"}, "workdir": map[string]any{"type": "string"},
				"yield_time_ms": map[string]any{"type": "number"}}}},
		map[string]any{"type": "custom", "name": "apply_patch", "format": map[string]any{"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}},
		map[string]any{"type": "web_search"},
	}
}

func codexBody(stream bool, items ...any) map[string]any {
	input := []any{
		map[string]any{"type": "message", "role": "developer", "content": []any{map[string]any{"type": "input_text", "text": "<permissions instructions>"}}},
		map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text",
			"text": "<environment_context>\n  <cwd>" + codexCwd + "</cwd>\n  <shell>bash</shell>\n</environment_context>"}}},
	}
	return map[string]any{"model": "gpt-5.5", "instructions": "You are Codex.", "input": append(input, items...),
		"tools": codexTools(), "tool_choice": "auto", "stream": stream, "store": false}
}

func codexUser(text string) any {
	return map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": text}}}
}

func codexAssistant(text string) any {
	return map[string]any{"type": "message", "role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": text}}}
}

func codexPatchCall(id string) []any {
	return []any{
		map[string]any{"type": "custom_tool_call", "call_id": id, "name": "apply_patch", "input": "*** Begin Patch\n..."},
		map[string]any{"type": "custom_tool_call_output", "call_id": id, "output": "Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess."},
	}
}

var twoSteps = Script{
	Steps: []Step{
		{Match: "STEP-ONE", Actions: []Action{
			{Write: &Write{Path: "hello.txt", Content: "hello\n"}},
			{Shell: "go test ./..."},
			{Text: "Created hello.txt."},
		}},
		{Match: "STEP-TWO", Actions: []Action{
			{Edit: &Edit{Path: "hello.txt", Old: "hello", New: "bye"}},
			{Text: "Edited."},
		}},
	},
	DefaultText: "Nothing scripted.",
	Usage:       testUsage,
}

// ---- OpenAI Responses ----

func TestResponsesStreamsFreeformApplyPatch(t *testing.T) {
	s := startServer(t, twoSteps)
	r := post(t, s, "/v1/responses", codexBody(true, codexUser("Create it (STEP-ONE)")), "Authorization", "Bearer sk-secret")
	if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	events := parseSSE(t, r.body)
	var types []string
	input := ""
	for i, e := range events {
		if e.name != e.data["type"] {
			t.Errorf("event: line %q differs from data.type %v", e.name, e.data["type"])
		}
		if e.data["sequence_number"] != float64(i) {
			t.Errorf("event %d sequence_number %v", i, e.data["sequence_number"])
		}
		types = append(types, e.name)
		if e.name == "response.custom_tool_call_input.delta" {
			input += e.data["delta"].(string)
		}
	}
	want := "response.created,response.in_progress,response.output_item.added,response.custom_tool_call_input.delta"
	if !strings.HasPrefix(strings.Join(types, ","), want) || types[len(types)-1] != "response.completed" ||
		types[len(types)-2] != "response.output_item.done" || types[len(types)-3] != "response.custom_tool_call_input.done" {
		t.Fatalf("event types %v", types)
	}
	patch := "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
	if input != patch {
		t.Fatalf("streamed input %q, want %q", input, patch)
	}
	item := events[len(events)-2].data["item"]
	if get(item, "type") != "custom_tool_call" || get(item, "name") != "apply_patch" || get(item, "input") != patch || get(item, "call_id") == "" {
		t.Fatalf("output_item.done item %v", item)
	}
	done := events[len(events)-1].data
	if get(done, "response", "id") == "" || get(done, "response", "status") != "completed" ||
		get(done, "response", "usage", "input_tokens") != 1200.0 ||
		get(done, "response", "usage", "input_tokens_details", "cached_tokens") != 200.0 ||
		get(done, "response", "usage", "output_tokens") != 34.0 {
		t.Fatalf("response.completed %v", done)
	}
	d := lastDecision(t, s)
	if d != (Decision{Step: 0, Action: 0, Cwd: codexCwd, Tool: "apply_patch", Args: patch}) {
		t.Fatalf("decision %+v", d)
	}
	req := s.Requests()[0]
	if req.API != "responses" || req.Path != "/v1/responses" || req.Header.Get("Authorization") != "<redacted>" ||
		get(decodeJSON(t, req.Body), "model") != "gpt-5.5" {
		t.Fatalf("recorded request %s %s %v %s", req.API, req.Path, req.Header, req.Body[:40])
	}
}

func TestResponsesExecCommandAfterToolResultAndTextAtTheEnd(t *testing.T) {
	s := startServer(t, twoSteps)
	hist := append([]any{codexUser("Create it (STEP-ONE)")}, codexPatchCall("call_1")...)
	r := post(t, s, "/v1/responses", codexBody(true, hist...))
	events := parseSSE(t, r.body)
	item := events[len(events)-2].data["item"]
	args := `{"cmd":"go test ./...","workdir":"` + codexCwd + `"}`
	if get(item, "type") != "function_call" || get(item, "name") != "exec_command" || get(item, "arguments") != args {
		t.Fatalf("item %v, want exec_command %s", item, args)
	}
	var deltas string
	for _, e := range events {
		if e.name == "response.function_call_arguments.delta" {
			deltas += e.data["delta"].(string)
		}
	}
	if deltas != args {
		t.Fatalf("argument deltas %q", deltas)
	}

	hist = append(hist, map[string]any{"type": "function_call", "call_id": "call_2", "name": "exec_command", "arguments": args},
		map[string]any{"type": "function_call_output", "call_id": "call_2", "output": "Process exited with code 0"})
	r = post(t, s, "/v1/responses", codexBody(false, hist...))
	resp := decodeJSON(t, r.body)
	if get(resp, "output", 0, "type") != "message" || get(resp, "output", 0, "content", 0, "text") != "Created hello.txt." ||
		get(resp, "usage", "output_tokens") != 34.0 || get(resp, "status") != "completed" {
		t.Fatalf("non-streamed response %s", r.body)
	}
	if d := lastDecision(t, s); d.Step != 0 || d.Action != 2 || d.Text != "Created hello.txt." {
		t.Fatalf("decision %+v", d)
	}
}

func TestResponsesResumeHistoryPicksTheNewPrompt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("first\nsay hello world\nlast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, twoSteps)
	hist := append([]any{codexUser("Create it (STEP-ONE)")}, codexPatchCall("c1")...)
	hist = append(hist, codexAssistant("Created hello.txt."),
		codexUser("<environment_context>\n  <cwd>"+dir+"</cwd>\n</environment_context>"), codexUser("Now edit (STEP-TWO)"))
	r := post(t, s, "/v1/responses", codexBody(false, hist...))
	resp := decodeJSON(t, r.body)
	patch := "*** Begin Patch\n*** Update File: hello.txt\n@@\n-say hello world\n+say bye world\n*** End Patch\n"
	if get(resp, "output", 0, "type") != "custom_tool_call" || get(resp, "output", 0, "input") != patch {
		t.Fatalf("response %s\nwant input %q", r.body, patch)
	}
	if d := lastDecision(t, s); d.Step != 1 || d.Action != 0 || d.Cwd != dir {
		t.Fatalf("decision %+v (the last cwd mention must win)", d)
	}
}

// ---- OpenAI Chat Completions (OpenCode, agentorg's built-in agent) ----

func openCodeTools() []any {
	fn := func(name string, props ...string) any {
		p := map[string]any{}
		for _, k := range props {
			p[k] = map[string]any{"type": "string"}
		}
		return map[string]any{"type": "function", "function": map[string]any{"name": name, "parameters": map[string]any{"type": "object", "properties": p}}}
	}
	return []any{fn("bash", "command", "timeout", "workdir"), fn("edit", "filePath", "oldString", "newString", "replaceAll"),
		fn("read", "filePath", "offset", "limit"), fn("write", "content", "filePath"), fn("todowrite", "todos")}
}

func chatBody(stream, usage bool, tools []any, msgs ...any) map[string]any {
	b := map[string]any{"model": "scripted-model", "messages": msgs, "stream": stream}
	if tools != nil {
		b["tools"] = tools
		b["tool_choice"] = "auto"
	}
	if usage {
		b["stream_options"] = map[string]any{"include_usage": true}
	}
	return b
}

func msg(role, content string) any { return map[string]any{"role": role, "content": content} }

const openCodeSystem = "You are opencode.\n<env>\n  Working directory: /work/oc-repo\n  Is directory a git repo: yes\n</env>"

func TestChatStreamsToolCallsAndUsageChunk(t *testing.T) {
	s := startServer(t, twoSteps)
	// OpenCode quotes a prompt with spaces: the match is a substring.
	body := chatBody(true, true, openCodeTools(), msg("system", openCodeSystem), msg("user", `"Create hello.txt please (STEP-ONE)"`))
	r := post(t, s, "/v1/chat/completions", body)
	events := parseSSE(t, r.body)
	if events[len(events)-1].raw != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %s", r.body)
	}
	var args, name, id, finish string
	var usage any
	for _, e := range events[:len(events)-1] {
		if get(e.data, "object") != "chat.completion.chunk" {
			t.Fatalf("chunk %s", e.raw)
		}
		if u := get(e.data, "usage"); u != nil {
			usage = u
			if c, _ := e.data["choices"].([]any); c == nil || len(c) != 0 {
				t.Errorf("usage chunk choices %v, want []", e.data["choices"])
			}
			continue
		}
		tc := get(e.data, "choices", 0, "delta", "tool_calls", 0)
		if tc != nil {
			if get(tc, "index") != 0.0 {
				t.Errorf("tool call without index 0: %v", tc)
			}
			if v, _ := get(tc, "id").(string); v != "" {
				id = v
				name = get(tc, "function", "name").(string)
			}
			args += get(tc, "function", "arguments").(string)
		}
		if f, _ := get(e.data, "choices", 0, "finish_reason").(string); f != "" {
			finish = f
		}
	}
	want := `{"content":"hello\n","filePath":"/work/oc-repo/hello.txt"}`
	if name != "write" || id == "" || args != want || finish != "tool_calls" {
		t.Fatalf("tool call %q id %q args %s finish %q; want write %s", name, id, args, finish, want)
	}
	if get(usage, "prompt_tokens") != 1200.0 || get(usage, "completion_tokens") != 34.0 || get(usage, "prompt_tokens_details", "cached_tokens") != 200.0 {
		t.Fatalf("usage %v", usage)
	}

	// Without include_usage there is no usage chunk.
	body = chatBody(true, false, openCodeTools(), msg("system", openCodeSystem), msg("user", "nothing matches"))
	for _, e := range parseSSE(t, post(t, s, "/v1/chat/completions", body).body) {
		if get(e.data, "usage") != nil {
			t.Fatalf("usage chunk without stream_options.include_usage: %s", e.raw)
		}
	}
}

func TestChatTextAndShellWithoutUndeclaredArguments(t *testing.T) {
	s := startServer(t, twoSteps)
	call := map[string]any{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{"id": "call_1", "type": "function",
		"function": map[string]any{"name": "write", "arguments": "{}"}}}}
	result := map[string]any{"role": "tool", "tool_call_id": "call_1", "content": "Wrote file successfully."}
	body := chatBody(false, false, openCodeTools(), msg("system", openCodeSystem), msg("user", "STEP-ONE"), call, result)
	resp := decodeJSON(t, post(t, s, "/v1/chat/completions", body).body)
	// OpenCode's bash has no description: it is dropped; workdir is not
	// added for this tool.
	if get(resp, "choices", 0, "message", "tool_calls", 0, "function", "arguments") != `{"command":"go test ./..."}` ||
		get(resp, "choices", 0, "finish_reason") != "tool_calls" || get(resp, "usage", "prompt_tokens") != 1200.0 {
		t.Fatalf("response %v", resp)
	}
	result2 := map[string]any{"role": "tool", "tool_call_id": "call_2", "content": "ok"}
	call2 := map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{"id": "call_2", "type": "function",
		"function": map[string]any{"name": "bash", "arguments": "{}"}}}}
	body = chatBody(true, false, openCodeTools(), msg("system", openCodeSystem), msg("user", "STEP-ONE"), call, result, call2, result2)
	var text string
	events := parseSSE(t, post(t, s, "/v1/chat/completions", body).body)
	for _, e := range events {
		if c, ok := get(e.data, "choices", 0, "delta", "content").(string); ok {
			text += c
		}
	}
	if text != "Created hello.txt." || get(events[len(events)-2].data, "choices", 0, "finish_reason") != "stop" {
		t.Fatalf("streamed text %q, events %v", text, events)
	}
}

// agentorg's built-in agent: chat API, tools with relative "path".
func builtinTools() []any {
	fn := func(name string, props ...string) any {
		p := map[string]any{}
		for _, k := range props {
			p[k] = map[string]any{"type": "string"}
		}
		return map[string]any{"type": "function", "function": map[string]any{"name": name, "parameters": map[string]any{"type": "object", "properties": p}}}
	}
	return []any{fn("write_file", "path", "content"), fn("edit_file", "path", "old", "new"), fn("read_file", "path"),
		fn("run_command", "command"), fn("list_files", "path"), fn("search", "pattern", "path")}
}

func TestBuiltinAgentGetsRelativePaths(t *testing.T) {
	sc := Script{Steps: []Step{{Match: "*", Actions: []Action{
		{Write: &Write{Path: "pkg/a.go", Content: "package a\n"}},
		{Edit: &Edit{Path: "pkg/a.go", Old: "a", New: "b"}},
		{Read: "pkg/a.go"},
		{Shell: "go build ./..."},
		{Call: &Call{Name: "search", Args: map[string]any{"pattern": "func", "path": "."}}},
	}}}}
	s := startServer(t, sc)
	want := []struct{ tool, args string }{
		{"write_file", `{"content":"package a\n","path":"pkg/a.go"}`},
		{"edit_file", `{"new":"b","old":"a","path":"pkg/a.go"}`},
		{"read_file", `{"path":"pkg/a.go"}`},
		{"run_command", `{"command":"go build ./..."}`},
		{"search", `{"path":".","pattern":"func"}`},
	}
	msgs := []any{msg("system", "You are agentorg's agent.\nWorking directory: /work/wt"), msg("user", "Implement issue #2")}
	for i, w := range want {
		resp := decodeJSON(t, post(t, s, "/v1/chat/completions", chatBody(false, false, builtinTools(), msgs...)).body)
		fn := get(resp, "choices", 0, "message", "tool_calls", 0, "function")
		if get(fn, "name") != w.tool || get(fn, "arguments") != w.args {
			t.Fatalf("action %d: called %v, want %s %s", i, fn, w.tool, w.args)
		}
		id := get(resp, "choices", 0, "message", "tool_calls", 0, "id")
		msgs = append(msgs, map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": id, "type": "function", "function": fn}}},
			map[string]any{"role": "tool", "tool_call_id": id, "content": "done"})
	}
	if d := lastDecision(t, s); d.Cwd != "/work/wt" || d.Action != 4 {
		t.Fatalf("decision %+v", d)
	}
}

func TestChatJSONResponseFormatGetsSchemaJSON(t *testing.T) {
	s := startServer(t, twoSteps)
	body := chatBody(false, false, nil, msg("user", "rate it"))
	body["response_format"] = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "r",
		"schema": map[string]any{"type": "object", "properties": map[string]any{"score": map[string]any{"type": "integer", "minimum": 3},
			"kind": map[string]any{"type": "string", "enum": []any{"small", "big"}}}}}}
	resp := decodeJSON(t, post(t, s, "/v1/chat/completions", body).body)
	if get(resp, "choices", 0, "message", "content") != `{"kind":"small","score":3}` {
		t.Fatalf("response %v", resp)
	}
}

// ---- Anthropic Messages (Claude Code) ----

const claudeCwd = "/work/claude-repo"

func claudeTools() []any {
	schema := func(props ...string) any {
		p := map[string]any{}
		for _, k := range props {
			p[k] = map[string]any{"type": "string"}
		}
		return map[string]any{"type": "object", "properties": p}
	}
	return []any{
		map[string]any{"name": "Bash", "input_schema": schema("command", "timeout", "description", "run_in_background")},
		map[string]any{"name": "Edit", "input_schema": schema("file_path", "old_string", "new_string", "replace_all")},
		map[string]any{"name": "Read", "input_schema": schema("file_path", "offset", "limit")},
		map[string]any{"name": "Write", "input_schema": schema("file_path", "content")},
		map[string]any{"type": "web_search_20250305", "name": "web_search"},
	}
}

func claudeBody(stream bool, msgs ...any) map[string]any {
	return map[string]any{"model": "claude-opus-5-5", "max_tokens": 128000, "stream": stream,
		"system": []any{map[string]any{"type": "text", "text": "You are Claude Code."}}, "tools": claudeTools(), "messages": msgs}
}

func claudeMsg(role string, blocks ...any) any {
	return map[string]any{"role": role, "content": blocks}
}
func textBlock(s string) any { return map[string]any{"type": "text", "text": s} }

func claudeEnvTurn(cwd string) any {
	return map[string]any{"role": "system", "content": "Here is useful information about the environment:\n<env>\nPrimary working directory: " + cwd + "\nIs a git repository: true\n</env>"}
}

func TestMessagesStreamsToolUse(t *testing.T) {
	s := startServer(t, twoSteps)
	body := claudeBody(true, claudeMsg("user", textBlock("<system-reminder>context</system-reminder>")), claudeEnvTurn(claudeCwd),
		claudeMsg("user", textBlock("Create hello.txt (STEP-ONE)")))
	r := post(t, s, "/v1/messages?beta=true", body, "x-api-key", "sk-ant-secret")
	events := parseSSE(t, r.body)
	var names []string
	var partial string
	for _, e := range events {
		if e.name != e.data["type"] {
			t.Errorf("event %q has data.type %v", e.name, e.data["type"])
		}
		names = append(names, e.name)
		if e.name == "content_block_delta" {
			if get(e.data, "delta", "type") != "input_json_delta" {
				t.Errorf("delta %v", e.data)
			}
			partial += get(e.data, "delta", "partial_json").(string)
		}
	}
	got := strings.Join(names, ",")
	if !strings.HasPrefix(got, "message_start,content_block_start,ping,content_block_delta") ||
		!strings.HasSuffix(got, "content_block_delta,content_block_stop,message_delta,message_stop") {
		t.Fatalf("events %s", got)
	}
	start := events[1].data["content_block"]
	if get(start, "type") != "tool_use" || get(start, "name") != "Write" || get(start, "id") == "" {
		t.Fatalf("content_block_start %v", start)
	}
	if partial != `{"content":"hello\n","file_path":"/work/claude-repo/hello.txt"}` {
		t.Fatalf("input_json_delta %s", partial)
	}
	md := events[len(events)-2].data
	if get(md, "delta", "stop_reason") != "tool_use" || get(md, "usage", "output_tokens") != 34.0 {
		t.Fatalf("message_delta %v", md)
	}
	ms := events[0].data
	if get(ms, "message", "usage", "input_tokens") != 1000.0 || get(ms, "message", "usage", "cache_read_input_tokens") != 200.0 {
		t.Fatalf("message_start usage %v (input_tokens excludes cache reads)", get(ms, "message", "usage"))
	}
	if h := s.Requests()[0].Header.Get("X-Api-Key"); h != "<redacted>" {
		t.Fatalf("x-api-key recorded as %q", h)
	}
}

func TestMessagesResumeWithSystemTurnsAndReminders(t *testing.T) {
	s := startServer(t, twoSteps)
	toolUse := map[string]any{"type": "tool_use", "id": "toolu_1", "name": "Write", "input": map[string]any{}}
	toolResult := map[string]any{"type": "tool_result", "tool_use_id": "toolu_1", "content": "File created successfully"}
	hist := []any{
		claudeMsg("user", textBlock("<system-reminder>x</system-reminder>")), claudeEnvTurn("/old/place"),
		claudeMsg("user", textBlock("Create (STEP-ONE)")),
		claudeMsg("assistant", textBlock("I will write it."), toolUse),
		claudeMsg("user", toolResult, textBlock("<system-reminder>file changed</system-reminder>")),
		claudeMsg("assistant", textBlock("Created hello.txt.")),
		claudeEnvTurn(claudeCwd), // resumed elsewhere: a new system turn
		claudeMsg("user", textBlock("Edit it (STEP-TWO)")),
	}
	resp := decodeJSON(t, post(t, s, "/v1/messages", claudeBody(false, hist...)).body)
	want := map[string]any{"file_path": claudeCwd + "/hello.txt", "old_string": "hello", "new_string": "bye"}
	if get(resp, "content", 0, "name") != "Edit" || !jsonEqual(get(resp, "content", 0, "input"), want) || get(resp, "stop_reason") != "tool_use" {
		t.Fatalf("response %v", resp)
	}
	// A reminder next to a tool result does not start a new segment.
	resp = decodeJSON(t, post(t, s, "/v1/messages", claudeBody(false, hist[:5]...)).body)
	if get(resp, "content", 0, "name") != "Bash" || get(resp, "content", 0, "input", "description") == nil {
		t.Fatalf("after the Write result: %v", resp)
	}
	if d := lastDecision(t, s); d.Step != 0 || d.Action != 1 || d.Cwd != "/old/place" {
		t.Fatalf("decision %+v", d)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestMessagesTextAndCountTokens(t *testing.T) {
	s := startServer(t, twoSteps)
	body := claudeBody(true, claudeMsg("user", textBlock("unscripted question")))
	var text string
	events := parseSSE(t, post(t, s, "/v1/messages", body).body)
	for _, e := range events {
		if get(e.data, "delta", "type") == "text_delta" {
			text += get(e.data, "delta", "text").(string)
		}
	}
	if text != "Nothing scripted." || get(events[len(events)-2].data, "delta", "stop_reason") != "end_turn" {
		t.Fatalf("text %q, events %v", text, events)
	}
	if d := lastDecision(t, s); d.Step != -1 || d.Action != -1 {
		t.Fatalf("decision %+v", d)
	}
	r := post(t, s, "/v1/messages/count_tokens", body)
	if r.status != 200 || get(decodeJSON(t, r.body), "input_tokens") != 1200.0 {
		t.Fatalf("count_tokens %d %s", r.status, r.body)
	}
}

// ---- Gemini (Gemini CLI) ----

const geminiCwd = "/work/gemini-repo"

func geminiTools() []any {
	decl := func(name string, props ...string) any {
		p := map[string]any{}
		for _, k := range props {
			p[k] = map[string]any{"type": "string"}
		}
		return map[string]any{"name": name, "parametersJsonSchema": map[string]any{"type": "object", "properties": p}}
	}
	return []any{map[string]any{"functionDeclarations": []any{decl("read_file", "file_path", "start_line"),
		decl("replace", "file_path", "instruction", "old_string", "new_string"), decl("write_file", "file_path", "content"),
		decl("run_shell_command", "command", "description")}}}
}

func geminiBody(contents ...any) map[string]any {
	return map[string]any{"contents": contents, "tools": geminiTools(),
		"systemInstruction": map[string]any{"role": "user", "parts": []any{map[string]any{"text": "You are Gemini CLI."}}}}
}

func gContent(role string, parts ...any) any { return map[string]any{"role": role, "parts": parts} }
func gText(s string) any                     { return map[string]any{"text": s} }

func geminiContext() any {
	return gContent("user", gText("<session_context>\nThis is the Gemini CLI.\n**Workspace Directories:**\n  - "+geminiCwd+"\n</session_context>"))
}

func TestGeminiRouterGetsSchemaJSON(t *testing.T) {
	s := startServer(t, twoSteps)
	body := map[string]any{"contents": []any{gContent("user", gText("Create (STEP-ONE)"))},
		"generationConfig": map[string]any{"responseMimeType": "application/json", "responseJsonSchema": map[string]any{
			"type": "OBJECT", "properties": map[string]any{"complexity_reasoning": map[string]any{"type": "STRING"},
				"complexity_score": map[string]any{"type": "INTEGER", "description": "1-100"}},
			"required": []any{"complexity_reasoning", "complexity_score"}}}}
	r := post(t, s, "/v1beta/models/gemini-3.5-flash-lite:generateContent", body, "x-goog-api-key", "secret")
	resp := decodeJSON(t, r.body)
	if get(resp, "candidates", 0, "content", "parts", 0, "text") != `{"complexity_reasoning":"scripted","complexity_score":1}` ||
		get(resp, "candidates", 0, "finishReason") != "STOP" || get(resp, "usageMetadata", "promptTokenCount") != 1200.0 {
		t.Fatalf("router answer %s", r.body)
	}
	req := s.Requests()[0]
	if req.API != "gemini" || req.Header.Get("X-Goog-Api-Key") != "<redacted>" || req.Decision.Step != -1 {
		t.Fatalf("recorded %+v", req)
	}
}

func TestGeminiStreamsFunctionCallAndText(t *testing.T) {
	s := startServer(t, twoSteps)
	path := "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"
	events := parseSSE(t, post(t, s, path, geminiBody(geminiContext(), gContent("user", gText("Create (STEP-ONE)")))).body)
	if len(events) != 1 {
		t.Fatalf("want one chunk for a call, got %v", events)
	}
	c := events[0].data
	fc := get(c, "candidates", 0, "content", "parts", 0, "functionCall")
	if get(fc, "name") != "write_file" || get(fc, "args", "file_path") != geminiCwd+"/hello.txt" || get(fc, "args", "content") != "hello\n" ||
		get(c, "candidates", 0, "finishReason") != "STOP" || get(c, "usageMetadata", "cachedContentTokenCount") != 200.0 ||
		get(c, "usageMetadata", "candidatesTokenCount") != 34.0 {
		t.Fatalf("chunk %s", events[0].raw)
	}

	// Unknown text: several chunks, finishReason and usage on the last only.
	events = parseSSE(t, post(t, s, path, geminiBody(geminiContext(), gContent("user", gText("hi")))).body)
	var text string
	for i, e := range events {
		text += get(e.data, "candidates", 0, "content", "parts", 0, "text").(string)
		last := i == len(events)-1
		if (get(e.data, "usageMetadata") != nil) != last || (get(e.data, "candidates", 0, "finishReason") != nil) != last {
			t.Fatalf("chunk %d of %d: %s", i, len(events), e.raw)
		}
	}
	if text != "Nothing scripted." || len(events) < 2 {
		t.Fatalf("text %q in %d chunks", text, len(events))
	}

	// Without alt=sse the stream is one JSON array.
	r := post(t, s, "/v1beta/models/m:streamGenerateContent", geminiBody(gContent("user", gText("hi"))))
	var arr []any
	if err := json.Unmarshal(r.body, &arr); err != nil || len(arr) < 2 {
		t.Fatalf("array stream %s: %v", r.body, err)
	}
}

func TestGeminiResumeWithDuplicatedFunctionResponse(t *testing.T) {
	s := startServer(t, twoSteps)
	call := map[string]any{"functionCall": map[string]any{"name": "write_file", "args": map[string]any{}}, "thoughtSignature": "skip_thought_signature_validator"}
	resp := map[string]any{"functionResponse": map[string]any{"id": "write_file_1_0", "name": "write_file", "response": map[string]any{"output": "ok"}}}
	thought := map[string]any{"text": "thinking", "thought": true}
	hist := []any{geminiContext(), gContent("user", gText("Create (STEP-ONE)")), gContent("model", thought, call),
		gContent("user", resp, resp), gContent("model", gText("Created hello.txt.")), gContent("user", gText("Edit (STEP-TWO)"))}
	r := decodeJSON(t, post(t, s, "/v1beta/models/m:generateContent", geminiBody(hist...)).body)
	if get(r, "candidates", 0, "content", "parts", 0, "functionCall", "name") != "replace" ||
		get(r, "candidates", 0, "content", "parts", 0, "functionCall", "args", "instruction") == nil {
		t.Fatalf("after resume: %v", r)
	}
	// In the newest segment a repeated result still counts once.
	hist = []any{geminiContext(), gContent("user", gText("Create (STEP-ONE)")), gContent("model", call), gContent("user", resp, resp)}
	r = decodeJSON(t, post(t, s, "/v1beta/models/m:generateContent", geminiBody(hist...)).body)
	if get(r, "candidates", 0, "content", "parts", 0, "functionCall", "name") != "run_shell_command" {
		t.Fatalf("after one (repeated) result: %v", r)
	}
	if d := lastDecision(t, s); d.Action != 1 || d.Args != `{"command":"go test ./...","description":"Run the scripted command"}` {
		t.Fatalf("decision %+v", d)
	}
	r2 := post(t, s, "/v1beta/models/m:countTokens", map[string]any{"contents": hist})
	if get(decodeJSON(t, r2.body), "totalTokens") != 1200.0 {
		t.Fatalf("countTokens %s", r2.body)
	}
}

// ---- rules that hold for every API ----

func TestNoToolsDeclaredMeansText(t *testing.T) {
	s := startServer(t, twoSteps)
	// OpenCode's title request: no tools, the user's prompt inside.
	resp := decodeJSON(t, post(t, s, "/v1/chat/completions", chatBody(false, false, nil, msg("system", "Generate a title"), msg("user", "STEP-ONE"))).body)
	if get(resp, "choices", 0, "message", "content") != "Nothing scripted." || get(resp, "choices", 0, "message", "tool_calls") != nil {
		t.Fatalf("title answer %v", resp)
	}
	s.SetScript(Script{})
	resp = decodeJSON(t, post(t, s, "/v1/messages", map[string]any{"model": "m", "messages": []any{msg("user", "STEP-ONE")}}).body)
	if get(resp, "content", 0, "text") != "OK" {
		t.Fatalf("default of the default text: %v", resp)
	}
	if d := lastDecision(t, s); d.Step != -1 || d.Tool != "" {
		t.Fatalf("decision %+v", d)
	}
}

func TestPastTheLastActionAndMissingToolsGiveText(t *testing.T) {
	s := startServer(t, Script{Steps: []Step{{Match: "*", Actions: []Action{{Edit: &Edit{Path: "a", Old: "x", New: "y"}}}}}})
	tools := []any{map[string]any{"type": "function", "function": map[string]any{"name": "todowrite", "parameters": map[string]any{}}}}
	resp := decodeJSON(t, post(t, s, "/v1/chat/completions", chatBody(false, false, tools, msg("user", "go"))).body)
	if c, _ := get(resp, "choices", 0, "message", "content").(string); !strings.Contains(c, "no declared tool can edit a file (declared: todowrite)") {
		t.Fatalf("answer %v", resp)
	}
	call := map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{"id": "c", "type": "function", "function": map[string]any{"name": "todowrite", "arguments": "{}"}}}}
	post(t, s, "/v1/chat/completions", chatBody(false, false, tools, msg("user", "go"), call, map[string]any{"role": "tool", "tool_call_id": "c", "content": "x"}))
	if d := lastDecision(t, s); d.Step != 0 || d.Action != -1 || d.Text != "OK" {
		t.Fatalf("past the end: %+v", d)
	}
}

func TestCallSendsArgumentsVerbatim(t *testing.T) {
	s := startServer(t, Script{Steps: []Step{{Match: "*", Actions: []Action{
		{Call: &Call{Name: "write", RawArgs: `{"filePath": "x", `}},
		{Call: &Call{Name: "apply_patch", Args: map[string]any{"input": "*** Begin Patch\n*** End Patch\n"}}},
	}}}})
	resp := decodeJSON(t, post(t, s, "/v1/chat/completions", chatBody(false, false, openCodeTools(), msg("user", "go"))).body)
	if get(resp, "choices", 0, "message", "tool_calls", 0, "function", "arguments") != `{"filePath": "x", ` {
		t.Fatalf("raw args: %v", resp)
	}
	hist := []any{codexUser("go"), map[string]any{"type": "function_call", "call_id": "c", "name": "write", "arguments": "{"},
		map[string]any{"type": "function_call_output", "call_id": "c", "output": "bad json"}}
	resp = decodeJSON(t, post(t, s, "/v1/responses", codexBody(false, hist...)).body)
	if get(resp, "output", 0, "type") != "custom_tool_call" || get(resp, "output", 0, "input") != "*** Begin Patch\n*** End Patch\n" {
		t.Fatalf("custom call: %v", resp)
	}
}

func TestFailUsesEachAPIsErrorShape(t *testing.T) {
	s := startServer(t, Script{Steps: []Step{{Match: "*", Actions: []Action{{Fail: &Fail{Status: 429, Message: "slow down"}}}}}})
	cases := []struct {
		path string
		body any
		want map[string]any
	}{
		{"/v1/responses", codexBody(true, codexUser("x")), map[string]any{"error": map[string]any{"message": "slow down", "type": "requests", "param": nil, "code": "rate_limit_exceeded"}}},
		{"/v1/chat/completions", chatBody(true, true, openCodeTools(), msg("user", "x")), map[string]any{"error": map[string]any{"message": "slow down", "type": "requests", "param": nil, "code": "rate_limit_exceeded"}}},
		{"/v1/messages", claudeBody(true, msg("user", "x")), map[string]any{"type": "error", "error": map[string]any{"type": "rate_limit_error", "message": "slow down"}}},
		{"/v1beta/models/m:streamGenerateContent?alt=sse", geminiBody(gContent("user", gText("x"))), map[string]any{"error": map[string]any{"code": 429.0, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}},
	}
	for _, c := range cases {
		r := post(t, s, c.path, c.body)
		if r.status != 429 || r.header.Get("Content-Type") != "application/json" || !jsonEqual(decodeJSON(t, r.body), c.want) {
			t.Errorf("%s: %d %s, want 429 %v", c.path, r.status, r.body, c.want)
		}
	}
	s.SetScript(Script{Steps: []Step{{Match: "*", Actions: []Action{{Fail: &Fail{Message: "boom"}}}}}})
	r := post(t, s, "/v1/messages", claudeBody(false, msg("user", "x")))
	if r.status != 500 || get(decodeJSON(t, r.body), "error", "type") != "api_error" {
		t.Fatalf("default status: %d %s", r.status, r.body)
	}
	if d := lastDecision(t, s); d.Text != "boom" || d.Action != 0 {
		t.Fatalf("decision %+v", d)
	}
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	s := startServer(t, twoSteps)
	r := post(t, s, "/v1/messages", `{"messages": [`)
	if r.status != 400 || !strings.Contains(get(decodeJSON(t, r.body), "error", "message").(string), "messages request body") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = post(t, s, "/v1/nothing", `{}`)
	if r.status != 404 || !strings.Contains(string(r.body), "no endpoint POST /v1/nothing") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	resp, err := http.Get(s.URL() + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp2, err := http.Get(s.URL() + "/_health")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp.StatusCode != 200 || resp2.StatusCode != 200 {
		t.Fatalf("models %d, health %d", resp.StatusCode, resp2.StatusCode)
	}
	reqs := s.Requests()
	if len(reqs) != 4 || reqs[0].API != "messages" || reqs[1].API != "other" || reqs[2].Path != "/v1/models" || reqs[3].Path != "/_health" {
		t.Fatalf("recorded %v", decisions(reqs))
	}
	// An invalid body is still recorded, as a JSON string.
	var sBody string
	if err := json.Unmarshal(reqs[0].Body, &sBody); err != nil || sBody != `{"messages": [` {
		t.Fatalf("recorded body %s", reqs[0].Body)
	}
}

func TestStallSendsFirstEventThenHangsUntilTheClientLeaves(t *testing.T) {
	s := startServer(t, Script{Steps: []Step{{Match: "*", Actions: []Action{{Stall: true}}}}})
	for _, c := range []struct {
		path, first string
		body        any
	}{
		{"/v1/responses", `"type":"response.created"`, codexBody(true, codexUser("x"))},
		{"/v1/chat/completions", `"object":"chat.completion.chunk"`, chatBody(true, true, openCodeTools(), msg("user", "x"))},
		{"/v1/messages", `"type":"message_start"`, claudeBody(true, msg("user", "x"))},
		{"/v1beta/models/m:streamGenerateContent?alt=sse", `"candidates"`, geminiBody(gContent("user", gText("x")))},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		b, _ := json.Marshal(c.body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+c.path, bytes.NewReader(b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(resp.Body)
		var got string
		for !strings.HasPrefix(got, "data: ") {
			if got, err = rd.ReadString('\n'); err != nil {
				t.Fatalf("%s: %v", c.path, err)
			}
		}
		if !strings.Contains(got, c.first) {
			t.Errorf("%s: first event %s", c.path, got)
		}
		// Nothing more comes until the client gives up.
		rest := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(rd)
			rest <- err
		}()
		cancel()
		if err := <-rest; !errors.Is(err, context.Canceled) {
			t.Errorf("%s: read after the first event ended with %v, want context.Canceled", c.path, err)
		}
		resp.Body.Close()
	}
}

func TestCloseEndsStalledAnswers(t *testing.T) {
	s := New(Script{Steps: []Step{{Match: "*", Actions: []Action{{Stall: true}}}}})
	done := make(chan error, 1)
	b, _ := json.Marshal(claudeBody(false, msg("user", "x")))
	resp, err := http.Post(s.URL()+"/v1/messages", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	s.Close()
	<-done // the read ends (EOF or reset) instead of hanging
	resp.Body.Close()
	if _, err := http.Get(s.URL() + "/_health"); err == nil {
		t.Fatal("server still answers after Close")
	}
}

func TestDelayWaitsBeforeAnswering(t *testing.T) {
	s := startServer(t, Script{Steps: []Step{{Match: "*", Actions: []Action{{Text: "late", Delay: 0.3}}}}})
	start := time.Now()
	resp := decodeJSON(t, post(t, s, "/v1/messages", claudeBody(false, msg("user", "x"))).body)
	if get(resp, "content", 0, "text") != "late" {
		t.Fatalf("answer %v", resp)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("answered after %v, before the 0.3 s delay", el)
	}
}

func TestConcurrentSessionsAreIndependent(t *testing.T) {
	s := startServer(t, twoSteps)
	errs := make(chan string, 20)
	for i := range 20 {
		go func() {
			prompt, want := "STEP-ONE", "Write"
			if i%2 == 1 {
				prompt, want = "STEP-TWO", "Edit"
			}
			b, _ := json.Marshal(claudeBody(false, claudeEnvTurn(claudeCwd), msg("user", prompt)))
			resp, err := http.Post(s.URL()+"/v1/messages", "application/json", bytes.NewReader(b))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var m map[string]any
			json.NewDecoder(resp.Body).Decode(&m) //nolint:errcheck // checked below
			if get(m, "content", 0, "name") != want {
				errs <- prompt + ": " + jsonString(m)
				return
			}
			errs <- ""
		}()
	}
	for range 20 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	if n := len(s.Requests()); n != 20 {
		t.Fatalf("%d requests recorded", n)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestGzipBodiesAreRead(t *testing.T) {
	s := startServer(t, twoSteps)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	json.NewEncoder(zw).Encode(claudeBody(false, claudeEnvTurn(claudeCwd), msg("user", "STEP-ONE"))) //nolint:errcheck // in memory
	zw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/messages", &zb)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := lastDecision(t, s); resp.StatusCode != 200 || d.Tool != "Write" {
		t.Fatalf("status %d, decision %+v", resp.StatusCode, d)
	}
	r := post(t, s, "/v1/messages", "{}", "Content-Encoding", "br")
	if r.status != 400 || !strings.Contains(string(r.body), `Content-Encoding \"br\" is not supported`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
}
