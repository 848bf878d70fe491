package opencode

import (
	"bytes"
	"encoding/json"
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
	return agenttest.Suite{Rig: rig, AddsEnv: []string{"OPENCODE_DISABLE_AUTOUPDATE"},
		BadIDs: []string{"latest", "--continue", "ses_", "ses_a/b"}, Confine: agenttest.Confined}
}

func TestContract(t *testing.T) {
	suite(agenttest.Fake{New: func(c cli.Config) agentorg.Agent { return New(c) }}.Rig).Run(t)
}

func TestContractReal(t *testing.T) { suite(realCLI.Rig).Run(t) }

// realCLI is OpenCode against the scripted model server, for the suite and
// the package's own real tests.
var realCLI = agenttest.Real{
	CLI: "opencode",
	New: func(c cli.Config, _ string) agentorg.Agent {
		c.Model = "scripted/scripted-model"
		return New(c)
	},
	Env: realEnv,
	// The title request declares no tools and its usage is not counted.
	Counts: func(r modelserver.Request) bool { return r.API == "chat" && bytes.Contains(r.Body, []byte(`"tools"`)) },
}

// realEnv puts the server in the home's global OpenCode config as a
// provider, as the package comment tells workflows to do, so that the
// repository stays clean.
func realEnv(t *testing.T, home clitest.Home, url string) []string {
	cfg := map[string]any{"provider": map[string]any{"scripted": map[string]any{
		"npm":     "@ai-sdk/openai-compatible",
		"name":    "Scripted model",
		"options": map[string]any{"baseURL": url + "/v1", "apiKey": "{env:SCRIPTED_API_KEY}"},
		"models":  map[string]any{"scripted-model": map[string]any{"name": "Scripted model", "tool_call": true}},
	}}}
	data, _ := json.Marshal(cfg)
	dir := filepath.Join(home.Dir, ".config", "opencode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "opencode.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"SCRIPTED_API_KEY=scripted", "OPENCODE_DISABLE_MODELS_FETCH=1"}
}
