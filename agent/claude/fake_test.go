package claude

import (
	"testing"

	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
)

// The test binary doubles as a fake `claude`, so that the tests drive a real
// subprocess through the real pipes, process group and timeouts: for the
// contract suite it plays turns in Claude Code's format, and with
// FAKE_CLAUDE=1 in its environment it records how it was run and prints
// the canned output the test chose (fakecli.Canned).
func TestMain(m *testing.M) {
	agenttest.ActAs(format{})
	fakecli.Main(m, "FAKE_CLAUDE", fakecli.Canned)
}

func newFake(t *testing.T, stdout string, env ...string) *fakecli.Fake {
	t.Helper()
	return fakecli.New(t, "FAKE_CLAUDE", stdout, env...)
}
