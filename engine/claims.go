package engine

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/jobstore"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/store"
)

// The claim table records which process works which job, with a heartbeat.
// River's job row says "running"; the claim says who and whether they are
// still alive.
const claimsSchema = `
CREATE TABLE IF NOT EXISTS agentorg_claims (
	job_id       INTEGER PRIMARY KEY,
	issue        INTEGER NOT NULL,
	stage        TEXT NOT NULL,
	run_id       TEXT NOT NULL,
	owner        TEXT NOT NULL,
	pgid         INTEGER NOT NULL DEFAULT 0,
	heartbeat_at INTEGER NOT NULL
);`

// Claim is a stage run in progress, as the claims table shows it.
type Claim struct {
	Job       int64     `json:"job"`
	Issue     int64     `json:"issue"`
	Stage     string    `json:"stage"`
	RunID     string    `json:"run_id"`
	Heartbeat time.Time `json:"heartbeat"`
}

// Stale says whether the claim's worker has gone quiet for longer than an
// engine with the default settings waits before it releases the claim.
func (c Claim) Stale(now time.Time) bool { return now.Sub(c.Heartbeat) > DefaultStaleAfter }

// Claims lists the claims in an engine database, oldest job first. It only
// reads, so it works beside a running engine in another process, and on a
// home where no engine ever ran (no claims table yet, so no claims).
func Claims(ctx context.Context, db *sql.DB) ([]Claim, error) {
	if ok, err := store.TableExists(ctx, db, "agentorg_claims"); err != nil || !ok {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT job_id, issue, stage, run_id, heartbeat_at FROM agentorg_claims ORDER BY job_id`)
	if err != nil {
		return nil, fmt.Errorf("engine: claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		var beat int64
		if err := rows.Scan(&c.Job, &c.Issue, &c.Stage, &c.RunID, &beat); err != nil {
			return nil, fmt.Errorf("engine: claims: %w", err)
		}
		c.Heartbeat = time.UnixMilli(beat)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (e *Engine) claim(ctx context.Context, jobID int64, a StageArgs, runID string) error {
	_, err := e.cfg.DB.ExecContext(ctx, `INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET run_id = excluded.run_id, owner = excluded.Owner, heartbeat_at = excluded.heartbeat_at`,
		jobID, a.Issue, a.Stage, runID, e.owner, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("engine: claim job %d: %w", jobID, err)
	}
	return nil
}

func (e *Engine) beat(ctx context.Context, jobID int64) error {
	_, err := e.cfg.DB.ExecContext(ctx, `UPDATE agentorg_claims SET heartbeat_at = ? WHERE job_id = ? AND owner = ?`,
		time.Now().UnixMilli(), jobID, e.owner)
	return err
}

func (e *Engine) release(ctx context.Context, jobID int64) {
	_, _ = e.cfg.DB.ExecContext(ctx, `DELETE FROM agentorg_claims WHERE job_id = ? AND owner = ?`, jobID, e.owner)
}

// claimMark is the mark (see proc.WithMark) of the processes an engine
// starts for a job.
func claimMark(owner string, jobID int64) string {
	return fmt.Sprintf("%s/%d", owner, jobID)
}

// onStart is what a run does with the process group of each agent or check
// it starts: record it where a restart cannot find the run's processes by
// their mark, and nothing (no write on every start) where it can.
func (e *Engine) onStart(ctx context.Context, jobID int64) func(pgid int) {
	if proc.MarksFindable() {
		return nil
	}
	return func(pgid int) { e.setPGID(context.WithoutCancel(ctx), jobID, pgid) }
}

// setPGID records the process group of a claim's agent or check, so that a
// restart on a system without /proc (where marks cannot be read) can kill it
// if it outlived its engine.
func (e *Engine) setPGID(ctx context.Context, jobID int64, pgid int) {
	_, _ = e.cfg.DB.ExecContext(ctx, `UPDATE agentorg_claims SET pgid = ? WHERE job_id = ?`, pgid, jobID)
}

// reap makes dead claims workable again. At start (all=true) every running
// job is dead: the caller holds the home lock, so no other engine works this
// database. Later only claims whose heartbeat is stale are. A dead claim's
// process group is killed, its River job goes back to available, and River
// hands it to a worker, which finds the issue in the stage's running label
// and continues.
func (e *Engine) reap(ctx context.Context, all bool) (int, error) {
	var ds []jobstore.RunningJob
	var err error
	if all {
		ds, err = e.jobs.Running(ctx, StageArgs{}.Kind())
	} else {
		ds, err = e.jobs.Stale(ctx, StageArgs{}.Kind(), time.Now().Add(-e.cfg.StaleAfter))
	}
	if err != nil {
		return 0, fmt.Errorf("engine: find dead claims: %w", err)
	}
	// This engine's own claims are not a dead worker's: it still works them.
	ds = slices.DeleteFunc(ds, func(d jobstore.RunningJob) bool { return d.Owner == e.owner })
	for _, d := range ds {
		// An agent or check that outlived its engine must not keep editing
		// a worktree the next run owns, nor run on. (Without a claim row,
		// nothing was started.)
		killed := 0
		if d.Owner != "" {
			mark := claimMark(d.Owner, d.ID)
			var ok bool
			if killed, ok = proc.KillMarked(func(m string) bool { return m == mark }); !ok && d.PGID > 0 {
				// No /proc: only the group recorded at the start is known.
				if syscall.Kill(-d.PGID, syscall.SIGKILL) == nil {
					killed = 1
				}
			}
		}
		// A crash is not the stage's fault: the job goes back to the queue
		// with the try it used given back (see jobstore's Requeue).
		if _, err := e.jobs.Requeue(ctx, d.ID); err != nil {
			return 0, fmt.Errorf("engine: release job %d: %w", d.ID, err)
		}
		if _, err := e.cfg.DB.ExecContext(ctx, `DELETE FROM agentorg_claims WHERE job_id = ?`, d.ID); err != nil {
			return 0, err
		}
		e.cfg.Metrics.Reaped(killed)
		if d.Issue != 0 {
			_ = e.record(ctx, eventlog.Event{Issue: d.Issue, Stage: d.Stage, Actor: e.wf.Tracker.Bot, Kind: eventlog.KindClaim,
				Reason: fmt.Sprintf("released job %d: its worker died (no heartbeat)", d.ID)})
		}
	}
	return len(ds), nil
}
