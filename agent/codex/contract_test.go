package codex

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
	return agenttest.Suite{Rig: rig, BadIDs: []string{"--last", "a b"}, Confine: agenttest.Confined}
}

func TestContract(t *testing.T) {
	suite(agenttest.Fake{New: func(c cli.Config) agentorg.Agent { return New(c) }}.Rig).Run(t)
}

func TestContractReal(t *testing.T) { suite(realCLI.Rig).Run(t) }

// realCLI is Codex against the scripted model server, for the suite and
// the package's own real tests.
var realCLI = agenttest.Real{
	CLI: "codex",
	New: func(c cli.Config, url string) agentorg.Agent {
		c.Model = "gpt-5.5" // a slug Codex knows, so that it declares apply_patch
		c.Args = []string{"-c", `model_providers.scripted={name="scripted",base_url="` + url +
			`/v1",wire_api="responses",env_key="SCRIPTED_API_KEY",request_max_retries=0,stream_max_retries=0}`,
			"-c", "model_provider=scripted"}
		return New(c)
	},
	Env: func(*testing.T, clitest.Home, string) []string {
		return []string{"SCRIPTED_API_KEY=not-a-real-key"}
	},
	Counts: func(r modelserver.Request) bool { return r.API == "responses" },
}
