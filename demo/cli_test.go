package demo

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/workflow"
)

// TestDemoWithRealCLI runs the whole lifecycle with a real coding CLI (or
// agentorg's built-in agent) in place of the scripted agent, the scripted model server playing the model:
// plans, edits made by the CLI's own tools, a NO-GO resumed in the same
// session, merges and E2E. Run verifies every outcome; here we also check
// that each attempt's usage is that run's own, not the session's running
// total.
func TestDemoWithRealCLI(t *testing.T) {
	for _, cli := range []string{"codex", "claude", "gemini", BuiltIn} {
		t.Run(cli, func(t *testing.T) {
			if cli != BuiltIn {
				clitest.Find(t, cli) // skips locally, fails under CI, when missing
			}
			home := filepath.Join(t.TempDir(), "home")
			ctx := context.Background()
			if err := Run(ctx, Options{Keep: home, CLI: cli, Out: testWriter(t)}); err != nil {
				t.Fatal(err)
			}
			org, err := app.Open(ctx, app.Options{Home: home, Workflow: filepath.Join(home, "sample", "repo", workflow.DefaultPath)})
			if err != nil {
				t.Fatal(err)
			}
			defer org.Close()
			as, err := org.Log.Attempts(ctx, 2)
			if err != nil {
				t.Fatal(err)
			}
			// Attempt 1 made three model requests (write, write, text),
			// attempt 2 two (edit, text); each request reports 1800 input
			// tokens.
			perRequest := demoModel.Usage.InputTokens
			// (A third attempt, if any, is the re-validation after main moved,
			// which runs no developer.)
			if len(as) < 2 || as[0].Usage.InputTokens != 3*perRequest || as[1].Usage.InputTokens != 2*perRequest {
				t.Fatalf("issue 2 attempts' usage should be per run (%d then %d input tokens), got %+v", 3*perRequest, 2*perRequest, as)
			}
		})
	}
}

// testWriter sends the demo's output to the test log, shown on failure or
// with -v.
func testWriter(t *testing.T) io.Writer { return logWriter{t} }

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
