package role

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/workflow"
)

// E2E that recovers by itself (docs/lifecycle.md, "E2E recovery"). A
// failure that a second run confirms closes the target: the merge stage
// lands only the recovery's own changes until E2E passes again. The merge
// that broke it is found by bisecting the target's first-parent history
// since the last green run, each commit's tree run once (the check
// cache), and, when that merge passes alone, by trying it with each
// earlier one to name the combination. Then, with recovery revert, an
// issue of its own reverts the culprit (validated and approved like any
// change), and the culprit's issue goes back to its developer's session
// with the failure. Every step is recorded on the target's row first, so
// a crash and a retry go on where it stopped and do each thing once.

// bisectDepth bounds how far back the bisect looks for a green commit.
const bisectDepth = 64

// e2eRerun is the check name of E2E run a second time at a head where it
// failed: a pass then makes the failure flaky.
const e2eRerun = "e2e-rerun"

// closedTo says why issue n may not land now ("" when it may): the target
// is closed, and n is neither the revert nor, with recovery close, the
// culprit's fix.
func closedTo(ctx context.Context, d *Deps, n int64) (string, error) {
	t, err := d.Log.Target(ctx, d.Workflow.Repo.TargetBranch)
	return closedFor(d, t, n), err
}

// closedFor is closedTo for a target state already read.
func closedFor(d *Deps, t eventlog.Target, n int64) string {
	return closedReason(t, d.Workflow.E2E.Recovery, n)
}

