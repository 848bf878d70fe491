// Package engine turns tracker state into stage runs. It is level-triggered:
// Reconcile reads the issues' labels and enqueues one job per (issue, stage)
// that the labels call for; webhooks and the worker's own transitions only
// make that read happen sooner. Jobs live in River, whose unique jobs give one
// claimant per (issue, stage); a claim table with heartbeats notices a dead
// worker long before River's own stuck-job rescue would.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/workflow"
)

// Config configures an Engine. Zero durations take the defaults.
type Config struct {
	DB   *sql.DB // the engine's SQLite database (jobs, claims, events)
	Deps *role.Deps
	// PollInterval is how often Serve reads the tracker. Default 10 s.
	PollInterval time.Duration
	// Heartbeat is how often a running job proves it is alive and checks
	// that its issue is still in its stage. Default 2 s.
	Heartbeat time.Duration
	// StaleAfter is when a claim without a heartbeat counts as dead.
	// Default DefaultStaleAfter; must exceed Heartbeat.
	StaleAfter time.Duration
	// MaxAttempts bounds River's retries of a failing stage run before the
	// issue is escalated. Default 3.
	MaxAttempts int
	// RetryDelay is the first retry's delay; each next one is 4x. Default 2 s.
	RetryDelay time.Duration
	// UnavailableDelay is how long a job waits when the tracker is
	// unavailable (agentorg.ErrUnavailable) before it tries the same step
	// again; such waits do not count as failed tries. Default 30 s.
	UnavailableDelay time.Duration
	// FetchCooldown and FetchPollInterval tune River's fetch loop. SQLite
	// has no LISTEN/NOTIFY, but River fetches at once when this process
	// inserts a job or a worker frees up, so the poll is only a backstop
	// (retries coming due, jobs inserted by another process); each poll
	// costs a query per queue. Defaults 20 ms and 1 s.
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// Logger receives River's and the engine's diagnostics.
	Logger *slog.Logger
}

// DefaultStaleAfter is Config.StaleAfter's default.
const DefaultStaleAfter = 15 * time.Second

// Engine runs the workflow's stages over the tracker's issues.
type Engine struct {
	cfg     Config
	wf      *workflow.Workflow
	tracker agentorg.Tracker
	log     *eventlog.Log
	deps    *role.Deps
	client  *river.Client[*sql.Tx]
	owner   string // this process's claim owner id
	queues  map[string]string
	mu      sync.Mutex
	started bool
	// waiting holds the stage runs whose last outcome was to wait (see
	// setWaiting).
	waitMu  sync.Mutex
	waiting map[StageArgs]bool
}

// StageArgs is the River job of one stage on one issue. Unique by args
// while not finished: that is the one-claimant rule.
type StageArgs struct {
	Issue int64  `json:"issue"`
	Stage string `json:"stage"`
}

// Kind implements river.JobArgs.
func (StageArgs) Kind() string { return "agentorg_stage" }

// New builds an engine and migrates its tables. It does not start working:
// call Start, then Serve or RunUntilIdle.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.DB == nil || cfg.Deps == nil {
		return nil, errors.New("engine: DB and Deps are required")
	}
	setDefaults(&cfg)
	e := &Engine{cfg: cfg, wf: cfg.Deps.Workflow, tracker: cfg.Deps.Tracker, log: cfg.Deps.Log, deps: cfg.Deps,
		owner: uuid.NewString(), queues: map[string]string{}, waiting: map[StageArgs]bool{}}
	if err := Migrate(ctx, cfg.DB); err != nil {
		return nil, err
	}
	if err := e.log.Migrate(ctx); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &stageWorker{e: e})
	queues := map[string]river.QueueConfig{}
	for _, st := range e.wf.Stages {
		q := queueName(st.Name)
		e.queues[st.Name] = q
		queues[q] = river.QueueConfig{MaxWorkers: max(st.Concurrency, 1)}
	}
	client, err := river.NewClient(riversqlite.New(cfg.DB), &river.Config{
		Queues:            queues,
		Workers:           workers,
		MaxAttempts:       cfg.MaxAttempts,
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPollInterval,
		JobTimeout:        -1, // agents and checks carry their own timeouts
		// Our heartbeats rescue dead claims within StaleAfter; River's own
		// rescuer would also rescue live long runs, so keep it far away.
		RescueStuckJobsAfter: 7 * 24 * time.Hour,
		Logger:               cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: river client: %w", err)
	}
	e.client = client
	return e, nil
}

