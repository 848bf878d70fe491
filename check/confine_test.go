package check

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	sandbox.Main() // confined checks start through the test binary
	os.Exit(m.Run())
}

// A check runs code an agent wrote: confined, a test that writes outside
// its checkout is refused, while writing beside itself and in its TMPDIR
// works.
func TestConfinedCheckWritesOnlyItsCheckout(t *testing.T) {
	sandboxtest.Need(t)
	home := filepath.Join(t.TempDir(), "home")
	checkout := filepath.Join(home, "checkouts", "slots", "1")
	if err := os.MkdirAll(checkout, 0o755); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(home, "agentorg.db")
	c := Check{Name: "test", Run: "echo ok > out.txt && echo t > \"$TMPDIR/t\" && echo x >> " + escape,
		Confine: &sandbox.Policy{Hidden: []string{home}, Writable: []string{checkout}}}
	res := Run(context.Background(), checkout, proc.BaseEnv(), c, nil)
	if res.Passed || !strings.Contains(res.Output, "Permission denied") {
		t.Fatalf("the write outside was not refused: %+v", res)
	}
	if _, err := os.Stat(escape); err == nil {
		t.Fatalf("the check wrote %s", escape)
	}
	if b, err := os.ReadFile(filepath.Join(checkout, "out.txt")); err != nil || string(b) != "ok\n" {
		t.Fatalf("the check could not write its checkout: %q %v", b, err)
	}
}
