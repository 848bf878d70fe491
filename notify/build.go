package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/workflow"
)

// story is what every kind of notice reads of its issue.
type story struct {
	src     Sources
	opening eventlog.Event
	kind    string
	issue   agentorg.Issue
	place   board.Place
	events  []eventlog.Event // the issue's, oldest first
	later   []eventlog.Event // the issue's after the opening one
	mr      *agentorg.MergeRequest
}

// Build renders the notice opened by event opening, as the issue stands
// now. A channel renders it again on every later event of the issue and
// edits its message when the result differs.
func Build(ctx context.Context, src Sources, opening eventlog.Event) (Notice, error) {
	kind, ok := Opens(src.Workflow, opening)
	if !ok {
		return Notice{}, fmt.Errorf("notify: event %d (%s on #%d) opens no notice", opening.ID, opening.Kind, opening.Issue)
	}
	s := &story{src: src, opening: opening, kind: kind}
	var err error
	if s.issue, err = src.Tracker.Issue(ctx, opening.Issue); err != nil {
		return Notice{}, err
	}
	s.place = board.Where(src.Workflow, s.issue)
	if s.events, err = src.Log.Events(ctx, eventlog.Filter{Issue: opening.Issue}); err != nil {
		return Notice{}, err
	}
	for _, e := range s.events {
		if e.ID > opening.ID {
			s.later = append(s.later, e)
		}
	}
	if s.mr, err = issueMR(ctx, src, opening.Issue); err != nil {
		return Notice{}, err
	}
	n := Notice{Key: key(kind, opening), Kind: kind, Issue: opening.Issue, IssueClosed: s.issue.State == agentorg.IssueClosed}
	var mrNumber int64
	if s.mr != nil {
		mrNumber = s.mr.Number
	}
	n.URL, n.Links = links(src, opening.Issue, mrNumber)
	switch kind {
	case KindPlan:
		err = s.plan(ctx, &n)
	case KindMergeRequest:
		err = s.mergeRequest(ctx, &n)
	case KindEscalation:
		err = s.escalation(ctx, &n)
	case KindE2E:
		err = s.e2e(ctx, &n)
	case KindRelease:
		err = s.release(ctx, &n)
	case KindDeploy:
		err = s.deploy(ctx, &n)
	}
	if err != nil {
		return Notice{}, err
	}
	fit(&n)
	return n, nil
}

// issueMR is the issue's merge request: the open (or merged) one, else the
// newest; nil when it has none.
func issueMR(ctx context.Context, src Sources, n int64) (*agentorg.MergeRequest, error) {
	mr, err := gate.IssueMR(ctx, src.Tracker, src.Workflow, n)
	if err == nil {
		return &mr, nil
	}
	if !errors.Is(err, agentorg.ErrNotFound) {
		return nil, err
	}
	mrs, err := src.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: n, SourceBranch: src.Workflow.Branch(n)})
	if err != nil || len(mrs) == 0 {
		return nil, err
	}
	return &mrs[len(mrs)-1], nil
}

// title is a notice's title: "#12 Add a --unique flag: what".
func (s *story) title(what string) string {
	return fmt.Sprintf("#%d %s: %s", s.issue.Number, strings.Join(strings.Fields(s.issue.Title), " "), what)
}

// superseded returns the later event of the issue that opens a notice of
// the same kind, if any: this one's question is then moot.
func (s *story) superseded() (eventlog.Event, bool) {
	for _, e := range s.later {
		if k, ok := Opens(s.src.Workflow, e); ok && k == s.kind {
			return e, true
		}
	}
	return eventlog.Event{}, false
}

// where says where the issue is now, for a status line: "now dev:running",
// "merged as !4 · closed", "closed".
func (s *story) where() string {
	var parts []string
	if s.mr != nil && s.mr.State == agentorg.MRMerged {
		parts = append(parts, fmt.Sprintf("merged as !%d (%s)", s.mr.Number, short(s.mr.MergeSHA)))
	}
	if s.issue.State == agentorg.IssueClosed {
		parts = append(parts, "closed")
	} else if s.place.Label != "" {
		parts = append(parts, "now "+s.place.Label)
	} else {
		parts = append(parts, "now in no state")
	}
	return strings.Join(parts, " · ")
}

