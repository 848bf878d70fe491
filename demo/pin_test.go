package demo

import (
	"strings"
	"testing"

	"github.com/agentorg/agentorg/agent/clitest"
)

// The packages the demo tells to install are the ones the tests pin.
func TestCLIPackagesAreThePins(t *testing.T) {
	pins := clitest.Pins(t)
	for name, pkg := range cliPackages {
		at := strings.LastIndexByte(pkg, '@')
		if at <= 0 || pins[pkg[:at]] != pkg[at+1:] {
			t.Errorf("demo installs %s for %s, .ci/install-clis pins %v", pkg, name, pins)
		}
	}
}
