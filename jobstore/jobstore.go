// Package jobstore holds every statement agentorg runs on River's own tables
// (river_job and what River's migrations make). River's API covers inserting
// and working jobs; what it does not cover, or covers too slowly for a loop
// that asks many times a second, is here, so that the schema these statements
// assume is pinned in one place (see the package's schema tests).
//
// The store speaks two dialects with one method set and one meaning: SQLite
// (Migrate; New over the pool sqlitedb.Open returns, whose statement cache
// keeps each statement prepared by its text) and PostgreSQL (MigratePostgres
// on River's pgx pool; New over the database/sql pool package store opens on
// it). Each statement is a constant
// per dialect (see sqliteStatements and postgresStatements). The store knows
// a few things of agentorg's beyond River: a job's args carry its issue in
// "issue" and its stage in "stage", and the engine's claims table
// (agentorg_claims, owned by the engine) names a job by job_id, which the
// queries for running jobs join on.
package jobstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/agentorg/agentorg/store"
)

// Store runs the statements on River's tables in one database.
type Store struct {
	db querier
	q  *statements
}

// New returns a store over db, in db's dialect (store.DialectOf): a SQLite
// pool from sqlitedb.Open (one connection: no method holds rows open while
// it runs another statement), or a PostgreSQL pool from store.Open. On
// PostgreSQL the statements pass through store's translation unchanged:
// they are PostgreSQL's already and have no "?" placeholder.
func New(db *sql.DB) *Store {
	if store.DialectOf(db) == store.Postgres {
		return &Store{db: sqlDB{db}, q: &postgresStatements}
	}
	return &Store{db: sqlDB{db}, q: &sqliteStatements}
}

// Migrate runs River's migrations up on db: it makes the tables the store's
// statements read, or brings them to the schema of the River this binary
// was built with.
func Migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return fmt.Errorf("jobstore: migrations: %w", err)
	}
	return migrate(ctx, m)
}

// MigratePostgres is Migrate on PostgreSQL: River's migrations for its
// riverpgxv5 driver, run up on pool.
//
// Workers starting together on an empty database would each run the
// first migration and collide on its types: they take turns, holding an
// advisory lock on a connection of their own while they migrate.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("jobstore: migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("jobstore: migrations: wait for another worker's: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey)
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("jobstore: migrations: %w", err)
	}
	return migrate(ctx, m)
}

// migrateLockKey is the advisory lock River's migrations run under:
// "agentmig" in ASCII.
const migrateLockKey int64 = 0x6167656e746d6967

func migrate[TTx any](ctx context.Context, m *rivermigrate.Migrator[TTx]) error {
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobstore: migrate river: %w", err)
	}
	return nil
}

// statements are one dialect's texts of the store's statements. Each is
// described on SQLite's (sqliteStatements); PostgreSQL's
// (postgresStatements) mean the same in its dialect.
type statements struct {
	exists, idle, counts, running, unclaimedFilter, leftByFilter, requeue, leader, moveQueue string
}

