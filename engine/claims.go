package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/jobstore"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/store"
)

// The claim table records which engine works which job, on which host and
// for which worker (the home's id, "" on an engine that has none), with a
// heartbeat. River's job row says "running"; the claim says who and
// whether they are still alive. One claim per (issue, stage) at most: the
// index backs River's unique jobs (DESIGN rule 2), so that a job River
// handed out twice (a worker taken for dead that was not) is not worked
// twice. Times are Unix milliseconds by the database's clock (see
// claimSQL), so that workers on hosts whose clocks differ agree on what is
// stale.
const claimsSchema = `
CREATE TABLE IF NOT EXISTS agentorg_claims (
	job_id       INTEGER PRIMARY KEY,
	issue        INTEGER NOT NULL,
	stage        TEXT NOT NULL,
	run_id       TEXT NOT NULL,
	owner        TEXT NOT NULL,
	host         TEXT NOT NULL DEFAULT '',
	pgid         INTEGER NOT NULL DEFAULT 0,
	heartbeat_at INTEGER NOT NULL,
	worker       TEXT NOT NULL DEFAULT ''
)`

// claimsIndex keeps one claim per (issue, stage). Duplicates left by an
// older version (a claim whose release failed, and a later one) are
// dropped first, the newest kept: they are dead, and are reaped anyway.
const (
	claimsDedupe = `DELETE FROM agentorg_claims WHERE job_id NOT IN (SELECT max(job_id) FROM agentorg_claims GROUP BY issue, stage)`
	claimsIndex  = `CREATE UNIQUE INDEX IF NOT EXISTS agentorg_claims_issue_stage ON agentorg_claims (issue, stage)`
)

// The claim log keeps every claim, from the claim to its end: done (the
// run returned), failed (it returned an error, or was stopped) or reaped
// (another engine took its worker for dead and released it). It answers
// whether two runs of one (issue, stage) ever overlapped (DoubleClaims),
// and which engine on which host ran a job (the sweep of leftover
// processes, see sweep).
const claimLogSchema = `
CREATE TABLE IF NOT EXISTS agentorg_claim_log (
	run_id     TEXT PRIMARY KEY,
	job_id     INTEGER NOT NULL,
	issue      INTEGER NOT NULL,
	stage      TEXT NOT NULL,
	owner      TEXT NOT NULL,
	host       TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER,
	ended      TEXT NOT NULL DEFAULT ''
)`

var claimLogIndexes = []string{
	`CREATE INDEX IF NOT EXISTS agentorg_claim_log_issue_stage ON agentorg_claim_log (issue, stage, started_at)`,
	`CREATE INDEX IF NOT EXISTS agentorg_claim_log_job ON agentorg_claim_log (job_id)`,
}

// How a claim ended, in the claim log.
const (
	endedDone   = "done"
	endedFailed = "failed"
	endedReaped = "reaped"
)

// migrateClaims makes the claims table and the claim log, and adds the
// columns later versions added to a claims table an older one made. It runs
// in one write transaction: on PostgreSQL, workers that start together
// take turns (see store's write lock) rather than race on the catalog.
func migrateClaims(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("engine: migrate claims: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, claimsSchema); err != nil {
		return fmt.Errorf("engine: migrate claims: %w", err)
	}
	for _, col := range []string{"host", "worker"} {
		if err := addTextColumn(ctx, tx, store.DialectOf(db), "agentorg_claims", col); err != nil {
			return fmt.Errorf("engine: migrate claims: %w", err)
		}
	}
	for _, q := range append([]string{claimsDedupe, claimsIndex, claimLogSchema}, claimLogIndexes...) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("engine: migrate claims: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("engine: migrate claims: %w", err)
	}
	return nil
}

