package role

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/converge"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/workflow"
)

// validator checks the developer's commit (exactly the SHA that would be
// pushed, with a target branch that moved brought in first) in a clean
// checkout: hygiene, checks, acceptance criteria. It posts a report and says
// GO or NO-GO. GO pushes the branch and opens the merge request; NO-GO sends
// the issue back to the developer's same session while the distance falls,
// and to a human when the convergence policy says stop.
type validator struct{}

func (validator) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	a, ok, err := d.Log.LastAttempt(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if ok && a.Work() == "" && a.Agent == eventlog.EngineAgent {
		// A crash between starting a re-validation and recording its work.
		if a, err = revalidation(ctx, d, r, a.N-1); err != nil {
			return Outcome{}, err
		}
	}
	if !ok || a.Work() == "" {
		return Outcome{}, fmt.Errorf("issue #%d: no developer commit to validate", n)
	}
	if a.Verdict == eventlog.GO {
		// Sent back by merge: the target moved or the merge request's head
		// is not the validated commit. Validate again, as a new attempt.
		why, err := staleGO(ctx, d, n, a)
		var foreign *foreignError
		if errors.As(err, &foreign) {
			return escalate(ctx, d, r, foreign.why)
		}
		if err != nil {
			return Outcome{}, err
		}
		if why != "" {
			if a, err = revalidation(ctx, d, r, a.N); err != nil {
				return Outcome{}, err
			}
			_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindUpdate,
				Reason: fmt.Sprintf("validating again as attempt %d: %s", a.N, why)})
		}
	}
	external, err := revalidate(ctx, d, r, &a)
	if err != nil {
		return Outcome{}, err
	}
	// From here on everything is idempotent, so a retry after a crash
	// finishes what the verdict implies without validating again.
	if a.Verdict == eventlog.GO {
		out, err := openMR(ctx, d, r, a)
		out.External = external
		return out, err
	}
	out, err := noGo(ctx, d, r, a, r.Stage.Failure)
	out.External = external
	return out, err
}

// noGo decides where a NO-GO goes: back to the developer's session (the
// label to), or to a human when the convergence policy says stop.
func noGo(ctx context.Context, d *Deps, r *Run, a eventlog.Attempt, to string) (Outcome, error) {
	if red := a.TargetFindings(); a.Distance == 0 && len(red) > 0 {
		// Nothing the developer could fix is left: the target itself is red.
		return escalateRed(ctx, d, r, a, red)
	}
	if t, err := d.Log.Target(ctx, d.Workflow.Repo.TargetBranch); err != nil {
		return Outcome{}, err
	} else if t.RevertIssue != 0 && t.RevertIssue == r.Issue.Number {
		// The revert has no developer to go back to.
		return escalate(ctx, d, r, fmt.Sprintf("the revert of %s is NO-GO (distance %d)", short(t.Culprit), a.Distance))
	}
	as, err := d.Log.Attempts(ctx, r.Issue.Number)
	if err != nil {
		return Outcome{}, err
	}
	if why := converge.Stop(history(as), budget(d.Workflow), time.Now()); why != "" {
		return escalate(ctx, d, r, "validation did not converge: "+why)
	}
	if to == "" {
		to = d.Workflow.Escalation
	}
	return Outcome{To: to, Reason: fmt.Sprintf("NO-GO on attempt %d (distance %d): back to the developer's session", a.N, a.Distance)}, nil
}

