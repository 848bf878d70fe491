package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/workflow"
)

// issueView is an issue's page: its story from the event log, its plan,
// attempts, review rounds, merge requests and runs, and, when it waits at
// a gate, what a person may do there.
type issueView struct {
	Issue    agentorg.Issue
	Place    board.Place
	Events   []eventlog.Event
	Plan     string
	Attempts []eventlog.Attempt
	Chart    template.HTML // distance per attempt, an inline SVG
	Rounds   []eventlog.Round
	MRs      []mrView
	Runs     []runLink

	// Acting at the gate the issue waits at.
	Gate     *workflow.Gate
	Head     string // the merge request's head the page shows, at a merge request's gate
	PlanSeen string // the version of the plan the page shows (gate.PlanVersion)
	Embedded bool   // people act here; on GitLab they act in GitLab
	IssueURL string // on GitLab, the issue there
	MRURL    string // on GitLab, its merge request there
	Next     string // the page's path, to come back to after signing in
	Problem  string // why an action was refused
	Reason   string // the rejection reason typed, kept when refused
}

// liveStream follows the issue's events, except on the page of a refused
// action: its address is the form's, and a refresh would drop the refusal.
func (v *issueView) liveStream() string {
	if v.Problem != "" {
		return ""
	}
	return fmt.Sprintf("/live?issue=%d", v.Issue.Number)
}

// mrView is a merge request of the issue with its review threads.
type mrView struct {
	agentorg.MergeRequest
	AtHead  []agentorg.Approval
	Void    []agentorg.Approval // given at an earlier head
	Threads []agentorg.ReviewThread
}

// runLink is a run of the issue whose transcript is kept.
type runLink struct {
	ID    string
	Stage string
	Actor string
	At    time.Time
}

// issueNumber reads the page's issue number: false (and a 400 sent) when
// the path holds none.
func (s *Server) issueNumber(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := r.PathValue("n")
	n, err := strconv.ParseInt(strings.TrimPrefix(v, "#"), 10, 64)
	if err != nil || n < 1 {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not an issue number: issues are numbered 1, 2, 3 and so on", v))
		return 0, false
	}
	return n, true
}

func (s *Server) issuePage(w http.ResponseWriter, r *http.Request) {
	n, ok := s.issueNumber(w, r)
	if !ok {
		return
	}
	s.showIssue(w, r, n, http.StatusOK, "", "")
}

// showIssue renders issue n's page, with the problem an action met.
func (s *Server) showIssue(w http.ResponseWriter, r *http.Request, n int64, status int, problem, reason string) {
	v, err := s.readIssue(r.Context(), n)
	if errors.Is(err, agentorg.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("there is no issue #%d in this tracker", n))
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	v.Problem, v.Reason = problem, reason
	s.render(w, r, status, "issue", fmt.Sprintf("#%d %s", n, v.Issue.Title), v)
}

// readIssue gathers what issue n's page shows.
func (s *Server) readIssue(ctx context.Context, n int64) (*issueView, error) {
	wf, t := s.cfg.Workflow, s.cfg.Tracker
	is, err := t.Issue(ctx, n)
	if err != nil {
		return nil, err
	}
	v := &issueView{Issue: is, Place: board.Where(wf, is), Embedded: s.cfg.Users != nil, Next: fmt.Sprintf("/issues/%d", n)}
	if v.Events, err = s.cfg.Log.Events(ctx, eventlog.Filter{Issue: n}); err != nil {
		return nil, err
	}
	if v.Plan, err = role.Plan(ctx, t, n); err != nil {
		return nil, err
	}
	if v.PlanSeen, err = gate.PlanVersion(ctx, t, n); err != nil {
		return nil, err
	}
	if v.Attempts, err = s.cfg.Log.Attempts(ctx, n); err != nil {
		return nil, err
	}
	v.Chart = distanceChart(v.Attempts)
	if v.Rounds, err = s.cfg.Log.Rounds(ctx, n); err != nil {
		return nil, err
	}
	mrs, err := t.ListMRs(ctx, agentorg.MRFilter{Issue: n, SourceBranch: wf.Branch(n)})
	if err != nil {
		return nil, err
	}
	rt, _ := t.(agentorg.ReviewThreads)
	for _, mr := range mrs {
		m := mrView{MergeRequest: mr, AtHead: mr.ApprovedAtHead()}
		for _, a := range mr.Approvals {
			if a.SHA != mr.HeadSHA {
				m.Void = append(m.Void, a)
			}
		}
		if rt != nil {
			if m.Threads, err = rt.Threads(ctx, mr.Number); err != nil {
				return nil, err
			}
		}
		v.MRs = append(v.MRs, m)
	}
	seen := map[string]bool{}
	for _, e := range v.Events {
		if e.RunID == "" || seen[e.RunID] {
			continue
		}
		seen[e.RunID] = true
		if _, err := os.Stat(role.TranscriptPath(s.cfg.Home, e.RunID)); err == nil {
			v.Runs = append(v.Runs, runLink{ID: e.RunID, Stage: e.Stage, Actor: e.Actor, At: e.At})
		}
	}

	if v.Place.Kind == board.Waiting && is.State == agentorg.IssueOpen {
		v.Gate = v.Place.Gate
	}
	var mr *agentorg.MergeRequest
	if len(mrs) > 0 {
		mr = &mrs[len(mrs)-1]
	}
	if v.Gate != nil && v.Gate.MergeRequest {
		if m, err := gate.IssueMR(ctx, t, wf, n); err == nil {
			v.Head, mr = m.HeadSHA, &m
		} else if !errors.Is(err, agentorg.ErrNotFound) {
			return nil, err
		}
	}
	if !v.Embedded {
		v.IssueURL = wf.IssueURL(n)
		if mr != nil {
			v.MRURL = wf.MRURL(mr.Number)
		}
	}
	return v, nil
}