func setDefaults(c *Config) {
	if c.PollInterval <= 0 {
		c.PollInterval = 10 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.StaleAfter <= c.Heartbeat {
		c.StaleAfter = max(DefaultStaleAfter, 4*c.Heartbeat)
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 2 * time.Second
	}
	if c.UnavailableDelay <= 0 {
		c.UnavailableDelay = 30 * time.Second
	}
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 20 * time.Millisecond
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Migrate creates River's tables and the engine's own in db.
func Migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return fmt.Errorf("engine: migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("engine: migrate river: %w", err)
	}
	if _, err := db.ExecContext(ctx, claimsSchema); err != nil {
		return fmt.Errorf("engine: migrate claims: %w", err)
	}
	return nil
}

var queueUnsafe = regexp.MustCompile(`[^a-z0-9_-]+`)

func queueName(stage string) string {
	return "stage_" + queueUnsafe.ReplaceAllString(stage, "_")
}

// Start starts working jobs. Before it takes any job it releases the claims
// that a crashed earlier process left (the caller holds the home lock, so no
// other engine can be working them).
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return nil
	}
	if _, err := e.reap(ctx, true); err != nil {
		return err
	}
	if err := role.RemoveLeftoverCheckouts(ctx, e.deps); err != nil {
		return err
	}
	if err := e.client.Start(ctx); err != nil {
		return fmt.Errorf("engine: start river: %w", err)
	}
	e.started = true
	return nil
}

// Stop stops taking jobs and waits for running ones to finish, or cancels
// them when ctx ends. Then it removes the idle checkout slots.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return nil
	}
	e.started = false
	err := e.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = e.client.StopAndCancel(context.Background())
	}
	return errors.Join(err, role.RemoveIdleCheckouts(context.WithoutCancel(ctx), e.deps))
}

