// Package human holds what people do to the organization through the CLI:
// opt an issue in, approve or reject at a gate. The demo plays its human
// through these same functions, so what it shows is what a user gets.
package human

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/workflow"
)

// Desk is where a human acts: the workflow that says who may do what, the
// tracker, and the event log that records it.
type Desk struct {
	Workflow *workflow.Workflow
	Tracker  agentorg.Tracker
	Log      *eventlog.Log
	// Identity says how the person acting was identified ("credential":
	// their credential was checked, see Users.Authenticate); it is kept
	// in the events the desk records, beside the actor.
	Identity string
	// Via names the channel a person acted through when it is not the
	// CLI ("Discord"): it ends the recorded reason ("alice approved the
	// plan via Discord").
	Via string
	// Data is kept in every event the desk records (the Discord
	// interaction an approval came from).
	Data map[string]string
}

// record records a person's action, with how they were identified.
func (d *Desk) record(ctx context.Context, e eventlog.Event) error {
	if d.Identity != "" || len(d.Data) > 0 || d.Via != "" {
		if e.Data == nil {
			e.Data = map[string]string{}
		}
		for k, v := range d.Data {
			e.Data[k] = v
		}
		if d.Identity != "" {
			e.Data["identity"] = d.Identity
		}
		if d.Via != "" {
			e.Data["via"] = d.Via
			e.Reason += " via " + d.Via
		}
	}
	return d.Log.Record(ctx, e)
}

// Labels adds and removes labels by hand, and records it: a person moving
// an issue's state is an event like any other.
func (d *Desk) Labels(ctx context.Context, issue int64, add, remove []string, user string) (agentorg.Issue, error) {
	before, err := d.Tracker.Issue(ctx, issue)
	if err != nil {
		return before, err
	}
	is, err := d.Tracker.UpdateLabels(ctx, issue, add, remove, user)
	if err != nil {
		return is, err
	}
	var added, removed []string
	for _, l := range add {
		if !before.HasLabel(l) && is.HasLabel(l) {
			added = append(added, l)
		}
	}
	for _, l := range remove {
		if before.HasLabel(l) && !is.HasLabel(l) {
			removed = append(removed, l)
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return is, nil
	}
	e := eventlog.Event{Issue: issue, Actor: user, Kind: eventlog.KindHuman, Reason: labelReason(user, added, removed)}
	if len(removed) == 1 {
		e.From = removed[0]
	}
	if len(added) == 1 {
		e.To = added[0]
	}
	return is, d.record(ctx, e)
}

func labelReason(user string, added, removed []string) string {
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, ", "))
	}
	return user + " " + strings.Join(parts, " and ") + " by hand"
}

// Close closes an issue by hand, and records it.
func (d *Desk) Close(ctx context.Context, issue int64, user string) error {
	if err := d.Tracker.CloseIssue(ctx, issue, user); err != nil {
		return err
	}
	return d.record(ctx, eventlog.Event{Issue: issue, Actor: user, Kind: eventlog.KindHuman, Reason: user + " closed the issue"})
}

// NotAllowedError says a user tried to approve or reject at a gate they are
// not an approver of.
type NotAllowedError struct {
	User string
	Gate *workflow.Gate
	Why  string // e.g. their access level, when the gate allows by level
}

func (e *NotAllowedError) Error() string {
	why := ""
	if e.Why != "" {
		why = ": " + e.Why
	}
	allowed := fmt.Sprintf(" (allowed: %s)", e.Gate.Allowed())
	if strings.Contains(why, allowed) {
		allowed = "" // the reason says it already
	}
	return fmt.Sprintf("%s may not approve or reject at gate %q%s%s; change `gates.%s.approvers` or `min_access_level` in the workflow to allow them",
		e.User, e.Gate.Name, why, allowed, e.Gate.Name)
}

// OptIn adds the workflow's opt-in label, which hands the issue to the PM.
func (d *Desk) OptIn(ctx context.Context, issue int64, user string) error {
	if _, err := d.Tracker.UpdateLabels(ctx, issue, []string{d.Workflow.OptIn}, nil, user); err != nil {
		return err
	}
	return d.record(ctx, eventlog.Event{Issue: issue, Actor: user, Kind: eventlog.KindTransition, To: d.Workflow.OptIn,
		Reason: "opted in by " + user})
}

