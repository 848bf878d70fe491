// Package gate decides whether a gate's approval holds (DESIGN rules 5
// and 11): who may approve, which approvals of a merge request count, and
// why one that does not hold is refused. The decision is a pure function of
// the gate and Facts, gathered from the tracker beforehand (Gather); the
// engine applies the verdict, and human and the merge stage ask the same
// functions, so that the rules live here and nowhere else.
//
// The rules (docs/lifecycle.md I4 and I5):
//   - the bot never approves, whatever its access level;
//   - a gate allows the people it names and, when it sets a minimum access
//     level, every project member at that level or above, as the tracker
//     tells it (a tracker that cannot tell allows nobody by level);
//   - the approve label counts only when the last event that added it came
//     from someone the gate allows;
//   - on a merge request gate, the merge request must also be approved by
//     someone the gate allows at its current head: an approval is void once
//     new commits land, and an issue without a merge request has not
//     reached the gate;
//   - a label the bot added counts on a merge request gate only when a
//     policy approval recorded by agentorg is at the merge request's
//     current head; the approver is then the rule ("policy:<rule>").
package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/workflow"
)

// PolicyApproval is an automatic approval agentorg recorded: the rule
// that approved (e.g. "docs-only") and the merge request head it approved.
// It counts only on a merge request gate, and only at that head.
type PolicyApproval struct {
	Rule string
	SHA  string
}

// Actor is who a policy approval names as its approver: the rule, never a
// person.
func (p PolicyApproval) Actor() string { return "policy:" + p.Rule }

// Facts are what the tracker (and agentorg's record) says about an
// issue at a gate, gathered before deciding (see Gather).
type Facts struct {
	Issue int64
	Bot   string
	// Label is the last event that added the gate's approve label; nil
	// when nobody is recorded adding it.
	Label *agentorg.LabelEvent
	// MR is the issue's merge request, for a merge request gate; nil when
	// the issue has none yet (or the gate is not on a merge request).
	MR *agentorg.MergeRequest
	// Levels are the access levels of the people involved (who added the
	// label, who approved the merge request), when the gate allows by
	// level; LevelsKnown is whether the tracker can tell levels at all
	// (it is an agentorg.AccessReader).
	Levels      map[string]agentorg.AccessLevel
	LevelsKnown bool
	// Policy are the automatic approvals agentorg recorded for the issue.
	Policy []PolicyApproval
}

// Verdict is whether a gate's approval holds.
type Verdict struct {
	Holds bool
	// Actor is who approved, when it holds: a person, or "policy:<rule>".
	Actor string
	// Reason says why it does not hold, for the refusal comment.
	Reason string
	// Reached is false when the issue has not reached the gate (a merge
	// request gate before the issue has a merge request).
	Reached bool
}

// MayApprove reports whether user may approve at gate g: never the bot,
// whatever its level; anyone the gate names; and, when the gate sets a
// minimum access level, any project member at that level or above (level
// is user's, known whether the tracker can tell levels at all). When the
// answer is no, why says so in words for the refusal comment.
func MayApprove(g *workflow.Gate, bot, user string, level agentorg.AccessLevel, known bool) (ok bool, why string) {
	switch {
	case user == "":
		return false, "nobody is named"
	case user == bot:
		return false, fmt.Sprintf("%s is the bot; only a human may approve", user)
	case slices.Contains(g.Approvers, user):
		return true, ""
	case g.MinAccessLevel == agentorg.AccessNone:
		return false, fmt.Sprintf("%s is not an approver of gate %q (allowed: %s)", user, g.Name, g.Allowed())
	case !known:
		return false, fmt.Sprintf("gate %q allows by access level, which this tracker cannot tell", g.Name)
	case level >= g.MinAccessLevel:
		return true, ""
	}
	return false, fmt.Sprintf("%s has %s access in the project; gate %q needs %s or above (allowed: %s)",
		user, level, g.Name, g.MinAccessLevel, g.Allowed())
}

// mayApprove is MayApprove with the user's level taken from f.
func (f Facts) mayApprove(g *workflow.Gate, user string) (bool, string) {
	return MayApprove(g, f.Bot, user, f.Levels[user], f.LevelsKnown)
}

