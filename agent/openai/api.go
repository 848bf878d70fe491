package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentorg/agentorg"
)

// The wire shapes of the chat-completions API, as documented by OpenAI and
// implemented by Ollama, llama.cpp's server and vLLM. Only the fields the
// agent uses are declared.

type message struct {
	Role string `json:"role"` // system, user, assistant, tool
	// Content is always sent, "" included: some servers reject a missing
	// content on an assistant message that only calls tools.
	Content    string     `json:"content"`
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type toolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name string `json:"name"`
	// Arguments is a JSON object encoded as a string.
	Arguments string `json:"arguments"`
}

type toolDef struct {
	Type     string      `json:"type"` // "function"
	Function functionDef `json:"function"`
}

type functionDef struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Parameters  jsonSchema `json:"parameters"`
}

type jsonSchema struct {
	Type                 string                `json:"type"`
	Description          string                `json:"description,omitempty"`
	Properties           map[string]jsonSchema `json:"properties,omitempty"`
	Required             []string              `json:"required,omitempty"`
	AdditionalProperties *bool                 `json:"additionalProperties,omitempty"`
}

type chatRequest struct {
	Model      string    `json:"model"`
	Messages   []message `json:"messages"`
	Tools      []toolDef `json:"tools,omitempty"`
	ToolChoice string    `json:"tool_choice,omitempty"`
	Stream     bool      `json:"stream"`
}

