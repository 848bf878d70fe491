package codex

import (
	"testing"

	"github.com/agentorg/agentorg/agent/clitest"
)

// The version the fixes name is the one the tests install.
func TestTestedVersionIsThePin(t *testing.T) {
	if pin := clitest.Pins(t)[probeSpec.Package]; pin == "" || pin != probeSpec.Tested {
		t.Errorf("probeSpec tests %s@%s, .ci/install-clis pins %q", probeSpec.Package, probeSpec.Tested, pin)
	}
}
