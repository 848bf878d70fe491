package role

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/workflow"
)

// e2e runs the workflow's end-to-end command on a clean checkout of the
// merged target branch. The result is kept per head SHA: issues merged
// before that head share one run, because E2E tests the branch, not the
// issue.
type e2e struct{}

// e2eCheck is the check name E2E results are recorded under.
const e2eCheck = "e2e"

// e2eLock names the lock that makes E2E jobs on target take turns, on
// every worker (Deps.Locker): a job that waited for a run reads the target
// afresh and shares the run at the newest head, so a batch of merges waits
// for and shares one run instead of one each.
func e2eLock(target string) string { return "e2e:" + target }

func (e2e) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	// One E2E job at a time on the target, on every worker: a job that
	// waited reads the target afresh and shares the run at the newest
	// head, so a batch of merges shares one run; and a recovery runs once,
	// whoever meets the failure first.
	unlock, err := d.lock(ctx, e2eLock(d.Workflow.Repo.TargetBranch))
	if err != nil {
		return Outcome{}, err
	}
	defer unlock()
	v, err := e2eAtNewestHead(ctx, d, r)
	if err != nil {
		return Outcome{}, err
	}
	head, res := v.head, v.res
	if !v.shared {
		// A run at this head, not one another issue's E2E job made.
		d.Metrics.E2E(e2eOutcome(v))
	}
	var b strings.Builder
	how := fmt.Sprintf("`%s` took %s", d.Workflow.E2E.Run, res.Duration.Round(time.Millisecond))
	if v.shared {
		how = fmt.Sprintf("`%s` already ran at this head (%s)", d.Workflow.E2E.Run, res.Duration.Round(time.Millisecond))
	}
	switch {
	case v.flaky:
		fmt.Fprintf(&b, "## E2E passed on `%s` at `%s`, the second time\n\n%s. It failed the first time and passed when run again: counted as flaky (%d so far for this command).\n\n```\n%s\n```",
			d.Workflow.Repo.TargetBranch, short(head), how, v.flakes, lastLines(strings.TrimRight(v.first.Output, "\n"), 20))
	case res.Status == agentorg.CheckPassed:
		fmt.Fprintf(&b, "## E2E passed on `%s` at `%s`\n\n%s.", d.Workflow.Repo.TargetBranch, short(head), how)
	default:
		fmt.Fprintf(&b, "## E2E FAILED on `%s` at `%s`\n\n%s, and it failed again when run once more.\n\n```\n%s\n```", d.Workflow.Repo.TargetBranch, short(head), how, strings.TrimRight(res.Output, "\n"))
	}
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("e2e:%d:%s", n, head), b.String(), d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	var external time.Duration
	if !v.shared {
		external = res.Duration + v.first.Duration
	}
	if res.Status == agentorg.CheckPassed {
		was, err := openTarget(ctx, d, r, head)
		if err != nil {
			return Outcome{}, err
		}
		if was.Closed && was.CulpritIssue == n {
			// The revert merged, and this issue's change with it is off
			// the target: it comes back through its developer.
			return Outcome{To: developerLabel(d), Reason: fmt.Sprintf("%s; the revert merged and E2E passes at %s: back to the developer's session",
				was.Reason, short(head)), External: external}, nil
		}
		return Outcome{Reason: fmt.Sprintf("E2E passed at %s", short(head)), External: external}, nil
	}
	if d.Workflow.E2E.Recovery == workflow.RecoveryOff {
		to := r.Stage.Failure
		if to == "" {
			to = d.Workflow.Escalation
		}
		return Outcome{To: to, Reason: fmt.Sprintf("E2E failed at %s", short(head)), External: external}, nil
	}
	t, err := recoverTarget(ctx, d, r, head, res)
	if err != nil {
		return Outcome{}, err
	}
	out, err := afterFailure(ctx, d, r, t, head)
	out.External += external
	return out, err
}

