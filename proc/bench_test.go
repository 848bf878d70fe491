package proc

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg/sandbox"
)

// What confinement costs a run: `true`, started plain and through the
// confine helper with a policy like the engine's (a hidden home holding
// the run's worktree). go test -run '^$' -bench Run ./proc/
func BenchmarkRun(b *testing.B) {
	home := filepath.Join(b.TempDir(), "home")
	wt := filepath.Join(home, "worktrees", "issue-1")
	if err := os.MkdirAll(wt, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		confine *sandbox.Policy
	}{
		{"unconfined", nil},
		{"confined", &sandbox.Policy{Hidden: []string{home}, Writable: []string{wt}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.confine != nil {
				if _, err := sandbox.Available(); err != nil {
					b.Skip(err)
				}
			}
			for b.Loop() {
				res, err := Run(context.Background(), Spec{Argv: []string{"true"}, Dir: wt, Env: BaseEnv(), Confine: bc.confine})
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}