// waitingGate returns the gate the issue waits at.
func (d *Desk) waitingGate(ctx context.Context, issue int64) (agentorg.Issue, *workflow.Gate, error) {
	is, err := d.Tracker.Issue(ctx, issue)
	if err != nil {
		return is, nil, err
	}
	for i := range d.Workflow.Gates {
		g := &d.Workflow.Gates[i]
		if is.HasLabel(g.Waits) {
			return is, g, nil
		}
	}
	var waits []string
	for _, g := range d.Workflow.Gates {
		waits = append(waits, g.Waits)
	}
	return is, nil, fmt.Errorf("issue #%d waits at no gate: it carries [%s], and a gate needs one of [%s]",
		issue, strings.Join(is.Labels, ", "), strings.Join(waits, ", "))
}

// mayApprove returns a NotAllowedError when user may not act at gate g,
// as package gate decides it.
func (d *Desk) mayApprove(ctx context.Context, g *workflow.Gate, user string) error {
	bot := d.Workflow.Tracker.Bot
	levels, known, err := gate.Access(ctx, d.Tracker, g, bot, user)
	if err != nil {
		return err
	}
	if ok, why := gate.MayApprove(g, bot, user, levels[user], known); !ok {
		return &NotAllowedError{User: user, Gate: g, Why: why}
	}
	return nil
}

// Approve approves whatever the issue waits for: its plan, or its merge
// request at the current head. It returns the gate that was passed.
func (d *Desk) Approve(ctx context.Context, issue int64, user string) (*workflow.Gate, error) {
	return d.approve(ctx, issue, user, nil)
}

// Shown is what a person was shown when they decided to approve: the gate
// the issue waited at and, at a merge request's gate, the head they
// reviewed.
type Shown struct {
	Gate string
	Head string // the merge request's head SHA; at a merge request's gate, required
	// Plan is the plan's version shown (gate.PlanVersion), at a plan's
	// gate: a plan rewritten since is not approved unseen. "" skips the
	// check (a command that shows no plan).
	Plan string
}

// MovedError says an issue is no longer what the person approving it was
// shown: it waits at another gate, or its merge request has a new head.
type MovedError struct{ Why string }

func (e *MovedError) Error() string { return e.Why }

// ApproveShown approves as Approve does, only what the person was shown:
// the issue must still wait at shown.Gate and, at a merge request's gate,
// the merge request's head must still be shown.Head, both before the
// approval and in the approval the tracker records (one given at a head
// that moved in between is taken back). Otherwise it returns a
// *MovedError and approves nothing.
func (d *Desk) ApproveShown(ctx context.Context, issue int64, user string, shown Shown) (*workflow.Gate, error) {
	return d.approve(ctx, issue, user, &shown)
}

// gateShown returns the gate issue waits at, or a *MovedError when that is
// no longer what the person was shown (shown nil: no check).
func (d *Desk) gateShown(ctx context.Context, issue int64, shown *Shown) (*workflow.Gate, error) {
	is, g, err := d.waitingGate(ctx, issue)
	if err == nil && is.State != agentorg.IssueOpen {
		err = fmt.Errorf("issue #%d is %s", issue, is.State)
	}
	if shown == nil {
		return g, err
	}
	if err != nil {
		return nil, &MovedError{Why: fmt.Sprintf("%v, not at gate %q as when it was shown: look at it again", err, shown.Gate)}
	}
	if g.Name != shown.Gate {
		return g, &MovedError{Why: fmt.Sprintf("issue #%d moved from gate %q to gate %q since it was shown: review what it waits for now", issue, shown.Gate, g.Name)}
	}
	if !g.MergeRequest && shown.Plan != "" {
		v, err := gate.PlanVersion(ctx, d.Tracker, issue)
		if err != nil {
			return g, err
		}
		if v != shown.Plan {
			return g, &MovedError{Why: fmt.Sprintf("the plan of #%d changed since it was shown: review the new plan", issue)}
		}
	}
	return g, nil
}

