package app

import (
	"context"
	"io"
	"os"

	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/role"
)

// Baseline runs the workflow's checks on the head of the target branch, as
// validation's baseline does, afresh (a person asked, perhaps after fixing
// what failed them), and keeps the results in the home (cached by tree),
// so that the first issue does not pay for them again. It works beside a
// running engine: its checkout is a temporary one of its own, among the
// engine's, so that the checks see the same parent directories there as
// in validation. log receives the checks' output.
func (o *Org) Baseline(ctx context.Context, log io.Writer) (head string, results []check.Result, err error) {
	if o.Origin == "" && o.cloneURL != nil {
		if o.Origin, err = o.cloneURL(ctx); err != nil {
			return "", nil, err
		}
	}
	mirror, err := o.openMirror(ctx)
	if err != nil {
		return "", nil, err
	}
	if err := mirror.Fetch(ctx); err != nil {
		return "", nil, err
	}
	if head, err = mirror.RemoteHead(ctx, o.Workflow.Repo.TargetBranch); err != nil {
		return "", nil, err
	}
	checkouts := homedir.Checkouts(o.Home)
	if err := os.MkdirAll(checkouts, 0o755); err != nil {
		return "", nil, err
	}
	pool, err := os.MkdirTemp(checkouts, "baseline-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(pool)
	defer mirror.RemoveIdleSlots(context.WithoutCancel(ctx), pool)
	dir, release, err := mirror.Lease(ctx, pool, head)
	if err != nil {
		return "", nil, err
	}
	defer release()
	confine, err := o.Confinement()
	if err != nil {
		return "", nil, err
	}
	d := &role.Deps{Workflow: o.Workflow, Tracker: o.Tracker, Log: o.Log, Mirror: mirror, Home: o.Home, CheckEnv: CheckEnv(), Confine: confine}
	results, err = role.BaselineAfresh(ctx, d, head, dir, log)
	return head, results, err
}
