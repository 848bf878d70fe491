package eventlog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentorg/agentorg/store"
)

// AgentRuns lists each run that recorded an agent run ending (a KindAgent
// event): those must have a transcript. Each is named by its first such
// event (its issue, stage and time), in the order they were recorded.
func (l *Log) AgentRuns(ctx context.Context) ([]RunRef, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT e.run_id, e.issue, e.stage, e.at FROM agentorg_events e
		JOIN (SELECT min(id) AS first FROM agentorg_events WHERE kind = ? AND run_id != '' GROUP BY run_id) r ON e.id = r.first
		ORDER BY e.id`, KindAgent)
	if err != nil {
		return nil, fmt.Errorf("eventlog: agent runs: %w", err)
	}
	defer rows.Close()
	var out []RunRef
	for rows.Next() {
		var r RunRef
		var at string
		if err := rows.Scan(&r.ID, &r.Issue, &r.Stage, &at); err != nil {
			return nil, err
		}
		r.At, _ = time.Parse(timeFormat, at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunsKept maps to its issue each run id the log names in an event that
// Prune(r) keeps: the same before and after the prune, so that a dry run
// sees what the real one will.
func (l *Log) RunsKept(ctx context.Context, r Retention) (map[string]int64, error) {
	keep, _ := json.Marshal(nonNil(r.Keep))
	rows, err := l.db.QueryContext(ctx, `SELECT run_id, min(issue) FROM agentorg_events
		WHERE run_id != '' AND (at >= ? OR issue IN (`+l.jsonInts()+`)) GROUP BY run_id`,
		r.Before.UTC().Format(timeFormat), string(keep))
	if err != nil {
		return nil, fmt.Errorf("eventlog: runs: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// Retention says what Prune removes: events older than Before except
// those of the issues in Keep (the open ones), and cache entries older
// than Before except those of the trees in KeepTrees (what the open
// issues' attempts and the target need). Attempts and review rounds are
// never removed: the convergence loop reads them.
type Retention struct {
	Before    time.Time
	Keep      []int64
	KeepTrees []string
}

// Pruned counts rows: before is what there was, Removed what went (or,
// on a dry run, would go).
type Pruned struct {
	Events, Checks, Judgements         int64
	EventsGone, ChecksGone, JudgesGone int64
}

// Prune removes (or, with dryRun, only counts) what r lets go, in one
// transaction.
func (l *Log) Prune(ctx context.Context, r Retention, dryRun bool) (Pruned, error) {
	keep, _ := json.Marshal(nonNil(r.Keep))
	trees, _ := json.Marshal(nonNilS(r.KeepTrees))
	before := r.Before.UTC().Format(timeFormat)
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return Pruned{}, fmt.Errorf("eventlog: prune: %w", err)
	}
	defer tx.Rollback()
	var p Pruned
	steps := []struct {
		table, where string
		arg          string
		total, gone  *int64
	}{
		{"agentorg_events", `at < ? AND issue NOT IN (` + l.jsonInts() + `)`, string(keep), &p.Events, &p.EventsGone},
		{"agentorg_check_cache", `at < ? AND tree NOT IN (` + l.jsonStrings() + `)`, string(trees), &p.Checks, &p.ChecksGone},
		{"agentorg_judgement_cache", `at < ? AND tree NOT IN (` + l.jsonStrings() + `)`, string(trees), &p.Judgements, &p.JudgesGone},
	}
	for _, s := range steps {
		if err := count(ctx, tx, `SELECT count(*) FROM `+s.table, s.total); err != nil {
			return Pruned{}, err
		}
		if err := count(ctx, tx, `SELECT count(*) FROM `+s.table+` WHERE `+s.where, s.gone, before, s.arg); err != nil {
			return Pruned{}, err
		}
		if dryRun {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE `+s.where, before, s.arg); err != nil {
			return Pruned{}, fmt.Errorf("eventlog: prune %s: %w", s.table, err)
		}
	}
	if dryRun {
		return p, nil
	}
	if err := tx.Commit(); err != nil {
		return Pruned{}, fmt.Errorf("eventlog: prune: %w", err)
	}
	return p, nil
}

func count(ctx context.Context, tx *sql.Tx, q string, into *int64, args ...any) error {
	if err := tx.QueryRowContext(ctx, q, args...).Scan(into); err != nil {
		return fmt.Errorf("eventlog: prune: %w", err)
	}
	return nil
}

// jsonInts is a subquery of the numbers in a JSON array bound to its one
// parameter (a list of any length, in one parameter); jsonStrings of its
// strings. SQLite reads it with json_each, PostgreSQL with
// json_array_elements_text (whose elements are text: cast for numbers).
func (l *Log) jsonInts() string {
	if l.dialect == store.Postgres {
		return `SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(? AS json))`
	}
	return `SELECT value FROM json_each(?)`
}

func (l *Log) jsonStrings() string {
	if l.dialect == store.Postgres {
		return `SELECT value FROM json_array_elements_text(CAST(? AS json))`
	}
	return `SELECT value FROM json_each(?)`
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func nonNilS(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
