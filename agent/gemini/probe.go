package gemini

import "github.com/agentorg/agentorg/agent/cli"

// flagsUsed are the options of --help this adapter relies on.
var flagsUsed = []string{"--prompt", "--output-format", "stream-json", "--approval-mode", "yolo", "--resume", "--skip-trust"}

// probeSpec checks that the CLI is there and knows the flags used.
var probeSpec = cli.ProbeSpec{
	Help:    []string{"--help"},
	Flags:   flagsUsed,
	Lacks:   "gemini %s does not support %s",
	Install: "install the Gemini CLI: npm install -g @google/gemini-cli@0.61.0",
	Upgrade: "upgrade the Gemini CLI: npm install -g @google/gemini-cli@0.61.0",
}
