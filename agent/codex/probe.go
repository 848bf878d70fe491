package codex

import "github.com/agentorg/agentorg/agent/cli"

// requiredFlags are what `codex exec --help` must mention for the command
// lines this package builds; older versions lack some of them.
var requiredFlags = []string{"--json", "--skip-git-repo-check", "--disable", "--config", "resume"}

// probeSpec checks that Codex is installed and that its `exec` supports
// the flags used here.
var probeSpec = cli.ProbeSpec{
	Help:    []string{"exec", "--help"},
	Flags:   requiredFlags,
	Lacks:   "codex exec of %s lacks %s",
	Install: "install Codex: npm install -g @openai/codex (or set the agent's binary to its path)",
	Broken:  "check that node is in the agent's PATH and that codex runs, or reinstall Codex",
	Upgrade: "upgrade Codex: npm install -g @openai/codex@latest",
}
