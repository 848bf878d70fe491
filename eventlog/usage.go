package eventlog

import (
	"context"
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