// ApprovedAt reports who approved the merge request f.MR at sha, if anyone
// counts: someone gate g allows (never the bot), else, on a merge request
// gate, a policy approval at sha ("policy:<rule>").
func ApprovedAt(g *workflow.Gate, f Facts, sha string) (actor string, ok bool) {
	if f.MR != nil {
		for _, a := range f.MR.Approvals {
			if a.SHA != sha {
				continue
			}
			if ok, _ := f.mayApprove(g, a.User); ok {
				return a.User, true
			}
		}
	}
	if p, ok := policyAt(g, f, sha); ok {
		return p.Actor(), true
	}
	return "", false
}

// policyAt returns a policy approval at sha; only a merge request gate
// takes one.
func policyAt(g *workflow.Gate, f Facts, sha string) (PolicyApproval, bool) {
	if !g.MergeRequest || sha == "" {
		return PolicyApproval{}, false
	}
	for _, p := range f.Policy {
		if p.SHA == sha {
			return p, true
		}
	}
	return PolicyApproval{}, false
}

// HeadRefusals says, for each approval of the merge request f.MR at its
// current head, why it does not count at gate g (who gave it and, on a
// gate that allows by access level, their role); nil when one counts.
func HeadRefusals(g *workflow.Gate, f Facts) (counted bool, refused []string) {
	if f.MR == nil {
		return false, nil
	}
	for _, a := range f.MR.ApprovedAtHead() {
		ok, why := f.mayApprove(g, a.User)
		if ok {
			return true, nil
		}
		refused = append(refused, why)
	}
	return false, refused
}

// Decide says whether the approval behind gate g's approve label holds.
func Decide(g *workflow.Gate, f Facts) Verdict {
	last := f.Label
	refuse := func(why string) Verdict { return Verdict{Reason: why, Reached: true} }
	switch {
	case last == nil:
		return refuse(fmt.Sprintf("nobody is recorded adding %s", g.Approve))
	case last.Actor == f.Bot:
		if f.MR != nil {
			if p, ok := policyAt(g, f, f.MR.HeadSHA); ok {
				return Verdict{Holds: true, Actor: p.Actor(), Reached: true}
			}
		}
		return refuse(fmt.Sprintf("%s was added by the bot (%s); only a human may approve", g.Approve, f.Bot))
	}
	if ok, whyNot := f.mayApprove(g, last.Actor); !ok {
		return refuse(fmt.Sprintf("%s was added by %s, who may not approve: %s", g.Approve, last.Actor, whyNot))
	}
	if !g.MergeRequest {
		return Verdict{Holds: true, Actor: last.Actor, Reached: true}
	}
	if f.MR == nil {
		return Verdict{Reason: fmt.Sprintf("%s was added by %s, but #%d has no merge request to approve yet", g.Approve, last.Actor, f.Issue)}
	}
	if why := headRefusal(g, f); why != "" {
		return refuse(why)
	}
	return Verdict{Holds: true, Actor: last.Actor, Reached: true}
}

// headRefusal says why the merge request's approvals do not pass gate g
// ("": they do): nobody approved at its head, or who did and why they may
// not, beside who added the label.
func headRefusal(g *workflow.Gate, f Facts) string {
	counted, refused := HeadRefusals(g, f)
	mr := f.MR
	switch {
	case counted:
		return ""
	case len(refused) == 0:
		return fmt.Sprintf("merge request !%d has no approval by an allowed approver (%s) at its head %.10s (an approval is void once new commits land)",
			mr.Number, g.Allowed(), mr.HeadSHA)
	}
	by := f.Label.Actor
	if f.LevelsKnown && g.MinAccessLevel != agentorg.AccessNone {
		by = fmt.Sprintf("%s (%s access)", by, f.Levels[by])
	}
	return fmt.Sprintf("%s was added by %s, who may approve; but at its head %.10s, merge request !%d is approved only by someone who may not: %s",
		g.Approve, by, mr.HeadSHA, mr.Number, strings.Join(refused, "; "))
}

