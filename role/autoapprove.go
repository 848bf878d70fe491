package role

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/workflow"
)

// autoApprove approves a merge request by one of its gate's auto_approve
// rules, without a human (the stage the workflow adds on the gate's waits
// label). A rule that matches the validated head starts a grace period,
// said in a comment; a human's rejection (the issue leaves the gate) or a
// review thread opened in it cancels it. Once it passed, and while the
// daily cap allows, the approval is recorded as the rule, never as a
// person, and the issue moves to the approve label: the gate's decision
// (package gate) counts it only at that head.
type autoApprove struct{}

// Policy event states (eventlog.KindPolicy, Data["state"]).
const (
	policyPending   = "pending"
	policyApproved  = "approved"
	policyCancelled = "cancelled"
)

func (autoApprove) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	g := d.Workflow.GateWaiting(r.Stage.On)
	if g == nil || g.AutoApprove == nil {
		return Outcome{}, Permanent(fmt.Errorf("stage %s: no gate with auto_approve waits at %s", r.Stage.Name, r.Stage.On))
	}
	// Waits watch the merge request (and the issue, always): polls leave
	// the rules alone until something they look at may have changed.
	watch := &Watch{}
	wait := func(why string) (Outcome, error) {
		return Outcome{Wait: true, ForHuman: true, Watch: watch, Reason: "no automatic approval: " + why}, nil
	}
	mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
	if errors.Is(err, agentorg.ErrNotFound) {
		return wait("the issue has no merge request")
	}
	if err != nil {
		return Outcome{}, err
	}
	watch.MR = mr.Number
	a, ok, err := d.Log.LastAttempt(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if !ok || a.Verdict != eventlog.GO || a.CommitSHA != mr.HeadSHA {
		return wait(fmt.Sprintf("merge request !%d's head %s is not a validated GO", mr.Number, short(mr.HeadSHA)))
	}
	evs, err := d.Log.Events(ctx, eventlog.Filter{Issue: n, Kind: eventlog.KindPolicy})
	if err != nil {
		return Outcome{}, err
	}
	last := lastPolicy(evs, g.Name, mr.HeadSHA)
	if last != nil && last.Data["state"] == policyApproved {
		// A crash after recording it: only the label is left.
		return Outcome{Reason: last.Reason}, nil
	}
	if last != nil && last.Data["state"] == policyCancelled {
		return wait(last.Reason)
	}
	c, threads, err := changeAt(ctx, d, r, mr, a)
	if err != nil {
		return Outcome{}, err
	}
	m := gate.MatchRules(g.AutoApprove, gate.NeverGlobs(d.Workflow), c)
	if m.Rule == "" {
		why := m.Never
		if why == "" {
			why = "no rule holds (" + strings.Join(m.Misses, "; ") + ")"
		}
		return wait(why)
	}
	bot := d.Workflow.Tracker.Bot
	actor := gate.PolicyApproval{Rule: m.Rule}.Actor()
	key := fmt.Sprintf("policy:%d:%s", n, mr.HeadSHA)
	now := time.Now()
	if last == nil {
		due := now.Add(g.AutoApprove.Grace)
		data := map[string]string{"state": policyPending, "gate": g.Name, "rule": m.Rule, "head": mr.HeadSHA, "due": due.UTC().Format(time.RFC3339)}
		body := fmt.Sprintf("## Approved by rule `%s` at %s unless a human objects\n\nMerge request !%d at `%s`: %s.\n\nThe approval takes effect at %s (in %s). A rejection or a review thread before then cancels it; `agentorg approve %d` approves it now.",
			m.Rule, due.Local().Format("15:04:05"), mr.Number, short(mr.HeadSHA), m.Why, due.Local().Format("15:04:05"), g.AutoApprove.Grace, n)
		if _, err := d.Tracker.UpsertComment(ctx, n, key, body, bot); err != nil {
			return Outcome{}, err
		}
		if err := d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: actor, Kind: eventlog.KindPolicy,
			Reason: fmt.Sprintf("rule %s will approve merge request !%d at %s at %s: %s", m.Rule, mr.Number, short(mr.HeadSHA), due.Local().Format("15:04:05"), m.Why),
			Data:   data}); err != nil {
			return Outcome{}, err
		}
		last = &eventlog.Event{At: now, Data: data}
	}
	due, _ := time.Parse(time.RFC3339, last.Data["due"])
	if now.Before(due) {
		return Outcome{Wait: true, ForHuman: true, Watch: &Watch{Until: due, MR: mr.Number},
			Reason: fmt.Sprintf("rule %s approves at %s unless a human objects", m.Rule, due.Local().Format("15:04:05"))}, nil
	}
	// The grace period is over: a review thread opened in it is a veto.
	if why := threadSince(threads, last.At); why != "" {
		return cancelPolicy(ctx, d, r, g, mr, key, why)
	}
	if used, err := policyApprovedSince(ctx, d, now.Add(-24*time.Hour)); err != nil {
		return Outcome{}, err
	} else if used >= g.AutoApprove.MaxPerDay {
		return wait(fmt.Sprintf("gate %q approved %d merge requests by rule in the last 24 hours, its max_per_day; a human approves this one", g.Name, used))
	}
	why := fmt.Sprintf("%s approved merge request !%d at %s: %s", actor, mr.Number, short(mr.HeadSHA), m.Why)
	body := fmt.Sprintf("## Approved by rule `%s`\n\nMerge request !%d at `%s`: %s. Recorded as `%s`; no human approved it, and none objected in the grace period.",
		m.Rule, mr.Number, short(mr.HeadSHA), m.Why, actor)
	if _, err := d.Tracker.UpsertComment(ctx, n, key, body, bot); err != nil {
		return Outcome{}, err
	}
	if err := d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: actor, Kind: eventlog.KindPolicy, Reason: why,
		Data: map[string]string{"state": policyApproved, "gate": g.Name, "rule": m.Rule, "head": mr.HeadSHA}}); err != nil {
		return Outcome{}, err
	}
	return Outcome{Reason: why}, nil
}

