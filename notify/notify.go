// Package notify says what the organization tells a person, whatever the
// channel: which events open a notice (a plan or a merge request waiting
// at a gate, an escalation, E2E failing on the target), and what a notice
// says, so that a person can decide without leaving the chat. A channel
// adapter (package discord) posts a Notice once and edits it as the issue
// moves on; a webhook or the demo prints Notice.PlainText.
//
// It only reads the tracker and the event log, and never writes. Its
// output holds tracker data and event log text only (no secrets), and is
// a function of their state: Build run twice on an unchanged issue gives
// equal notices, so a channel may hash a notice to decide whether to edit
// its message. Times are absolute ("2006-01-02 15:04 UTC"), never "3m ago".
package notify

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/workflow"
)

// Notice kinds; the workflow routes each kind to a channel and can mute
// kinds.
const (
	KindPlan         = "plan"          // a plan waits for approval
	KindMergeRequest = "merge_request" // a merge request waits for approval
	KindEscalation   = "escalation"    // an issue was handed to a human
	KindE2E          = "e2e"           // E2E failed on the target: the target closed
	KindDigest       = "digest"        // a status digest on request
	KindRelease      = "release"       // a release's notes wait for approval
	KindDeploy       = "deploy"        // a deployment waits for its environment's approvers
)

// Kinds are all the notice kinds, for the workflow's validation.
var Kinds = []string{KindPlan, KindMergeRequest, KindEscalation, KindE2E, KindDigest, KindRelease, KindDeploy}

// Colors of a notice, by kind and outcome.
const (
	ColorWaiting = 0xE3A008 // amber: a decision waits
	ColorDone    = 0x2DA44E // green: approved, merged, recovered
	ColorFailed  = 0xCF222E // red: rejected, escalated, failed
	ColorMoot    = 0x8C959F // grey: superseded, or the issue moved on without a decision here
	ColorInfo    = 0x0969DA // blue: a digest
)

// Limits of a notice: Discord's embed limits, which the smaller channels
// fit in too. Text cut to fit ends with "… (cut)".
const (
	MaxTitle      = 256
	MaxText       = 4096
	MaxFields     = 25
	MaxFieldName  = 256
	MaxFieldValue = 1024
	MaxTotal      = 6000 // title, text, field names and values, and status together
)

// TimeFormat is how notices write times: absolute, so that a notice
// rendered again on an unchanged issue is the same.
const TimeFormat = "2006-01-02 15:04 UTC"

// Sources are what notices are read from.
type Sources struct {
	Workflow *workflow.Workflow
	Tracker  agentorg.Tracker
	Log      *eventlog.Log
	// DB is the engine's database, which the board's digest (Digest of
	// issue 0) reads the runs in progress from; Build does not use it.
	DB *sql.DB
	// DashboardURL is the dashboard's base URL, "" when none is served;
	// else links go to DashboardURL+"/issues/N".
	DashboardURL string
	// Now is the clock of a digest (nil: time.Now). Build never reads it:
	// a notice depends on the issue's state alone.
	Now func() time.Time
}

func (s Sources) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Notice is what a channel shows a person about one opening event, as the
// issue stands now.
type Notice struct {
	// Key is stable per opening event: "<kind>:<issue>:<event id>", and
	// "digest:board" or "digest:<issue>" for a digest.
	Key   string
	Kind  string
	Issue int64
	// Title: "#12 Add a --unique flag: plan waits for approval".
	Title string
	// URL is the issue's page: GitLab's on GitLab, else the dashboard's,
	// else "".
	URL string
	// Text is the description, Markdown.
	Text   string
	Fields []Field
	Color  int
	// Mentions are the tracker users who may act: the gate's approvers;
	// for escalations and E2E failures, the approvers of every gate.
	Mentions []string
	// Ask is set while the decision is open: the issue still waits at the
	// gate, at the head (or plan) shown. A channel binds its Approve and
	// Reject buttons to it.
	Ask *Ask
	// Links: the tracker's issue and merge request (on GitLab), the
	// dashboard's page.
	Links []Link
	// Status is one line: what happened since the notice opened and where
	// the issue is now ("approved by alice via Discord at 2026-01-02
	// 15:04 UTC · now dev:running").
	Status string
	// Closed is set once the notice's question is answered or moot: no
	// buttons; the message is edited only as the issue moves on.
	Closed bool
	// IssueClosed says the issue is closed: nothing later changes the notice.
	IssueClosed bool
}

