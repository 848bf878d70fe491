package claude

import "github.com/agentorg/agentorg/agent/cli"

// requiredFlags are what `claude --help` must mention for the command lines
// this package builds; older versions lack some of them. --max-turns works
// but is not in the help of 2.1.x, so it cannot be checked this way.
var requiredFlags = []string{"--print", "--output-format", "stream-json", "--verbose",
	"--resume", "--permission-mode", "acceptEdits", "dontAsk", "--disallowedTools", "--model"}

// probeSpec checks that Claude Code is installed and that it supports the
// flags used here.
var probeSpec = cli.ProbeSpec{
	Help:    []string{"--help"},
	Flags:   requiredFlags,
	Lacks:   "claude %s lacks %s",
	Name:    "Claude Code",
	Package: "@anthropic-ai/claude-code",
	Tested:  "2.1.332", // as pinned in .ci/install-clis
	Broken:  "check that node is in the agent's PATH and that claude runs, or reinstall Claude Code",
}
