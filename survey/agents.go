package survey

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/workflow"
)

// CLIs are the coding CLIs looked for on PATH, in the order one is chosen
// when several are installed: a fixed order, so that the same machine
// always gets the same workflow.
var CLIs = []string{workflow.AgentClaude, workflow.AgentCodex, workflow.AgentGemini, workflow.AgentOpenCode, workflow.AgentAider}

// Roles are the roles of the default workflow that run an agent, in the
// order they act.
var Roles = []string{agentorg.RolePM, agentorg.RoleDeveloper, agentorg.RoleValidator, agentorg.RoleTriage}

// DefaultOpenAIURL is where the built-in agent looks when not told: Ollama's
// OpenAI-compatible endpoint.
const DefaultOpenAIURL = "http://127.0.0.1:11434/v1"

// Found is a coding CLI found on PATH.
type Found struct {
	Kind, Path string
}

// Installed finds each of CLIs in path (a PATH value), in CLIs' order.
func Installed(path string) []Found {
	env := []string{"PATH=" + path}
	var out []Found
	for _, kind := range CLIs {
		if p, err := cli.LookPath(kind, env); err == nil {
			out = append(out, Found{Kind: kind, Path: p})
		}
	}
	return out
}

// AgentFlags are the user's choices: a kind (one of CLIs, openai, or
// command with Command) for every role, per role, or neither.
type AgentFlags struct {
	Default string            // --agent
	Roles   map[string]string // role → kind: --pm-agent, --developer-agent, ...
	Command []string          // --agent-command: the command agent's argv
	// OpenAIURL and OpenAIModel configure the built-in agent (kind openai).
	OpenAIURL, OpenAIModel string
}

// AgentPlan is what init writes: one agent per distinct kind, named after
// it, the agent of each role, and a line per agent saying why.
type AgentPlan struct {
	Agents []workflow.AgentOptions
	Roles  map[string]string // role → agent name
	Lines  []string
}

// choice is one role's agent kind and the flag that chose it ("" when
// found on PATH).
type choice struct{ kind, flag string }

// PlanAgents decides each role's agent from the flags, else from the CLIs
// installed (the first of CLIs found).
func PlanAgents(f AgentFlags, installed []Found) (AgentPlan, error) {
	chosen := map[string]choice{}
	for _, r := range Roles {
		c, err := roleChoice(f, r, installed)
		if err != nil {
			return AgentPlan{}, err
		}
		chosen[r] = c
	}
	if len(f.Command) > 0 && !usesKind(chosen, workflow.AgentCommand) {
		return AgentPlan{}, fmt.Errorf("--agent-command is given but every role has another agent: drop it, or give it to a role (e.g. --developer-agent command)")
	}
	if usesKind(chosen, workflow.AgentOpenAI) && f.OpenAIModel == "" {
		return AgentPlan{}, fmt.Errorf("the built-in agent (openai) needs --openai-model: the model its endpoint serves (endpoint: --openai-url, default %s, Ollama's)", DefaultOpenAIURL)
	}
	plan := AgentPlan{Roles: map[string]string{}}
	for _, r := range Roles {
		kind := chosen[r].kind
		plan.Roles[r] = kind
		if !slices.ContainsFunc(plan.Agents, func(a workflow.AgentOptions) bool { return a.Name == kind }) {
			plan.Agents = append(plan.Agents, agentOptions(kind, f))
		}
	}
	for _, a := range plan.Agents {
		plan.Lines = append(plan.Lines, line(a, chosen, f, installed))
	}
	return plan, nil
}