// addTextColumn adds a text column, empty by default, to a table an older
// version made without it.
func addTextColumn(ctx context.Context, tx *sql.Tx, d store.Dialect, table, column string) error {
	has, err := hasColumn(ctx, tx, d, table, column)
	if err != nil || has {
		return err
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+column+` TEXT NOT NULL DEFAULT ''`); err != nil {
		return fmt.Errorf("add %s.%s: %w", table, column, err)
	}
	return nil
}

// hasColumn reports whether table has column, from the catalog.
func hasColumn(ctx context.Context, tx *sql.Tx, d store.Dialect, table, column string) (bool, error) {
	q := `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`
	if d == store.Postgres {
		q = `SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?`
	}
	var n int
	err := tx.QueryRowContext(ctx, q, table, column).Scan(&n)
	return n > 0, err
}

// Claim is a stage run in progress, as the claims table shows it.
type Claim struct {
	Job   int64  `json:"job"`
	Issue int64  `json:"issue"`
	Stage string `json:"stage"`
	RunID string `json:"run_id"`
	Host  string `json:"host"` // the host of the engine that works it ("" before hosts were recorded)
	// Worker is the worker whose engine works it ("" before workers were
	// recorded in claims, or for an engine without a worker id).
	Worker    string    `json:"worker,omitempty"`
	Heartbeat time.Time `json:"heartbeat"`
}

// Stale says whether the claim's worker has gone quiet for longer than an
// engine with the default settings waits before it releases the claim.
func (c Claim) Stale(now time.Time) bool { return now.Sub(c.Heartbeat) > DefaultStaleAfter }

// Claims lists the claims in an engine database, oldest job first. It only
// reads, so it works beside running engines in other processes, and on a
// home where no engine ever ran (no claims table yet, so no claims).
func Claims(ctx context.Context, db *sql.DB) ([]Claim, error) {
	if ok, err := store.TableExists(ctx, db, "agentorg_claims"); err != nil || !ok {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT job_id, issue, stage, run_id, host, worker, heartbeat_at FROM agentorg_claims ORDER BY job_id`)
	if err != nil {
		return nil, fmt.Errorf("engine: claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		var beat int64
		if err := rows.Scan(&c.Job, &c.Issue, &c.Stage, &c.RunID, &c.Host, &c.Worker, &beat); err != nil {
			return nil, fmt.Errorf("engine: claims: %w", err)
		}
		c.Heartbeat = time.UnixMilli(beat)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DoubleClaims counts the pairs of runs of one (issue, stage), in the claim
// log, whose claims overlapped in time: a run not ended yet runs until now,
// a reaped one ended when it was reaped. River's unique jobs and the claims
// table's one claim per (issue, stage) keep it at 0; it is how tests and
// operators check that many workers behave like one. A database where no
// engine ever ran has none.
func DoubleClaims(ctx context.Context, db *sql.DB) (int, error) {
	if ok, err := store.TableExists(ctx, db, "agentorg_claim_log"); err != nil || !ok {
		return 0, err
	}
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM agentorg_claim_log a JOIN agentorg_claim_log b
		ON b.issue = a.issue AND b.stage = a.stage AND a.run_id < b.run_id
		WHERE a.started_at < COALESCE(b.ended_at, ?) AND b.started_at < COALESCE(a.ended_at, ?)`,
		int64(math.MaxInt64), int64(math.MaxInt64)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("engine: double claims: %w", err)
	}
	return n, nil
}

// LoggedClaim is a claim as the claim log keeps it.
type LoggedClaim struct {
	Issue   int64
	Stage   string
	Host    string
	Started time.Time
	Ended   string // "" while it runs; done, failed or reaped
}