// Serve reconciles every PollInterval (and whenever Wake is called) until
// ctx ends.
func (e *Engine) Serve(ctx context.Context, wake <-chan struct{}) error {
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		if _, err := e.Reconcile(ctx); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("reconcile failed", "err", err)
		}
		if _, err := e.reap(ctx, false); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("reap failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// RunUntilIdle reconciles and works until nothing is actionable: no job is
// queued or running and a fresh read of the tracker enqueues nothing. Issues
// waiting for a human stay where they are.
func (e *Engine) RunUntilIdle(ctx context.Context) error {
	for {
		// Workers enqueue what their transitions call for, so the tracker
		// needs reading only once the queue has drained.
		idle, err := e.idle(ctx)
		if err != nil {
			return err
		}
		if idle {
			n, err := e.reconcile(ctx, true)
			if err != nil || n == 0 {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// idleQuery finds one unfinished stage job. It reads River's table
// directly (as reap does; sqlitedb's statement cache keeps it prepared):
// RunUntilIdle asks 40 times a second, and River's JobList parsed a query
// and walked every job of the kind each time (a quarter of the engine's CPU
// at 1000 issues). "+kind" keeps SQLite on the state index, where
// unfinished jobs are few.
const idleQuery = `SELECT 1 FROM river_job
	WHERE state IN ('available', 'pending', 'running', 'retryable', 'scheduled') AND +kind = ? LIMIT 1`

func (e *Engine) idle(ctx context.Context) (bool, error) {
	var one int
	err := e.cfg.DB.QueryRowContext(ctx, idleQuery, StageArgs{}.Kind()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("engine: list jobs: %w", err)
	}
	return false, nil
}

// Reconcile reads the tracker and enqueues a job for every (issue, stage)
// whose labels call for it. It returns how many jobs it newly enqueued
// (duplicates of queued or running jobs are not counted).
func (e *Engine) Reconcile(ctx context.Context) (int, error) {
	return e.reconcile(ctx, false)
}

// reconcile is Reconcile; atRest leaves out the stage runs that last
// waited for something outside (RunUntilIdle counts them as at rest).
func (e *Engine) reconcile(ctx context.Context, atRest bool) (int, error) {
	var labels []string
	for _, st := range e.wf.Stages {
		labels = append(labels, st.On)
		if st.Running != "" {
			labels = append(labels, st.Running)
		}
	}
	issues, err := e.tracker.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: labels})
	if err != nil {
		return 0, fmt.Errorf("engine: reconcile: %w", err)
	}
	inserted := 0
	for _, is := range issues {
		n, err := e.enqueueSkipping(ctx, is, atRest)
		if err != nil {
			return inserted, err
		}
		inserted += n
	}
	n, err := e.reviews(ctx)
	return inserted + n, err
}

// reviews starts review triage on merge requests waiting for a human where
// an allowed reviewer's thread waits for an answer: the issue moves from
// the gate's waits label to its changes_requested label. It returns how
// many issues moved. Trackers without review threads are skipped.
func (e *Engine) reviews(ctx context.Context) (int, error) {
	if _, ok := e.tracker.(agentorg.ReviewThreads); !ok {
		return 0, nil
	}
	moved := 0
	for i := range e.wf.Gates {
		g := &e.wf.Gates[i]
		if !g.MergeRequest || g.ChangesRequested == "" || e.wf.StageOn(g.ChangesRequested) == nil {
			continue
		}
		issues, err := e.tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: []string{g.Waits}})
		if err != nil {
			return moved, fmt.Errorf("engine: reviews: %w", err)
		}
		for _, is := range issues {
			waiting, err := role.ReviewWaiting(ctx, e.deps, g, is.Number)
			if err != nil {
				return moved, fmt.Errorf("engine: reviews of #%d: %w", is.Number, err)
			}
			if len(waiting) == 0 {
				continue
			}
			var ids, who []string
			for _, th := range waiting {
				ids = append(ids, th.ID)
				if !slices.Contains(who, th.Author()) {
					who = append(who, th.Author())
				}
			}
			bot := e.wf.Tracker.Bot
			is, err = e.tracker.UpdateLabels(ctx, is.Number, []string{g.ChangesRequested}, []string{g.Waits}, bot)
			if err != nil {
				return moved, err
			}
			if err := e.record(ctx, eventlog.Event{Issue: is.Number, Actor: bot, Kind: eventlog.KindTransition, From: g.Waits, To: g.ChangesRequested,
				Reason: fmt.Sprintf("review thread(s) %s by %s wait for an answer", strings.Join(ids, ", "), strings.Join(who, ", ")),
				Data:   map[string]string{"threads": strings.Join(ids, " ")}}); err != nil {
				return moved, err
			}
			if _, err := e.enqueue(ctx, is); err != nil {
				return moved, err
			}
			moved++
		}
	}
	return moved, nil
}

// enqueue inserts the jobs an issue's labels call for.
func (e *Engine) enqueue(ctx context.Context, is agentorg.Issue) (int, error) {
	return e.enqueueSkipping(ctx, is, false)
}

// enqueueSkipping is enqueue; skipWaiting leaves out the stage runs that
// last waited.
func (e *Engine) enqueueSkipping(ctx context.Context, is agentorg.Issue, skipWaiting bool) (int, error) {
	inserted := 0
	for i := range e.wf.Stages {
		st := &e.wf.Stages[i]
		if !is.HasLabel(st.On) && (st.Running == "" || !is.HasLabel(st.Running)) {
			continue
		}
		if skipWaiting && e.isWaiting(StageArgs{Issue: is.Number, Stage: st.Name}) {
			continue
		}
		res, err := e.client.Insert(ctx, StageArgs{Issue: is.Number, Stage: st.Name}, &river.InsertOpts{
			Queue: e.queues[st.Name],
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
				rivertype.JobStateRetryable, rivertype.JobStateScheduled,
			}},
		})
		if err != nil {
			return inserted, fmt.Errorf("engine: enqueue %s on #%d: %w", st.Name, is.Number, err)
		}
		if !res.UniqueSkippedAsDuplicate {
			inserted++
		}
	}
	return inserted, nil
}