// roleChoice is the agent kind of role r: its own flag, else --agent, else
// --agent-command, else the first CLI installed.
func roleChoice(f AgentFlags, r string, installed []Found) (choice, error) {
	var c choice
	switch {
	case f.Roles[r] != "":
		c = choice{f.Roles[r], "--" + r + "-agent"}
	case f.Default != "":
		c = choice{f.Default, "--agent"}
	case len(f.Command) > 0:
		c = choice{workflow.AgentCommand, "--agent-command"}
	case len(installed) > 0:
		return choice{kind: installed[0].Kind}, nil
	default:
		return choice{}, fmt.Errorf("no coding agent CLI found on PATH (looked for %s): install one (e.g. npm install -g @anthropic-ai/claude-code), "+
			"or name one with --agent KIND, or run your own program with --agent-command PROG,ARG... (docs/agent-protocol.md)", strings.Join(CLIs, ", "))
	}
	switch {
	case c.kind == workflow.AgentCommand && len(f.Command) == 0:
		return choice{}, fmt.Errorf("%s command needs --agent-command PROG,ARG...: the program to run (docs/agent-protocol.md)", c.flag)
	case c.kind != workflow.AgentCommand && c.kind != workflow.AgentOpenAI && !slices.Contains(CLIs, c.kind):
		return choice{}, fmt.Errorf("%s %q is not an agent kind: use one of %s, openai (the built-in agent), or command (with --agent-command)",
			c.flag, c.kind, strings.Join(CLIs, ", "))
	}
	return c, nil
}

func usesKind(chosen map[string]choice, kind string) bool {
	for _, c := range chosen {
		if c.kind == kind {
			return true
		}
	}
	return false
}

// agentOptions is the workflow agent written for kind. The CLIs are named,
// not given by path: the workflow is shared, and each machine's PATH finds
// its own.
func agentOptions(kind string, f AgentFlags) workflow.AgentOptions {
	a := workflow.AgentOptions{Name: kind, Kind: kind}
	switch kind {
	case workflow.AgentCommand:
		a.Command = f.Command
	case workflow.AgentOpenAI:
		a.BaseURL, a.Model = f.OpenAIURL, f.OpenAIModel
		if a.BaseURL == "" {
			a.BaseURL = DefaultOpenAIURL
		}
	}
	return a
}

// line says which roles an agent serves and why it was chosen:
// "claude for every role (found /usr/local/bin/claude; also on PATH: codex)".
func line(a workflow.AgentOptions, chosen map[string]choice, f AgentFlags, installed []Found) string {
	var roles, flags []string
	for _, r := range Roles {
		if c := chosen[r]; c.kind == a.Name {
			roles = append(roles, r)
			if c.flag != "" && !slices.Contains(flags, c.flag) {
				flags = append(flags, c.flag)
			}
		}
	}
	var why []string
	if len(flags) > 0 {
		why = append(why, strings.Join(flags, ", "))
	}
	switch a.Kind {
	case workflow.AgentCommand:
		why = append(why, "runs "+strings.Join(f.Command, " "))
	case workflow.AgentOpenAI:
		why = append(why, fmt.Sprintf("built in, model %s at %s", a.Model, a.BaseURL))
	default:
		why = append(why, where(a.Kind, installed))
		if len(flags) == 0 {
			why = append(why, others(a.Kind, installed)...)
		}
	}
	return fmt.Sprintf("%s for %s (%s)", a.Name, rolesText(roles), strings.Join(why, "; "))
}

// where says where a CLI was found, or that it was not.
func where(kind string, installed []Found) string {
	for _, f := range installed {
		if f.Kind == kind {
			return "found " + f.Path
		}
	}
	return "not found on PATH: install it before agentorg serve; agentorg check warns until then"
}

// others names the CLIs on PATH that were not chosen, and how to choose one.
func others(kind string, installed []Found) []string {
	var names []string
	for _, f := range installed {
		if f.Kind != kind {
			names = append(names, f.Kind)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return []string{"also on PATH: " + strings.Join(names, ", "),
		fmt.Sprintf("the first found of %s is chosen; another: --agent KIND, or per role --pm-agent, --developer-agent, --validator-agent, --triage-agent", strings.Join(CLIs, ", "))}
}

// rolesText is "every role" or the roles listed: "pm, developer and triage".
func rolesText(roles []string) string {
	switch {
	case len(roles) == len(Roles):
		return "every role"
	case len(roles) == 1:
		return roles[0]
	}
	return strings.Join(roles[:len(roles)-1], ", ") + " and " + roles[len(roles)-1]
}