// cancelPolicy records that a human's objection cancelled the pending
// approval at the merge request's head, and leaves the gate to humans.
func cancelPolicy(ctx context.Context, d *Deps, r *Run, g *workflow.Gate, mr agentorg.MergeRequest, key, why string) (Outcome, error) {
	n := r.Issue.Number
	reason := fmt.Sprintf("the automatic approval of merge request !%d at %s is cancelled: %s; a human decides", mr.Number, short(mr.HeadSHA), why)
	if _, err := d.Tracker.UpsertComment(ctx, n, key, "## Automatic approval cancelled\n\n"+reason+".", d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	if err := d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindPolicy, Reason: reason,
		Data: map[string]string{"state": policyCancelled, "gate": g.Name, "head": mr.HeadSHA}}); err != nil {
		return Outcome{}, err
	}
	return Outcome{Wait: true, ForHuman: true, Watch: &Watch{MR: mr.Number}, Reason: "no automatic approval: " + reason}, nil
}

// lastPolicy is the newest policy event of gate g at head.
func lastPolicy(evs []eventlog.Event, g, head string) *eventlog.Event {
	var last *eventlog.Event
	for i := range evs {
		if evs[i].Data["gate"] == g && evs[i].Data["head"] == head {
			last = &evs[i]
		}
	}
	return last
}

// threadSince says who opened one of the merge request's review threads
// at or after since ("": nobody), or whose thread is open.
func threadSince(ths []agentorg.ReviewThread, since time.Time) string {
	for _, th := range ths {
		switch {
		case len(th.Notes) > 0 && !th.Notes[0].CreatedAt.Before(since):
			return fmt.Sprintf("%s opened a review thread in the grace period", th.Author())
		case !th.Resolved:
			return fmt.Sprintf("%s's review thread is open", th.Author())
		}
	}
	return ""
}

