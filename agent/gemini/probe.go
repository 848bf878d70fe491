package gemini

import "github.com/agentorg/agentorg/agent/cli"

// flagsUsed are the options of --help this adapter relies on.
var flagsUsed = []string{"--prompt", "--output-format", "stream-json", "--approval-mode", "yolo", "--resume", "--skip-trust"}

// probeSpec checks that the CLI is there and knows the flags used.
var probeSpec = cli.ProbeSpec{
	Help:    []string{"--help"},
	Flags:   flagsUsed,
	Lacks:   "gemini %s does not support %s",
	Name:    "the Gemini CLI",
	Package: "@google/gemini-cli",
	Tested:  "0.61.0", // as pinned in .ci/install-clis
}
