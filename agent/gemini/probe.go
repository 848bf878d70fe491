package gemini

import (
	"context"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// flagsUsed are the options of --help this adapter relies on.
var flagsUsed = []string{"--prompt", "--output-format", "stream-json", "--approval-mode", "yolo", "--resume", "--skip-trust"}

// Probe checks that the CLI is there and knows the flags used.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	return cli.Probe(ctx, env, a.probeSpec())
}

// Locate finds the executable without running it (see cli.Locate).
func (a *Agent) Locate(env []string) agentorg.Probe { return cli.Locate(env, a.probeSpec()) }

func (a *Agent) probeSpec() cli.ProbeSpec {
	return cli.ProbeSpec{
		Binary:  a.cfg.Binary,
		Help:    []string{"--help"},
		Flags:   flagsUsed,
		Lacks:   "gemini %s does not support %s",
		Install: "install the Gemini CLI: npm install -g @google/gemini-cli@0.61.0",
		Upgrade: "upgrade the Gemini CLI: npm install -g @google/gemini-cli@0.61.0",
	}
}
