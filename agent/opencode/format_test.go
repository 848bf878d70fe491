package opencode

import (
	"fmt"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format prints turns as opencode 1.18.33's `run --format json` output does
// (captured from the real CLI against the scripted model server), for the
// contract suite's fake.
type format struct{ agenttest.Stdin }

func (format) Resumed(args []string) string { return agenttest.ArgAfter(args, "--session") }

func (format) NewSession() string { return "ses_" + agenttest.RandomID(26) }

// line is one output line: every one carries the session.
func line(p *agenttest.Play, typ string, fields map[string]any) {
	fields["type"], fields["timestamp"], fields["sessionID"] = typ, 1795621661554, p.Session
	fmt.Fprintln(p.Out, agenttest.JSON(fields))
}

func (format) Begin(p *agenttest.Play) {
	line(p, "step_start", map[string]any{"part": map[string]any{"type": "step-start", "sessionID": p.Session}})
	p.Told = true
}

// End prints the turn's last step: tokens are per step, input without the
// cached part. An error comes after the step, as a model API error does.
func (format) End(p *agenttest.Play) agentorg.Usage {
	t := p.Turn
	if t.Summary != "" {
		line(p, "text", map[string]any{"part": map[string]any{"type": "text", "text": t.Summary}})
	}
	u := t.Usage
	line(p, "step_finish", map[string]any{"part": map[string]any{"type": "step-finish", "reason": "stop", "cost": u.CostUSD,
		"tokens": map[string]any{"input": u.InputTokens - u.CachedTokens, "output": u.OutputTokens, "reasoning": 0,
			"cache": map[string]any{"read": u.CachedTokens, "write": 0}}}})
	if t.Error != "" {
		line(p, "error", map[string]any{"error": map[string]any{"name": "APIError", "data": map[string]any{"message": t.Error}}})
	}
	return u
}
