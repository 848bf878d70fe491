// Package modelserver is a scripted model server for tests and the demo: it
// speaks the wire protocols of the model APIs the coding CLIs use, so that
// the real CLIs (Codex, Claude Code, Gemini CLI, OpenCode) and agentorg's
// built-in agent run for real against it, with only the model faked.
//
// Endpoints: POST /v1/responses (OpenAI Responses), /v1/chat/completions
// (OpenAI Chat Completions), /v1/messages (Anthropic Messages; ?beta=true is
// ignored), /v1/messages/count_tokens, /v1beta/models/M:generateContent,
// :streamGenerateContent (SSE with ?alt=sse, else a JSON array) and
// :countTokens (Gemini), GET /v1/models, /v1beta/models and /_health. Each
// streams when the request asks (stream: true, or the streamGenerateContent
// path) and answers plain JSON otherwise.
//
// # Script
//
//	{"steps": [
//	   {"match": "STEP-ONE", "actions": [
//	      {"write": {"path": "hello.txt", "content": "hello\n"}},
//	      {"text": "Created hello.txt."}]},
//	   {"match": "STEP-TWO", "actions": [
//	      {"edit": {"path": "hello.txt", "old": "hello", "new": "hello again"}},
//	      {"text": "Edited hello.txt."}]}],
//	 "default_text": "OK",
//	 "usage": {"input_tokens": 1200, "cached_input_tokens": 200, "output_tokens": 34}}
//
// Action kinds: text (the final answer, ends the turn), write {path,
// content}, edit {path, old, new}, read "path", shell "command", call {name,
// args} or {name, raw_args} (a verbatim call of any tool; raw_args is sent
// as-is), fail {status, message} (an HTTP error in the API's documented
// error shape) and stall (headers and, when streaming, the first event, then
// nothing until the client leaves or the server closes). Any action may add
// "delay": seconds. LoadScript rejects unknown keys.
//
// # Decisions
//
// The server keeps no state between requests, so one server serves any
// number of CLIs and sessions, and resumed sessions are answered from the
// history they send back. Each request is reduced to events (user text, tool
// call, tool result, assistant text) and split into prompt segments: a new
// segment starts at the first user text after the model ended a turn with
// text. User text that arrives while a tool call is pending (Claude Code's
// reminders) stays in the segment; role "system" turns (Claude Code) and
// system or developer messages are context, not user text.
//
// The newest segment's user text (all of it: the prompt, but also context
// the CLI sends as user text, such as Codex's AGENTS.md or Claude Code's
// reminders, so pick distinctive markers) picks the first step whose match
// it contains ("*" matches anything). Action k of that step is played when k
// tool results came back in the segment (results with the same call id count
// once: Gemini CLI repeats them after a resume). With no matching step, or
// past the last action, the answer is default_text ("OK" when empty), with
// Decision.Step -1 or Decision.Action -1.
//
// A request that declares no tools (a title, router or summary request)
// always gets default_text, never a tool call; one that asks for a JSON
// answer with a schema (Gemini CLI's router) gets a schema-valid object:
// strings "scripted", numbers 1, so the router gets
// {"complexity_reasoning":"scripted","complexity_score":1}.
//
// write, edit, read and shell become calls of the CLI's own tools, found
// among the declared tools, and arguments the declared schema lacks are
// dropped:
//
//	Codex     write  apply_patch "*** Add File" (content gets a final newline)
//	          edit   apply_patch "*** Update File"
//	          read   exec_command {cmd: "cat PATH", workdir}
//	          shell  exec_command {cmd, workdir}
//	Claude    write  Write {file_path, content}
//	          edit   Edit {file_path, old_string, new_string}
//	          read   Read {file_path}
//	          shell  Bash {command, description}
//	Gemini    write  write_file {file_path, content}
//	          edit   replace {file_path, old_string, new_string, instruction}
//	          read   read_file {file_path}
//	          shell  run_shell_command {command, description}
//	OpenCode  write  write {filePath, content}
//	          edit   edit {filePath, oldString, newString}
//	          read   read {filePath}
//	          shell  bash {command}
//	agentorg  write  write_file {path, content}
//	          edit   edit_file {path, old, new}
//	          read   read_file {path}
//	          shell  run_command {command}
//
// Codex's apply_patch is sent as a freeform custom_tool_call when declared
// as a custom tool, else as a function call {input}; its Update File hunk is
// widened to the whole lines of the file holding old (read from disk). A
// write with no write tool falls back to the shell tool.
//
// Relative paths are made absolute against the working directory the CLI
// states in its own context text (Codex <cwd>, Claude "Primary working
// directory:", Gemini "**Workspace Directories:**", OpenCode and agentorg
// "Working directory:"); the last mention wins, because a session resumed
// elsewhere gets a new one. agentorg's built-in agent (a chat API request
// whose write_file/read_file take "path", not "file_path") gets the paths as
// written: its tools are relative to its worktree.
//
// Usage is reported on every response in the API's own fields: Responses
// input_tokens (cached included) / input_tokens_details.cached_tokens /
// output_tokens; Chat prompt_tokens / prompt_tokens_details.cached_tokens /
// completion_tokens (streaming: only with stream_options.include_usage);
// Gemini promptTokenCount / cachedContentTokenCount / candidatesTokenCount;
// Messages input_tokens = input_tokens - cached_input_tokens (Anthropic
// counts cache reads apart) / cache_read_input_tokens / output_tokens.
package modelserver
