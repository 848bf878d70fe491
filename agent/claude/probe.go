package claude

import (
	"context"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// requiredFlags are what `claude --help` must mention for the command lines
// this package builds; older versions lack some of them. --max-turns works
// but is not in the help of 2.1.x, so it cannot be checked this way.
var requiredFlags = []string{"--print", "--output-format", "stream-json", "--verbose",
	"--resume", "--permission-mode", "acceptEdits", "dontAsk", "--disallowedTools", "--model"}

// Probe checks that Claude Code is installed and that it supports the flags
// used here.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	return cli.Probe(ctx, env, a.probeSpec())
}

// Locate finds the executable without running it (see cli.Locate).
func (a *Agent) Locate(env []string) agentorg.Probe { return cli.Locate(env, a.probeSpec()) }

func (a *Agent) probeSpec() cli.ProbeSpec {
	return cli.ProbeSpec{
		Binary:  a.cfg.Binary,
		Help:    []string{"--help"},
		Flags:   requiredFlags,
		Lacks:   "claude %s lacks %s",
		Install: "install Claude Code: npm install -g @anthropic-ai/claude-code (or set the agent's binary to its path)",
		Broken:  "check that node is in the agent's PATH and that claude runs, or reinstall Claude Code",
		Upgrade: "upgrade Claude Code: npm install -g @anthropic-ai/claude-code@latest",
	}
}
