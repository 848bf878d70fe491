package gemini

import (
	"fmt"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format prints turns as gemini 0.61.0's stream-json output does (captured
// from the real CLI against a scripted model server), for the contract
// suite's fake.
type format struct{ agenttest.Stdin }

const ts = "2026-11-25T15:40:00.000Z"

func (format) Resumed(args []string) string { return agenttest.ArgAfter(args, "--resume") }

func (format) NewSession() string { return agenttest.UUID() }

func (format) Begin(p *agenttest.Play) {
	fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "init", "timestamp": ts, "session_id": p.Session, "model": "auto"}))
	fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "message", "timestamp": ts, "role": "user", "content": p.Prompt}))
	p.Told = true
}

// End prints the turn; the result's stats are this process's usage.
func (format) End(p *agenttest.Play) agentorg.Usage {
	t := p.Turn
	if t.Summary != "" {
		fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "message", "timestamp": ts, "role": "assistant", "content": t.Summary, "delta": true}))
	}
	u := t.Usage
	u.CostUSD = 0
	result := map[string]any{"type": "result", "timestamp": ts, "status": "success",
		"stats": map[string]any{"total_tokens": u.InputTokens + u.OutputTokens, "input_tokens": u.InputTokens,
			"output_tokens": u.OutputTokens, "cached": u.CachedTokens, "input": u.InputTokens - u.CachedTokens}}
	if t.Error != "" {
		fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "error", "timestamp": ts, "severity": "error", "message": t.Error}))
		result["status"] = "error"
		result["error"] = map[string]any{"type": "ApiError", "message": t.Error}
	}
	fmt.Fprintln(p.Out, agenttest.JSON(result))
	return u
}