// revalidate validates attempt a (a re-validation) unless a verdict is
// already recorded, and records it.
func revalidate(ctx context.Context, d *Deps, r *Run, a *eventlog.Attempt) (time.Duration, error) {
	if a.Verdict != "" {
		return 0, nil
	}
	// From the merge stage, validation is still the validate stage's job:
	// its agent judges the criteria, as the validator role.
	vr := *r
	if vs := d.Workflow.StagesWithRole(agentorg.RoleValidator); r.Stage.Role != agentorg.RoleValidator && len(vs) > 0 {
		vr.Stage = vs[0]
	}
	v, err := squashAndValidate(ctx, d, &vr, a)
	if err != nil {
		return v.external, err
	}
	if err := d.Log.SetVerdict(ctx, r.Issue.Number, a.N, r.Stage.Name, v.verdict, v.findings, v.report); err != nil {
		return v.external, err
	}
	a.Verdict, a.Distance, a.Findings, a.Report, a.FoundBy = v.verdict, eventlog.Distance(v.findings), v.findings, v.report, r.Stage.Name
	d.Metrics.Verdict(a.Verdict, a.Distance)
	_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
		Kind: eventlog.KindVerdict, Reason: fmt.Sprintf("attempt %d: %s (distance %d)", a.N, a.Verdict, a.Distance),
		Data: map[string]string{"attempt": fmt.Sprint(a.N), "verdict": a.Verdict, "distance": fmt.Sprint(a.Distance),
			"commit": a.CommitSHA, "session": a.SessionID, "findings": strings.Join(a.FindingKeys(), " "), "found_by": r.Stage.Name}})
	return v.external, nil
}

// revalidation starts (or continues) attempt prev+1 on prev's work, in
// prev's session, for the developer to resume should it fail; validating
// it writes the commit to push on the current target.
func revalidation(ctx context.Context, d *Deps, r *Run, prev int) (eventlog.Attempt, error) {
	n := r.Issue.Number
	p, err := previous(ctx, d, n, prev+1)
	if err != nil {
		return eventlog.Attempt{}, err
	}
	a, err := d.Log.StartAttempt(ctx, eventlog.Attempt{Issue: n, N: prev + 1, RunID: r.ID, Agent: eventlog.EngineAgent, SessionID: p.SessionID})
	if err != nil {
		return a, err
	}
	if a.WorkSHA == "" {
		if err := d.Log.SetWork(ctx, n, a.N, p.Work()); err != nil {
			return a, err
		}
		a.WorkSHA = p.Work()
	}
	return a, nil
}

// squashAndValidate writes the commit to push for the attempt's work (one
// commit of agentorg's: the work's tree on the current target, see
// workspace.Squash), records it, and validates it: what is validated is
// exactly what a GO pushes, and no attempt's intermediate state reaches the
// origin. A conflict with the target is a NO-GO whose findings name the
// conflicting files; the developer resolves it by merging the target into
// the work, which no later validation undoes.
func squashAndValidate(ctx context.Context, d *Deps, r *Run, a *eventlog.Attempt) (validation, error) {
	n := r.Issue.Number
	if err := d.Mirror.Fetch(ctx); err != nil {
		return validation{}, err
	}
	target := d.Workflow.Repo.TargetBranch
	base, err := d.Mirror.RemoteHead(ctx, target)
	if err != nil {
		return validation{}, err
	}
	work := a.Work()
	// Made on another worker, perhaps: the database keeps it.
	if err := d.haveWork(ctx, n, work); err != nil {
		return validation{}, err
	}
	sha, files, err := d.Mirror.Squash(ctx, base, work, fmt.Sprintf("#%d: %s", n, r.Issue.Title), d.Identity)
	if err != nil {
		return validation{}, err
	}
	if len(files) > 0 {
		var v validation
		v.verdict = eventlog.NOGO
		for _, f := range files {
			v.findings = append(v.findings, conflictFinding(f, target, base))
		}
		v.report = fmt.Sprintf("## Validation of attempt %d: **NO-GO** (distance %d)\n\n%s moved to `%s`, and the change `%s` does not merge onto it cleanly: it goes back to the developer to resolve it.\n\n%s\n",
			a.N, len(v.findings), target, short(base), short(work), fixText(v.findings, target))
		_, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("validation:%d:%d", n, a.N), v.report, d.Workflow.Tracker.Bot)
		return v, err
	}
	if a.CommitSHA != sha {
		if err := d.Log.SetCommit(ctx, n, a.N, sha); err != nil {
			return validation{}, err
		}
		a.CommitSHA = sha
	}
	return validate(ctx, d, r, a.N, base, a.CommitSHA)
}

