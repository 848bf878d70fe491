package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/workflow"
)

// A developer's session and worktree live on the worker that made them
// (homedir.Holder names it), so on a shared database the issue's developer
// runs go to that worker while it lives: each worker has a River queue of
// its own, and a developer job for an issue whose holder beat in the last
// TakeoverAfter is enqueued there. When a worker has been silent for
// TakeoverAfter, the leader moves the jobs waiting in its queue back to
// the stages' shared queues, and the worker that runs one takes the issue
// over (role: takeOver, docs/lifecycle.md I21). A worker back within
// TakeoverAfter finds its own jobs waiting and resumes its sessions.

// DefaultTakeoverAfter is Config.TakeoverAfter's default.
const DefaultTakeoverAfter = 2 * time.Minute

// workersSchema: each worker's last sign of life, by the database's clock,
// and its engine then (its claims' owner, see lastEngine).
const workersSchema = `
CREATE TABLE IF NOT EXISTS agentorg_workers (
	id      TEXT PRIMARY KEY,
	host    TEXT NOT NULL,
	beat_at INTEGER NOT NULL,
	owner   TEXT NOT NULL DEFAULT ''
);`

// routed reports whether stage st's jobs go to the issue's holder: the
// developer's, on a shared database, for an engine that knows its worker.
func (e *Engine) routed(st *workflow.Stage) bool {
	return e.shared() && e.cfg.Worker != "" && st.Role == agentorg.RoleDeveloper
}

// workerQueue is worker id's own queue.
func workerQueue(id string) string {
	return "worker_" + queueUnsafe.ReplaceAllString(strings.ToLower(id), "_")
}

// queueFor is the queue a job of stage st on issue goes to: its holder's
// while the holder lives, else the stage's.
func (e *Engine) queueFor(ctx context.Context, st *workflow.Stage, issue int64) (string, error) {
	shared := e.queues[st.Name]
	if !e.routed(st) {
		return shared, nil
	}
	holder, ok, err := homedir.Holder(ctx, e.cfg.DB, issue)
	if err != nil || !ok {
		return shared, err
	}
	if holder == e.cfg.Worker {
		return workerQueue(holder), nil
	}
	alive, err := e.workerAlive(ctx, holder)
	if err != nil || !alive {
		return shared, err
	}
	return workerQueue(holder), nil
}

// beatWorker records that this worker lives, with this engine.
func (e *Engine) beatWorker(ctx context.Context) error {
	_, err := e.cfg.DB.ExecContext(ctx, e.sql.beatWorker, e.cfg.Worker, e.host, e.owner)
	if err != nil {
		return fmt.Errorf("engine: worker heartbeat: %w", err)
	}
	return nil
}

// lastEngine is the engine this worker ran on this host before this one
// started (its owner id), "" if none is known. Called before Start's first
// beatWorker: one engine runs per worker, so that one is dead.
func (e *Engine) lastEngine(ctx context.Context) (string, error) {
	if !e.shared() || e.cfg.Worker == "" {
		return "", nil
	}
	var owner string
	err := e.cfg.DB.QueryRowContext(ctx, `SELECT owner FROM agentorg_workers WHERE id = ? AND host = ?`, e.cfg.Worker, e.host).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) || owner == e.owner {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("engine: this worker's last engine: %w", err)
	}
	return owner, nil
}

// workerAlive reports whether worker id beat within TakeoverAfter.
func (e *Engine) workerAlive(ctx context.Context, id string) (bool, error) {
	var n int
	err := e.cfg.DB.QueryRowContext(ctx, e.sql.workerAlive, id, e.cfg.TakeoverAfter.Milliseconds()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("engine: is worker %s alive: %w", id, err)
	}
	return n > 0, nil
}

// goneWorkers lists the workers silent for longer than TakeoverAfter.
func (e *Engine) goneWorkers(ctx context.Context) ([]string, error) {
	rows, err := e.cfg.DB.QueryContext(ctx, e.sql.goneWorkers, e.cfg.TakeoverAfter.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("engine: gone workers: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// rescueQueues moves the jobs waiting in gone workers' queues to their
// stages' shared queues, where any worker takes the issues over. The
// leader does it, as it reaps.
func (e *Engine) rescueQueues(ctx context.Context) (int, error) {
	if !e.shared() {
		return 0, nil
	}
	gone, err := e.goneWorkers(ctx)
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, id := range gone {
		for i := range e.wf.Stages {
			st := &e.wf.Stages[i]
			if !e.routed(st) {
				continue
			}
			n, err := e.jobs.MoveQueue(ctx, StageArgs{}.Kind(), st.Name, workerQueue(id), e.queues[st.Name])
			if err != nil {
				return moved, err
			}
			moved += n
		}
	}
	return moved, nil
}

// WorkerState is a worker of a shared database as it last beat.
type WorkerState struct {
	ID   string    `json:"id"`
	Host string    `json:"host"`
	Beat time.Time `json:"beat"`
	// Alive: it beat within DefaultStaleAfter.
	Alive bool `json:"alive"`
}

// Workers lists the workers that ever served on db, alive first (none on
// a home's own SQLite, where no worker beats).
func Workers(ctx context.Context, db *sql.DB) ([]WorkerState, error) {
	if ok, err := store.TableExists(ctx, db, "agentorg_workers"); err != nil || !ok {
		return nil, err
	}
	now := nowMillis[store.DialectOf(db)]
	rows, err := db.QueryContext(ctx, `SELECT id, host, beat_at, `+now+` FROM agentorg_workers ORDER BY beat_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("engine: workers: %w", err)
	}
	defer rows.Close()
	var out []WorkerState
	for rows.Next() {
		var w WorkerState
		var beat, at int64
		if err := rows.Scan(&w.ID, &w.Host, &beat, &at); err != nil {
			return nil, fmt.Errorf("engine: workers: %w", err)
		}
		w.Beat, w.Alive = time.UnixMilli(beat), at-beat <= DefaultStaleAfter.Milliseconds()
		out = append(out, w)
	}
	return out, rows.Err()
}
