package codex

import (
	"testing"

	"github.com/agentorg/agentorg/agent/cli/fakecli"
)

// The test binary doubles as a fake `codex` (fakecli.Canned): with
// FAKE_CODEX=1 in its environment it records how it was run and prints the
// canned output the test chose, so the tests drive a real subprocess
// through the real pipes, process group and timeouts.
func TestMain(m *testing.M) { fakecli.Main(m, "FAKE_CODEX", fakecli.Canned) }

func newFake(t *testing.T, stdout string, env ...string) *fakecli.Fake {
	t.Helper()
	return fakecli.New(t, "FAKE_CODEX", stdout, env...)
}
