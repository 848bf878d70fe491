// Package eventlog is the engine's record of what happened and why: every
// label transition, claim, agent run, verdict and refusal, with the actor,
// the reason and the run it belongs to. It also keeps the developer attempts
// of each issue (session, commit, verdict), which the convergence loop reads.
//
// It lives in the engine's database (SQLite or PostgreSQL, see package
// store) next to the job queue; it is not part of the tracker, so it works
// the same whichever tracker is used.
package eventlog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentorg/agentorg/store"
)

// Event kinds.
const (
	KindTransition = "transition" // labels moved from one state to another
	KindClaim      = "claim"      // a stage run started on an issue
	KindAgent      = "agent"      // an agent run ended
	KindVerdict    = "verdict"    // validation said GO or NO-GO
	KindRefused    = "refused"    // an approval or action was refused
	KindCancel     = "cancel"     // a stage run was cancelled
	KindError      = "error"      // a stage run failed
	KindEscalate   = "escalate"   // the issue was handed to a human
	KindHuman      = "human"      // a human acted through the CLI
	KindMerge      = "merge"      // a merge request was opened or merged
	KindSkip       = "skip"       // a stale job found nothing to do
	KindUpdate     = "update"     // a moved target branch was brought in, or a GO is validated again
	KindWait       = "wait"       // a stage waits for something outside it (a busy target, a forge's auto-merge)
	KindHousekeep  = "housekeep"  // work another home left was moved aside; agentorg gc removed what was done with
	KindRecover    = "recover"    // E2E recovery: a flaky run, the target closed or opened, a bisect step, a culprit, a revert
	KindPolicy     = "policy"     // an automatic approval by a gate's rule: pending, approved or cancelled
	KindOverlap    = "overlap"    // a developer's change touched a file another issue in flight changes, unpredicted
	KindRelease    = "release"    // a release drafted, its version corrected, tagged, published
	KindDeploy     = "deploy"     // a deployment started, verified, failed, rolled back; a promotion refused or approved
	KindTakeover   = "takeover"   // a worker took an issue over from the worker that held it (docs/lifecycle.md I21)
)

// Event is one line of the record.
type Event struct {
	ID     int64             `json:"id"`
	At     time.Time         `json:"at"`
	Issue  int64             `json:"issue"`
	Stage  string            `json:"stage,omitempty"`
	RunID  string            `json:"run_id,omitempty"`
	Actor  string            `json:"actor"`
	Kind   string            `json:"kind"`
	From   string            `json:"from,omitempty"`
	To     string            `json:"to,omitempty"`
	Reason string            `json:"reason"`
	Data   map[string]string `json:"data,omitempty"`
}

// Log reads and appends events and attempts.
type Log struct {
	db      *sql.DB
	dialect store.Dialect // the few statements the engines spell apart
	now     func() time.Time
}

// New returns a Log over db, a pool package store opened (SQLite or
// PostgreSQL); call Migrate once before use.
func New(db *sql.DB) *Log { return &Log{db: db, dialect: store.DialectOf(db), now: time.Now} }

const schema = `
CREATE TABLE IF NOT EXISTS agentorg_events (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	at      TEXT NOT NULL,
	issue   INTEGER NOT NULL,
	stage   TEXT NOT NULL DEFAULT '',
	run_id  TEXT NOT NULL DEFAULT '',
	actor   TEXT NOT NULL,
	kind    TEXT NOT NULL,
	from_state TEXT NOT NULL DEFAULT '',
	to_state   TEXT NOT NULL DEFAULT '',
	reason  TEXT NOT NULL DEFAULT '',
	data    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS agentorg_events_issue ON agentorg_events (issue, id);
CREATE TABLE IF NOT EXISTS agentorg_attempts (
	issue       INTEGER NOT NULL,
	n           INTEGER NOT NULL,
	run_id      TEXT NOT NULL,
	agent       TEXT NOT NULL DEFAULT '',
	session_id  TEXT NOT NULL DEFAULT '',
	commit_sha  TEXT NOT NULL DEFAULT '',
	verdict     TEXT NOT NULL DEFAULT '',
	distance    INTEGER NOT NULL DEFAULT -1,
	report      TEXT NOT NULL DEFAULT '',
	summary     TEXT NOT NULL DEFAULT '',
	usage       TEXT NOT NULL DEFAULT '{}',
	started_at  TEXT NOT NULL,
	finished_at TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (issue, n)
);
CREATE TABLE IF NOT EXISTS agentorg_review_rounds (
	issue      INTEGER NOT NULL,
	n          INTEGER NOT NULL,
	mr         INTEGER NOT NULL,
	head_sha   TEXT NOT NULL,
	status     TEXT NOT NULL,
	attempt    INTEGER NOT NULL DEFAULT 0,
	commit_sha TEXT NOT NULL DEFAULT '',
	threads    TEXT NOT NULL DEFAULT '[]',
	started_at TEXT NOT NULL,
	PRIMARY KEY (issue, n)
);
`

