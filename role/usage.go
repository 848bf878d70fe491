package role

import (
	"context"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// recordAgentRun writes one agent run to the event log with its session and
// usage, so that tokens and cost add up per run, per issue and in total
// (`agentorg usage`). data may carry more keys; it is not kept. Most
// callers ignore the error, like every event's (the run's outcome is
// recorded elsewhere); one whose result lives in the record does not.
func recordAgentRun(ctx context.Context, d *Deps, r *Run, agent string, res agentorg.Result, reason string, data map[string]string) error {
	data = eventlog.WithUsage(data, res.Usage)
	data["session"] = res.SessionID
	data["role"] = r.Stage.Role
	d.Metrics.AgentRun(agent, res.Usage)
	return d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: agent,
		Kind: eventlog.KindAgent, Reason: reason, Data: data})
}
