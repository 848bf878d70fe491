package role

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/eventlog"
)

// checkRunner runs checks in a clean checkout of one tree, answering from
// the cache when the same check already ran on the same tree: an unchanged
// tree is not validated twice.
type checkRunner struct {
	d    *Deps
	tree string // "" disables the cache
	dir  string
	log  io.Writer
	// fresh runs every check again, keeping what it finds: a person asked.
	fresh bool
}

// cachedResult is a check result and whether it came from the cache.
type cachedResult struct {
	check.Result
	Cached bool
}

// checkJudgement names how check.Run judges a run, so that results judged
// otherwise are not reused. "2": a run whose test runner ran no test fails;
// results cached before that may call such a run a pass.
const checkJudgement = "2"

// definition identifies a check for the cache: what runs, its bound, and
// how its outcome is judged.
func definition(c check.Check) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%s", checkJudgement, c.Name, c.Run, c.Timeout)))
	return hex.EncodeToString(h[:])
}

// cached answers c from the cache, if it ran on this tree before.
func (cr checkRunner) cached(ctx context.Context, c check.Check) (cachedResult, bool, error) {
	if cr.tree == "" {
		return cachedResult{}, false, nil
	}
	hit, ok, err := cr.d.Log.CachedCheck(ctx, cr.tree, definition(c))
	if err != nil || !ok {
		return cachedResult{}, false, err
	}
	fmt.Fprintf(cr.log, "== check %s: from the cache (tree %.10s, run %s)\n", c.Name, cr.tree, hit.At.Format("2006-01-02 15:04:05"))
	return cachedResult{Result: check.Result{Name: c.Name, Passed: hit.Passed, ExitCode: hit.ExitCode, Reason: hit.Reason,
		Output: hit.Output, Duration: hit.Duration}, Cached: true}, true, nil
}

func (cr checkRunner) run(ctx context.Context, c check.Check) (cachedResult, error) {
	if !cr.fresh {
		if hit, ok, err := cr.cached(ctx, c); err != nil || ok {
			return hit, err
		}
	}
	def := definition(c)
	c.Confine = cr.d.checkConfine(cr.dir)
	res := check.Run(ctx, cr.dir, cr.d.CheckEnv, c, cr.log)
	if ctx.Err() != nil {
		return cachedResult{Result: res}, ctx.Err() // cut short: not an outcome to keep
	}
	if cr.tree != "" {
		keep := cr.d.Log.CacheCheck
		if cr.fresh {
			keep = cr.d.Log.RecacheCheck
		}
		if err := keep(ctx, cr.tree, def, eventlog.CheckRun{Passed: res.Passed, ExitCode: res.ExitCode,
			Reason: res.Reason, Output: res.Output, Duration: res.Duration}); err != nil {
			return cachedResult{}, err
		}
	}
	return cachedResult{Result: res}, nil
}
