package claude

import (
	"fmt"
	"io"
	"slices"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format prints turns as `claude -p --output-format stream-json --verbose`
// of Claude Code 2.1.332 does, for the contract suite's fake.
type format struct{}

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
