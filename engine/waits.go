package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentorg/agentorg/role"
)

// On a shared database a stage run executes on whichever worker took its
// job, while the leader alone polls (DESIGN rule 12): how a run waited must
// reach that poll, and a wake must reach every waiting run, whoever ran it.
// So there the wait states live in the database: agentorg_waits holds them
// (the leader reads them all at the start of each poll), agentorg_wakes
// counts the wakes (see wakeCount), and agentorg_reviewed holds the review
// gates' marks (see reviews), which then survive a change of leader. On
// SQLite the engine is alone, and they live in its memory only.
var waitsSchema = []string{`
CREATE TABLE IF NOT EXISTS agentorg_waits (
	issue     INTEGER NOT NULL,
	stage     TEXT NOT NULL,
	for_human INTEGER NOT NULL,
	watch     TEXT,
	issue_at  INTEGER NOT NULL,
	since     INTEGER NOT NULL,
	PRIMARY KEY (issue, stage)
)`, `
CREATE TABLE IF NOT EXISTS agentorg_wakes (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	n   INTEGER NOT NULL
)`, `
CREATE TABLE IF NOT EXISTS agentorg_reviewed (
	issue INTEGER PRIMARY KEY,
	mr    INTEGER NOT NULL
)`}

// Columns of agentorg_waits: watch is role.Watch as JSON (NULL: none);
// issue_at and since are Unix nanoseconds (0: a zero time). since and a
// watch's deadline are by the clock of the worker that ran the stage:
// clocks seconds apart move a wait of minutes by seconds.
const (
	waitsUpsert = `INSERT INTO agentorg_waits (issue, stage, for_human, watch, issue_at, since) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (issue, stage) DO UPDATE SET for_human = excluded.for_human, watch = excluded.watch,
		issue_at = excluded.issue_at, since = excluded.since`
	waitsDelete = `DELETE FROM agentorg_waits WHERE issue = ? AND stage = ?`
	wakesCount  = `SELECT COALESCE(MAX(n), 0) FROM agentorg_wakes`
)

// dbWait is how a wait state is stored.
func dbWait(a StageArgs, w waitState) ([]any, error) {
	var watch any
	if w.watch != nil {
		b, err := json.Marshal(w.watch)
		if err != nil {
			return nil, err
		}
		watch = string(b)
	}
	human := 0
	if w.forHuman {
		human = 1
	}
	return []any{a.Issue, a.Stage, human, watch, nanos(w.issueAt), nanos(w.since)}, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// execer is a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// storeWait writes a stage run's wait state (nil: forgets it).
func storeWait(ctx context.Context, db execer, a StageArgs, w *waitState) error {
	if w == nil {
		_, err := db.ExecContext(ctx, waitsDelete, a.Issue, a.Stage)
		return err
	}
	args, err := dbWait(a, *w)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, waitsUpsert, args...)
	return err
}

// storeWaitSince is storeWait for a decision made when the wake count was
// since: in a write transaction, which on PostgreSQL takes turns with every
// other (store's write lock), so that a wake on any worker either comes
// before and the wait is not written, or after and deletes it.
func (e *Engine) storeWaitSince(ctx context.Context, a StageArgs, w waitState, since uint64) error {
	tx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, wakesCount).Scan(&n); err != nil {
		return err
	}
	stored := &w
	if uint64(n) != since {
		stored = nil
	}
	if err := storeWait(ctx, tx, a, stored); err != nil {
		return err
	}
	return tx.Commit()
}

// storedWakes is how many times the waits for a person were woken, on any
// worker.
func (e *Engine) storedWakes(ctx context.Context) (uint64, error) {
	var n int64
	err := e.cfg.DB.QueryRowContext(ctx, wakesCount).Scan(&n)
	return uint64(n), err
}