// LastAdded returns the last event that added label, nil when none did.
func LastAdded(evs []agentorg.LabelEvent, label string) *agentorg.LabelEvent {
	var last *agentorg.LabelEvent
	for i := range evs {
		if evs[i].Label == label && evs[i].Action == agentorg.LabelAdded {
			last = &evs[i]
		}
	}
	return last
}

// Access asks the tracker the access levels of users, when gate g allows
// by level and the tracker can tell (known: it is an agentorg.AccessReader).
// The bot is never asked about: it never approves.
func Access(ctx context.Context, t agentorg.Tracker, g *workflow.Gate, bot string, users ...string) (levels map[string]agentorg.AccessLevel, known bool, err error) {
	ar, known := t.(agentorg.AccessReader)
	if !known || g.MinAccessLevel == agentorg.AccessNone {
		return nil, known, nil
	}
	levels = map[string]agentorg.AccessLevel{}
	for _, u := range users {
		if _, ok := levels[u]; ok || u == "" || u == bot {
			continue
		}
		l, err := ar.AccessLevel(ctx, u)
		if err != nil {
			return nil, known, fmt.Errorf("access level of %s: %w", u, err)
		}
		levels[u] = l
	}
	return levels, known, nil
}

// Gather reads what Decide needs about issue at gate g: the label events,
// the issue's merge request (a merge request gate whose label someone
// added), and the access levels of who added the label and who approved.
// policy are the automatic approvals agentorg recorded for the issue; the
// caller reads them from its record.
func Gather(ctx context.Context, t agentorg.Tracker, w *workflow.Workflow, g *workflow.Gate, issue int64, policy []PolicyApproval) (Facts, error) {
	f := Facts{Issue: issue, Bot: w.Tracker.Bot, Policy: policy}
	evs, err := t.LabelEvents(ctx, issue)
	if err != nil {
		return f, err
	}
	f.Label = LastAdded(evs, g.Approve)
	if f.Label == nil {
		_, f.LevelsKnown = t.(agentorg.AccessReader)
		return f, nil
	}
	users := []string{f.Label.Actor}
	if g.MergeRequest {
		mr, err := IssueMR(ctx, t, w, issue)
		switch {
		case err == nil:
			f.MR = &mr
			users = append(users, approvers(mr)...)
		case !errors.Is(err, agentorg.ErrNotFound):
			return f, err
		}
	}
	f.Levels, f.LevelsKnown, err = Access(ctx, t, g, f.Bot, users...)
	return f, err
}

// GatherMR reads what ApprovedAt needs about merge request mr, which the
// caller has: the access levels of who approved it. The facts have no
// label event.
func GatherMR(ctx context.Context, t agentorg.Tracker, w *workflow.Workflow, g *workflow.Gate, mr agentorg.MergeRequest, policy []PolicyApproval) (Facts, error) {
	f := Facts{Issue: mr.Issue, Bot: w.Tracker.Bot, MR: &mr, Policy: policy}
	var err error
	f.Levels, f.LevelsKnown, err = Access(ctx, t, g, f.Bot, approvers(mr)...)
	return f, err
}

func approvers(mr agentorg.MergeRequest) []string {
	var users []string
	for _, a := range mr.Approvals {
		users = append(users, a.User)
	}
	return users
}

// IssueMR returns the newest merge request of an issue that is open or
// merged. It asks by the issue's branch (the one its merge requests come
// from), so that a forge answers with that branch's few merge requests
// rather than paging through the project's history.
func IssueMR(ctx context.Context, t agentorg.Tracker, w *workflow.Workflow, issue int64) (agentorg.MergeRequest, error) {
	mrs, err := t.ListMRs(ctx, agentorg.MRFilter{Issue: issue, SourceBranch: w.Branch(issue)})
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	for i := len(mrs) - 1; i >= 0; i-- {
		if mrs[i].State != agentorg.MRClosed {
			return mrs[i], nil
		}
	}
	return agentorg.MergeRequest{}, fmt.Errorf("issue #%d has no open merge request: %w", issue, agentorg.ErrNotFound)
}
