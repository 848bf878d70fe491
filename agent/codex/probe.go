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
	Name:    "Codex",
	Package: "@openai/codex",
	Tested:  "0.169.0", // as pinned in .ci/install-clis
	Broken:  "check that node is in the agent's PATH and that codex runs, or reinstall Codex",
}
