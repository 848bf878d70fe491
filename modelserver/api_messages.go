package modelserver

import (
	"fmt"
	"net/http"
)

// Anthropic Messages: message_start, content_block_start/delta/stop,
// message_delta with stop_reason and usage, message_stop.

func messagesUsage(u Usage, output int64) map[string]any {
	return map[string]any{
		"input_tokens":                max(u.InputTokens-u.CachedInputTokens, 0),
		"cache_creation_input_tokens": 0,
		"cache_read_input_tokens":     u.CachedInputTokens,
		"output_tokens":               output,
	}
}

func writeMessages(w http.ResponseWriter, p *parsed, a answer) {
	id := fmt.Sprintf("msg_scripted_%d", a.id)
	stop := "end_turn"
	block := map[string]any{"type": "text", "text": a.text}
	if a.call != nil {
		stop = "tool_use"
		block = map[string]any{"type": "tool_use", "id": a.callID("toolu"), "name": a.call.name, "input": argsObject(a.call.args)}
	}
	if !p.stream {
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "type": "message", "role": "assistant", "model": p.model,
			"content": []any{block}, "stop_reason": stop, "stop_sequence": nil, "usage": messagesUsage(a.usage, a.usage.OutputTokens)})
		return
	}
	e := newSSE(w)
	e.send("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": id, "type": "message",
		"role": "assistant", "model": p.model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": messagesUsage(a.usage, 1)}})
	start := map[string]any{"type": "text", "text": ""}
	if a.call != nil {
		start = map[string]any{"type": "tool_use", "id": block["id"], "name": a.call.name, "input": map[string]any{}}
	}
	e.send("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": start})
	e.send("ping", map[string]any{"type": "ping"})
	if a.call == nil {
		for _, c := range chunks(a.text) {
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]any{"type": "text_delta", "text": c}})
		}
	} else {
		for _, c := range chunks(a.call.args) {
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": c}})
		}
	}
	e.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	e.send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": messagesUsage(a.usage, a.usage.OutputTokens)})
	e.send("message_stop", map[string]any{"type": "message_stop"})
}
