package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/aider"
	"github.com/agentorg/agentorg/agent/claude"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/codex"
	"github.com/agentorg/agentorg/agent/command"
	"github.com/agentorg/agentorg/agent/gemini"
	"github.com/agentorg/agentorg/agent/openai"
	"github.com/agentorg/agentorg/agent/opencode"
	"github.com/agentorg/agentorg/workflow"
)

// NewAgent builds the adapter for a workflow agent. home holds what an agent
// keeps between runs (the built-in agent's sessions).
func NewAgent(a workflow.Agent, home string) (agentorg.Agent, error) {
	var ag agentorg.Agent
	switch a.Kind {
	case workflow.AgentCommand:
		ag = command.New(command.Config{Command: a.Command, Timeout: a.Timeout, StallTimeout: a.StallTimeout})
	case workflow.AgentCodex:
		ag = codex.New(codex.Config{Binary: a.Binary, Model: a.Model, Args: a.Args, Timeout: a.Timeout, StallTimeout: a.StallTimeout})
	case workflow.AgentClaude:
		ag = claude.New(claude.Config{Binary: a.Binary, Model: a.Model, Args: a.Args, Timeout: a.Timeout, StallTimeout: a.StallTimeout, MaxTurns: a.MaxTurns})
	case workflow.AgentGemini:
		ag = gemini.New(gemini.Config{Binary: a.Binary, Model: a.Model, Args: a.Args, Timeout: a.Timeout, StallTimeout: a.StallTimeout})
	case workflow.AgentOpenCode:
		ag = opencode.New(opencode.Config{Binary: a.Binary, Model: a.Model, Args: a.Args, Timeout: a.Timeout, StallTimeout: a.StallTimeout})
	case workflow.AgentAider:
		ag = aider.New(aider.Config{Binary: a.Binary, Model: a.Model, Args: a.Args, Timeout: a.Timeout, StallTimeout: a.StallTimeout})
	case workflow.AgentOpenAI:
		oa, err := openai.New(openai.Config{
			BaseURL: a.BaseURL, Model: a.Model, APIKeyEnv: a.APIKeyEnv, Commands: a.Commands,
			MaxTurns: a.MaxTurns, StateDir: filepath.Join(home, "sessions", a.Name),
			Timeout: a.Timeout, StallTimeout: a.StallTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("agent %q: %w", a.Name, err)
		}
		ag = oa
	default:
		return nil, fmt.Errorf("agent %q: kind %q is not supported by this build", a.Name, a.Kind)
	}
	if a.Price != (workflow.Price{}) {
		ag = priced{Agent: ag, price: a.Price}
	}
	return ag, nil
}

// priced fills in the cost of runs whose tool reports tokens but no cost,
// from the workflow's price table.
type priced struct {
	agentorg.Agent
	price workflow.Price
}

func (p priced) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	res, err := p.Agent.Start(ctx, t)
	return p.cost(res), err
}

func (p priced) Resume(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	res, err := p.Agent.Resume(ctx, session, t)
	return p.cost(res), err
}

func (p priced) cost(r agentorg.Result) agentorg.Result {
	if r.Usage.CostUSD == 0 {
		r.Usage.CostUSD = p.price.Cost(r.Usage.InputTokens, r.Usage.CachedTokens, r.Usage.OutputTokens)
	}
	return r
}

// Probe checks one workflow agent's installation as `agentorg agents`
// reports it: its env first (a variable that is not set stops the agent),
// then the adapter's own probe (executable, version, flags; the built-in
// agent's endpoint). Agents whose adapter cannot check itself (kind
// command) are looked up in the agent's PATH.
func Probe(ctx context.Context, a workflow.Agent, home string) agentorg.Probe {
	if problem, fix := a.Unready(); problem != "" {
		return agentorg.Probe{Problem: problem, Fix: fix}
	}
	return inspect(a, home, func(ag agentorg.Agent, env []string) (agentorg.Probe, bool) {
		p, ok := ag.(agentorg.Prober)
		if !ok {
			return agentorg.Probe{}, false
		}
		return p.Probe(ctx, env), true
	})
}

// locator is implemented by the CLI adapters: find the executable without
// running it.
type locator interface {
	Locate(env []string) agentorg.Probe
}

// Locate is the quick part of Probe: the agent's executable looked up in
// the agent's PATH, nothing run, so that `agentorg check` stays instant. An
// agent without an executable (the built-in openai one) passes.
func Locate(a workflow.Agent, home string) agentorg.Probe {
	return inspect(a, home, func(ag agentorg.Agent, env []string) (agentorg.Probe, bool) {
		l, ok := ag.(locator)
		if !ok {
			return agentorg.Probe{}, false
		}
		return l.Locate(env), true
	})
}

// inspect builds a's adapter and asks check about it with the environment
// the agent would run with; when check cannot (ok false), a command agent's
// program is looked up in that environment's PATH.
func inspect(a workflow.Agent, home string, check func(ag agentorg.Agent, env []string) (p agentorg.Probe, ok bool)) agentorg.Probe {
	ag, err := NewAgent(a, home)
	if err != nil {
		return agentorg.Probe{Problem: err.Error(), Fix: "fix the agent in the workflow file (agentorg check)"}
	}
	if pa, ok := ag.(priced); ok {
		ag = pa.Agent
	}
	env := AgentEnv(&a)
	if p, ok := check(ag, env); ok || a.Kind != workflow.AgentCommand || len(a.Command) == 0 {
		return p
	}
	path, err := cli.LookPath(a.Command[0], env)
	if err != nil {
		return agentorg.Probe{Problem: err.Error(), Fix: fmt.Sprintf("install %s or give its full path in agents.%s.command", a.Command[0], a.Name)}
	}
	return agentorg.Probe{Path: path}
}