// Ask is the open decision a notice's buttons act on. An approval through
// it must check that the issue still waits at Gate and, at a merge
// request's gate, that the head is still Head (human.Desk.ApproveShown);
// at a plan's gate, that the plan is still Plan (gate.PlanVersion).
type Ask struct {
	Gate string
	Head string // the merge request's head SHA, at a merge request's gate
	Plan string // the plan's version (gate.PlanVersion), at a plan's gate
}

// Field is a named value of a notice.
type Field struct {
	Name, Value string
	Inline      bool
}

// Link is a labelled address.
type Link struct{ Label, URL string }

// Opens reports whether event e opens a notice, and of which kind:
//   - a transition (by the engine, or a person's label) to a gate's waits
//     label: KindMergeRequest at a merge request's gate, else KindPlan. A
//     refused approval that puts the issue back at the gate opens none:
//     the question asked is still the same;
//   - an escalation (eventlog.KindEscalate): KindEscalation;
//   - E2E failing on the target: the recovery event that closes the
//     target (eventlog.KindRecover with Data["state"] "closed"), once per
//     failure, not per bisect step; or, with recovery off, the E2E
//     stage's move to its failure label (unless that is the escalation
//     label, whose escalation event opens its own notice): KindE2E.
func Opens(wf *workflow.Workflow, e eventlog.Event) (kind string, ok bool) {
	switch e.Kind {
	case eventlog.KindEscalate:
		return KindEscalation, true
	case eventlog.KindRecover:
		if e.Data["state"] == "closed" {
			return KindE2E, true
		}
	case eventlog.KindDeploy:
		if e.Data["waiting"] != "" {
			return KindDeploy, true
		}
	case eventlog.KindTransition, eventlog.KindHuman:
		if e.To == "" {
			return "", false
		}
		if g := wf.GateWaiting(e.To); g != nil && g.Waits != g.Approve && e.From != g.Waits {
			switch {
			case g.MergeRequest:
				return KindMergeRequest, true
			case g.Name == workflow.GateRelease && wf.Release != nil:
				return KindRelease, true
			}
			return KindPlan, true
		}
		if e.Kind == eventlog.KindTransition && e.To != wf.Escalation {
			if st := wf.Stage(e.Stage); st != nil && st.Role == agentorg.RoleE2E && st.Failure == e.To {
				return KindE2E, true
			}
		}
	}
	return "", false
}

// key is a notice's key.
func key(kind string, e eventlog.Event) string {
	return fmt.Sprintf("%s:%d:%d", kind, e.Issue, e.ID)
}

// stamp writes t as notices do.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format(TimeFormat)
}

// short is a commit's short SHA.
func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

// links are an issue's URL and links: GitLab's issue and merge request
// (mr 0: none), the dashboard's page.
func links(src Sources, n, mr int64) (url string, out []Link) {
	dash := ""
	if src.DashboardURL != "" {
		dash = fmt.Sprintf("%s/issues/%d", strings.TrimRight(src.DashboardURL, "/"), n)
	}
	if url = src.Workflow.IssueURL(n); url != "" {
		out = append(out, Link{Label: fmt.Sprintf("Issue #%d", n), URL: url})
		if mr != 0 {
			out = append(out, Link{Label: fmt.Sprintf("Merge request !%d", mr), URL: src.Workflow.MRURL(mr)})
		}
	}
	if dash != "" {
		if url == "" {
			url = dash
		}
		out = append(out, Link{Label: "Dashboard", URL: dash})
	}
	return url, out
}
