package role_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
)

// A run killed with its engine leaves its temporary directory in the
// home; the next engine start removes it (docs/lifecycle.md I8).
func TestEngineStartRemovesKilledRunsTemporaryDirectories(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: "steps: []\n"})
	left := filepath.Join(role.TempRoot(org.Home), "agentorg-run-1234", "go-build")
	if err := os.MkdirAll(left, 0o755); err != nil {
		t.Fatal(err)
	}
	org.Engine(t, app.EngineOptions{})
	if _, err := os.Stat(role.TempRoot(org.Home)); err == nil {
		t.Fatalf("%s survived the engine's start", role.TempRoot(org.Home))
	}
}

// A confined run's TMPDIR lies in the home's temporary root (so that a
// start after a kill clears it), and is gone once the run ends.
func TestConfinedRunsTMPDIRIsInTheHome(t *testing.T) {
	sandboxtest.Need(t)
	script := `
steps:
  - match: {role: pm}
    actions: [{shell: "echo \"$TMPDIR\""}]
    summary: plan
  - match: {role: developer}
    summary: nothing to change
`
	org := orgtest.New(t, orgtest.Options{Script: script})
	start(t, org, "No criteria.")
	logs, _ := filepath.Glob(filepath.Join(org.Home, "runs", "*.log"))
	var all strings.Builder
	for _, p := range logs {
		b, _ := os.ReadFile(p)
		all.Write(b)
	}
	root := role.TempRoot(org.Home) + string(filepath.Separator) + "agentorg-run-"
	if !strings.Contains(all.String(), root) {
		t.Fatalf("no run's TMPDIR in %s:\n%s", root, all.String())
	}
	if left, _ := filepath.Glob(root + "*"); len(left) > 0 {
		t.Fatalf("TMPDIRs outlived their runs: %v", left)
	}
}
