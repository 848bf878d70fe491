package role

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/agentorg/agentorg/check"
)

// The baseline is how the workflow's checks go on the target branch itself,
// before any change: a check already red there is not the change's failure.
// It runs on the target's tree and is cached by tree like every check, so
// it costs one run per target head, shared by every issue and the PM.

// Baseline runs the workflow's checks on commit (the target's head), in
// dir when it is a clean checkout of commit, else in one leased only when
// the cache cannot answer. log receives the checks' output (may be nil).
func Baseline(ctx context.Context, d *Deps, commit, dir string, log io.Writer) ([]check.Result, error) {
	return baseline(ctx, d, commit, dir, log, false)
}

// BaselineAfresh runs the workflow's checks on commit as Baseline does,
// but never answers from the cache: a person asked (`agentorg check
// --run`, `doctor`), perhaps after fixing what made a check fail outside
// the repository (a tool, the environment). What it finds replaces what
// the cache held, for the engine too.
func BaselineAfresh(ctx context.Context, d *Deps, commit, dir string, log io.Writer) ([]check.Result, error) {
	return baseline(ctx, d, commit, dir, log, true)
}

func baseline(ctx context.Context, d *Deps, commit, dir string, log io.Writer, fresh bool) ([]check.Result, error) {
	if len(d.Workflow.Checks) == 0 {
		return nil, nil
	}
	if log == nil {
		log = io.Discard
	}
	tree, err := d.Mirror.Tree(ctx, commit)
	if err != nil {
		return nil, err
	}
	runner := checkRunner{d: d, tree: tree, dir: dir, log: log, fresh: fresh}
	var release func() error
	defer func() {
		if release != nil {
			release()
		}
	}()
	var out []check.Result
	for _, c := range d.Workflow.Checks {
		chk := check.Check{Name: c.Name, Run: c.Run, Timeout: c.Timeout}
		if runner.dir == "" {
			if hit, ok, err := runner.cached(ctx, chk); err != nil {
				return nil, err
			} else if ok && !fresh {
				out = append(out, hit.Result)
				continue
			}
			if runner.dir, release, err = d.checkout(ctx, commit); err != nil {
				return nil, err
			}
		}
		res, err := runner.run(ctx, chk)
		if err != nil {
			return nil, err
		}
		out = append(out, res.Result)
	}
	return out, nil
}

// redOnTarget returns, when a check failed on the change, the checks that
// fail on the target at base too, by name (the baseline runs only then).
func redOnTarget(ctx context.Context, d *Deps, base string, results []check.Result, log io.Writer) (map[string]check.Result, error) {
	failed := false
	for _, r := range results {
		failed = failed || !r.Passed
	}
	if !failed {
		return nil, nil
	}
	fmt.Fprintf(log, "== baseline: the checks on the target at %.10s\n", base)
	bl, err := Baseline(ctx, d, base, "", log)
	if err != nil {
		return nil, err
	}
	return redOn(bl), nil
}

// redOn returns the failing results of a baseline by check name.
func redOn(baseline []check.Result) map[string]check.Result {
	red := map[string]check.Result{}
	for _, r := range baseline {
		if !r.Passed {
			red[r.Name] = r
		}
	}
	return red
}

// sameFailure reports whether a check failing on the change fails as it
// does on the target: the same output once normalised, or, for the runners
// whose failures can be named (go test, go vet, compilers' file:line
// messages), nothing failing that does not fail on the target too.
func sameFailure(change, target check.Result, changeDir string) bool {
	if fingerprint(change, changeDir) == fingerprint(target, "") {
		return true
	}
	mine := failureNames(change.Output, changeDir)
	if len(mine) == 0 {
		return false
	}
	theirs := map[string]bool{}
	for _, f := range failureNames(target.Output, "") {
		theirs[f] = true
	}
	for _, f := range mine {
		if !theirs[f] {
			return false
		}
	}
	return true
}

// redChecksText lists the checks red on the target, for the PM's prompt.
func redChecksText(baseline []check.Result) string {
	var b strings.Builder
	for _, r := range baseline {
		if r.Passed {
			continue
		}
		fmt.Fprintf(&b, "- `%s` (%s):\n\n```\n%s\n```\n", r.Name, r.Reason, strings.TrimRight(check.Trim(r.Output, promptOutputMax/2), "\n"))
	}
	return strings.TrimSpace(b.String())
}
