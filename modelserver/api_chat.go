package modelserver

import (
	"fmt"
	"net/http"
)

// OpenAI Chat Completions: chat.completion, or chat.completion.chunk events
// ending with an optional usage chunk (choices []) and data: [DONE].

func chatUsage(u Usage) map[string]any {
	return map[string]any{
		"prompt_tokens":         u.InputTokens,
		"completion_tokens":     u.OutputTokens,
		"total_tokens":          u.InputTokens + u.OutputTokens,
		"prompt_tokens_details": map[string]any{"cached_tokens": u.CachedInputTokens},
	}
}

func writeChat(w http.ResponseWriter, p *parsed, a answer) {
	id := fmt.Sprintf("chatcmpl-scripted-%d", a.id)
	finish := "stop"
	if a.call != nil {
		finish = "tool_calls"
	}
	if !p.stream {
		msg := map[string]any{"role": "assistant", "content": a.text}
		if a.call != nil {
			msg["content"] = nil
			msg["tool_calls"] = []any{map[string]any{"id": a.callID("call"), "type": "function",
				"function": map[string]any{"name": a.call.name, "arguments": a.call.args}}}
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "chat.completion", "created": now(), "model": p.model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   chatUsage(a.usage)})
		return
	}
	e := newSSE(w)
	created := now()
	chunk := func(delta map[string]any, finish any) {
		e.send("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": p.model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})
	}
	if a.call == nil {
		chunk(map[string]any{"role": "assistant", "content": ""}, nil)
		for _, c := range chunks(a.text) {
			chunk(map[string]any{"content": c}, nil)
		}
	} else {
		chunk(map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"index": 0,
			"id": a.callID("call"), "type": "function", "function": map[string]any{"name": a.call.name, "arguments": ""}}}}, nil)
		for _, c := range chunks(a.call.args) {
			chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": c}}}}, nil)
		}
	}
	chunk(map[string]any{}, finish)
	if p.includeUsage {
		e.send("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": p.model,
			"choices": []any{}, "usage": chatUsage(a.usage)})
	}
	e.raw("[DONE]")
}
