package claude

import (
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// suite is the agent contract for this adapter, on rig.
func suite(rig func(*testing.T) agenttest.Rig) agenttest.Suite {
	return agenttest.Suite{Rig: rig, BadIDs: []string{"--continue", "a b"}, Confine: agenttest.Confined}
}

// newAgent is the adapter with the runner's settings.
func newAgent(c cli.Config) agentorg.Agent {
	return New(Config{Binary: c.Binary, Model: c.Model, Args: c.Args, Timeout: c.Timeout, StallTimeout: c.StallTimeout})
}

func TestContract(t *testing.T) {
	suite(agenttest.Fake{New: newAgent}.Rig).Run(t)
}

func TestContractReal(t *testing.T) { suite(realCLI.Rig).Run(t) }

// realCLI is Claude Code against the scripted model server, for the suite
// and the package's own real tests.
var realCLI = agenttest.Real{
	CLI: "claude",
	New: func(c cli.Config, _ string) agentorg.Agent { return newAgent(c) },
	Env: func(_ *testing.T, _ clitest.Home, url string) []string {
		return []string{"ANTHROPIC_BASE_URL=" + url, "ANTHROPIC_API_KEY=not-a-real-key",
			"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"}
	},
	Counts:       func(r modelserver.Request) bool { return r.API == "messages" },
	PricesItself: true,
}
