package codex

import (
	"fmt"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format prints turns as `codex exec --json` of codex-cli 0.169.0 does,
// for the contract suite's fake.
type format struct{ agenttest.Stdin }

func (format) Resumed(args []string) string { return agenttest.ArgAfter(args, "resume") }

func (format) NewSession() string { return agenttest.UUID() }

func (format) Begin(p *agenttest.Play) {
	fmt.Fprintf(p.Out, `{"type":"thread.started","thread_id":%q}`+"\n", p.Session)
	fmt.Fprintln(p.Out, `{"type":"turn.started"}`)
	p.Told = true
}

// End prints the turn; turn.completed carries the thread's running total,
// and Codex reports no cost.
func (format) End(p *agenttest.Play) agentorg.Usage {
	if e := p.Turn.Error; e != "" {
		fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "error", "message": e}))
		fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "turn.failed", "error": map[string]any{"message": e}}))
		return agentorg.Usage{}
	}
	if s := p.Turn.Summary; s != "" {
		fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "item.completed",
			"item": map[string]any{"id": "item_0", "type": "agent_message", "text": s}}))
	}
	u := p.Turn.Usage
	u.CostUSD = 0
	total := p.Prior.Add(u)
	fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "turn.completed", "usage": map[string]any{
		"input_tokens": total.InputTokens, "cached_input_tokens": total.CachedTokens,
		"cache_write_input_tokens": 0, "output_tokens": total.OutputTokens, "reasoning_output_tokens": 0}}))
	return u
}
