package claude

import (
	"fmt"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format prints turns as `claude -p --output-format stream-json --verbose`
// of Claude Code 2.1.332 does, for the contract suite's fake.
type format struct{ agenttest.Stdin }

func (format) Resumed(args []string) string { return agenttest.ArgAfter(args, "--resume") }

func (format) NewSession() string { return agenttest.UUID() }

func (format) Begin(p *agenttest.Play) {
	fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "system", "subtype": "init",
		"session_id": p.Session, "permissionMode": "acceptEdits", "claude_code_version": "2.1.332"}))
	p.Told = true
}

// End prints the turn: the result's tokens are this process's, its cost
// the session's running total; cache reads are apart from input_tokens.
func (format) End(p *agenttest.Play) agentorg.Usage {
	t := p.Turn
	text := t.Summary
	if t.Error != "" {
		text = t.Error
	} else if text != "" {
		fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "assistant", "session_id": p.Session,
			"message": map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "text", "text": text}}}}))
	}
	u := t.Usage
	fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "result", "subtype": "success",
		"is_error": t.Error != "", "result": text, "session_id": p.Session,
		"total_cost_usd": p.Prior.CostUSD + u.CostUSD, "permission_denials": []any{},
		"usage": map[string]any{"input_tokens": u.InputTokens - u.CachedTokens,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": u.CachedTokens, "output_tokens": u.OutputTokens}}))
	return u
}
