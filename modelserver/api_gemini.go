package modelserver

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Gemini generateContent / streamGenerateContent: GenerateContentResponse
// chunks (SSE data: lines with ?alt=sse, else one JSON array), finishReason
// and usageMetadata on the last chunk.

func geminiUsage(u Usage) map[string]any {
	return map[string]any{
		"promptTokenCount":        u.InputTokens,
		"cachedContentTokenCount": u.CachedInputTokens,
		"candidatesTokenCount":    u.OutputTokens,
		"thoughtsTokenCount":      0,
		"totalTokenCount":         u.InputTokens + u.OutputTokens,
	}
}

func writeGemini(w http.ResponseWriter, r *http.Request, p *parsed, a answer) {
	respID := fmt.Sprintf("scripted-%d", a.id)
	chunk := func(parts []any, last bool) map[string]any {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
		c := map[string]any{"candidates": []any{cand}, "modelVersion": p.model, "responseId": respID}
		if last {
			cand["finishReason"] = "STOP"
			c["usageMetadata"] = geminiUsage(a.usage)
		}
		return c
	}
	var out []map[string]any
	switch {
	case a.call != nil:
		out = []map[string]any{chunk([]any{map[string]any{"functionCall": map[string]any{"name": a.call.name, "args": argsObject(a.call.args)}}}, true)}
	case !p.stream:
		out = []map[string]any{chunk([]any{map[string]any{"text": a.text}}, true)}
	default:
		cs := chunks(a.text)
		for i, c := range cs {
			out = append(out, chunk([]any{map[string]any{"text": c}}, i == len(cs)-1))
		}
	}
	if !p.stream {
		writeJSON(w, http.StatusOK, out[0])
		return
	}
	if r.URL.Query().Get("alt") != "sse" {
		b, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(b) //nolint:errcheck // the client went away
		return
	}
	e := newSSE(w)
	for _, c := range out {
		e.send("", c)
	}
}
