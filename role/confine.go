package role

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/workflow"
)

// confine is what the kernel lets an agent of def, run in dir with access,
// touch (docs/lifecycle.md I10): Deps.Confine, plus dir (writable for a
// read-write run, readable for a read-only one: both lie in the hidden
// home), the git directory a linked worktree reads, and the agent's own
// writable paths. nil when runs are not confined.
func (d *Deps) confine(def *workflow.Agent, dir string, access agentorg.Access) *agentorg.Confinement {
	if d.Confine == nil {
		return nil
	}
	c := d.runConfinement(dir, access == agentorg.ReadWrite)
	c.Writable = append(c.Writable, sandbox.Paths(def.Writable, d.AgentEnv(def))...)
	return c
}

// checkConfine is the policy of a check or of the E2E command run in dir:
// they run code an agent wrote, so they are held like the agent, their
// checkout writable (tests write beside themselves). nil when runs are not
// confined.
func (d *Deps) checkConfine(dir string) *sandbox.Policy {
	if d.Confine == nil {
		return nil
	}
	p := sandbox.Policy(*d.runConfinement(dir, true))
	// The checks' own build, module and package caches (app.CheckEnv),
	// which agents cannot write.
	p.Writable = append(p.Writable, sandbox.Paths([]string{"$GOCACHE/", "$GOMODCACHE/", "$npm_config_cache/", "$npm_config_store_dir/", "$YARN_CACHE_FOLDER/"}, d.CheckEnv)...)
	return &p
}

func (d *Deps) runConfinement(dir string, writable bool) *agentorg.Confinement {
	c := &agentorg.Confinement{
		Hidden:   append([]string(nil), d.Confine.Hidden...),
		Readable: append(append([]string(nil), d.Confine.Readable...), gitDirs(dir)...),
		Writable: append([]string(nil), d.Confine.Writable...),
		TempRoot: d.Confine.TempRoot,
	}
	if writable {
		c.Writable = append(c.Writable, dir)
	} else {
		c.Readable = append(c.Readable, dir)
	}
	return c
}

// gitDirs are the directories git reads for a linked worktree in dir: the
// worktree's own git directory, in the mirror, and the mirror's common
// one (config, refs, objects). Read-only: the agent's git can look, never
// commit (agentorg commits what the agent changed). None for a worktree
// that holds its own repository.
func gitDirs(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, ".git"))
	if err != nil {
		return nil // a directory, or no repository
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return nil
	}
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(dir, gitdir)
	}
	dirs := []string{gitdir}
	if b, err := os.ReadFile(filepath.Join(gitdir, "commondir")); err == nil {
		common := strings.TrimSpace(string(b))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitdir, common)
		}
		dirs = append(dirs, filepath.Clean(common))
	}
	return dirs
}
