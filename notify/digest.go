package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/eventfmt"
	"github.com/agentorg/agentorg/eventlog"
)

// Digest is the answer to "/agentorg status" (issue 0: the board: issues
// per state, what runs, who waits for whom, escalations) or "/agentorg
// status N" (that issue: where it is, its attempts and distances, what it
// waits for, its last events).
func Digest(ctx context.Context, src Sources, issue int64) (Notice, error) {
	var n Notice
	var err error
	if issue == 0 {
		n, err = boardDigest(ctx, src)
	} else {
		n, err = issueDigest(ctx, src, issue)
	}
	if err != nil {
		return Notice{}, err
	}
	n.Kind, n.Color, n.Closed = KindDigest, ColorInfo, true
	fit(&n)
	return n, nil
}

func boardDigest(ctx context.Context, src Sources) (Notice, error) {
	bs := board.Sources{Workflow: src.Workflow, Tracker: src.Tracker, Log: src.Log, DB: src.DB}
	if src.DB == nil {
		return Notice{}, fmt.Errorf("notify: the board's digest needs the engine's database (Sources.DB)")
	}
	b, err := board.Read(ctx, bs)
	if err != nil {
		return Notice{}, err
	}
	now := src.now()
	n := Notice{Key: "digest:board", Title: fmt.Sprintf("agentorg status at %s", stamp(now))}
	if src.DashboardURL != "" {
		n.URL = strings.TrimRight(src.DashboardURL, "/")
		n.Links = []Link{{Label: "Dashboard", URL: n.URL}}
	}
	titles := map[int64]string{}
	for _, is := range b.Open {
		titles[is.Number] = is.Title
	}
	var t strings.Builder
	fmt.Fprintf(&t, "%s open", plural(len(b.Open), "issue"))
	fmt.Fprintf(&t, " · %d running · %d waiting for a person · %d escalated", len(b.Running), len(b.Waiting), len(b.Escalated))
	if len(b.Failed) > 0 {
		fmt.Fprintf(&t, " · %d failed", len(b.Failed))
	}
	if b.Closed != nil {
		fmt.Fprintf(&t, "\n\n**%s is closed** since %s: %s", b.Closed.Branch, stamp(b.Closed.Since), oneLine(b.Closed.Reason, 400))
	}
	n.Text = t.String()

	var states []string
	for _, s := range b.States {
		if len(s.Issues) > 0 {
			states = append(states, fmt.Sprintf("`%s`: %s", s.Label, issueList(s.Issues)))
		}
	}
	if len(b.Outside) > 0 {
		states = append(states, "not opted in: "+issueList(b.Outside))
	}
	n.Fields = append(n.Fields, Field{Name: "Issues by state", Value: orNothing(states)})
	{
		var runs []string
		for _, r := range b.Running {
			line := fmt.Sprintf("#%d %s since %s", r.Issue, r.Stage, stamp(r.Since))
			if r.Stale {
				line += " (stale: its worker stopped beating)"
			}
			runs = append(runs, line)
		}
		n.Fields = append(n.Fields, Field{Name: "Running", Value: orNothing(runs)})
	}
	var waits []string
	for _, w := range b.Waiting {
		line := fmt.Sprintf("#%d %s: gate %s waits for %s since %s", w.Issue, oneLine(w.Title, 80), w.Gate, w.Who, stamp(w.Since))
		if w.Rules != "" {
			line += " (" + oneLine(w.Rules, 120) + ")"
		}
		waits = append(waits, line)
	}
	n.Fields = append(n.Fields, Field{Name: "Waiting for people", Value: orNothing(waits)})
	var escs []string
	for _, e := range b.Escalated {
		escs = append(escs, fmt.Sprintf("#%d %s: %s", e.Issue, oneLine(e.Title, 80), oneLine(e.Reason, 200)))
	}
	for _, f := range b.Failed {
		escs = append(escs, fmt.Sprintf("#%d %s at `%s`: %s", f.Issue, oneLine(f.Title, 80), f.Label, oneLine(f.Reason, 200)))
	}
	n.Fields = append(n.Fields, Field{Name: "Escalated or failed", Value: orNothing(escs)})
	var held []string
	for _, h := range b.Held {
		held = append(held, fmt.Sprintf("#%d %s: %s", h.Issue, h.Stage, oneLine(h.Reason, 200)))
	}
	for _, r := range b.Retrying {
		held = append(held, fmt.Sprintf("#%d %s retries at %s: %s", r.Issue, r.Stage, stamp(r.At), oneLine(r.Reason, 200)))
	}
	if len(held) > 0 {
		n.Fields = append(n.Fields, Field{Name: "Held or retrying", Value: strings.Join(held, "\n")})
	}
	return n, nil
}

