package gemini

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// suite is the agent contract for this adapter, on rig.
func suite(rig func(*testing.T) agenttest.Rig) agenttest.Suite {
	return agenttest.Suite{Rig: rig, BadIDs: []string{"latest", "5", "--yolo", "a b", "../x"}, Confine: agenttest.Confined}
}

func TestContract(t *testing.T) {
	suite(agenttest.Fake{New: func(c cli.Config) agentorg.Agent { return New(c) }}.Rig).Run(t)
}

func TestContractReal(t *testing.T) { suite(realCLI.Rig).Run(t) }

// realCLI is the Gemini CLI against the scripted model server, for the
// suite and the package's own real tests.
var realCLI = agenttest.Real{
	CLI: "gemini",
	New: func(c cli.Config, _ string) agentorg.Agent {
		c.Model = "gemini-2.5-flash" // no router request
		return New(c)
	},
	Env:    realEnv,
	Counts: func(r modelserver.Request) bool { return r.API == "gemini" },
}

// realEnv is what the package comment tells workflows to give the CLI:
// settings that select API-key auth in its home, the key and the endpoint.
func realEnv(t *testing.T, home clitest.Home, url string) []string {
	if err := os.MkdirAll(filepath.Join(home.Dir, ".gemini"), 0o755); err != nil {
		t.Fatal(err)
	}
	settings := `{"security":{"auth":{"selectedType":"gemini-api-key"}}}`
	if err := os.WriteFile(filepath.Join(home.Dir, ".gemini", "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"GEMINI_API_KEY=scripted", "GOOGLE_GEMINI_BASE_URL=" + url, "GEMINI_CLI_TRUST_WORKSPACE=true"}
}
