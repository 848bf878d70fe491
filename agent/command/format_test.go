package command

import (
	"fmt"
	"os"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format plays turns as docs/agent-protocol.md says an agent prints them,
// for the contract suite's fake.
type format struct{ agenttest.Stdin }

func (format) Resumed([]string) string { return os.Getenv(EnvSession) }

func (format) NewSession() string { return "fake-" + agenttest.RandomID(16) }

// Begin tells no session: the protocol gives it in the result line.
func (format) Begin(p *agenttest.Play) {
	fmt.Fprintln(p.Out, `{"type":"message","text":"working"}`)
}

func (format) End(p *agenttest.Play) agentorg.Usage {
	t := p.Turn
	fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "usage", "input_tokens": t.Usage.InputTokens,
		"cached_tokens": t.Usage.CachedTokens, "output_tokens": t.Usage.OutputTokens, "cost_usd": t.Usage.CostUSD}))
	fmt.Fprintln(p.Out, agenttest.JSON(map[string]any{"type": "result", "session_id": p.Session,
		"summary": t.Summary, "is_error": t.Error != "", "error": t.Error}))
	return t.Usage
}
