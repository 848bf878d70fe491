package aider

import (
	"os"
	"testing"

	"github.com/agentorg/agentorg/agent/agenttest"
)

// The test binary doubles as a fake aider, which cannot be installed here,
// so that the tests drive a real subprocess through the real pipes, process
// group and timeouts: it plays the contract suite's turns as aider's source
// says aider does (format).
func TestMain(m *testing.M) {
	agenttest.ActAs(format{})
	os.Exit(m.Run())
}
