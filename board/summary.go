package board

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/agentorg/agentorg/eventlog"
)

// Summary says where the issues a run moved came to rest, for the person
// who ran it: what is done, what waits for whom, what was escalated or
// failed and why.
type Summary struct {
	Done      []Item `json:"done"`
	Waiting   []Item `json:"waiting"`
	Escalated []Item `json:"escalated"`
	Failed    []Item `json:"failed"`
	Working   []Item `json:"working"` // still in a stage (a retry; or it waits, and Detail says why)
	Outside   []Item `json:"outside"` // moved out of the lifecycle by a human
	// Broke are the issues escalated or failed during the run.
	Broke []int64 `json:"broke"`
	// Retried counts the failed tries a stage got another try after.
	Retried int `json:"retried"`
}

// Item is one issue in a summary.
type Item struct {
	Issue  int64  `json:"issue"`
	Title  string `json:"title"`
	Label  string `json:"label"`
	Detail string `json:"detail"`
}

// Summarize reads where each issue that evs (a run's events) touched rests.
func Summarize(ctx context.Context, src Sources, evs []eventlog.Event) (Summary, error) {
	s := Summary{}
	var order []int64
	byIssue := map[int64][]eventlog.Event{}
	for _, e := range evs {
		if byIssue[e.Issue] == nil {
			order = append(order, e.Issue)
		}
		byIssue[e.Issue] = append(byIssue[e.Issue], e)
	}
	wf := src.Workflow
	for _, n := range order {
		is, err := src.Tracker.Issue(ctx, n)
		if err != nil {
			return Summary{}, err
		}
		run := byIssue[n]
		broke := false
		for _, e := range run {
			switch {
			case e.Kind == eventlog.KindError:
				// The engine records a failed try only when it tries again;
				// the last try's failure is an escalation.
				s.Retried++
			case e.Kind == eventlog.KindEscalate:
				broke = true
			case e.Kind == eventlog.KindTransition && isFailure(wf, e.To) && wf.StageOn(e.To) == nil:
				broke = true
			}
		}
		if broke {
			s.Broke = append(s.Broke, n)
		}
		p := Where(wf, is)
		it := Item{Issue: n, Title: is.Title, Label: p.Label}
		switch p.Kind {
		case Done:
			s.Done = append(s.Done, it)
		case Waiting:
			it.Detail = fmt.Sprintf("at gate %s; %s may approve: %s", p.Gate.Name, p.Gate.Allowed(), wf.HowToApprove(p.Gate, n))
			s.Waiting = append(s.Waiting, it)
		case Escalated, Failed:
			all, err := src.Log.Events(ctx, eventlog.Filter{Issue: n})
			if err != nil {
				return Summary{}, err
			}
			last := lastInto(all, p.Label)
			it.Detail = last.Reason
			if p.Kind == Escalated {
				for _, e := range all {
					if e.Kind == eventlog.KindEscalate {
						it.Detail = e.Reason
					}
				}
				s.Escalated = append(s.Escalated, it)
			} else {
				s.Failed = append(s.Failed, it)
			}
		case Working:
			if w, ok, err := stageNote(ctx, src.Log, n); err != nil {
				return Summary{}, err
			} else if ok {
				it.Detail = w.Reason
			}
			s.Working = append(s.Working, it)
		default:
			s.Outside = append(s.Outside, it)
		}
	}
	return s, nil
}

// WriteText prints the summary and what to do next, each line at most
// Width columns.
func (s Summary) WriteText(w io.Writer) error {
	out := &cutter{w: w}
	n := len(s.Done) + len(s.Waiting) + len(s.Escalated) + len(s.Failed) + len(s.Working) + len(s.Outside)
	if n == 0 {
		out.line("Nothing was due. `agentorg status` shows the board.")
		return out.err
	}
	out.line("Summary: %d issue(s) moved.", n)
	group := func(name string, items []Item) {
		for _, it := range items {
			what := fmt.Sprintf("#%d %s", it.Issue, it.Title)
			if it.Label != "" {
				what += " (" + it.Label + ")"
			}
			out.line("  %-10s %s", name, what)
			out.para(strings.Repeat(" ", 13), it.Detail)
		}
	}
	group("done", s.Done)
	group("waiting", s.Waiting)
	group("escalated", s.Escalated)
	group("failed", s.Failed)
	group("working", s.Working)
	group("outside", s.Outside)
	if s.Retried > 0 {
		out.line("  %d failed tr%s got another try: `agentorg events` says why.", s.Retried, map[bool]string{true: "y", false: "ies"}[s.Retried == 1])
	}
	out.line("")
	out.line("Next: `agentorg status` shows the board.")
	for _, it := range append(append([]Item(nil), s.Escalated...), s.Failed...) {
		out.line("      `agentorg logs --issue %d` prints the transcripts of #%d's runs.", it.Issue, it.Issue)
	}
	return out.err
}
