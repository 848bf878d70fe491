package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg/jobstore"
	"github.com/agentorg/agentorg/metrics"
)

// JobCounts counts the stage jobs in an engine database by stage and
// state (for the jobs metric). Every state of each of stages is listed,
// zero when it has no job, besides the stages jobs name that are not in
// stages (a stage since removed from the workflow). It only reads, so it
// works beside an engine in another process, and on a home where no engine
// ever ran (no jobs table yet).
func JobCounts(ctx context.Context, db *sql.DB, stages []string) ([]metrics.JobCount, error) {
	type key struct{ stage, state string }
	n := map[key]int{}
	var order []key
	add := func(k key, c int) {
		if _, ok := n[k]; !ok {
			order = append(order, k)
		}
		n[k] += c
	}
	for _, st := range stages {
		for _, state := range rivertype.JobStates() {
			add(key{st, string(state)}, 0)
		}
	}
	jobs := jobstore.New(db)
	exists, err := jobs.Exists(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: count jobs: %w", err)
	}
	if exists {
		counts, err := jobs.Counts(ctx, StageArgs{}.Kind())
		if err != nil {
			return nil, fmt.Errorf("engine: count jobs: %w", err)
		}
		for _, c := range counts {
			add(key{c.Stage, c.State}, c.N)
		}
	}
	out := make([]metrics.JobCount, 0, len(order))
	for _, k := range order {
		out = append(out, metrics.JobCount{Stage: k.stage, State: k.state, N: n[k]})
	}
	return out, nil
}
