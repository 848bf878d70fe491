package gemini

import (
	"testing"

	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
)

// The test binary doubles as a fake Gemini CLI, so that the tests drive a
// real subprocess through the real pipes, process group and timeouts: for
// the contract suite it plays turns in the CLI's format, and with
// FAKE_GEMINI=1 in its environment it records how it was run and prints the
// canned output the test chose (fakecli.Canned).
func TestMain(m *testing.M) {
	agenttest.ActAs(format{})
	fakecli.Main(m, "FAKE_GEMINI", fakecli.Canned)
}

func newFake(t *testing.T, stdout string, env ...string) *fakecli.Fake {
	t.Helper()
	return fakecli.New(t, "FAKE_GEMINI", stdout, env...)
}

// withMaxLine is a with a smaller limit on the stdout lines it parses.
func withMaxLine(a *Agent, n int) *Agent {
	tl := a.Tool()
	tl.MaxLine = n
	return cli.New(tl)
}
