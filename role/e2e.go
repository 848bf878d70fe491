package role

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg/check"
)

// e2e runs the workflow's end-to-end command on a clean checkout of the
// merged target branch.
type e2e struct{}

func (e2e) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	if err := d.Mirror.Fetch(ctx); err != nil {
		return Outcome{}, err
	}
	head, err := d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return Outcome{}, err
	}
	dir := filepath.Join(d.Home, "checkouts", "e2e-"+r.ID)
	cleanup, err := d.Mirror.Checkout(ctx, dir, head)
	if err != nil {
		return Outcome{}, err
	}
	defer cleanup()
	tr, err := openTranscript(d.Home, r.ID)
	if err != nil {
		return Outcome{}, err
	}
	defer tr.Close()
	res := check.Run(ctx, dir, d.CheckEnv, check.Check{Name: "e2e", Run: d.Workflow.E2E.Run, Timeout: d.Workflow.E2E.Timeout}, tr)
	if ctx.Err() != nil {
		return Outcome{}, ctx.Err()
	}
	var b strings.Builder
	if res.Passed {
		fmt.Fprintf(&b, "## E2E passed on `%s` at `%s`\n\n`%s` took %s.", d.Workflow.Repo.TargetBranch, short(head), d.Workflow.E2E.Run, res.Duration.Round(1e6))
	} else {
		fmt.Fprintf(&b, "## E2E FAILED on `%s` at `%s`\n\n`%s`: %s\n\n```\n%s\n```", d.Workflow.Repo.TargetBranch, short(head), d.Workflow.E2E.Run, res.Reason, strings.TrimRight(res.Output, "\n"))
	}
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("e2e:%d:%s", n, head), b.String(), d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	if res.Passed {
		return Outcome{Reason: fmt.Sprintf("E2E passed at %s", short(head)), External: res.Duration}, nil
	}
	to := r.Stage.Failure
	if to == "" {
		to = d.Workflow.Escalation
	}
	return Outcome{To: to, Reason: fmt.Sprintf("E2E failed at %s: %s", short(head), res.Reason), External: res.Duration}, nil
}
