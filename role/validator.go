package role

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/eventlog"
)

// validator checks the developer's commit (exactly the SHA that would be
// pushed) in a clean checkout, posts a report, and says GO or NO-GO. GO pushes
// the branch and opens the merge request; NO-GO sends the issue back to the
// developer's same session, until the attempt budget is spent.
type validator struct{}

func (validator) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	a, ok, err := d.Log.LastAttempt(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if !ok || a.CommitSHA == "" {
		return Outcome{}, fmt.Errorf("issue #%d: no developer commit to validate", n)
	}
	var external time.Duration
	if a.Verdict == "" {
		verdict, distance, report, spent, err := validate(ctx, d, r, a.N, a.CommitSHA)
		external = spent
		if err != nil {
			return Outcome{}, err
		}
		if err := d.Log.SetVerdict(ctx, n, a.N, verdict, distance, report); err != nil {
			return Outcome{}, err
		}
		a.Verdict, a.Distance, a.Report = verdict, distance, report
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
			Kind: eventlog.KindVerdict, Reason: fmt.Sprintf("attempt %d: %s (distance %d)", a.N, verdict, distance),
			Data: map[string]string{"attempt": fmt.Sprint(a.N), "verdict": verdict, "distance": fmt.Sprint(distance),
				"commit": a.CommitSHA, "session": a.SessionID}})
	}
	// From here on everything is idempotent, so a retry after a crash
	// finishes what the verdict implies without validating again.
	if a.Verdict == eventlog.GO {
		out, err := openMR(ctx, d, r, a)
		out.External = external
		return out, err
	}
	if a.N >= d.Workflow.Budget.Attempts {
		out, err := escalate(ctx, d, r, fmt.Sprintf("validation failed %d times; the attempt budget (%d) is spent", a.N, d.Workflow.Budget.Attempts))
		out.External = external
		return out, err
	}
	to := r.Stage.Failure
	if to == "" {
		to = d.Workflow.Escalation
	}
	return Outcome{To: to, Reason: fmt.Sprintf("NO-GO on attempt %d (distance %d): back to the developer's session", a.N, a.Distance), External: external}, nil
}

// validate runs every check on a clean checkout of sha and returns the
// verdict, the distance (failing checks) and a Markdown report, which it
// also records in the tracker.
func validate(ctx context.Context, d *Deps, r *Run, attempt int, sha string) (verdict string, distance int, report string, external time.Duration, err error) {
	n := r.Issue.Number
	if err := d.Mirror.Fetch(ctx); err != nil {
		return "", 0, "", 0, err
	}
	base, err := d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return "", 0, "", 0, err
	}
	changed, err := d.Mirror.DiffFiles(ctx, base, sha)
	if err != nil {
		return "", 0, "", 0, err
	}
	dir := filepath.Join(CheckoutsDir(d.Home), "validate-"+r.ID)
	cleanup, err := d.Mirror.Checkout(ctx, dir, sha)
	if err != nil {
		return "", 0, "", 0, err
	}
	defer cleanup()
	tr, err := openTranscript(d.Home, r.ID)
	if err != nil {
		return "", 0, "", 0, err
	}
	defer tr.Close()

	var checks []check.Check
	for _, c := range d.Workflow.Checks {
		checks = append(checks, check.Check{Name: c.Name, Run: c.Run, Timeout: c.Timeout, Started: r.OnStart})
	}
	results := check.RunAll(ctx, dir, d.CheckEnv, checks, tr)
	if ctx.Err() != nil {
		return "", 0, "", 0, ctx.Err()
	}
	for _, res := range results {
		external += res.Duration
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Validation of attempt %d: ", attempt)
	var findings []string
	if len(changed) == 0 {
		distance++
		findings = append(findings, "- The commit changes nothing compared with the target branch.")
	}
	for _, res := range results {
		status := agentorg.CheckPassed
		if !res.Passed {
			status = agentorg.CheckFailed
			distance++
			findings = append(findings, fmt.Sprintf("- Check `%s` failed (%s):\n\n```\n%s\n```", res.Name, res.Reason, strings.TrimRight(res.Output, "\n")))
		}
		if err := d.Tracker.SetCheck(ctx, agentorg.CheckResult{SHA: sha, Name: res.Name, Status: status,
			Output: res.Output, Duration: res.Duration, At: time.Now()}); err != nil {
			return "", 0, "", 0, err
		}
	}
	verdict = eventlog.GO
	if distance > 0 {
		verdict = eventlog.NOGO
	}
	fmt.Fprintf(&b, "**%s**\n\nCommit `%s`, checked out clean; %d file(s) changed.\n\n| check | result | time |\n|---|---|---|\n", verdict, short(sha), len(changed))
	for _, res := range results {
		mark := "passed"
		if !res.Passed {
			mark = "FAILED: " + res.Reason
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", res.Name, mark, res.Duration.Round(time.Millisecond))
	}
	if len(findings) > 0 {
		fmt.Fprintf(&b, "\n### Findings (distance %d)\n\n%s\n", distance, strings.Join(findings, "\n"))
	}
	report = b.String()
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("validation:%d:%d", n, attempt), report, d.Workflow.Tracker.Bot); err != nil {
		return "", 0, "", 0, err
	}
	return verdict, distance, report, external, nil
}