// ClaimLog lists every claim the engines on db took, oldest first (none on
// a database where no engine ran): what `agentorg bench` measures claims
// per second and the wait before a stage starts from.
func ClaimLog(ctx context.Context, db *sql.DB) ([]LoggedClaim, error) {
	if ok, err := store.TableExists(ctx, db, "agentorg_claim_log"); err != nil || !ok {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT issue, stage, host, started_at, ended FROM agentorg_claim_log ORDER BY started_at, run_id`)
	if err != nil {
		return nil, fmt.Errorf("engine: claim log: %w", err)
	}
	defer rows.Close()
	var out []LoggedClaim
	for rows.Next() {
		var c LoggedClaim
		var ms int64
		if err := rows.Scan(&c.Issue, &c.Stage, &c.Host, &ms, &c.Ended); err != nil {
			return nil, fmt.Errorf("engine: claim log: %w", err)
		}
		c.Started = time.UnixMilli(ms)
		out = append(out, c)
	}
	return out, rows.Err()
}

// claimSQL are the engine's statements on its claims and its workers'
// heartbeats, with the database's clock in Unix milliseconds in place of
// @NOW.
type claimSQL struct {
	claim, log, beat, pgid, release, end, stale, ownedBy, reap, reapStale, reapLog, owned string
	beatWorker, workerAlive, goneWorkers                                                  string
}

// nowMillis is the database's clock in Unix milliseconds, in each dialect.
var nowMillis = map[store.Dialect]string{
	store.SQLite:   `CAST(unixepoch('now', 'subsec') * 1000 AS INTEGER)`,
	store.Postgres: `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`,
}

func newClaimSQL(d store.Dialect) claimSQL {
	now := nowMillis[d]
	q := func(s string) string { return strings.ReplaceAll(s, "@NOW", now) }
	return claimSQL{
		// claim takes a job for this engine unless a claim holds the job
		// or its (issue, stage).
		claim: q(`INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, worker, heartbeat_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, @NOW) ON CONFLICT DO NOTHING`),
		log: q(`INSERT INTO agentorg_claim_log (run_id, job_id, issue, stage, owner, host, started_at)
			VALUES (?, ?, ?, ?, ?, ?, @NOW)`),
		// beat finds no row once the claim was released for dead.
		beat:    q(`UPDATE agentorg_claims SET heartbeat_at = @NOW WHERE job_id = ? AND run_id = ?`),
		pgid:    `UPDATE agentorg_claims SET pgid = ? WHERE job_id = ? AND run_id = ?`,
		release: `DELETE FROM agentorg_claims WHERE job_id = ? AND run_id = ?`,
		end:     q(`UPDATE agentorg_claim_log SET ended_at = @NOW, ended = ? WHERE run_id = ? AND ended_at IS NULL`),
		// stale lists the claims whose heartbeat is older than a number of
		// milliseconds, whatever their job's state: one whose release
		// failed is as dead as one whose worker died.
		stale: q(`SELECT job_id, issue, stage, pgid, owner, host, run_id FROM agentorg_claims
			WHERE heartbeat_at < @NOW - ?`),
		// ownedBy lists the claims of an engine.
		ownedBy: `SELECT job_id, issue, stage, pgid, owner, host, run_id FROM agentorg_claims WHERE owner = ?`,
		// reap deletes a dead claim; reapStale only while it is still
		// stale (a worker that beat meanwhile is alive).
		reap:      `DELETE FROM agentorg_claims WHERE job_id = ? AND run_id = ?`,
		reapStale: q(`DELETE FROM agentorg_claims WHERE job_id = ? AND run_id = ? AND heartbeat_at < @NOW - ?`),
		reapLog:   q(`UPDATE agentorg_claim_log SET ended_at = @NOW, ended = 'reaped' WHERE ended_at IS NULL`),
		// The workers (affinity.go): a worker's beat, with its engine;
		// whether a worker beat within a number of milliseconds; the
		// workers silent for longer.
		beatWorker: q(`INSERT INTO agentorg_workers (id, host, beat_at, owner) VALUES (?, ?, @NOW, ?)
			ON CONFLICT (id) DO UPDATE SET host = excluded.host, beat_at = excluded.beat_at, owner = excluded.owner`),
		workerAlive: q(`SELECT count(*) FROM agentorg_workers WHERE id = ? AND beat_at >= @NOW - ?`),
		goneWorkers: q(`SELECT id FROM agentorg_workers WHERE beat_at < @NOW - ? ORDER BY id`),
		// owned says whether this database's claim log has a claim of a
		// job by an owner on a host, and whether it still holds.
		owned: `SELECT (SELECT count(*) FROM agentorg_claim_log WHERE job_id = ? AND owner = ? AND host = ?),
			(SELECT count(*) FROM agentorg_claims WHERE job_id = ? AND owner = ?)`,
	}
}

// claim takes job jobID for this engine's run runID, and logs it. It
// reports false when another claim holds the job or its issue's stage and
// is alive. A dead one (no heartbeat for StaleAfter) is reaped first, so
// that a claim whose release failed does not hold the stage until a poll
// reaps it.
func (e *Engine) claim(ctx context.Context, jobID int64, a StageArgs, runID string) (bool, error) {
	for try := 0; ; try++ {
		claimed, err := e.claimAndLog(ctx, jobID, a, runID)
		if err != nil || claimed {
			return claimed, err
		}
		if try > 0 {
			return false, nil
		}
		dead, err := e.staleClaims(ctx)
		if err != nil {
			return false, err
		}
		dead = slices.DeleteFunc(dead, func(d jobstore.RunningJob) bool {
			return d.ID != jobID && (d.Issue != a.Issue || d.Stage != a.Stage)
		})
		if len(dead) == 0 {
			return false, nil
		}
		for _, d := range dead {
			// This job's own dead claim is not requeued: River handed
			// the job to this engine, which works it now.
			if _, err := e.reapOne(ctx, d, true, d.ID != jobID); err != nil {
				return false, err
			}
		}
	}
}

// claimAndLog inserts the claim and its row in the claim log in one
// transaction: the log never misses a claim that held.
func (e *Engine) claimAndLog(ctx context.Context, jobID int64, a StageArgs, runID string) (bool, error) {
	tx, err := e.cfg.DB.BeginTx(ctx, store.Atomic)
	if err != nil {
		return false, fmt.Errorf("engine: claim job %d: %w", jobID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, e.sql.claim, jobID, a.Issue, a.Stage, runID, e.owner, e.host, e.cfg.Worker)
	if err != nil {
		return false, fmt.Errorf("engine: claim job %d: %w", jobID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, e.sql.log, runID, jobID, a.Issue, a.Stage, e.owner, e.host); err != nil {
		return false, fmt.Errorf("engine: log the claim of job %d: %w", jobID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("engine: claim job %d: %w", jobID, err)
	}
	return true, nil
}

// errLostClaim is the cancel cause of a run whose claim another engine
// released, taking its worker for dead.
var errLostClaim = errors.New("the claim was released by another engine, which took this worker for dead")

// beat proves the claim alive. It reports false when the claim is gone:
// another engine released it for dead, and the job may be someone else's.
func (e *Engine) beat(ctx context.Context, jobID int64, runID string) (bool, error) {
	res, err := e.cfg.DB.ExecContext(ctx, e.sql.beat, jobID, runID)
	if err != nil {
		return true, err
	}
	n, err := res.RowsAffected()
	return n > 0 || err != nil, err
}

// release ends a claim, as ended says (endedDone, endedFailed): it
// deletes the claim and ends its run in the claim log in one transaction,
// so that a worker killed in between, or a database restarting, never
// leaves the log with a run that looks as if it still held the stage (the
// chaos bench counted such runs as double claims). It tries again while
// the database is away; a release that still fails leaves the claim to
// the reaper, whose heartbeat check finds it dead. A claim reaped
// meanwhile stays as the reaper logged it.
func (e *Engine) release(ctx context.Context, jobID int64, runID, ended string) {
	for wait := 250 * time.Millisecond; ; wait *= 2 {
		_, err := e.endClaim(ctx, runID, ended, e.sql.release, jobID, runID)
		if err == nil || wait > 4*time.Second {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// endClaim deletes a claim with the statement del and its args and, if
// one was deleted, ends run runID in the claim log as ended, in one
// transaction: a claim of the same stage can only follow, and the log
// never shows a run going on whose claim is gone. It reports whether a
// claim was deleted.
func (e *Engine) endClaim(ctx context.Context, runID, ended, del string, args ...any) (bool, error) {
	tx, err := e.cfg.DB.BeginTx(ctx, store.Atomic)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, del, args...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, e.sql.end, ended, runID); err != nil {
		return false, fmt.Errorf("log the end of run %s: %w", runID, err)
	}
	return true, tx.Commit()
}

// claimMark is the mark (see proc.WithMark) of the processes an engine
// starts for a job.
func claimMark(owner string, jobID int64) string {
	return fmt.Sprintf("%s/%d", owner, jobID)
}

// parseClaimMark splits a claimMark; ok is false for any other mark.
func parseClaimMark(mark string) (owner string, jobID int64, ok bool) {
	i := strings.LastIndexByte(mark, '/')
	if i <= 0 {
		return "", 0, false
	}
	id, err := strconv.ParseInt(mark[i+1:], 10, 64)
	return mark[:i], id, err == nil
}

// onStart is what a run does with the process group of each agent or check
// it starts: record it where a restart cannot find the run's processes by
// their mark, and nothing (no write on every start) where it can.
func (e *Engine) onStart(ctx context.Context, jobID int64, runID string) func(pgid int) {
	if proc.MarksFindable() {
		return nil
	}
	return func(pgid int) { e.setPGID(context.WithoutCancel(ctx), jobID, runID, pgid) }
}

// setPGID records the process group of a claim's agent or check, so that a
// restart on a system without /proc (where marks cannot be read) can kill it
// if it outlived its engine.
func (e *Engine) setPGID(ctx context.Context, jobID int64, runID string, pgid int) {
	_, _ = e.cfg.DB.ExecContext(ctx, e.sql.pgid, pgid, jobID, runID)
}

// staleClaims lists the claims whose heartbeat is older than StaleAfter.
func (e *Engine) staleClaims(ctx context.Context) ([]jobstore.RunningJob, error) {
	return e.deadClaims(ctx, e.sql.stale, e.cfg.StaleAfter.Milliseconds())
}

// deadClaims lists the claims query (stale, ownedBy) finds.
func (e *Engine) deadClaims(ctx context.Context, query string, args ...any) ([]jobstore.RunningJob, error) {
	rows, err := e.cfg.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("engine: find dead claims: %w", err)
	}
	defer rows.Close()
	var out []jobstore.RunningJob
	for rows.Next() {
		var d jobstore.RunningJob
		if err := rows.Scan(&d.ID, &d.Issue, &d.Stage, &d.PGID, &d.Owner, &d.Host, &d.RunID); err != nil {
			return nil, fmt.Errorf("engine: find dead claims: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// unclaimedAfter is how long a running job may stay without a claim before
// its worker counts as dead. A worker claims a job first thing, so it is
// unclaimed only for the instant between River's fetch and the worker's
// start; StaleAfter twice over leaves room for a slow database.
func (e *Engine) unclaimedAfter() time.Duration { return 2 * e.cfg.StaleAfter }

// reapAtStart releases what dead engines left before this one takes jobs.
// On SQLite the caller holds the home lock, so no other engine works the
// database: every running job and every claim is dead. On PostgreSQL other
// workers are alive: only stale claims and jobs left unclaimed are, and
// what this worker's last engine left (the home lock again: a restart
// after kill -9 goes on at once, without waiting for heartbeats to go
// stale), and this host's processes that a dead engine left are killed
// (see sweep).
func (e *Engine) reapAtStart(ctx context.Context) (int, error) {
	if !e.shared() {
		return e.reap(ctx, true)
	}
	n, err := e.reapEarlier(ctx)
	if err != nil {
		return n, err
	}
	m, err := e.reap(ctx, false)
	n += m
	if err != nil {
		return n, err
	}
	_, err = e.sweep(ctx)
	return n, err
}

// reapEarlier releases the claims of this worker's last engine on this
// host, whatever their heartbeat, and the jobs River last handed to it
// that it left running without a claim (it died before it claimed them,
// or before River recorded their end): one engine runs per worker
// (Config.Worker), so it is dead.
func (e *Engine) reapEarlier(ctx context.Context) (int, error) {
	last, err := e.lastEngine(ctx)
	if err != nil || last == "" {
		return 0, err
	}
	dead, err := e.deadClaims(ctx, e.sql.ownedBy, last)
	if err != nil {
		return 0, err
	}
	left, err := e.jobs.LeftBy(ctx, StageArgs{}.Kind(), last)
	if err != nil {
		return 0, fmt.Errorf("engine: find dead claims: %w", err)
	}
	return e.reapEach(ctx, append(dead, left...), false)
}

// reapEach releases each of dead and requeues its job (see reapOne), and
// returns how many it released.
func (e *Engine) reapEach(ctx context.Context, dead []jobstore.RunningJob, stale bool) (int, error) {
	n := 0
	for _, d := range dead {
		ok, err := e.reapOne(ctx, d, stale, true)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// reap makes dead claims workable again. With all (SQLite's start), every
// running job is dead: the caller holds the home lock, so no other engine
// works this database. Otherwise claims whose heartbeat is stale are, and,
// on PostgreSQL, running jobs that no worker claimed for unclaimedAfter
// (their worker died between River's fetch and its claim). A dead claim's
// processes are killed when they run on this host (a process group means
// nothing on another host, and marks are found on this one only), its
// River job goes back to available, and River hands it to a worker, which
// finds the issue in the stage's running label and continues.
func (e *Engine) reap(ctx context.Context, all bool) (int, error) {
	kind := StageArgs{}.Kind()
	var dead []jobstore.RunningJob
	var err error
	if all {
		dead, err = e.jobs.Running(ctx, kind)
	} else {
		dead, err = e.staleClaims(ctx)
		if err == nil && e.shared() {
			var unclaimed []jobstore.RunningJob
			unclaimed, err = e.jobs.Unclaimed(ctx, kind, e.unclaimedAfter())
			dead = append(dead, unclaimed...)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("engine: find dead claims: %w", err)
	}
	// This engine's own claims are not a dead worker's: it still works them.
	dead = slices.DeleteFunc(dead, func(d jobstore.RunningJob) bool { return d.Owner == e.owner })
	n, err := e.reapEach(ctx, dead, !all)
	if err != nil {
		return n, err
	}
	if all {
		// What is left is dead too: claims whose job is not running
		// (their release failed), and their runs.
		if _, err := e.cfg.DB.ExecContext(ctx, `DELETE FROM agentorg_claims WHERE owner <> ?`, e.owner); err != nil {
			return n, fmt.Errorf("engine: release dead claims: %w", err)
		}
		if _, err := e.cfg.DB.ExecContext(ctx, e.sql.reapLog+` AND owner <> ?`, e.owner); err != nil {
			return n, fmt.Errorf("engine: release dead claims: %w", err)
		}
	}
	return n, nil
}

// reapOne releases the dead claim or unclaimed job d, and reports whether
// it did: a claim is released only if it is still d's claim (and, with
// stale, still stale: a worker that beat meanwhile is alive), and an
// unclaimed job only if no worker claimed it meanwhile. With requeue its
// job goes back to River's queue.
func (e *Engine) reapOne(ctx context.Context, d jobstore.RunningJob, stale, requeue bool) (bool, error) {
	killed := 0
	if d.Owner != "" {
		del, args := e.sql.reap, []any{d.ID, d.RunID}
		if stale {
			del, args = e.sql.reapStale, append(args, e.cfg.StaleAfter.Milliseconds())
		}
		if released, err := e.endClaim(ctx, d.RunID, endedReaped, del, args...); err != nil || !released {
			if err != nil {
				err = fmt.Errorf("engine: release job %d: %w", d.ID, err)
			}
			return false, err
		}
		// An agent or check that outlived its engine must not keep
		// editing a worktree the next run owns, nor run on. Only this
		// host's can be killed ("" is a claim from before hosts were
		// recorded: SQLite's, on this host).
		if d.Host == "" || d.Host == e.host {
			mark := claimMark(d.Owner, d.ID)
			var ok bool
			if killed, ok = proc.KillMarked(func(m string) bool { return m == mark }); !ok && d.PGID > 0 {
				// No /proc: only the group recorded at the start is known.
				if syscall.Kill(-d.PGID, syscall.SIGKILL) == nil {
					killed = 1
				}
			}
		}
	}
	if requeue {
		// A crash is not the stage's fault: the job goes back to the queue
		// with the try it used given back (see jobstore's Requeue).
		ok, err := e.jobs.Requeue(ctx, d.ID)
		if err != nil {
			return false, fmt.Errorf("engine: release job %d: %w", d.ID, err)
		}
		if !ok && d.Owner == "" {
			return false, nil // claimed meanwhile, or finished
		}
	}
	e.cfg.Metrics.Reaped(killed)
	reason := fmt.Sprintf("released job %d: its worker died (no heartbeat)", d.ID)
	data := map[string]string{"job": strconv.FormatInt(d.ID, 10), "owner": d.Owner, "host": d.Host}
	if d.Owner == "" {
		reason = fmt.Sprintf("released job %d: its worker died before it claimed the job", d.ID)
	}
	if killed > 0 {
		reason += fmt.Sprintf("; killed %d of its processes", killed)
	}
	if d.Issue != 0 {
		_ = e.record(ctx, eventlog.Event{Issue: d.Issue, Stage: d.Stage, RunID: d.RunID, Actor: e.wf.Tracker.Bot,
			Kind: eventlog.KindClaim, Reason: reason, Data: data})
	}
	return true, nil
}

// sweep kills this host's agent and check processes that an engine of this
// database left when it died, and whose claim is gone: released by
// another host's engine (which cannot kill them), or reaped before. A
// worker killed with -9 and started again on the same host thus kills its
// predecessor's processes when it comes back, and every worker keeps
// looking at each poll. A process is this database's when the claim log
// has its mark's claim on this host: another organization's engine on the
// host is left alone. It scans first and reads the claims after, so that a
// claim taken after its read cannot be taken for gone (a claim is written
// before its run starts a process). It returns how many processes it
// killed; without /proc it does nothing (see onStart).
func (e *Engine) sweep(ctx context.Context) (int, error) {
	seen := map[string]bool{}
	if _, ok := proc.KillMarked(func(m string) bool { seen[m] = true; return false }); !ok {
		return 0, nil
	}
	gone := map[string]bool{}
	for m := range seen {
		owner, job, ok := parseClaimMark(m)
		if !ok || owner == e.owner {
			continue
		}
		var logged, held int
		if err := e.cfg.DB.QueryRowContext(ctx, e.sql.owned, job, owner, e.host, job, owner).Scan(&logged, &held); err != nil {
			return 0, fmt.Errorf("engine: sweep leftover processes: %w", err)
		}
		if logged > 0 && held == 0 {
			gone[m] = true
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	killed, _ := proc.KillMarked(func(m string) bool { return gone[m] })
	if killed > 0 {
		e.cfg.Logger.Warn("killed processes a dead engine left", "processes", killed, "claims", len(gone))
	}
	return killed, nil
}
