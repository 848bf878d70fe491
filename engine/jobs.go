package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg/metrics"
)

// jobCountsQuery counts the stage jobs by stage and state. Like idleQuery
// and reap it reads River's table directly: River's JobList would walk
// every job to count them.
const jobCountsQuery = `SELECT COALESCE(json_extract(args, '$.stage'), ''), state, count(*) FROM river_job
	WHERE kind = ? GROUP BY 1, 2`

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
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_job'`).Scan(&tables); err != nil {
		return nil, fmt.Errorf("engine: count jobs: %w", err)
	}
	if tables > 0 {
		rows, err := db.QueryContext(ctx, jobCountsQuery, StageArgs{}.Kind())
		if err != nil {
			return nil, fmt.Errorf("engine: count jobs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k key
			var c int
			if err := rows.Scan(&k.stage, &k.state, &c); err != nil {
				return nil, fmt.Errorf("engine: count jobs: %w", err)
			}
			add(k, c)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("engine: count jobs: %w", err)
		}
	}
	out := make([]metrics.JobCount, 0, len(order))
	for _, k := range order {
		out = append(out, metrics.JobCount{Stage: k.stage, State: k.state, N: n[k]})
	}
	return out, nil
}