func issueDigest(ctx context.Context, src Sources, issue int64) (Notice, error) {
	wf := src.Workflow
	is, err := src.Tracker.Issue(ctx, issue)
	if err != nil {
		return Notice{}, err
	}
	p := board.Where(wf, is)
	evs, err := src.Log.Events(ctx, eventlog.Filter{Issue: issue})
	if err != nil {
		return Notice{}, err
	}
	as, err := src.Log.Attempts(ctx, issue)
	if err != nil {
		return Notice{}, err
	}
	mr, err := issueMR(ctx, src, issue)
	if err != nil {
		return Notice{}, err
	}
	var mrNumber int64
	if mr != nil {
		mrNumber = mr.Number
	}
	n := Notice{Key: fmt.Sprintf("digest:%d", issue), Issue: issue}
	n.URL, n.Links = links(src, issue, mrNumber)
	where := p.Label
	if where == "" {
		where = "no state"
	}
	if is.State == agentorg.IssueClosed {
		where = "closed"
		if p.Label != "" {
			where += " at " + p.Label
		}
	}
	n.Title = fmt.Sprintf("#%d %s: %s", issue, strings.Join(strings.Fields(is.Title), " "), where)
	var t strings.Builder
	switch p.Kind {
	case board.Waiting:
		fmt.Fprintf(&t, "Waits at gate **%s** for %s; %s.", p.Gate.Name, p.Gate.Allowed(), wf.HowToApprove(p.Gate, issue))
	case board.Escalated:
		why := "a person added `" + p.Label + "`"
		for _, e := range evs {
			if e.Kind == eventlog.KindEscalate {
				why = oneLine(e.Reason, 600)
			}
		}
		fmt.Fprintf(&t, "Escalated: %s. Transcripts: `agentorg logs --issue %d`.", why, issue)
	case board.Failed:
		fmt.Fprintf(&t, "Failed at `%s`: a person looks.", p.Label)
	case board.Working:
		fmt.Fprintf(&t, "In the works at `%s`.", p.Label)
	case board.Done:
		t.WriteString("Done.")
	default:
		t.WriteString("Not opted in.")
	}
	if len(as) > 0 {
		fmt.Fprintf(&t, "\n\n**Attempts** (budget %s)\n", budget(wf.Budget))
		for _, a := range as {
			fmt.Fprintf(&t, "- %s\n", attemptLine(a))
		}
	}
	n.Text = strings.TrimRight(t.String(), "\n")
	n.Fields = append(n.Fields, Field{Name: "State", Value: where, Inline: true},
		Field{Name: "Distance per attempt", Value: distances(as), Inline: true})
	if mr != nil {
		n.Fields = append(n.Fields, Field{Name: "Merge request", Value: fmt.Sprintf("!%d %s at `%s`", mr.Number, mr.State, short(mr.HeadSHA)), Inline: true})
	}
	var lines []string
	for i := max(len(evs)-8, 0); i < len(evs); i++ {
		e := evs[i]
		lines = append(lines, fmt.Sprintf("%s %s: %s", e.At.UTC().Format("01-02 15:04"), eventfmt.Move(e), oneLine(e.Reason, 160)))
	}
	n.Fields = append(n.Fields, Field{Name: "Last events", Value: orNothing(lines)})
	return n, nil
}

// issueList: "#1, #4".
func issueList(ns []int64) string {
	parts := make([]string, len(ns))
	for i, k := range ns {
		parts[i] = fmt.Sprintf("#%d", k)
	}
	return strings.Join(parts, ", ")
}

func orNothing(lines []string) string {
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "\n")
}
