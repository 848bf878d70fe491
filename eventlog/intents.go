package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Each issue's intent (package intent: the files it means to change, the
// issues it depends on), as the record keeps it: JSON the scheduler
// writes and reads, from the plan first, then from each attempt's change.
const intentSchema = `
CREATE TABLE IF NOT EXISTS agentorg_intents (
	issue      INTEGER PRIMARY KEY,
	intent     TEXT NOT NULL,
	source     TEXT NOT NULL,
	updated_at TEXT NOT NULL
);`

// IntentRow is one issue's recorded intent.
type IntentRow struct {
	Issue   int64
	Intent  []byte // JSON of an intent.Intent
	Source  string // "plan", or "attempt N"
	Updated time.Time
}

// SetIntent records issue's intent.
func (l *Log) SetIntent(ctx context.Context, issue int64, intent []byte, source string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_intents (issue, intent, source, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (issue) DO UPDATE SET intent = excluded.intent, source = excluded.source, updated_at = excluded.updated_at`,
		issue, string(intent), source, l.now().UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("eventlog: intent of #%d: %w", issue, err)
	}
	return nil
}

// Intent returns issue's recorded intent, if any.
func (l *Log) Intent(ctx context.Context, issue int64) (IntentRow, bool, error) {
	r := IntentRow{Issue: issue}
	var intent, at string
	err := l.db.QueryRowContext(ctx, `SELECT intent, source, updated_at FROM agentorg_intents WHERE issue = ?`, issue).Scan(&intent, &r.Source, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("eventlog: intent of #%d: %w", issue, err)
	}
	r.Intent = []byte(intent)
	r.Updated, _ = time.Parse(timeFormat, at)
	return r, true, nil
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