// openTarget records that E2E passed at head: the newest green commit, and
// the end of a closure, which it returns (zero when the target was open).
// The culprit of a reverted merge goes back to its developer now: its
// change is off the target, so what it brings back is validated whole.
func openTarget(ctx context.Context, d *Deps, r *Run, head string) (eventlog.Target, error) {
	t, err := d.Log.Target(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil || !t.Closed {
		if err != nil || t.GreenSHA == head {
			return eventlog.Target{}, err
		}
		t.GreenSHA = head
		return eventlog.Target{}, d.Log.SetTarget(ctx, t)
	}
	was := t
	if was.CulpritIssue != 0 && !was.SentBack {
		res, err := redResult(ctx, d, was.RedSHA)
		if err != nil {
			return was, err
		}
		if err := sendBack(ctx, d, r, was, res); err != nil {
			return was, err
		}
	}
	t = eventlog.Target{Branch: t.Branch, GreenSHA: head, Since: time.Now(), Reason: fmt.Sprintf("E2E passed at %s", short(head))}
	if err := d.Log.SetTarget(ctx, t); err != nil {
		return was, err
	}
	why := fmt.Sprintf("%s is open again: E2E passed at %s (closed at %s: %s)", t.Branch, short(head), short(was.RedSHA), was.Reason)
	recordRecovery(ctx, d, r, r.Issue.Number, why, map[string]string{"target": t.Branch, "state": "open", "head": head})
	if d.Wake != nil {
		// Merges and E2E runs that waited for the target wake up.
		d.Wake()
	}
	return was, nil
}

// redResult is the confirmed E2E failure recorded at head.
func redResult(ctx context.Context, d *Deps, head string) (agentorg.CheckResult, error) {
	cs, err := d.Tracker.Checks(ctx, head)
	if err != nil {
		return agentorg.CheckResult{}, err
	}
	var out agentorg.CheckResult
	for _, c := range cs {
		if c.Name == e2eRerun || (c.Name == e2eCheck && out.Name == "") {
			out = c
		}
	}
	return out, nil
}

// recoverTarget closes the target at head (once), bisects (once), opens
// the revert and sends the culprit back (each once). It returns the
// target's state.
func recoverTarget(ctx context.Context, d *Deps, r *Run, head string, res agentorg.CheckResult) (eventlog.Target, error) {
	t, err := d.Log.Target(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return t, err
	}
	if !t.Closed {
		t = eventlog.Target{Branch: t.Branch, Closed: true, RedSHA: head, GreenSHA: t.GreenSHA, Since: time.Now(),
			Reason: fmt.Sprintf("E2E failed at %s, and again when run once more", short(head))}
		if err := d.Log.SetTarget(ctx, t); err != nil {
			return t, err
		}
		recordRecovery(ctx, d, r, r.Issue.Number, fmt.Sprintf("%s is closed: %s; only the recovery's changes land until E2E passes", t.Branch, t.Reason),
			map[string]string{"target": t.Branch, "state": "closed", "head": head})
	}
	if !t.Bisected {
		b, err := bisect(ctx, d, r, t.GreenSHA, t.RedSHA)
		if err != nil {
			return t, err
		}
		t.Bisected, t.Culprit, t.CulpritIssue, t.Partner, t.PartnerIssue = true, b.culprit, b.issue, b.partner, b.partnerIssue
		t.Reason = b.story
		if err := d.Log.SetTarget(ctx, t); err != nil {
			return t, err
		}
		recordRecovery(ctx, d, r, r.Issue.Number, "bisect: "+b.story, map[string]string{"culprit": b.culprit,
			"culprit_issue": fmt.Sprint(b.issue), "partner": b.partner, "partner_issue": fmt.Sprint(b.partnerIssue)})
	}
	if t.CulpritIssue == 0 {
		return t, nil
	}
	if d.Workflow.E2E.Recovery == workflow.RecoveryRevert && t.RevertIssue == 0 {
		if t.RevertIssue, err = openRevert(ctx, d, r, t, res); err != nil {
			return t, err
		}
		if err := d.Log.SetTarget(ctx, t); err != nil {
			return t, err
		}
	}
	if !t.SentBack && d.Workflow.E2E.Recovery == workflow.RecoveryClose {
		// With a revert, the culprit goes back once the revert merged
		// (openTarget): a fix validated on a target that still holds the
		// change would lose it when merged after the revert.
		if err := sendBack(ctx, d, r, t, res); err != nil {
			return t, err
		}
		t.SentBack = true
		if err := d.Log.SetTarget(ctx, t); err != nil {
			return t, err
		}
	}
	return t, nil
}

// afterFailure says where this run's issue goes once the target is
// recovering from a failure at head.
func afterFailure(ctx context.Context, d *Deps, r *Run, t eventlog.Target, head string) (Outcome, error) {
	n := r.Issue.Number
	switch {
	case t.CulpritIssue == 0:
		return escalate(ctx, d, r, fmt.Sprintf("E2E failed at %s and no merge agentorg can tell apart broke it: %s", short(head), t.Reason))
	case n == t.RevertIssue:
		return escalate(ctx, d, r, fmt.Sprintf("E2E still fails at %s, after the revert of %s merged", short(head), short(t.Culprit)))
	case n == t.CulpritIssue:
		mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
		if err != nil {
			return Outcome{}, err
		}
		if mr.MergeSHA != t.Culprit {
			// A fix merged since (recovery close), and E2E still fails.
			return escalate(ctx, d, r, fmt.Sprintf("E2E still fails at %s, after the fix of #%d merged as %s", short(head), n, short(mr.MergeSHA)))
		}
		if t.SentBack {
			return Outcome{To: developerLabel(d), Reason: fmt.Sprintf("%s; back to the developer's session", t.Reason)}, nil
		}
		return Outcome{Wait: true, ForHuman: true, Watch: &Watch{}, Reason: fmt.Sprintf("E2E failed at %s: %s; #%d reverts it, and this issue goes back to its developer's session once the revert merged",
			short(head), t.Reason, t.RevertIssue)}, nil
	}
	// Woken when the target opens (Deps.Wake), or by a poll every few
	// minutes, not on every poll: nothing changes before that.
	return Outcome{Wait: true, ForHuman: true, Watch: &Watch{}, Reason: fmt.Sprintf("E2E failed at %s: %s; this issue's merge is not the cause, and E2E runs for it again once %s passes",
		short(head), t.Reason, d.Workflow.Repo.TargetBranch)}, nil
}

// developerLabel is the label that hands an issue to its developer.
func developerLabel(d *Deps) string {
	if ds := d.Workflow.StagesWithRole(agentorg.RoleDeveloper); len(ds) > 0 {
		return ds[0].On
	}
	return d.Workflow.Escalation
}

// bisection is what a bisect found.
type bisection struct {
	culprit, partner    string
	issue, partnerIssue int64
	story               string
}

// bisect finds the first first-parent commit between green and red at
// which E2E fails, and whether that merge fails alone or only with an
// earlier one. Without a known green commit, the oldest commit within
// bisectDepth is tried as one.
func bisect(ctx context.Context, d *Deps, r *Run, green, red string) (bisection, error) {
	target := d.Workflow.Repo.TargetBranch
	fps, err := d.Mirror.FirstParents(ctx, red, bisectDepth+1)
	if err != nil {
		return bisection{}, err
	}
	k := 0
	for i := 1; i < len(fps) && k == 0; i++ {
		ok, err := passedAt(ctx, d, fps[i])
		if err != nil {
			return bisection{}, err
		}
		if ok || fps[i] == green {
			k = i
		}
	}
	if k == 0 {
		if len(fps) < 2 {
			return bisection{story: fmt.Sprintf("E2E fails at %s, the first commit of %s", short(red), target)}, nil
		}
		k = len(fps) - 1
		ok, err := e2eOn(ctx, d, r, fps[k], "the oldest commit the bisect looks at")
		if err != nil {
			return bisection{}, err
		}
		if !ok {
			return bisection{story: fmt.Sprintf("E2E fails at %s too, %d commits back on %s: it was failing before the merges since",
				short(fps[k]), k, target)}, nil
		}
	}
	seq := slices.Clone(fps[:k+1])
	slices.Reverse(seq) // seq[0] passes, the last fails
	lo, hi := 0, len(seq)-1
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := e2eOn(ctx, d, r, seq[mid], "bisect")
		if err != nil {
			return bisection{}, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	b := bisection{culprit: seq[hi]}
	if b.issue, err = issueOfMerge(ctx, d, b.culprit); err != nil {
		return b, err
	}
	what := describeMerge(b.culprit, b.issue)
	b.story = fmt.Sprintf("E2E passes at %s and fails at %s, which merged %s", short(seq[hi-1]), short(b.culprit), what)
	if hi < 2 {
		return b, nil // nothing merged between: it fails alone
	}
	// Does the culprit fail alone, on the last green commit?
	alone, ok, err := pickOnto(ctx, d, seq[0], b.culprit)
	if err != nil || !ok {
		return b, err
	}
	passedAlone, err := e2eOn(ctx, d, r, alone, "the culprit alone on the last green commit")
	if err != nil || !passedAlone {
		return b, err
	}
	// It passes alone: find the earlier merge it fails with.
	for i := 1; i < hi; i++ {
		with, ok, err := pickOnto(ctx, d, seq[0], seq[i])
		if err != nil {
			return b, err
		}
		if !ok {
			continue
		}
		both, ok, err := pickOnto(ctx, d, with, b.culprit)
		if err != nil {
			return b, err
		}
		if !ok {
			continue
		}
		passed, err := e2eOn(ctx, d, r, both, "the culprit with an earlier merge")
		if err != nil {
			return b, err
		}
		if !passed {
			b.partner = seq[i]
			if b.partnerIssue, err = issueOfMerge(ctx, d, b.partner); err != nil {
				return b, err
			}
			b.story += fmt.Sprintf("; it passes alone on %s and fails only together with %s", short(seq[0]), describeMerge(b.partner, b.partnerIssue))
			return b, nil
		}
	}
	b.story += fmt.Sprintf("; it passes alone on %s and with each earlier merge alone: only the merges since together break E2E", short(seq[0]))
	return b, nil
}

// pickOnto writes tip with commit's change (against its first parent)
// applied; ok is false when it does not apply cleanly.
func pickOnto(ctx context.Context, d *Deps, tip, commit string) (string, bool, error) {
	ps, err := d.Mirror.Parents(ctx, commit)
	if err != nil || len(ps) == 0 {
		return "", false, err
	}
	c, conflicts, err := d.Mirror.ApplyChange(ctx, tip, ps[0], commit, "bisect: "+short(commit)+" on "+short(tip), d.Identity)
	return c, err == nil && len(conflicts) == 0, err
}

// describeMerge names a merge for people: its issue when agentorg made it.
func describeMerge(commit string, issue int64) string {
	if issue == 0 {
		return "a commit agentorg did not merge (" + short(commit) + ")"
	}
	return fmt.Sprintf("#%d", issue)
}

// issueOfMerge returns the issue whose merge request merged as commit (0:
// none of agentorg's).
func issueOfMerge(ctx context.Context, d *Deps, commit string) (int64, error) {
	mrs, err := d.Tracker.ListMRs(ctx, agentorg.MRFilter{State: agentorg.MRMerged, TargetBranch: d.Workflow.Repo.TargetBranch})
	if err != nil {
		return 0, err
	}
	for _, m := range mrs {
		if m.MergeSHA == commit {
			return m.Issue, nil
		}
	}
	return 0, nil
}

// passedAt reports whether E2E passed at sha when it ran there.
func passedAt(ctx context.Context, d *Deps, sha string) (bool, error) {
	cs, err := d.Tracker.Checks(ctx, sha)
	if err != nil {
		return false, err
	}
	for _, c := range cs {
		if (c.Name == e2eCheck || c.Name == e2eRerun) && c.Status == agentorg.CheckPassed {
			return true, nil
		}
	}
	return false, nil
}

// e2eDefinition names E2E runs in the check cache.
func e2eDefinition(d *Deps) string {
	return definition(check.Check{Name: e2eCheck, Run: d.Workflow.E2E.Run, Timeout: d.Workflow.E2E.Timeout})
}

// e2eOn runs E2E on commit's tree in a clean checkout, or answers from the
// check cache when that tree ran before, and records the step.
func e2eOn(ctx context.Context, d *Deps, r *Run, commit, why string) (bool, error) {
	tree, err := d.Mirror.Tree(ctx, commit)
	if err != nil {
		return false, err
	}
	def := e2eDefinition(d)
	if hit, ok, err := d.Log.CachedCheck(ctx, tree, def); err != nil || ok {
		return hit.Passed, err
	}
	res, err := runE2E(ctx, d, r, commit)
	if err != nil {
		return false, err
	}
	if err := d.Log.CacheCheck(ctx, tree, def, eventlog.CheckRun{Passed: res.Passed, ExitCode: res.ExitCode, Reason: res.Reason,
		Output: res.Output, Duration: res.Duration}); err != nil {
		return false, err
	}
	verdict := "fails"
	if res.Passed {
		verdict = "passes"
	}
	recordRecovery(ctx, d, r, r.Issue.Number, fmt.Sprintf("%s: E2E %s at %s (%s)", why, verdict, short(commit), res.Duration.Round(time.Millisecond)),
		map[string]string{"commit": commit, "tree": tree, "passed": fmt.Sprint(res.Passed)})
	return res.Passed, nil
}

// revertKey marks the issue that reverts a culprit, so that a retry finds
// it instead of opening a second one.
func revertKey(culprit string) string { return "revert:" + culprit }

// openRevert opens (or finds) the issue that reverts the culprit, writes
// the revert commit on the current target as its work, and hands it to
// validation. A revert that does not apply goes to a human.
func openRevert(ctx context.Context, d *Deps, r *Run, t eventlog.Target, res agentorg.CheckResult) (int64, error) {
	bot := d.Workflow.Tracker.Bot
	target := d.Workflow.Repo.TargetBranch
	key := revertKey(t.Culprit)
	all, err := d.Tracker.ListIssues(ctx, agentorg.IssueFilter{})
	if err != nil {
		return 0, err
	}
	var is agentorg.Issue
	for _, i := range all {
		if agentorg.HasMarker(i.Body, key) {
			is = i
		}
	}
	if is.Number == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\nE2E fails on `%s`: %s.\n\nThis reverts %s (`%s`) so that E2E passes again; #%d goes back to its developer to come back fixed.\n\n",
			agentorg.Marker(key), target, t.Reason, describeMerge(t.Culprit, t.CulpritIssue), short(t.Culprit), t.CulpritIssue)
		fmt.Fprintf(&b, "```\n%s\n```\n\n## Acceptance criteria\n\n- [ ] `%s` passes\n", lastLines(strings.TrimRight(res.Output, "\n"), 30), d.Workflow.E2E.Run)
		if is, err = d.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("Revert #%d: it broke E2E on %s", t.CulpritIssue, target),
			Body: b.String(), Author: bot}); err != nil {
			return 0, err
		}
		recordRecovery(ctx, d, r, is.Number, fmt.Sprintf("opened to revert %s (%s), which broke E2E on %s", describeMerge(t.Culprit, t.CulpritIssue), short(t.Culprit), target),
			map[string]string{"culprit": t.Culprit, "culprit_issue": fmt.Sprint(t.CulpritIssue)})
	}
	n := is.Number
	a, ok, err := d.Log.LastAttempt(ctx, n)
	if err != nil {
		return n, err
	}
	if !ok || a.Work() == "" {
		if err := d.Mirror.Fetch(ctx); err != nil {
			return n, err
		}
		tip, err := d.Mirror.RemoteHead(ctx, target)
		if err != nil {
			return n, err
		}
		ps, err := d.Mirror.Parents(ctx, t.Culprit)
		if err != nil {
			return n, err
		}
		msg := fmt.Sprintf("Revert #%d: it broke E2E on %s\n\nThis reverts commit %s.", t.CulpritIssue, target, t.Culprit)
		commit, conflicts, err := d.Mirror.ApplyChange(ctx, tip, t.Culprit, ps[0], msg, d.Identity)
		if err != nil {
			return n, err
		}
		if len(conflicts) > 0 {
			why := fmt.Sprintf("the revert of %s does not apply on %s (%s): later merges changed the same lines (%s); a person reverts or fixes it",
				short(t.Culprit), target, short(tip), strings.Join(conflicts, ", "))
			if _, err := d.Tracker.UpdateLabels(ctx, n, []string{d.Workflow.Escalation}, nil, bot); err != nil {
				return n, err
			}
			_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindEscalate, Reason: why})
			_, err := d.Tracker.UpsertComment(ctx, n, "revert-conflict:"+t.Culprit, "## Needs a human\n\n"+why+".", bot)
			return n, err
		}
		if !ok {
			if a, err = d.Log.StartAttempt(ctx, eventlog.Attempt{Issue: n, N: 1, RunID: r.ID, Agent: eventlog.EngineAgent}); err != nil {
				return n, err
			}
		}
		d.keepWork(ctx, r, n, a.N, commit)
		if err := d.Log.SetWork(ctx, n, a.N, commit); err != nil {
			return n, err
		}
	}
	if a.Verdict == "" && !is.HasLabel(d.Workflow.Escalation) {
		vs := d.Workflow.StagesWithRole(agentorg.RoleValidator)
		if len(vs) == 0 {
			return n, Permanent(fmt.Errorf("recovery revert needs a validate stage to validate the revert"))
		}
		if !is.HasLabel(vs[0].On) {
			if _, err := d.Tracker.UpdateLabels(ctx, n, []string{vs[0].On}, nil, bot); err != nil {
				return n, err
			}
			_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindTransition,
				To: vs[0].On, Reason: "the revert commit waits for validation like any change"})
		}
	}
	return n, nil
}

