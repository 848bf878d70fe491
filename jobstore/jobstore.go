// Package jobstore holds every statement agentorg runs on River's own tables
// (river_job and what River's migrations make). River's API covers inserting
// and working jobs; what it does not cover, or covers too slowly for a loop
// that asks many times a second, is here, so that the schema these statements
// assume is pinned in one place (see the package's schema test) and a second
// database (PostgreSQL) means a second set of statements here, not a hunt
// through the engine.
//
// The statements are SQLite's: they run on the pool sqlitedb.Open returns,
// whose statement cache keeps each one prepared by its text, so each text is
// a constant (or a constant joined with one). The store knows two things of
// agentorg's beyond River: a job's args carry its stage in "stage", and the
// engine's claims table (agentorg_claims, owned by the engine) names a job by
// job_id, which the query for running jobs joins on.
package jobstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Store runs the statements on River's tables in one database.
type Store struct{ db *sql.DB }

// New returns a store over db, a pool from sqlitedb.Open (one connection:
// no method holds rows open while it runs another statement).
func New(db *sql.DB) *Store { return &Store{db: db} }

// Migrate runs River's migrations up on db: it makes the tables the store's
// statements read, or brings them to the schema of the River this binary
// was built with.
func Migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return fmt.Errorf("jobstore: migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobstore: migrate river: %w", err)
	}
	return nil
}

// existsQuery finds River's job table. It reads sqlite_master, so it works
// on a database no engine ever migrated.
const existsQuery = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_job'`

// Exists reports whether River's job table is there: false on a home where
// no engine ever ran, where there are no jobs to read.
func (s *Store) Exists(ctx context.Context) (bool, error) {
	var tables int
	if err := s.db.QueryRowContext(ctx, existsQuery).Scan(&tables); err != nil {
		return false, fmt.Errorf("jobstore: find the job table: %w", err)
	}
	return tables > 0, nil
}

// idleQuery finds one unfinished job of a kind. It reads River's table
// directly (sqlitedb's statement cache keeps it prepared): the engine's
// RunUntilIdle asks 40 times a second, and River's JobList parsed a query
// and walked every job of the kind each time (a quarter of the engine's CPU
// at 1000 issues). "+kind" keeps SQLite on the state index, where
// unfinished jobs are few, rather than on the kind index, where every job
// of the kind is.
const idleQuery = `SELECT 1 FROM river_job
	WHERE state IN ('available', 'pending', 'running', 'retryable', 'scheduled') AND +kind = ? LIMIT 1`

// Idle reports whether no job of kind is unfinished: none is available,
// pending, running, retryable or scheduled.
func (s *Store) Idle(ctx context.Context, kind string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, idleQuery, kind).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("jobstore: find an unfinished job: %w", err)
	}
	return false, nil
}

// countsQuery counts the jobs of a kind by stage and state. Like idleQuery
// it reads River's table directly: River's JobList would walk every job to
// count them.
const countsQuery = `SELECT COALESCE(json_extract(args, '$.stage'), ''), state, count(*) FROM river_job
	WHERE kind = ? GROUP BY 1, 2`

// Count is how many jobs of a stage are in a state.
type Count struct {
	Stage string // the args' "stage", "" for a job without one
	State string // River's state, as River spells it ("available", ...)
	N     int
}

// Counts counts the jobs of kind by stage and state. Only the (stage,
// state) pairs that have a job are listed. The job table must exist (see
// Exists).
func (s *Store) Counts(ctx context.Context, kind string) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx, countsQuery, kind)
	if err != nil {
		return nil, fmt.Errorf("jobstore: count jobs: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Stage, &c.State, &c.N); err != nil {
			return nil, fmt.Errorf("jobstore: count jobs: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobstore: count jobs: %w", err)
	}
	return out, nil
}

// runningQuery lists the running jobs of a kind with the claim the engine
// recorded for each, if any (a job River has handed to a worker that has not
// claimed it yet has none). staleFilter narrows it to the claims whose
// heartbeat is older than a time, in Unix milliseconds as the engine writes
// them.
const (
	runningQuery = `SELECT j.id, COALESCE(c.issue, 0), COALESCE(c.stage, ''), COALESCE(c.pgid, 0), COALESCE(c.owner, '')
		FROM river_job j LEFT JOIN agentorg_claims c ON c.job_id = j.id
		WHERE j.state = 'running' AND j.kind = ?`
	staleFilter = ` AND c.heartbeat_at IS NOT NULL AND c.heartbeat_at < ?`
)

// RunningJob is a running job and what its claim says of it. Without a
// claim, Issue is 0 and the rest is empty.
type RunningJob struct {
	ID    int64
	Issue int64
	Stage string
	PGID  int    // the process group the claim recorded, 0 when none
	Owner string // the engine that claimed it, "" without a claim
}

// Running lists every running job of kind with its claim. It serves an
// engine's start: it holds the home lock, so every running job is a dead
// worker's.
func (s *Store) Running(ctx context.Context, kind string) ([]RunningJob, error) {
	return s.running(ctx, runningQuery, kind)
}

// Stale lists the running jobs of kind whose claim's heartbeat is older
// than before. A running job without a claim is not listed: its worker has
// not claimed it yet, and nothing says it is dead.
func (s *Store) Stale(ctx context.Context, kind string, before time.Time) ([]RunningJob, error) {
	return s.running(ctx, runningQuery+staleFilter, kind, before.UnixMilli())
}

// running reads all the rows before it returns: on a pool of one connection
// the caller's next statement would otherwise wait for these rows forever.
func (s *Store) running(ctx context.Context, query string, args ...any) ([]RunningJob, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("jobstore: running jobs: %w", err)
	}
	defer rows.Close()
	var out []RunningJob
	for rows.Next() {
		var j RunningJob
		if err := rows.Scan(&j.ID, &j.Issue, &j.Stage, &j.PGID, &j.Owner); err != nil {
			return nil, fmt.Errorf("jobstore: running jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobstore: running jobs: %w", err)
	}
	return out, nil
}

// requeueQuery hands a running job back to River's queue. A dead worker's
// crash is not the job's fault: the try it used is given back (River counted
// it when it handed the job out), so that the job is worked again at once,
// and its next failure's backoff counts failures only. "state = 'running'"
// leaves alone a job that finished (or was handed back) meanwhile.
const requeueQuery = `UPDATE river_job SET state = 'available', attempt = max(attempt - 1, 0) WHERE id = ? AND state = 'running'`

// Requeue makes the running job id available again with the try it used
// given back, for a worker whose claim died. It reports whether the job was
// running (and so was requeued).
func (s *Store) Requeue(ctx context.Context, id int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, requeueQuery, id)
	if err != nil {
		return false, fmt.Errorf("jobstore: requeue job %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("jobstore: requeue job %d: %w", id, err)
	}
	return n > 0, nil
}
