package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Each issue's intent (package intent: the files it means to change, the
// issues it depends on), as the scheduler keeps it: what its plan said,
// read once when it reaches development, and the files its last attempt
// changed. JSON the scheduler writes and reads.
const intentSchema = `
CREATE TABLE IF NOT EXISTS agentorg_intents (
	issue      INTEGER PRIMARY KEY,
	planned    TEXT NOT NULL DEFAULT '',
	changed    TEXT NOT NULL DEFAULT '',
	source     TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL
);`

// IntentRow is one issue's recorded intent.
type IntentRow struct {
	Issue   int64
	Planned []byte // JSON of the plan's intent.Intent ("" until read)
	Changed []byte // JSON of the last attempt's intent.Intent ("" before one)
	Source  string // the attempt that changed it: "attempt N"
	Updated time.Time
}

// SetPlanned records what issue's plan says it will change.
func (l *Log) SetPlanned(ctx context.Context, issue int64, planned []byte) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_intents (issue, planned, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (issue) DO UPDATE SET planned = excluded.planned, updated_at = excluded.updated_at`,
		issue, string(planned), l.now().UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("eventlog: intent of #%d: %w", issue, err)
	}
	return nil
}

// SetChanged records what issue's last attempt changed.
func (l *Log) SetChanged(ctx context.Context, issue int64, changed []byte, source string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_intents (issue, changed, source, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (issue) DO UPDATE SET changed = excluded.changed, source = excluded.source, updated_at = excluded.updated_at`,
		issue, string(changed), source, l.now().UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("eventlog: intent of #%d: %w", issue, err)
	}
	return nil
}

// IntentOf returns issue's recorded intent (ok false: none yet).
func (l *Log) IntentOf(ctx context.Context, issue int64) (IntentRow, bool, error) {
	r := IntentRow{Issue: issue}
	var planned, changed, at string
	err := l.db.QueryRowContext(ctx, `SELECT planned, changed, source, updated_at FROM agentorg_intents WHERE issue = ?`, issue).
		Scan(&planned, &changed, &r.Source, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("eventlog: intent of #%d: %w", issue, err)
	}
	r.Updated, _ = time.Parse(timeFormat, at)
	if planned != "" {
		r.Planned = []byte(planned)
	}
	if changed != "" {
		r.Changed = []byte(changed)
	}
	return r, true, nil
}

// Intents returns every recorded intent, by issue: one query for the
// scheduler's look at every issue in flight.
func (l *Log) Intents(ctx context.Context) (map[int64]IntentRow, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT issue, planned, changed, source, updated_at FROM agentorg_intents`)
	if err != nil {
		return nil, fmt.Errorf("eventlog: intents: %w", err)
	}
	defer rows.Close()
	out := map[int64]IntentRow{}
	for rows.Next() {
		var r IntentRow
		var planned, changed, at string
		if err := rows.Scan(&r.Issue, &planned, &changed, &r.Source, &at); err != nil {
			return nil, err
		}
		r.Updated, _ = time.Parse(timeFormat, at)
		if planned != "" {
			r.Planned = []byte(planned)
		}
		if changed != "" {
			r.Changed = []byte(changed)
		}
		out[r.Issue] = r
	}
	return out, rows.Err()
}

// FirstAttempts returns when each issue's first developer attempt started,
// for the issues that have one: one query for the scheduler's order.
func (l *Log) FirstAttempts(ctx context.Context) (map[int64]time.Time, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT issue, MIN(started_at) FROM agentorg_attempts GROUP BY issue`)
	if err != nil {
		return nil, fmt.Errorf("eventlog: first attempts: %w", err)
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var n int64
		var at string
		if err := rows.Scan(&n, &at); err != nil {
			return nil, err
		}
		out[n], _ = time.Parse(timeFormat, at)
	}
	return out, rows.Err()
}

// DeleteIntent forgets issue's intent: it merged, and overlaps nothing in
// flight any more (should it come back, its plan is read again).
func (l *Log) DeleteIntent(ctx context.Context, issue int64) error {
	if _, err := l.db.ExecContext(ctx, `DELETE FROM agentorg_intents WHERE issue = ?`, issue); err != nil {
		return fmt.Errorf("eventlog: intent of #%d: %w", issue, err)
	}
	return nil
}
