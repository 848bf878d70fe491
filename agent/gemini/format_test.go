package gemini

import (
	"fmt"
	"io"
	"slices"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format prints turns as gemini 0.61.0's stream-json output does (captured
// from the real CLI against a scripted model server), for the contract
// suite's fake.
type format struct{}

const ts = "2026-11-25T15:40:00.000Z"

func (format) Resumed(args []string) string {
	if i := slices.Index(args, "--resume"); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func (format) NewSession() string {
	id := agenttest.RandomID(32)
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

func (format) Prompt(_ []string, stdin io.Reader) (string, error) {
	b, err := io.ReadAll(stdin)
	return string(b), err
}

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