// staleGO says why a GO no longer stands ("" if it does): the target moved
// past it, or the merge request's head is another commit.
func staleGO(ctx context.Context, d *Deps, n int64, a eventlog.Attempt) (string, error) {
	if err := d.Mirror.Fetch(ctx); err != nil {
		return "", err
	}
	base, err := d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return "", err
	}
	// Another worker may have made it: pushed, it is on the origin.
	if err := d.haveHead(ctx, n, a.CommitSHA, d.Workflow.Branch(n)); err != nil {
		if _, terr := d.Mirror.Tree(ctx, a.CommitSHA); terr != nil {
			return fmt.Sprintf("attempt %d's commit %s was made on a worker that is gone and never reached the origin", a.N, short(a.CommitSHA)), nil
		}
		return "", err
	}
	contains, err := d.Mirror.IsAncestor(ctx, base, a.CommitSHA)
	if err != nil {
		return "", err
	}
	if !contains {
		return fmt.Sprintf("%s moved to %s since attempt %d was validated", d.Workflow.Repo.TargetBranch, short(base), a.N), nil
	}
	mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
	if errors.Is(err, agentorg.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if mr.State == agentorg.MROpen && mr.HeadSHA != a.CommitSHA {
		// An earlier attempt's commit at the head is agentorg's own push
		// of before: this GO's push is still to come (a crash between the
		// verdict and the push), not a reason to validate again.
		own, err := pushedBefore(ctx, d, n, a.N, mr.HeadSHA)
		if err != nil || own {
			return "", err
		}
		// Someone else's: never validated in its place nor pushed over.
		if foreign, err := foreignHead(ctx, d, n, mr.HeadSHA); err != nil {
			return "", err
		} else if foreign != "" {
			return "", &foreignError{fmt.Sprintf("merge request !%d: %s", mr.Number, foreign)}
		}
		return fmt.Sprintf("merge request !%d head %s is not the validated commit %s", mr.Number, short(mr.HeadSHA), short(a.CommitSHA)), nil
	}
	return "", nil
}

// pushedBefore reports whether sha is the commit an attempt before n was
// validated GO on: one agentorg pushed itself.
func pushedBefore(ctx context.Context, d *Deps, issue int64, n int, sha string) (bool, error) {
	as, err := d.Log.Attempts(ctx, issue)
	if err != nil {
		return false, err
	}
	for _, p := range as {
		if p.N < n && p.Verdict == eventlog.GO && p.CommitSHA == sha {
			return true, nil
		}
	}
	return false, nil
}

func budget(w *workflow.Workflow) converge.Budget {
	b := w.Budget
	return converge.Budget{Attempts: b.Attempts, Stall: b.StallAttempts, WallTime: b.WallTime, Tokens: b.Tokens, CostUSD: b.CostUSD}
}

// history is the validated attempts as the convergence policy sees them.
func history(as []eventlog.Attempt) []converge.Attempt {
	var h []converge.Attempt
	for _, a := range as {
		if a.Verdict == "" {
			continue
		}
		h = append(h, converge.Attempt{N: a.N, Distance: a.Distance, Findings: a.FindingKeys(), Started: a.StartedAt,
			Tokens: int(a.Usage.InputTokens + a.Usage.OutputTokens), CostUSD: a.Usage.CostUSD,
			GO: a.Verdict == eventlog.GO, Engine: a.Agent == eventlog.EngineAgent, Moved: onlyConflicts(a)})
	}
	return h
}