var sqliteStatements = statements{
	// exists finds River's job table. It reads sqlite_master, so it works
	// on a database no engine ever migrated.
	exists: `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_job'`,

	// idle finds one unfinished job of a kind. It reads River's table
	// directly (sqlitedb's statement cache keeps it prepared): the engine's
	// RunUntilIdle asks 40 times a second, and River's JobList parsed a
	// query and walked every job of the kind each time (a quarter of the
	// engine's CPU at 1000 issues). "+kind" keeps SQLite on the state
	// index, where unfinished jobs are few, rather than on the kind index,
	// where every job of the kind is.
	idle: `SELECT 1 FROM river_job
	WHERE state IN ('available', 'pending', 'running', 'retryable', 'scheduled') AND +kind = ? LIMIT 1`,

	// counts counts the jobs of a kind by stage and state. Like idle it
	// reads River's table directly: River's JobList would walk every job
	// to count them.
	counts: `SELECT COALESCE(json_extract(args, '$.stage'), ''), state, count(*) FROM river_job
	WHERE kind = ? GROUP BY 1, 2`,

	// running lists the running jobs of a kind, their issue and stage (from
	// the args), with the claim the engine recorded for each, if any (a job
	// River has handed to a worker that has not claimed it yet has none).
	// unclaimedFilter narrows it to the jobs without a claim that River
	// handed out (attempted_at) longer ago than a number of seconds, by
	// the database's clock: River writes attempted_at by it (SQLite's text
	// in UTC, PostgreSQL's now()).
	running: `SELECT j.id, COALESCE(json_extract(j.args, '$.issue'), 0), COALESCE(json_extract(j.args, '$.stage'), ''),
		COALESCE(c.pgid, 0), COALESCE(c.owner, ''), COALESCE(c.host, ''), COALESCE(c.run_id, '')
		FROM river_job j LEFT JOIN agentorg_claims c ON c.job_id = j.id
		WHERE j.state = 'running' AND j.kind = ?`,
	unclaimedFilter: ` AND c.job_id IS NULL AND unixepoch(j.attempted_at, 'subsec') < unixepoch('now', 'subsec') - ?`,
	// leftByFilter narrows it to the jobs without a claim that River last
	// handed to a given client (attempted_by's last entry).
	leftByFilter: ` AND c.job_id IS NULL AND json_extract(j.attempted_by, '$[#-1]') = ?`,

	// requeue hands a running job back to River's queue. A dead worker's
	// crash is not the job's fault: the try it used is given back (River
	// counted it when it handed the job out), so that the job is worked
	// again at once, and its next failure's backoff counts failures only.
	// "state = 'running'" leaves alone a job that finished (or was handed
	// back) meanwhile, and a job with a claim is left to its claimant: the
	// engine deletes a dead claim first, and a worker that claimed the job
	// meanwhile is alive.
	requeue: `UPDATE river_job SET state = 'available', attempt = max(attempt - 1, 0)
		WHERE id = ? AND state = 'running' AND NOT EXISTS (SELECT 1 FROM agentorg_claims c WHERE c.job_id = river_job.id)`,

	// leader reads the leader River's elector chose among the clients on
	// this database: its client id and when its term expires, in Unix
	// milliseconds. The table holds one row at most (name is 'default').
	leader: `SELECT leader_id, CAST(unixepoch(expires_at, 'subsec') * 1000 AS INTEGER) FROM river_leader`,

	// moveQueue moves the waiting jobs of a kind and stage from one queue
	// to another (a gone worker's to the stage's); running ones stay, for
	// the reaper.
	moveQueue: `UPDATE river_job SET queue = ? WHERE queue = ? AND kind = ? AND json_extract(args, '$.stage') = ?
		AND state IN ('available', 'pending', 'retryable', 'scheduled')`,
}

// postgresStatements differ from SQLite's in PostgreSQL's dialect only:
// numbered parameters; to_regclass for the table (on the search path, where
// River's migrations made it); args is jsonb, read with ->>; state is River's
// enum type, cast to text to be read; GREATEST for SQLite's two-argument max;
// timestamptz arithmetic for unixepoch.
// The idle query needs no hint: PostgreSQL's planner weighs the state index
// by its statistics.
var postgresStatements = statements{
	exists: `SELECT CASE WHEN to_regclass('river_job') IS NULL THEN 0 ELSE 1 END`,
	idle: `SELECT 1 FROM river_job
	WHERE state IN ('available', 'pending', 'running', 'retryable', 'scheduled') AND kind = $1 LIMIT 1`,
	counts: `SELECT COALESCE(args->>'stage', ''), state::text, count(*) FROM river_job
	WHERE kind = $1 GROUP BY 1, 2`,
	running: `SELECT j.id, COALESCE((j.args->>'issue')::bigint, 0), COALESCE(j.args->>'stage', ''),
		COALESCE(c.pgid, 0), COALESCE(c.owner, ''), COALESCE(c.host, ''), COALESCE(c.run_id, '')
		FROM river_job j LEFT JOIN agentorg_claims c ON c.job_id = j.id
		WHERE j.state = 'running' AND j.kind = $1`,
	unclaimedFilter: ` AND c.job_id IS NULL AND j.attempted_at < now() - make_interval(secs => $2)`,
	leftByFilter:    ` AND c.job_id IS NULL AND j.attempted_by[array_upper(j.attempted_by, 1)] = $2`,
	requeue: `UPDATE river_job SET state = 'available', attempt = GREATEST(attempt - 1, 0)
		WHERE id = $1 AND state = 'running' AND NOT EXISTS (SELECT 1 FROM agentorg_claims c WHERE c.job_id = river_job.id)`,
	leader: `SELECT leader_id, CAST(EXTRACT(EPOCH FROM expires_at) * 1000 AS BIGINT) FROM river_leader`,
	moveQueue: `UPDATE river_job SET queue = $1 WHERE queue = $2 AND kind = $3 AND args->>'stage' = $4
		AND state IN ('available', 'pending', 'retryable', 'scheduled')`,
}

// Exists reports whether River's job table is there: false on a home where
// no engine ever ran, where there are no jobs to read.
func (s *Store) Exists(ctx context.Context) (bool, error) {
	var tables int
	if _, err := s.db.one(ctx, s.q.exists, nil, &tables); err != nil {
		return false, fmt.Errorf("jobstore: find the job table: %w", err)
	}
	return tables > 0, nil
}

