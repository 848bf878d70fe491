package codex

import (
	"context"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// requiredFlags are what `codex exec --help` must mention for the command
// lines this package builds; older versions lack some of them.
var requiredFlags = []string{"--json", "--skip-git-repo-check", "--disable", "--config", "resume"}

// Probe checks that Codex is installed and that its `exec` supports the
// flags used here.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	return cli.Probe(ctx, env, a.probeSpec())
}

// Locate finds the executable without running it (see cli.Locate).
func (a *Agent) Locate(env []string) agentorg.Probe { return cli.Locate(env, a.probeSpec()) }

func (a *Agent) probeSpec() cli.ProbeSpec {
	return cli.ProbeSpec{
		Binary:  a.cfg.Binary,
		Help:    []string{"exec", "--help"},
		Flags:   requiredFlags,
		Lacks:   "codex exec of %s lacks %s",
		Install: "install Codex: npm install -g @openai/codex (or set the agent's binary to its path)",
		Broken:  "check that node is in the agent's PATH and that codex runs, or reinstall Codex",
		Upgrade: "upgrade Codex: npm install -g @openai/codex@latest",
	}
}