// e2eOutcome names an E2E verdict for its metrics: passed, failed, or
// flaky when the first run failed and the second passed.
func e2eOutcome(v e2eVerdict) string {
	switch {
	case v.flaky:
		return metrics.E2EFlaky
	case v.res.Status == agentorg.CheckPassed:
		return metrics.E2EPassed
	}
	return metrics.E2EFailed
}

// e2eVerdict is E2E's result at a head: the second run's when the first
// failed, which then tells a flaky failure from a real one.
type e2eVerdict struct {
	head   string
	res    agentorg.CheckResult // the result that counts
	first  agentorg.CheckResult // the first run's, when it failed and a second ran
	shared bool                 // recorded before this run
	flaky  bool
	flakes int // flaky failures of this command so far
}

// e2eAtNewestHead returns the E2E result at the target's newest head,
// which contains every merge made before the call. The caller holds the
// E2E lock (e2eLock).
func e2eAtNewestHead(ctx context.Context, d *Deps, r *Run) (e2eVerdict, error) {
	var v e2eVerdict
	if err := d.Mirror.Fetch(ctx); err != nil {
		return v, err
	}
	head, err := d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return v, err
	}
	v.head = head
	if v.res, v.shared, err = e2eResult(ctx, d, r, head, e2eCheck); err != nil || v.res.Status == agentorg.CheckPassed {
		return v, err
	}
	v.first = v.res
	rerunShared := false
	if v.res, rerunShared, err = e2eResult(ctx, d, r, head, e2eRerun); err != nil {
		return v, err
	}
	v.shared = v.shared && rerunShared
	if v.res.Status != agentorg.CheckPassed {
		return v, nil
	}
	v.flaky = true
	news, err := d.Log.AddFlake(ctx, d.Workflow.E2E.Run, head)
	if err != nil {
		return v, err
	}
	if v.flakes, err = d.Log.Flakes(ctx, d.Workflow.E2E.Run); err != nil {
		return v, err
	}
	if news {
		recordRecovery(ctx, d, r, r.Issue.Number, fmt.Sprintf("E2E failed at %s, then passed when run again: flaky (%d flaky failures of `%s` so far)",
			short(head), v.flakes, d.Workflow.E2E.Run), map[string]string{"head": head, "flaky": "true", "flakes": fmt.Sprint(v.flakes)})
	}
	return v, nil
}

// runE2E runs the E2E command in a clean checkout of commit, confined,
// into the run's transcript.
func runE2E(ctx context.Context, d *Deps, r *Run, commit string) (check.Result, error) {
	dir, release, err := d.checkout(ctx, commit)
	if err != nil {
		return check.Result{}, err
	}
	defer release()
	tr, err := d.openTranscript(r.ID)
	if err != nil {
		return check.Result{}, err
	}
	defer tr.Close()
	res := check.Run(ctx, dir, d.CheckEnv, check.Check{Name: e2eCheck, Run: d.Workflow.E2E.Run, Timeout: d.Workflow.E2E.Timeout,
		Started: r.OnStart, Confine: d.checkConfine(dir)}, tr)
	return res, ctx.Err()
}

// e2eResult returns the E2E result recorded at head under name (e2eCheck,
// or e2eRerun for the second run) if there is one (shared=true), else a
// fresh run, recorded for the next issue.
func e2eResult(ctx context.Context, d *Deps, r *Run, head, name string) (agentorg.CheckResult, bool, error) {
	checks, err := d.Tracker.Checks(ctx, head)
	if err != nil {
		return agentorg.CheckResult{}, false, err
	}
	for _, c := range checks {
		if c.Name == name {
			return c, true, nil
		}
	}
	res, err := runE2E(ctx, d, r, head)
	if err != nil {
		return agentorg.CheckResult{}, false, err
	}
	out := agentorg.CheckResult{SHA: head, Name: name, Status: agentorg.CheckPassed, Output: res.Output, Duration: res.Duration, At: time.Now()}
	if !res.Passed {
		out.Status = agentorg.CheckFailed
		out.Output = res.Reason + "\n" + res.Output
	}
	if err := d.Tracker.SetCheck(ctx, out); err != nil {
		return agentorg.CheckResult{}, false, err
	}
	return out, false, nil
}