// Idle reports whether no job of kind is unfinished: none is available,
// pending, running, retryable or scheduled.
func (s *Store) Idle(ctx context.Context, kind string) (bool, error) {
	var one int
	found, err := s.db.one(ctx, s.q.idle, []any{kind}, &one)
	if err != nil {
		return false, fmt.Errorf("jobstore: find an unfinished job: %w", err)
	}
	return !found, nil
}

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
	var out []Count
	err := s.db.each(ctx, s.q.counts, []any{kind}, func(scan func(...any) error) error {
		var c Count
		if err := scan(&c.Stage, &c.State, &c.N); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobstore: count jobs: %w", err)
	}
	return out, nil
}

// RunningJob is a running job and what its claim says of it. Without a
// claim, Owner, Host and RunID are empty and PGID is 0.
type RunningJob struct {
	ID    int64
	Issue int64  // the job's issue (its args' "issue")
	Stage string // the job's stage (its args' "stage")
	PGID  int    // the process group the claim recorded, 0 when none
	Owner string // the engine that claimed it, "" without a claim
	Host  string // the host that engine runs on, as the claim says
	RunID string // the claim's run
}

// Running lists every running job of kind with its claim. It serves an
// engine's start on SQLite: it holds the home lock, so every running job is
// a dead worker's.
func (s *Store) Running(ctx context.Context, kind string) ([]RunningJob, error) {
	return s.running(ctx, s.q.running, kind)
}

// Unclaimed lists the running jobs of kind that no engine claimed although
// River handed them out more than after ago, by the database's clock. An
// engine claims a job as soon as its worker starts it: such a job's worker
// died between River's fetch and its claim, and nothing else would ever
// give the job back.
func (s *Store) Unclaimed(ctx context.Context, kind string, after time.Duration) ([]RunningJob, error) {
	return s.running(ctx, s.q.running+s.q.unclaimedFilter, kind, after.Seconds())
}

// LeftBy lists the running jobs of kind without a claim that River last
// handed to the client (engine) whose id is owner: jobs an engine known to
// be dead left, whether it died before it claimed them or after it ended
// them but before River recorded it.
func (s *Store) LeftBy(ctx context.Context, kind, owner string) ([]RunningJob, error) {
	return s.running(ctx, s.q.running+s.q.leftByFilter, kind, owner)
}

func (s *Store) running(ctx context.Context, query string, args ...any) ([]RunningJob, error) {
	var out []RunningJob
	err := s.db.each(ctx, query, args, func(scan func(...any) error) error {
		var j RunningJob
		if err := scan(&j.ID, &j.Issue, &j.Stage, &j.PGID, &j.Owner, &j.Host, &j.RunID); err != nil {
			return err
		}
		out = append(out, j)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobstore: running jobs: %w", err)
	}
	return out, nil
}

// Requeue makes the running job id available again with the try it used
// given back, for a worker whose claim died (delete the claim first). It
// reports whether the job was running without a claim, and so was
// requeued.
func (s *Store) Requeue(ctx context.Context, id int64) (bool, error) {
	n, err := s.db.exec(ctx, s.q.requeue, id)
	if err != nil {
		return false, fmt.Errorf("jobstore: requeue job %d: %w", id, err)
	}
	return n > 0, nil
}

// Leader returns the client id of the leader River's elector chose among
// the clients that work this database, and when its term expires (it
// renews it while it lives). The id is "" when there is none: no client
// ever ran, or the last one resigned.
func (s *Store) Leader(ctx context.Context) (id string, expires time.Time, err error) {
	var ms int64
	found, err := s.db.one(ctx, s.q.leader, nil, &id, &ms)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("jobstore: read the leader: %w", err)
	}
	if !found {
		return "", time.Time{}, nil
	}
	return id, time.UnixMilli(ms), nil
}

// MoveQueue moves the jobs of kind for stage that wait in queue from (not
// running ones) to queue to, and says how many it moved: the jobs of a
// worker that is gone, for another to take.
func (s *Store) MoveQueue(ctx context.Context, kind, stage, from, to string) (int, error) {
	n, err := s.db.exec(ctx, s.q.moveQueue, to, from, kind, stage)
	if err != nil {
		return 0, fmt.Errorf("jobstore: move the jobs of queue %s: %w", from, err)
	}
	return int(n), nil
}

// querier is what the store needs of a database (database/sql, in either
// dialect: sqlDB).
type querier interface {
	// one scans the first row of query into dest, reporting false when
	// there is none.
	one(ctx context.Context, query string, args []any, dest ...any) (bool, error)
	// each calls row with each row's scan, reading every row before it
	// returns: on SQLite's pool of one connection the caller's next
	// statement would otherwise wait for these rows forever.
	each(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error
	// exec runs query and says how many rows it changed.
	exec(ctx context.Context, query string, args ...any) (int64, error)
}

type sqlDB struct{ db *sql.DB }

func (d sqlDB) one(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	err := d.db.QueryRowContext(ctx, query, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (d sqlDB) each(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (d sqlDB) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
