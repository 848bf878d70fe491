package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/workflow"
)

// boardView is the board page: one column per lifecycle state, a card per
// open issue.
type boardView struct {
	Columns []column
	Labels  []string // the states, for the filter
	Label   string   // the label filter ("" for all)
	Query   string   // the text filter
	Shown   int
	Total   int
	Closed  *board.Closed
	Engine  int // the engine's pid, 0 when none runs
	// Workers are the workers of a shared database, as status lists them
	// (none on a home's own SQLite, where the home is the only worker).
	Workers []workerRow
	Alive   int // how many of Workers are alive
}

// workerRow is one worker as the board's workers table shows it.
type workerRow struct {
	ID, Host string
	Alive    bool
	Beat     string // how long ago it last beat
	Runs     []workerRun
	Holds    []int64 // the open issues whose worktree and session are on its disk
}

// workerRun is a stage run a worker's claim holds.
type workerRun struct {
	Issue int64
	Stage string
	For   string // how long it has run ("" when the event log does not say)
	Stale bool
}

type column struct {
	Label string
	Kind  string // working, waiting, done, failed, escalated
	Cards []card
}

// card is one open issue as the board shows it.
type card struct {
	Number   int64
	Title    string
	Attempt  int
	Budget   int
	Distance int // -1: not validated yet
	// Waits says who or what the issue waits for: the gate and who may
	// approve, the stage that runs and for how long, or why it is held.
	Waits     string
	Agent     string // the CLI (and model) of the stage it is at
	Escalated bool
	Stale     bool
	Search    string // lower-case text the client-side filter matches
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.readBoard(r.Context(), r.URL.Query().Get("label"), r.URL.Query().Get("q"))
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "board", "Board", v)
}

// readBoard reads the board and the cards, filtered by label and text.
func (s *Server) readBoard(ctx context.Context, label, query string) (*boardView, error) {
	wf := s.cfg.Workflow
	b, err := board.Read(ctx, board.Sources{Workflow: wf, Tracker: s.cfg.Tracker, Log: s.cfg.Log, DB: s.cfg.DB})
	if err != nil {
		return nil, err
	}
	byNumber := make(map[int64]agentorg.Issue, len(b.Open))
	for _, is := range b.Open {
		byNumber[is.Number] = is
	}
	cards := map[int64]*card{}
	cardOf := func(n int64) *card {
		c := cards[n]
		if c == nil {
			is := byNumber[n]
			c = &card{Number: n, Title: is.Title, Distance: -1, Budget: wf.Budget.Attempts}
			cards[n] = c
		}
		return c
	}
	for _, bu := range b.Budgets {
		c := cardOf(bu.Issue)
		c.Attempt, c.Budget, c.Distance = bu.Attempt, bu.Attempts, bu.Distance
	}
	for _, wt := range b.Waiting {
		c := cardOf(wt.Issue)
		c.Waits = "waits at gate " + wt.Gate + " for " + wt.Who
		if wt.Rules != "" {
			c.Waits += "; " + wt.Rules
		}
	}
	for _, run := range b.Running {
		c := cardOf(run.Issue)
		c.Waits = run.Stage + " runs"
		if run.Worker != "" && len(b.Workers) > 0 {
			c.Waits += " on " + run.Worker
		}
		if !run.Since.IsZero() {
			c.Waits += " for " + board.Ago(b.At, run.Since)
		}
		c.Stale = run.Stale
	}
	for _, h := range b.Held {
		cardOf(h.Issue).Waits = h.Stage + " waits: " + h.Reason
	}
	for _, rt := range b.Retrying {
		cardOf(rt.Issue).Waits = rt.Stage + " retries at " + rt.At.Local().Format("15:04:05")
	}
	for _, e := range b.Escalated {
		c := cardOf(e.Issue)
		c.Escalated, c.Waits = true, "escalated: "+e.Reason
	}
	for _, f := range b.Failed {
		cardOf(f.Issue).Waits = f.Label + ": " + f.Reason
	}

	v := &boardView{Label: label, Query: strings.TrimSpace(query), Labels: wf.Lifecycle(), Closed: b.Closed, Engine: b.EnginePID}
	for _, w := range b.Workers {
		row := workerRow{ID: w.ID, Host: w.Host, Alive: w.Alive, Beat: board.Ago(b.At, w.Beat), Holds: w.Holds}
		for _, r := range w.Running {
			run := workerRun{Issue: r.Issue, Stage: r.Stage, Stale: r.Stale}
			if !r.Since.IsZero() {
				run.For = board.Ago(b.At, r.Since)
			}
			row.Runs = append(row.Runs, run)
		}
		if w.Alive {
			v.Alive++
		}
		v.Workers = append(v.Workers, row)
	}
	q := strings.ToLower(v.Query)
	for _, st := range b.States {
		col := column{Label: st.Label, Kind: kindOf(wf, st.Label)}
		for _, n := range st.Issues {
			v.Total++
			c := cardOf(n)
			if c.Agent == "" {
				c.Agent = agentAt(wf, st.Label)
			}
			c.Search = strings.ToLower("#" + strconv.FormatInt(n, 10) + " " + c.Title + " " + c.Waits)
			if (label != "" && label != st.Label) || (q != "" && !strings.Contains(c.Search, q)) {
				continue
			}
			v.Shown++
			col.Cards = append(col.Cards, *c)
		}
		v.Columns = append(v.Columns, col)
	}
	// Escalated issues come first: they wait for a person most of all.
	if n := len(v.Columns); n > 0 && v.Columns[n-1].Label == wf.Escalation && len(v.Columns[n-1].Cards) > 0 {
		v.Columns = append([]column{v.Columns[n-1]}, v.Columns[:n-1]...)
	}
	return v, nil
}

// kindOf says what an issue at label is doing, for the column's style.
func kindOf(wf *workflow.Workflow, label string) string {
	switch p := board.Where(wf, agentorg.Issue{Labels: []string{label}, State: agentorg.IssueOpen}); p.Kind {
	case board.Waiting:
		return "waiting"
	case board.Working:
		return "working"
	case board.Failed:
		return "failed"
	case board.Escalated:
		return "escalated"
	}
	return "done"
}

// agentAt names the CLI (and model) of the stage an issue at label is at.
func agentAt(wf *workflow.Workflow, label string) string {
	for _, st := range wf.Stages {
		if st.Agent == "" || (st.On != label && st.Running != label) {
			continue
		}
		a := wf.Agent(st.Agent)
		if a == nil {
			return ""
		}
		if a.Model != "" {
			return a.Kind + " · " + a.Model
		}
		return a.Kind
	}
	return ""
}