// sendBack reopens the culprit's issue and hands it to its developer's
// same session, the failure as the feedback it works from.
func sendBack(ctx context.Context, d *Deps, r *Run, t eventlog.Target, res agentorg.CheckResult) error {
	bot := d.Workflow.Tracker.Bot
	n := t.CulpritIssue
	target := d.Workflow.Repo.TargetBranch
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## E2E broke after this change merged\n\n%s.", agentorg.Marker(agentorg.FeedbackKey), t.Reason)
	if t.RevertIssue != 0 {
		fmt.Fprintf(&b, " #%d reverts it on `%s`.", t.RevertIssue, target)
	}
	fmt.Fprintf(&b, " Make the change again so that `%s` passes:\n\n```\n%s\n```\n", d.Workflow.E2E.Run, lastLines(strings.TrimRight(res.Output, "\n"), 40))
	if _, err := d.Tracker.UpsertComment(ctx, n, "e2e-culprit:"+t.Culprit, b.String(), bot); err != nil {
		return err
	}
	if err := d.Tracker.ReopenIssue(ctx, n, bot); err != nil {
		return err
	}
	if n == r.Issue.Number {
		return nil // this run's outcome moves it
	}
	is, err := d.Tracker.Issue(ctx, n)
	if err != nil {
		return err
	}
	dev := developerLabel(d)
	var remove []string
	for _, l := range d.Workflow.StateLabels() {
		if l != dev && is.HasLabel(l) {
			remove = append(remove, l)
		}
	}
	if _, err := d.Tracker.UpdateLabels(ctx, n, []string{dev}, remove, bot); err != nil {
		return err
	}
	return d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindTransition,
		From: strings.Join(remove, ","), To: dev, Reason: t.Reason + "; back to the developer's session"})
}

// recordRecovery records a step of the recovery on an issue.
func recordRecovery(ctx context.Context, d *Deps, r *Run, issue int64, why string, data map[string]string) {
	_ = d.Log.Record(ctx, eventlog.Event{Issue: issue, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
		Kind: eventlog.KindRecover, Reason: why, Data: data})
}
