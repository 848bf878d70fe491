package modelserver

import (
	"fmt"
	"net/http"
)

// OpenAI Responses. Codex switches on data.type, takes items from
// response.output_item.done and usage from response.completed (whose
// response.id it requires), and ends the turn at EOF after it.

func responsesUsage(u Usage) map[string]any {
	return map[string]any{
		"input_tokens":          u.InputTokens,
		"input_tokens_details":  map[string]any{"cached_tokens": u.CachedInputTokens},
		"output_tokens":         u.OutputTokens,
		"output_tokens_details": map[string]any{"reasoning_tokens": 0},
		"total_tokens":          u.InputTokens + u.OutputTokens,
	}
}

func writeResponses(w http.ResponseWriter, p *parsed, a answer) {
	respID := fmt.Sprintf("resp_scripted_%d", a.id)
	var item map[string]any
	switch {
	case a.call == nil:
		item = map[string]any{"type": "message", "id": fmt.Sprintf("msg_scripted_%d", a.id), "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": a.text, "annotations": []any{}}}}
	case a.call.custom:
		item = map[string]any{"type": "custom_tool_call", "id": fmt.Sprintf("ctc_scripted_%d", a.id), "call_id": a.callID("call"),
			"name": a.call.name, "input": a.call.args, "status": "completed"}
	default:
		item = map[string]any{"type": "function_call", "id": fmt.Sprintf("fc_scripted_%d", a.id), "call_id": a.callID("call"),
			"name": a.call.name, "arguments": a.call.args, "status": "completed"}
	}
	response := func(status string, output []any) map[string]any {
		r := map[string]any{"id": respID, "object": "response", "created_at": now(), "status": status,
			"model": p.model, "output": output}
		if status == "completed" {
			r["usage"] = responsesUsage(a.usage)
		}
		return r
	}
	if !p.stream {
		writeJSON(w, http.StatusOK, response("completed", []any{item}))
		return
	}
	e := newSSE(w)
	seq := 0
	send := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		e.send(typ, fields)
	}
	send("response.created", map[string]any{"response": response("in_progress", []any{})})
	send("response.in_progress", map[string]any{"response": response("in_progress", []any{})})
	itemID := item["id"]
	added := map[string]any{}
	for k, v := range item {
		added[k] = v
	}
	added["status"] = "in_progress"
	switch item["type"] {
	case "message":
		added["content"] = []any{}
		send("response.output_item.added", map[string]any{"output_index": 0, "item": added})
		part := map[string]any{"type": "output_text", "text": "", "annotations": []any{}}
		send("response.content_part.added", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "part": part})
		for _, c := range chunks(a.text) {
			send("response.output_text.delta", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "delta": c})
		}
		send("response.output_text.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "text": a.text})
		send("response.content_part.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0,
			"part": map[string]any{"type": "output_text", "text": a.text, "annotations": []any{}}})
	case "custom_tool_call":
		added["input"] = ""
		send("response.output_item.added", map[string]any{"output_index": 0, "item": added})
		for _, c := range chunks(a.call.args) {
			send("response.custom_tool_call_input.delta", map[string]any{"item_id": itemID, "output_index": 0, "delta": c})
		}
		send("response.custom_tool_call_input.done", map[string]any{"item_id": itemID, "output_index": 0, "input": a.call.args})
	default:
		added["arguments"] = ""
		send("response.output_item.added", map[string]any{"output_index": 0, "item": added})
		for _, c := range chunks(a.call.args) {
			send("response.function_call_arguments.delta", map[string]any{"item_id": itemID, "output_index": 0, "delta": c})
		}
		send("response.function_call_arguments.done", map[string]any{"item_id": itemID, "output_index": 0, "arguments": a.call.args})
	}
	send("response.output_item.done", map[string]any{"output_index": 0, "item": item})
	send("response.completed", map[string]any{"response": response("completed", []any{item})})
}