// storeWake counts a wake and forgets the waits for a person, in one write
// transaction (see storeWaitSince).
func (e *Engine) storeWake(ctx context.Context) error {
	tx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO agentorg_wakes (one, n) VALUES (1, 1)
		ON CONFLICT (one) DO UPDATE SET n = agentorg_wakes.n + 1`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM agentorg_waits WHERE for_human = 1`); err != nil {
		return err
	}
	return tx.Commit()
}

// storedWait reads a stage run's wait state.
func (e *Engine) storedWait(ctx context.Context, a StageArgs) (waitState, bool, error) {
	ws, err := e.storedWaits(ctx, `WHERE issue = ? AND stage = ?`, a.Issue, a.Stage)
	w, ok := ws[a]
	return w, ok, err
}

// storedWaits reads the wait states where says.
func (e *Engine) storedWaits(ctx context.Context, where string, args ...any) (map[StageArgs]waitState, error) {
	rows, err := e.cfg.DB.QueryContext(ctx, `SELECT issue, stage, for_human, watch, issue_at, since FROM agentorg_waits `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[StageArgs]waitState{}
	for rows.Next() {
		var a StageArgs
		var human int
		var watch sql.NullString
		var issueAt, since int64
		if err := rows.Scan(&a.Issue, &a.Stage, &human, &watch, &issueAt, &since); err != nil {
			return nil, err
		}
		w := waitState{forHuman: human != 0, issueAt: fromNanos(issueAt), since: fromNanos(since)}
		if watch.Valid {
			w.watch = &role.Watch{}
			if err := json.Unmarshal([]byte(watch.String), w.watch); err != nil {
				return nil, fmt.Errorf("the wait of %s on #%d: %w", a.Stage, a.Issue, err)
			}
		}
		out[a] = w
	}
	return out, rows.Err()
}

// forgetStored deletes the wait states the poll read that left their
// stage, each only as it was read: a run that waited again since (the
// issue came back) keeps its wait.
func (e *Engine) forgetStored(ctx context.Context, left map[StageArgs]waitState) error {
	for a, w := range left {
		if _, err := e.cfg.DB.ExecContext(ctx, waitsDelete+` AND since = ?`, a.Issue, a.Stage, nanos(w.since)); err != nil {
			return err
		}
	}
	return nil
}

// forgetStoredChanges is forgetChanges on the database: no wait watches
// anything, and no review gate's threads count as read.
func (e *Engine) forgetStoredChanges(ctx context.Context) error {
	if _, err := e.cfg.DB.ExecContext(ctx, `UPDATE agentorg_waits SET watch = NULL`); err != nil {
		return err
	}
	_, err := e.cfg.DB.ExecContext(ctx, `DELETE FROM agentorg_reviewed`)
	return err
}

// storedReviewed reads the review gates' marks (see Engine.reviewed).
func (e *Engine) storedReviewed(ctx context.Context) (map[int64]int64, error) {
	rows, err := e.cfg.DB.QueryContext(ctx, `SELECT issue, mr FROM agentorg_reviewed`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var issue, mr int64
		if err := rows.Scan(&issue, &mr); err != nil {
			return nil, err
		}
		out[issue] = mr
	}
	return out, rows.Err()
}

// storeReviewed writes what changed from the marks was to now: a poll
// that changed none writes nothing.
func (e *Engine) storeReviewed(ctx context.Context, was, now map[int64]int64) error {
	for issue := range was {
		if _, ok := now[issue]; !ok {
			if _, err := e.cfg.DB.ExecContext(ctx, `DELETE FROM agentorg_reviewed WHERE issue = ?`, issue); err != nil {
				return err
			}
		}
	}
	for issue, mr := range now {
		if old, ok := was[issue]; ok && old == mr {
			continue
		}
		if _, err := e.cfg.DB.ExecContext(ctx, `INSERT INTO agentorg_reviewed (issue, mr) VALUES (?, ?)
			ON CONFLICT (issue) DO UPDATE SET mr = excluded.mr`, issue, mr); err != nil {
			return err
		}
	}
	return nil
}
