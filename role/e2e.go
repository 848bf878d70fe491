package role

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
)

// e2e runs the workflow's end-to-end command on a clean checkout of the
// merged target branch. The result is kept per head SHA: issues merged
// before that head share one run, because E2E tests the branch, not the
// issue.
type e2e struct{}

// e2eCheck is the check name E2E results are recorded under.
const e2eCheck = "e2e"

// e2eMu makes E2E jobs take turns: a job that waited for a run reads the
// target afresh and shares the run at the newest head, so a batch of
// merges waits for and shares one run instead of one each.
var e2eMu sync.Mutex

func (e2e) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	head, res, shared, err := e2eAtNewestHead(ctx, d, r)
	if err != nil {
		return Outcome{}, err
	}
	var b strings.Builder
	how := fmt.Sprintf("`%s` took %s", d.Workflow.E2E.Run, res.Duration.Round(time.Millisecond))
	if shared {
		how = fmt.Sprintf("`%s` already ran at this head (%s)", d.Workflow.E2E.Run, res.Duration.Round(time.Millisecond))
	}
	if res.Status == agentorg.CheckPassed {
		fmt.Fprintf(&b, "## E2E passed on `%s` at `%s`\n\n%s.", d.Workflow.Repo.TargetBranch, short(head), how)
	} else {
		fmt.Fprintf(&b, "## E2E FAILED on `%s` at `%s`\n\n%s.\n\n```\n%s\n```", d.Workflow.Repo.TargetBranch, short(head), how, strings.TrimRight(res.Output, "\n"))
	}
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("e2e:%d:%s", n, head), b.String(), d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	var external time.Duration
	if !shared {
		external = res.Duration
	}
	if res.Status == agentorg.CheckPassed {
		return Outcome{Reason: fmt.Sprintf("E2E passed at %s", short(head)), External: external}, nil
	}
	to := r.Stage.Failure
	if to == "" {
		to = d.Workflow.Escalation
	}
	return Outcome{To: to, Reason: fmt.Sprintf("E2E failed at %s", short(head)), External: external}, nil
}

// e2eAtNewestHead returns the E2E result at the target's newest head,
// which contains every merge made before the call.
func e2eAtNewestHead(ctx context.Context, d *Deps, r *Run) (head string, res agentorg.CheckResult, shared bool, err error) {
	e2eMu.Lock()
	defer e2eMu.Unlock()
	if err := d.Mirror.Fetch(ctx); err != nil {
		return "", res, false, err
	}
	if head, err = d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch); err != nil {
		return "", res, false, err
	}
	res, shared, err = e2eResult(ctx, d, r, head)
	return head, res, shared, err
}

// e2eResult returns the E2E result at head: the recorded one if there is
// one (shared=true), else a fresh run, recorded for the next issue.
func e2eResult(ctx context.Context, d *Deps, r *Run, head string) (agentorg.CheckResult, bool, error) {
	checks, err := d.Tracker.Checks(ctx, head)
	if err != nil {
		return agentorg.CheckResult{}, false, err
	}
	for _, c := range checks {
		if c.Name == e2eCheck {
			return c, true, nil
		}
	}
	dir, release, err := d.checkout(ctx, head)
	if err != nil {
		return agentorg.CheckResult{}, false, err
	}
	defer release()
	tr, err := d.openTranscript(r.ID)
	if err != nil {
		return agentorg.CheckResult{}, false, err
	}
	defer tr.Close()
	res := check.Run(ctx, dir, d.CheckEnv, check.Check{Name: e2eCheck, Run: d.Workflow.E2E.Run, Timeout: d.Workflow.E2E.Timeout,
		Started: r.OnStart, Confine: d.checkConfine(dir)}, tr)
	if ctx.Err() != nil {
		return agentorg.CheckResult{}, false, ctx.Err()
	}
	out := agentorg.CheckResult{SHA: head, Name: e2eCheck, Status: agentorg.CheckPassed, Output: res.Output, Duration: res.Duration, At: time.Now()}
	if !res.Passed {
		out.Status = agentorg.CheckFailed
		out.Output = res.Reason + "\n" + res.Output
	}
	if err := d.Tracker.SetCheck(ctx, out); err != nil {
		return agentorg.CheckResult{}, false, err
	}
	return out, false, nil
}