func (d *Desk) approve(ctx context.Context, issue int64, user string, shown *Shown) (*workflow.Gate, error) {
	g, err := d.gateShown(ctx, issue, shown)
	if err != nil {
		return g, err
	}
	if err := d.mayApprove(ctx, g, user); err != nil {
		return g, err
	}
	what := "the plan"
	if g.Name == workflow.GateRelease {
		what = "the release notes"
	}
	if g.MergeRequest {
		mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, issue)
		if err != nil {
			return g, err
		}
		if shown != nil && mr.HeadSHA != shown.Head {
			return g, movedHead(mr)
		}
		got, err := d.Tracker.ApproveMR(ctx, mr.Number, user)
		if err != nil {
			return g, err
		}
		if shown != nil && got.HeadSHA != shown.Head {
			if _, err := d.Tracker.UnapproveMR(ctx, mr.Number, user); err != nil {
				return g, fmt.Errorf("%w; and taking back the approval given at %.10s failed: %v", movedHead(got), got.HeadSHA, err)
			}
			return g, movedHead(got)
		}
		what = fmt.Sprintf("merge request !%d at %.10s", mr.Number, got.HeadSHA)
	}
	if _, err := d.Tracker.UpdateLabels(ctx, issue, []string{g.Approve}, []string{g.Waits}, user); err != nil {
		return g, err
	}
	return g, d.record(ctx, eventlog.Event{Issue: issue, Actor: user, Kind: eventlog.KindHuman, From: g.Waits, To: g.Approve,
		Reason: fmt.Sprintf("%s approved %s", user, what), Data: map[string]string{"gate": g.Name}})
}

func movedHead(mr agentorg.MergeRequest) error {
	return &MovedError{Why: fmt.Sprintf("the merge request !%d moved to %.10s since it was shown: review the new head", mr.Number, mr.HeadSHA)}
}

// Reject sends the issue to the gate's reject label with the reason as
// feedback, which the next agent run is given.
func (d *Desk) Reject(ctx context.Context, issue int64, user, reason string) (*workflow.Gate, error) {
	return d.reject(ctx, issue, user, reason, nil)
}

// RejectShown rejects as Reject does, only what the person was shown: the
// issue must still wait at shown.Gate, at shown.Head (a merge request's
// gate) or shown.Plan (a plan's), else it returns a *MovedError.
func (d *Desk) RejectShown(ctx context.Context, issue int64, user, reason string, shown Shown) (*workflow.Gate, error) {
	return d.reject(ctx, issue, user, reason, &shown)
}

func (d *Desk) reject(ctx context.Context, issue int64, user, reason string, shown *Shown) (*workflow.Gate, error) {
	g, err := d.gateShown(ctx, issue, shown)
	if err != nil {
		return g, err
	}
	if err := d.mayApprove(ctx, g, user); err != nil {
		return g, err
	}
	if strings.TrimSpace(reason) == "" {
		return g, fmt.Errorf("a rejection needs a reason: it is what the agent is told to change")
	}
	if g.Reject == "" {
		return g, fmt.Errorf("gate %q has no reject label in the workflow", g.Name)
	}
	if g.MergeRequest {
		if mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, issue); err == nil {
			if shown != nil && shown.Head != "" && mr.HeadSHA != shown.Head {
				return g, movedHead(mr)
			}
			if _, err := d.Tracker.UnapproveMR(ctx, mr.Number, user); err != nil {
				return g, err
			}
		}
	}
	via := ""
	if d.Via != "" {
		via = " via " + d.Via
	}
	body := agentorg.Marker(agentorg.FeedbackKey) + "\n" + fmt.Sprintf("Rejected at gate %q by %s%s:\n\n%s", g.Name, user, via, reason)
	if _, err := d.Tracker.AddComment(ctx, issue, body, user); err != nil {
		return g, err
	}
	if _, err := d.Tracker.UpdateLabels(ctx, issue, []string{g.Reject}, []string{g.Waits, g.Approve}, user); err != nil {
		return g, err
	}
	return g, d.record(ctx, eventlog.Event{Issue: issue, Actor: user, Kind: eventlog.KindHuman, From: g.Waits, To: g.Reject,
		Reason: fmt.Sprintf("%s rejected: %s", user, reason), Data: map[string]string{"gate": g.Name}})
}