// Migrate creates the tables if they are missing, and adds the columns
// later versions added to a table an older version made. It runs in one
// write transaction, so that workers that start together on one
// PostgreSQL database migrate one after the other (two concurrent CREATE
// TABLE IF NOT EXISTS can collide there).
func (l *Log) Migrate(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("eventlog: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema+checkCacheSchema+judgementCacheSchema+targetSchema+intentSchema+noticeSchema+releaseSchema); err != nil {
		return fmt.Errorf("eventlog: migrate: %w", err)
	}
	// Columns later versions added, each to a table an older one made.
	for _, col := range []struct{ name, def string }{
		{"findings", `TEXT NOT NULL DEFAULT '[]'`},
		{"left_out", `TEXT NOT NULL DEFAULT '[]'`},
		{"work_sha", `TEXT NOT NULL DEFAULT ''`},
		{"found_by", `TEXT NOT NULL DEFAULT ''`},
	} {
		ok, err := l.hasColumn(ctx, tx, "agentorg_attempts", col.name)
		if err != nil {
			return fmt.Errorf("eventlog: migrate: %w", err)
		}
		if !ok {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE agentorg_attempts ADD COLUMN `+col.name+` `+col.def); err != nil {
				return fmt.Errorf("eventlog: migrate: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("eventlog: migrate: %w", err)
	}
	return nil
}

// hasColumn reports whether table has a column of that name, from the
// catalog of the engine the log runs on.
func (l *Log) hasColumn(ctx context.Context, tx *sql.Tx, table, column string) (bool, error) {
	q := `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`
	if l.dialect == store.Postgres {
		q = `SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?`
	}
	var n int
	if err := tx.QueryRowContext(ctx, q, table, column).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

const timeFormat = time.RFC3339Nano

// text is s as every database keeps it alike. PostgreSQL's text holds no
// NUL and no bytes that are not UTF-8 (it refuses the statement), SQLite's
// holds both; what the log keeps of commands' and agents' output (a check's
// tail, a deployment's, an agent's summary, an error) can carry either.
// Each NUL, and each run of bytes that are not UTF-8, becomes U+FFFD.
func text(s string) string { return store.Text(s) }

// Record appends an event; At defaults to now.
func (l *Log) Record(ctx context.Context, e Event) error {
	if e.At.IsZero() {
		e.At = l.now()
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return err
	}
	if e.Data == nil {
		data = []byte("{}")
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO agentorg_events (at, issue, stage, run_id, actor, kind, from_state, to_state, reason, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UTC().Format(timeFormat), e.Issue, e.Stage, e.RunID, e.Actor, e.Kind, e.From, e.To, text(e.Reason), string(data))
	if err != nil {
		return fmt.Errorf("eventlog: record %s on #%d: %w", e.Kind, e.Issue, err)
	}
	return nil
}

// LastEvent returns the newest event of an issue; ok is false when it has none.
func (l *Log) LastEvent(ctx context.Context, issue int64) (e Event, ok bool, err error) {
	e, err = scanEvent(l.db.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM agentorg_events WHERE issue = ? ORDER BY id DESC LIMIT 1`, issue))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, false, nil
	}
	if err != nil {
		return Event{}, false, fmt.Errorf("eventlog: last event of #%d: %w", issue, err)
	}
	return e, true, nil
}

const eventColumns = `id, at, issue, stage, run_id, actor, kind, from_state, to_state, reason, data`

func scanEvent(row interface{ Scan(...any) error }) (Event, error) {
	var e Event
	var at, data string
	if err := row.Scan(&e.ID, &at, &e.Issue, &e.Stage, &e.RunID, &e.Actor, &e.Kind, &e.From, &e.To, &e.Reason, &data); err != nil {
		return e, err
	}
	e.At, _ = time.Parse(timeFormat, at)
	if data != "{}" && data != "null" {
		_ = json.Unmarshal([]byte(data), &e.Data)
	}
	return e, nil
}

// Filter selects events; zero values select all.
type Filter struct {
	Issue int64
	Kind  string
}

// Events lists events oldest first.
func (l *Log) Events(ctx context.Context, f Filter) ([]Event, error) {
	return l.list(ctx, f, 0, 0)
}

// list reads the events f selects with an id above after, oldest first, at
// most limit of them (0: all).
func (l *Log) list(ctx context.Context, f Filter, after int64, limit int) ([]Event, error) {
	q, args := listQuery(f, after, limit)
	return queryAll(ctx, l.db, "list", scanEvent, q, args...)
}

// queryAll runs q and reads every row with scan; what names the rows in
// an error.
func queryAll[T any](ctx context.Context, db *sql.DB, what string, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// listQuery is list's statement and arguments.
func listQuery(f Filter, after int64, limit int) (string, []any) {
	q := `SELECT ` + eventColumns + ` FROM agentorg_events WHERE 1=1`
	var args []any
	if f.Issue != 0 {
		q += ` AND issue = ?`
		args = append(args, f.Issue)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if after > 0 {
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return q, args
}