// desk is where the dashboard's people act: the CLI's rules, recorded as
// done through the dashboard by a person whose credential it checked.
func (s *Server) desk() *human.Desk {
	return &human.Desk{Workflow: s.cfg.Workflow, Tracker: s.cfg.Tracker, Log: s.cfg.Log, Identity: "dashboard"}
}

func orNone(label string) string {
	if label == "" {
		return "no state"
	}
	return label
}

func (s *Server) approveIssue(w http.ResponseWriter, r *http.Request, who *session) {
	n, ok := s.issueNumber(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if s.cfg.Users == nil {
		s.showIssue(w, r, n, http.StatusForbidden, "people approve in GitLab, not here: the dashboard never acts as the bot", "")
		return
	}
	_, err := s.desk().ApproveShown(ctx, n, who.user, shownBy(r))
	if err != nil {
		s.showIssue(w, r, n, refusalStatus(err), "Not approved: "+err.Error(), "")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/issues/%d", n), http.StatusSeeOther)
}

func (s *Server) rejectIssue(w http.ResponseWriter, r *http.Request, who *session) {
	n, ok := s.issueNumber(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if s.cfg.Users == nil {
		s.showIssue(w, r, n, http.StatusForbidden, "people reject in GitLab, not here: the dashboard never acts as the bot", reason)
		return
	}
	if reason == "" {
		s.showIssue(w, r, n, http.StatusBadRequest, "Not rejected: a rejection needs a reason, which is what the agent is told to change", reason)
		return
	}
	_, err := s.desk().RejectShown(ctx, n, who.user, reason, shownBy(r))
	if err != nil {
		s.showIssue(w, r, n, refusalStatus(err), "Not rejected: "+err.Error(), reason)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/issues/%d", n), http.StatusSeeOther)
}

// shownBy is what the page's form says it showed: the gate, and the merge
// request's head or the plan's version (which then must not be empty: a
// form without it shows nothing to bind to).
func shownBy(r *http.Request) human.Shown {
	plan := r.PostFormValue("plan")
	if plan == "" {
		plan = "none shown"
	}
	return human.Shown{Gate: r.PostFormValue("gate"), Head: r.PostFormValue("head"), Plan: plan}
}

// refusalStatus is the HTTP status of an action's refusal.
func refusalStatus(err error) int {
	var notAllowed *human.NotAllowedError
	var moved *human.MovedError
	switch {
	case errors.As(err, &notAllowed):
		return http.StatusForbidden
	case errors.As(err, &moved):
		return http.StatusConflict
	case errors.Is(err, agentorg.ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// distanceChart draws the distance of each validated attempt as a small
// line chart: an inline SVG with a title and a description that says the
// same in words ("" when no attempt was validated).
func distanceChart(attempts []eventlog.Attempt) template.HTML {
	type point struct{ n, d int }
	var pts []point
	top := 1
	for _, a := range attempts {
		if a.Distance >= 0 && a.Verdict != "" {
			pts = append(pts, point{a.N, a.Distance})
			top = max(top, a.Distance)
		}
	}
	if len(pts) == 0 {
		return ""
	}
	const w, h, left, right, up, down = 320, 140, 36, 12, 12, 28
	span := max(len(pts)-1, 1)
	x := func(i int) float64 { return left + float64(i)*float64(w-left-right)/float64(span) }
	y := func(d int) float64 { return up + float64(top-d)*float64(h-up-down)/float64(top) }
	if len(pts) == 1 {
		x = func(int) float64 { return float64(left+w-right) / 2 }
	}
	var words []string
	for _, p := range pts {
		words = append(words, fmt.Sprintf("attempt %d: %d", p.n, p.d))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 %d %d" width="%d" height="%d">`, w, h, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">Distance per attempt</title><desc id="chart-desc">Distance from GO (failing checks and unmet criteria) per attempt: %s.</desc>`,
		template.HTMLEscapeString(strings.Join(words, "; ")))
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/><line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`,
		left, up, left, h-down, left, h-down, w-right, h-down)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%d</text><text class="tick" x="%d" y="%.1f" text-anchor="end">0</text>`,
		left-6, y(top)+4, top, left-6, y(0)+4)
	var line []string
	for i, p := range pts {
		line = append(line, fmt.Sprintf("%.1f,%.1f", x(i), y(p.d)))
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(line, " "))
	}
	for i, p := range pts {
		fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="4"/>`, x(i), y(p.d))
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%d</text>`, x(i), h-down+16, p.n)
	}
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">attempt</text></svg>`, w-right, h-2)
	return template.HTML(b.String())
}
