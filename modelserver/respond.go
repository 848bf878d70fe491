package modelserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// play sends the planned answer in the request's API.
func (s *Server) play(w http.ResponseWriter, r *http.Request, p *parsed, pl plan) {
	if !s.wait(r.Context(), pl.delay) {
		return
	}
	if pl.fail != nil {
		writeError(w, p.api, pl.fail.Status, pl.fail.Message)
		return
	}
	a := answer{id: s.nextID(), model: p.model, call: pl.call, text: pl.text, usage: pl.usage}
	if pl.stall {
		s.stall(w, r, p)
		return
	}
	switch p.api {
	case "responses":
		writeResponses(w, p, a)
	case "chat":
		writeChat(w, p, a)
	case "messages":
		writeMessages(w, p, a)
	case "gemini":
		writeGemini(w, r, p, a)
	}
}

// answer is what the writers turn into each API's shape.
type answer struct {
	id    int
	model string
	call  *toolCall
	text  string
	usage Usage
}

func (a answer) callID(prefix string) string { return fmt.Sprintf("%s_scripted_%d", prefix, a.id) }

// stall sends the headers and, when streaming, the first event, then hangs.
func (s *Server) stall(w http.ResponseWriter, r *http.Request, p *parsed) {
	if !p.stream {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		flush(w)
		s.hang(r.Context())
		return
	}
	e := newSSE(w)
	switch p.api {
	case "responses":
		e.send("response.created", map[string]any{"type": "response.created", "sequence_number": 0,
			"response": map[string]any{"id": "resp_stalled", "object": "response", "status": "in_progress", "model": p.model, "output": []any{}}})
	case "chat":
		e.send("", map[string]any{"id": "chatcmpl_stalled", "object": "chat.completion.chunk", "model": p.model,
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}, "finish_reason": nil}}})
	case "messages":
		e.send("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_stalled",
			"type": "message", "role": "assistant", "model": p.model, "content": []any{}, "stop_reason": nil,
			"usage": map[string]any{"input_tokens": 0, "output_tokens": 0}}})
	case "gemini":
		e.send("", map[string]any{"candidates": []any{map[string]any{"content": map[string]any{"role": "model",
			"parts": []any{map[string]any{"text": ""}}}, "index": 0}}, "modelVersion": p.model})
	}
	s.hang(r.Context())
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// sse writes server-sent events, flushing each one.
type sse struct{ w http.ResponseWriter }

func newSSE(w http.ResponseWriter) sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	return sse{w}
}

// send writes one event; name "" omits the event: line.
func (e sse) send(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of JSON values are sent
	}
	if name != "" {
		fmt.Fprintf(e.w, "event: %s\n", name)
	}
	fmt.Fprintf(e.w, "data: %s\n\n", b)
	flush(e.w)
}

func (e sse) raw(data string) {
	fmt.Fprintf(e.w, "data: %s\n\n", data)
	flush(e.w)
}

// chunks splits s into up to three pieces, so that clients see real deltas.
func chunks(s string) []string {
	if len(s) < 3 {
		return []string{s}
	}
	r := []rune(s)
	n := (len(r) + 2) / 3
	var out []string
	for len(r) > 0 {
		k := min(n, len(r))
		out = append(out, string(r[:k]))
		r = r[k:]
	}
	return out
}

// argsObject is a call's arguments as a JSON value for APIs that send an
// object (Messages, Gemini): the object when args is one, else the string.
func argsObject(args string) any {
	var m map[string]any
	if json.Unmarshal([]byte(args), &m) == nil && m != nil {
		return m
	}
	return args
}

func now() int64 { return time.Now().Unix() }

// writeError answers in the API's documented error shape.
func writeError(w http.ResponseWriter, api string, status int, msg string) {
	switch api {
	case "messages":
		writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": anthropicErrorType(status), "message": msg}})
	case "gemini":
		writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "status": googleStatus(status)}})
	default:
		typ, code := openAIError(status)
		writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
	}
}

func openAIError(status int) (typ, code string) {
	switch {
	case status == 401:
		return "invalid_request_error", "invalid_api_key"
	case status == 403:
		return "invalid_request_error", "permission_denied"
	case status == 404:
		return "invalid_request_error", "not_found"
	case status == 429:
		return "requests", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", "server_error"
	}
	return "invalid_request_error", "invalid_request"
}

func anthropicErrorType(status int) string {
	switch status {
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func googleStatus(status int) string {
	switch status {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}
