package eventlog

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/agentorg/agentorg"
)

// Keys of an agent event's Data that carry the run's usage.
const (
	DataInputTokens  = "input_tokens"
	DataCachedTokens = "cached_tokens"
	DataOutputTokens = "output_tokens"
	DataCostUSD      = "cost_usd"
)

// WithUsage adds u to an agent event's data (a new map when data is nil).
func WithUsage(data map[string]string, u agentorg.Usage) map[string]string {
	if data == nil {
		data = map[string]string{}
	}
	data[DataInputTokens] = strconv.FormatInt(u.InputTokens, 10)
	data[DataCachedTokens] = strconv.FormatInt(u.CachedTokens, 10)
	data[DataOutputTokens] = strconv.FormatInt(u.OutputTokens, 10)
	data[DataCostUSD] = strconv.FormatFloat(u.CostUSD, 'f', -1, 64)
	return data
}

// Usage reads the usage an agent event carries (zero when it carries none).
func (e Event) Usage() agentorg.Usage {
	i := func(k string) int64 { n, _ := strconv.ParseInt(e.Data[k], 10, 64); return n }
	cost, _ := strconv.ParseFloat(e.Data[DataCostUSD], 64)
	return agentorg.Usage{InputTokens: i(DataInputTokens), CachedTokens: i(DataCachedTokens), OutputTokens: i(DataOutputTokens), CostUSD: cost}
}

// Run is one agent run, as the event log recorded it.
type Run struct {
	Issue   int64          `json:"issue"`
	Stage   string         `json:"stage"`
	Role    string         `json:"role"`
	Agent   string         `json:"agent"`
	Session string         `json:"session"`
	RunID   string         `json:"run_id"`
	At      time.Time      `json:"at"`
	Usage   agentorg.Usage `json:"usage"`
}

// Runs lists the agent runs of one issue (0: of every issue), oldest first.
func (l *Log) Runs(ctx context.Context, issue int64) ([]Run, error) {
	evs, err := l.Events(ctx, Filter{Issue: issue, Kind: KindAgent})
	if err != nil {
		return nil, err
	}
	runs := make([]Run, 0, len(evs))
	for _, e := range evs {
		runs = append(runs, Run{Issue: e.Issue, Stage: e.Stage, Role: e.Data["role"], Agent: e.Actor,
			Session: e.Data["session"], RunID: e.RunID, At: e.At, Usage: e.Usage()})
	}
	return runs, nil
}

// UsageReport adds agent runs up: per issue, per agent, per day and in
// total. `agentorg usage` prints it and the dashboard's usage page shows it.
type UsageReport struct {
	Runs   []Run          `json:"runs"`
	Issues []IssueUsage   `json:"issues"`
	Agents []AgentUsage   `json:"agents"`
	Days   []DayUsage     `json:"days"`
	Total  agentorg.Usage `json:"total"`
}

// IssueUsage is what one issue's agent runs consumed.
type IssueUsage struct {
	Issue int64          `json:"issue"`
	Runs  int            `json:"runs"`
	Usage agentorg.Usage `json:"usage"`
}

// AgentUsage is what one agent of the workflow consumed.
type AgentUsage struct {
	Agent string         `json:"agent"`
	Runs  int            `json:"runs"`
	Usage agentorg.Usage `json:"usage"`
}

// DayUsage is what the runs that ended on one day consumed.
type DayUsage struct {
	Day   string         `json:"day"` // 2006-01-02, in the report's time zone
	Runs  int            `json:"runs"`
	Usage agentorg.Usage `json:"usage"`
}

// SumUsage adds runs up: issues by number, agents by name, days oldest
// first, each day taken in loc (time.Local when nil).
func SumUsage(runs []Run, loc *time.Location) UsageReport {
	if loc == nil {
		loc = time.Local
	}
	rep := UsageReport{Runs: runs, Issues: []IssueUsage{}, Agents: []AgentUsage{}, Days: []DayUsage{}}
	issues := map[int64]int{}
	agents := map[string]int{}
	days := map[string]int{}
	for _, r := range runs {
		i, ok := issues[r.Issue]
		if !ok {
			i = len(rep.Issues)
			issues[r.Issue] = i
			rep.Issues = append(rep.Issues, IssueUsage{Issue: r.Issue})
		}
		rep.Issues[i].Runs++
		rep.Issues[i].Usage = rep.Issues[i].Usage.Add(r.Usage)

		a, ok := agents[r.Agent]
		if !ok {
			a = len(rep.Agents)
			agents[r.Agent] = a
			rep.Agents = append(rep.Agents, AgentUsage{Agent: r.Agent})
		}
		rep.Agents[a].Runs++
		rep.Agents[a].Usage = rep.Agents[a].Usage.Add(r.Usage)

		day := r.At.In(loc).Format("2006-01-02")
		d, ok := days[day]
		if !ok {
			d = len(rep.Days)
			days[day] = d
			rep.Days = append(rep.Days, DayUsage{Day: day})
		}
		rep.Days[d].Runs++
		rep.Days[d].Usage = rep.Days[d].Usage.Add(r.Usage)

		rep.Total = rep.Total.Add(r.Usage)
	}
	sort.Slice(rep.Issues, func(i, j int) bool { return rep.Issues[i].Issue < rep.Issues[j].Issue })
	sort.Slice(rep.Agents, func(i, j int) bool { return rep.Agents[i].Agent < rep.Agents[j].Agent })
	sort.Slice(rep.Days, func(i, j int) bool { return rep.Days[i].Day < rep.Days[j].Day })
	return rep
}

// Usage reads the agent runs of one issue (0: of every issue) and adds
// them up (SumUsage).
func (l *Log) Usage(ctx context.Context, issue int64, loc *time.Location) (UsageReport, error) {
	runs, err := l.Runs(ctx, issue)
	if err != nil {
		return UsageReport{}, err
	}
	return SumUsage(runs, loc), nil
}
