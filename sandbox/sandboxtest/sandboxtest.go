// Package sandboxtest helps tests of confined processes.
package sandboxtest

import (
	"os"
	"testing"

	"github.com/agentorg/agentorg/sandbox"
)

// Need skips the test where the kernel cannot confine, except under
// CI=true, where it fails: CI must run it. It returns the Landlock ABI.
func Need(t testing.TB) int {
	t.Helper()
	abi, err := sandbox.Available()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("confinement unavailable under CI: %v", err)
		}
		t.Skipf("confinement unavailable: %v", err)
	}
	return abi
}
