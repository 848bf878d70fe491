package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// usageView is the usage page: what the agents consumed per issue (with
// what the issue's developer attempts spent of the workflow's budget), per
// agent and per day, as eventlog.Usage adds it up for `agentorg usage`.
type usageView struct {
	Report eventlog.UsageReport
	Total  usageCells
	Issues []usageIssue
	Agents []usageAgent
	Days   []usageDay
	// The workflow's budget per issue ("" for none), over the developer
	// attempts (what the convergence loop counts).
	TokenBudget, CostBudget, WallBudget string
	Zone                                string
}

type usageIssue struct {
	eventlog.IssueUsage
	U     usageCells
	Title string
	Open  bool
	// What its developer attempts spent, against the budget.
	Attempts   int
	Tokens     string
	CostUSD    string
	Wall       string
	OverTokens bool
	OverCost   bool
	OverWall   bool
}

type usageAgent struct {
	eventlog.AgentUsage
	U   usageCells
	CLI string // kind · model, as the workflow says ("" for an agent it no longer has)
}

type usageDay struct {
	eventlog.DayUsage
	U usageCells
}

// usageCells are a usage's numbers as the tables show them.
type usageCells struct{ In, Cached, Out, Cost string }

func cellsOf(u agentorg.Usage) usageCells {
	return usageCells{In: groupDigits(u.InputTokens), Cached: groupDigits(u.CachedTokens), Out: groupDigits(u.OutputTokens), Cost: usageUSD(u.CostUSD)}
}

func usageUSD(v float64) string { return "$" + strconv.FormatFloat(v, 'f', 4, 64) }

func (s *Server) usagePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	wf := s.cfg.Workflow
	rep, err := s.cfg.Log.Usage(ctx, 0, time.Local)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	issues, err := s.cfg.Tracker.ListIssues(ctx, agentorg.IssueFilter{})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	byNumber := make(map[int64]agentorg.Issue, len(issues))
	for _, is := range issues {
		byNumber[is.Number] = is
	}
	b := wf.Budget
	v := &usageView{Report: rep, Total: cellsOf(rep.Total), Zone: time.Now().Format("MST")}
	if b.Tokens > 0 {
		v.TokenBudget = groupDigits(int64(b.Tokens)) + " tokens"
	}
	if b.CostUSD > 0 {
		v.CostBudget = "$" + strconv.FormatFloat(b.CostUSD, 'f', 2, 64)
	}
	if b.WallTime > 0 {
		v.WallBudget = b.WallTime.String()
	}
	now := time.Now()
	for _, iu := range rep.Issues {
		is := byNumber[iu.Issue]
		row := usageIssue{IssueUsage: iu, U: cellsOf(iu.Usage), Title: is.Title, Open: is.State == agentorg.IssueOpen}
		as, err := s.cfg.Log.Attempts(ctx, iu.Issue)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err.Error())
			return
		}
		row.Attempts = len(as)
		var tokens int64
		var cost float64
		for _, a := range as {
			tokens += a.Usage.InputTokens + a.Usage.OutputTokens
			cost += a.Usage.CostUSD
		}
		row.Tokens, row.CostUSD = groupDigits(tokens), usageUSD(cost)
		if len(as) > 0 && row.Open && !as[0].StartedAt.IsZero() {
			spent := now.Sub(as[0].StartedAt)
			row.Wall = spent.Round(time.Second).String()
			row.OverWall = b.WallTime > 0 && spent >= b.WallTime
		}
		row.OverTokens = b.Tokens > 0 && tokens >= int64(b.Tokens)
		row.OverCost = b.CostUSD > 0 && cost >= b.CostUSD
		v.Issues = append(v.Issues, row)
	}
	for _, au := range rep.Agents {
		row := usageAgent{AgentUsage: au, U: cellsOf(au.Usage)}
		if a := wf.Agent(au.Agent); a != nil {
			row.CLI = a.Kind
			if a.Model != "" {
				row.CLI += " · " + a.Model
			}
		}
		v.Agents = append(v.Agents, row)
	}
	for _, d := range rep.Days {
		v.Days = append(v.Days, usageDay{DayUsage: d, U: cellsOf(d.Usage)})
	}
	s.render(w, r, http.StatusOK, "usage", "Usage", v)
}