// decision is a person's (or a rule's) answer at a gate.
type decision struct {
	approved bool
	by       string
	via      string
	reason   string // a rejection's
	event    eventlog.Event
}

func (d decision) String() string {
	var b strings.Builder
	if d.approved {
		b.WriteString("approved by " + d.by)
	} else {
		b.WriteString("rejected by " + d.by)
	}
	if d.via != "" {
		b.WriteString(" via " + d.via)
	}
	b.WriteString(" at " + stamp(d.event.At))
	if !d.approved && d.reason != "" {
		b.WriteString(": " + oneLine(d.reason, 300))
	}
	return b.String()
}

// decided returns the first answer at gate g after the opening event: a
// person's approval or rejection (eventlog.KindHuman from the waits
// label), or the engine's record of an approval given in the tracker or
// by a rule (a transition from the waits label to the approve label).
func (s *story) decided(g *workflow.Gate) (decision, bool) {
	for _, e := range s.later {
		if e.From != g.Waits || (e.Kind != eventlog.KindHuman && e.Kind != eventlog.KindTransition) {
			continue
		}
		switch e.To {
		case g.Approve:
			by := e.Actor
			if e.Kind == eventlog.KindTransition && e.Data["approver"] != "" {
				by = e.Data["approver"]
			}
			return decision{approved: true, by: by, via: e.Data["via"], event: e}, true
		case g.Reject:
			if e.Kind != eventlog.KindHuman {
				continue
			}
			reason, _ := strings.CutPrefix(e.Reason, e.Actor+" rejected: ")
			return decision{by: e.Actor, via: e.Data["via"], reason: reason, event: e}, true
		}
	}
	return decision{}, false
}

// refusedSince returns the newest refused approval at gate g after the
// opening event, with nothing decided.
func (s *story) refused(g *workflow.Gate) (eventlog.Event, bool) {
	for i := len(s.later) - 1; i >= 0; i-- {
		if e := s.later[i]; e.Kind == eventlog.KindRefused && e.Data["gate"] == g.Name {
			return e, true
		}
	}
	return eventlog.Event{}, false
}

// gateStatus settles a gate's notice: its status, color, and whether the
// question is still open (then the caller binds the Ask).
// The title says the outcome: "plan waits for approval", "plan approved".
func (s *story) gateStatus(n *Notice, g *workflow.Gate, noun, what string) (open bool) {
	waiting := s.issue.State == agentorg.IssueOpen && s.place.Kind == board.Waiting && s.place.Gate != nil && s.place.Gate.Name == g.Name
	if later, ok := s.superseded(); ok {
		n.Title = s.title(noun + " superseded")
		n.Status = fmt.Sprintf("superseded by a new %s at %s · %s", what, stamp(later.At), s.where())
		n.Color, n.Closed = ColorMoot, true
		return false
	}
	if d, ok := s.decided(g); ok {
		n.Status = d.String() + " · " + s.where()
		n.Title, n.Color, n.Closed = s.title(noun+" rejected"), ColorFailed, true
		if d.approved {
			n.Title, n.Color = s.title(noun+" approved"), ColorDone
		}
		return false
	}
	if !waiting {
		n.Title = s.title(noun + " no longer waits")
		n.Status = fmt.Sprintf("no longer waits at %s · %s", g.Waits, s.where())
		n.Color, n.Closed = ColorMoot, true
		return false
	}
	n.Title = s.title(noun + " waits for approval")
	n.Status = fmt.Sprintf("waits for %s since %s", g.Allowed(), stamp(s.opening.At))
	if e, ok := s.refused(g); ok {
		who := e.Data["approver"]
		if who == "" {
			who = "an approval"
		} else {
			who = "the approval by " + who
		}
		n.Status += fmt.Sprintf(" · %s was refused at %s: %s", who, stamp(e.At), oneLine(e.Reason, 200))
	}
	n.Color = ColorWaiting
	return true
}

// allApprovers are the approvers of every gate, sorted, without repeats.
func allApprovers(wf *workflow.Workflow) []string {
	var out []string
	for _, g := range wf.Gates {
		out = append(out, g.Approvers...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sortedCopy is users sorted, without repeats.
func sortedCopy(users []string) []string {
	out := slices.Clone(users)
	slices.Sort(out)
	return slices.Compact(out)
}
