package cli

import (
	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/sandbox"
)

// CacheState is the state every CLI may write: the user's caches (yarn,
// pip, bun and the like keep theirs there), and npm's, which is ~/.npm
// (a developer installs a package's dependencies in its worktree: npm
// cannot without writing its cache, nor npx run). npm checks what it
// takes from its cache against the lockfile's integrity hashes.
var CacheState = []string{"$XDG_CACHE_HOME/", "~/.cache/", "~/.npm/"}

// confinement is the policy of a task run by a tool keeping its state in
// state (Spec.State), or nil when the task is not confined.
func confinement(t agentorg.Task, state, env []string) *sandbox.Policy {
	if t.Confine == nil {
		return nil
	}
	p := sandbox.Policy(*t.Confine)
	p.Writable = append(append([]string(nil), p.Writable...), sandbox.Paths(state, env)...)
	return &p
}