// openMR pushes the validated SHA and opens (or finds) the merge request.
func openMR(ctx context.Context, d *Deps, r *Run, a eventlog.Attempt) (Outcome, error) {
	n := r.Issue.Number
	branch := d.Workflow.Branch(n)
	if err := d.push(ctx, n, a.CommitSHA); err != nil {
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
	// The results validation could not publish before the push.
	if err := publishChecks(ctx, d, a.CommitSHA); err != nil {
		return Outcome{}, err
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindMerge,
		Reason: fmt.Sprintf("merge request !%d open at %s", mr.Number, short(a.CommitSHA)),
		Data:   map[string]string{"mr": fmt.Sprint(mr.Number), "head": a.CommitSHA}})
	// A review round's fixes are validated and pushed: answer its threads.
	round, inRound, err := d.Log.OpenRound(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if inRound && round.Status == eventlog.RoundFixing && round.MR == mr.Number {
		if err := finishRound(ctx, d, r, &round, a.CommitSHA); err != nil {
			return Outcome{}, err
		}
		return Outcome{Reason: fmt.Sprintf("GO on attempt %d: review round %d answered; merge request !%d awaits a new approval", a.N, round.N, mr.Number)}, nil
	}
	return Outcome{Reason: fmt.Sprintf("GO on attempt %d: merge request !%d awaits review", a.N, mr.Number)}, nil
}

// escalate hands the issue to a human with the history of the loop: each
// attempt's distance, what changed since the one before, what still fails.
func escalate(ctx context.Context, d *Deps, r *Run, why string) (Outcome, error) {
	n := r.Issue.Number
	as, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Needs a human\n\n%s.\n\n| attempt | verdict | distance | what changed | still failing | commit | session |\n|---|---|---|---|---|---|---|\n", why)
	var prev []string
	for i, a := range as {
		changed := "first attempt"
		if i > 0 {
			fixed, added := converge.Changes(prev, a.FindingKeys())
			changed = fmt.Sprintf("fixed %s; new %s", orNone(fixed), orNone(added))
		}
		if a.Verdict == "" {
			changed = "not validated"
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | `%s` | `%s` |\n", a.N, a.Verdict, a.Distance, cellText(changed), cellText(orNone(a.FindingKeys())), short(a.CommitSHA), a.SessionID)
		prev = a.FindingKeys()
	}
	if len(as) > 0 && as[len(as)-1].Report != "" {
		fmt.Fprintf(&b, "\nLast report:\n\n%s\n", as[len(as)-1].Report)
	}
	fmt.Fprintf(&b, "\nThe runs' transcripts: `agentorg logs --issue %d`.\n", n)
	fmt.Fprintf(&b, "\nTo try again, fix what is needed and move the issue back with `agentorg label add %d %s`.", n, r.Stage.Failure)
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("escalation:%d", n), b.String(), d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	return Outcome{To: d.Workflow.Escalation, Reason: why}, nil
}

// escalateRed hands the issue to a human when the only failures left are
// the target branch's own: no attempt of the developer can fix them.
func escalateRed(ctx context.Context, d *Deps, r *Run, a eventlog.Attempt, red []eventlog.Finding) (Outcome, error) {
	target := d.Workflow.Repo.TargetBranch
	var names []string
	for _, f := range red {
		// check:<name>:<fingerprint>
		name := strings.TrimPrefix(f.Key, "check:")
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		names = append(names, "`"+name+"`")
	}
	why := fmt.Sprintf("the target is red: %s fails on %s without this change (%s)", plural(len(red), "check"), target, strings.Join(names, ", "))
	validate := d.Workflow.StagesWithRole(agentorg.RoleValidator)
	again := ""
	if len(validate) > 0 {
		again = fmt.Sprintf(" Once %s is green again, validate this change again with `agentorg label add %d %s`.", target, r.Issue.Number, validate[0].On)
	}
	body := fmt.Sprintf("## Needs a human\n\n%s. Attempt %d passes everything else (distance 0), but it cannot be merged while these checks fail, and they are not its to fix: fix %s (or plan that work in an issue of its own, with an acceptance criterion that runs the check).%s\n\n%s\n",
		why, a.N, target, again, targetText(red))
	if _, err := d.Tracker.UpsertComment(ctx, r.Issue.Number, fmt.Sprintf("escalation:%d", r.Issue.Number), body, d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	return Outcome{To: d.Workflow.Escalation, Reason: why}, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func orNone(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

func cellText(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