// policyApprovedSince counts the automatic approvals recorded since t,
// across issues: the daily cap.
func policyApprovedSince(ctx context.Context, d *Deps, t time.Time) (int, error) {
	evs, err := d.Log.Events(ctx, eventlog.Filter{Kind: eventlog.KindPolicy})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range evs {
		if e.Data["state"] == policyApproved && !e.At.Before(t) {
			n++
		}
	}
	return n, nil
}

// PolicyApprovals lists the automatic approvals recorded for an issue at
// gate g, for package gate's decision.
func PolicyApprovals(ctx context.Context, log *eventlog.Log, issue int64, g *workflow.Gate) ([]gate.PolicyApproval, error) {
	if g == nil || g.AutoApprove == nil {
		return nil, nil
	}
	evs, err := log.Events(ctx, eventlog.Filter{Issue: issue, Kind: eventlog.KindPolicy})
	if err != nil {
		return nil, err
	}
	var out []gate.PolicyApproval
	for _, e := range evs {
		if e.Data["state"] == policyApproved && e.Data["gate"] == g.Name {
			out = append(out, gate.PolicyApproval{Rule: e.Data["rule"], SHA: e.Data["head"]})
		}
	}
	return out, nil
}

// changeAt is what the rules look at: the merge request's head against
// its one parent (the squash agentorg pushes is one commit on the
// target), the criteria, the attempts, the threads, and whether it is the
// recovery's revert.
func changeAt(ctx context.Context, d *Deps, r *Run, mr agentorg.MergeRequest, a eventlog.Attempt) (gate.Change, []agentorg.ReviewThread, error) {
	var c gate.Change
	var ths []agentorg.ReviewThread
	ps, err := d.Mirror.Parents(ctx, mr.HeadSHA)
	if err != nil {
		if err := d.Mirror.Fetch(ctx); err != nil {
			return c, ths, err
		}
		if ps, err = d.Mirror.Parents(ctx, mr.HeadSHA); err != nil {
			return c, ths, err
		}
	}
	if len(ps) != 1 {
		return c, ths, fmt.Errorf("merge request !%d: head %s has %d parents, not the one of agentorg's squash", mr.Number, short(mr.HeadSHA), len(ps))
	}
	ch, err := d.Mirror.Changes(ctx, ps[0], mr.HeadSHA)
	if err != nil {
		return c, ths, err
	}
	if ch.Unread != "" {
		return c, ths, fmt.Errorf("merge request !%d: %s", mr.Number, ch.Unread)
	}
	for _, f := range ch.Files {
		c.Paths = append(c.Paths, f.Path)
		c.Lines += f.Added + f.Deleted
	}
	plan, err := Plan(ctx, d.Tracker, r.Issue.Number)
	if err != nil {
		return c, ths, err
	}
	crits, _ := criteria.FromIssueOrPlan(r.Issue.Body, plan)
	for _, cr := range crits {
		if cr.Command != "" {
			c.CriteriaByCommand++
		} else {
			c.CriteriaJudged++
		}
	}
	as, err := d.Log.Attempts(ctx, r.Issue.Number)
	if err != nil {
		return c, ths, err
	}
	for _, p := range as {
		if p.Agent != eventlog.EngineAgent && p.N <= a.N {
			c.Attempt++
		}
	}
	c.Attempt = max(c.Attempt, 1) // a revert's one attempt is the engine's
	if rt, ok := d.Tracker.(agentorg.ReviewThreads); ok {
		var err error
		if ths, err = rt.Threads(ctx, mr.Number); err != nil {
			return c, ths, err
		}
		for _, th := range ths {
			if !th.Resolved {
				c.OpenThreads++
			}
		}
	}
	t, err := d.Log.Target(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return c, ths, err
	}
	c.Revert = t.RevertIssue != 0 && t.RevertIssue == r.Issue.Number
	return c, ths, nil
}