// openMR pushes the validated SHA and opens (or finds) the merge request.
func openMR(ctx context.Context, d *Deps, r *Run, a eventlog.Attempt) (Outcome, error) {
	n := r.Issue.Number
	branch := Branch(d.Workflow, n)
	if err := d.Mirror.Push(ctx, a.CommitSHA, branch); err != nil {
		return Outcome{}, err
	}
	mr, err := d.Tracker.CreateMR(ctx, agentorg.NewMR{
		Issue: n, Title: fmt.Sprintf("#%d: %s", n, r.Issue.Title),
		Description:  fmt.Sprintf("Closes #%d.\n\nValidated at `%s` (attempt %d).\n\n%s", n, a.CommitSHA, a.N, a.Report),
		SourceBranch: branch, TargetBranch: d.Workflow.Repo.TargetBranch, HeadSHA: a.CommitSHA,
		Author: d.Workflow.Tracker.Bot,
	})
	if err != nil {
		return Outcome{}, err
	}
	if mr.HeadSHA != a.CommitSHA {
		if mr, err = d.Tracker.SetMRHead(ctx, mr.Number, a.CommitSHA); err != nil {
			return Outcome{}, err
		}
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindMerge,
		Reason: fmt.Sprintf("merge request !%d open at %s", mr.Number, short(a.CommitSHA)),
		Data:   map[string]string{"mr": fmt.Sprint(mr.Number), "head": a.CommitSHA}})
	return Outcome{Reason: fmt.Sprintf("GO on attempt %d: merge request !%d awaits review", a.N, mr.Number)}, nil
}

// escalate hands the issue to a human with a summary of every attempt.
func escalate(ctx context.Context, d *Deps, r *Run, why string) (Outcome, error) {
	n := r.Issue.Number
	as, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Needs a human\n\n%s.\n\n| attempt | verdict | distance | commit | session |\n|---|---|---|---|---|\n", why)
	for _, a := range as {
		fmt.Fprintf(&b, "| %d | %s | %d | `%s` | `%s` |\n", a.N, a.Verdict, a.Distance, short(a.CommitSHA), a.SessionID)
	}
	if len(as) > 0 && as[len(as)-1].Report != "" {
		fmt.Fprintf(&b, "\nLast report:\n\n%s\n", as[len(as)-1].Report)
	}
	fmt.Fprintf(&b, "\nTo try again, fix what is needed and move the issue back with `agentorg label add %d %s`.", n, r.Stage.Failure)
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("escalation:%d", n), b.String(), d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	return Outcome{To: d.Workflow.Escalation, Reason: why}, nil
}