// chatResponse is decoded loosely where servers differ: content may be a
// string, null or an array of text parts; arguments may be a string or,
// from some servers, an object.
type chatResponse struct {
	Choices []struct {
		Message struct {
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

// reply is one decoded model turn.
type reply struct {
	msg          message
	finishReason string
	usage        agentorg.Usage
}

// decodeReply turns a response body into a reply, with an error that says
// what is wrong with the body.
func decodeReply(body []byte) (reply, error) {
	var r chatResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return reply{}, fmt.Errorf("response is not chat-completion JSON: %v: %s", err, clip(string(body), 300))
	}
	if len(r.Choices) == 0 {
		return reply{}, fmt.Errorf("response has no choices: %s", clip(string(body), 300))
	}
	c := r.Choices[0]
	content, err := decodeContent(c.Message.Content)
	if err != nil {
		return reply{}, err
	}
	out := reply{msg: message{Role: "assistant", Content: content}, finishReason: c.FinishReason}
	for i, tc := range c.Message.ToolCalls {
		args := strings.TrimSpace(string(tc.Function.Arguments))
		// Arguments are documented as a JSON string; a server that sends
		// the object itself is taken at its word.
		if strings.HasPrefix(args, `"`) {
			if err := json.Unmarshal(tc.Function.Arguments, &args); err != nil {
				return reply{}, fmt.Errorf("tool call %d: arguments: %v", i, err)
			}
		}
		id := tc.ID
		if id == "" {
			// The id only pairs the call with its result; make one up so
			// that the conversation stays well formed.
			id = fmt.Sprintf("call_%d", i)
		}
		out.msg.ToolCalls = append(out.msg.ToolCalls, toolCall{
			ID: id, Type: "function",
			Function: functionCall{Name: tc.Function.Name, Arguments: args},
		})
	}
	if u := r.Usage; u != nil {
		out.usage = agentorg.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
		if u.PromptTokensDetails != nil {
			out.usage.CachedTokens = u.PromptTokensDetails.CachedTokens
		}
	}
	return out, nil
}

func decodeContent(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("message content is neither a string nor text parts: %s", clip(string(raw), 200))
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// apiError extracts the API's own message from an error body: OpenAI and
// its imitators send {"error": {"message": ...}}, some {"error": "..."}.
func apiError(body []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		var obj struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		}
		var s string
		switch {
		case json.Unmarshal(e.Error, &obj) == nil && obj.Message != "":
			return obj.Message
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return s
		case e.Message != "":
			return e.Message
		}
	}
	return clip(strings.TrimSpace(string(body)), 300)
}

// Bounds of the HTTP exchange.
const (
	maxResponseBytes = 32 << 20
	maxRetries       = 2                // after the first attempt, on 429 and 5xx
	maxRetryAfter    = 60 * time.Second // a longer Retry-After is capped
)

var errStalled = errors.New("stalled")

// post sends one chat request, retrying 429 and 5xx answers, and returns the
// decoded reply. Failures the server reports are wrapped in ErrAgent.
func (a *Agent) post(ctx context.Context, req chatRequest, apiKey string, stall time.Duration) (reply, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return reply{}, fmt.Errorf("openai agent: encode request: %w", err)
	}
	url := a.cfg.BaseURL + "/chat/completions"
	for attempt := 0; ; attempt++ {
		status, header, data, err := a.send(ctx, url, body, apiKey, stall)
		if err != nil {
			return reply{}, err
		}
		if status == http.StatusOK {
			r, err := decodeReply(data)
			if err != nil {
				return reply{}, fmt.Errorf("%w: POST %s: %v", agentorg.ErrAgent, url, err)
			}
			return r, nil
		}
		msg := fmt.Sprintf("POST %s: HTTP %d: %s", url, status, apiError(data))
		retryable := status == http.StatusTooManyRequests || status >= 500
		if !retryable || attempt >= maxRetries {
			if retryable {
				msg += fmt.Sprintf(" (after %d attempts)", attempt+1)
			}
			return reply{}, fmt.Errorf("%w: %s", agentorg.ErrAgent, msg)
		}
		wait := a.backoff(attempt)
		if ra, ok := retryAfter(header.Get("Retry-After"), time.Now()); ok {
			wait = min(ra, maxRetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return reply{}, ctx.Err()
		case <-t.C:
		}
	}
}

// send makes one HTTP request. The stall bound covers the wait for the
// response and every gap while its body arrives. A stall is an ErrAgent;
// a transport failure is not (the model server could not be reached).
func (a *Agent) send(ctx context.Context, url string, body []byte, apiKey string, stall time.Duration) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := newWatchdog(stall, func() { cancel(errStalled) })
	defer w.stop()

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("openai agent: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := a.client.Do(hreq)
	if err == nil {
		defer resp.Body.Close()
		var data []byte
		data, err = io.ReadAll(io.LimitReader(&touchReader{r: resp.Body, w: w}, maxResponseBytes+1))
		if err == nil {
			if len(data) > maxResponseBytes {
				return 0, nil, nil, fmt.Errorf("%w: POST %s: response larger than %d bytes", agentorg.ErrAgent, url, maxResponseBytes)
			}
			return resp.StatusCode, resp.Header, data, nil
		}
	}
	if errors.Is(context.Cause(ctx), errStalled) {
		return 0, nil, nil, fmt.Errorf("%w: stalled: no response from %s for %s", agentorg.ErrAgent, url, stall)
	}
	return 0, nil, nil, fmt.Errorf("openai agent: POST %s: %w", url, err)
}

// watchdog calls fire once no touch has come for d; d <= 0 disables it.
type watchdog struct {
	mu sync.Mutex
	t  *time.Timer
	d  time.Duration
}

func newWatchdog(d time.Duration, fire func()) *watchdog {
	w := &watchdog{d: d}
	if d > 0 {
		w.t = time.AfterFunc(d, fire)
	}
	return w
}

func (w *watchdog) touch() {
	if w.t == nil {
		return
	}
	w.mu.Lock()
	w.t.Reset(w.d)
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}

type touchReader struct {
	r io.Reader
	w *watchdog
}

func (t *touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.w.touch()
	}
	return n, err
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// defaultBackoff waits 1 s, then 2 s, ... between attempts.
func defaultBackoff(attempt int) time.Duration {
	return time.Second << attempt
}

// clip shortens s to at most n bytes for messages, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
