package eventlog

import (
	"context"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
)

// Usage adds the agent runs up per issue, per agent and per day (in the
// time zone asked for), and in total.
func TestUsageAddsUpPerIssueAgentAndDay(t *testing.T) { eachLog(t, usageAddsUpPerIssueAgentAndDay) }

func usageAddsUpPerIssueAgentAndDay(t *testing.T, l *Log) {
	ctx := context.Background()
	day1 := time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Hour) // 2026-12-02 in UTC
	record := func(issue int64, agent string, at time.Time, in, out int64, cost float64) {
		t.Helper()
		l.now = func() time.Time { return at }
		if err := l.Record(ctx, Event{Issue: issue, Actor: agent, Kind: KindAgent, Reason: "ran",
			Data: WithUsage(map[string]string{"role": "developer"}, agentorg.Usage{InputTokens: in, OutputTokens: out, CostUSD: cost})}); err != nil {
			t.Fatal(err)
		}
	}
	record(2, "codex", day1, 100, 10, 0.5)
	record(1, "claude", day1, 200, 20, 1)
	record(2, "claude", day2, 300, 30, 2)
	if err := l.Record(ctx, Event{Issue: 2, Actor: "bot", Kind: KindTransition, Reason: "no usage"}); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Usage(ctx, 0, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 3 || rep.Total.InputTokens != 600 || rep.Total.OutputTokens != 60 || rep.Total.CostUSD != 3.5 {
		t.Fatalf("runs %d, total %+v", len(rep.Runs), rep.Total)
	}
	if len(rep.Issues) != 2 || rep.Issues[0].Issue != 1 || rep.Issues[1].Runs != 2 || rep.Issues[1].Usage.InputTokens != 400 {
		t.Errorf("issues %+v", rep.Issues)
	}
	if len(rep.Agents) != 2 || rep.Agents[0].Agent != "claude" || rep.Agents[0].Usage.CostUSD != 3 || rep.Agents[1].Runs != 1 {
		t.Errorf("agents %+v", rep.Agents)
	}
	if len(rep.Days) != 2 || rep.Days[0].Day != "2026-12-01" || rep.Days[0].Runs != 2 || rep.Days[1].Day != "2026-12-02" {
		t.Errorf("days %+v", rep.Days)
	}
	// Another zone puts all three on one day.
	if rep, _ = l.Usage(ctx, 0, time.FixedZone("UTC+3", 3*3600)); len(rep.Days) != 1 || rep.Days[0].Day != "2026-12-02" {
		t.Errorf("days in UTC+3: %+v", rep.Days)
	}
	if rep, _ = l.Usage(ctx, 1, time.UTC); len(rep.Runs) != 1 || rep.Total.InputTokens != 200 {
		t.Errorf("issue 1: %+v", rep)
	}
}
