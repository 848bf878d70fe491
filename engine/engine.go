// Package engine turns tracker state into stage runs. It is level-triggered:
// Reconcile reads the issues' labels and enqueues one job per (issue, stage)
// that the labels call for; webhooks and the worker's own transitions only
// make that read happen sooner. Jobs live in River, whose unique jobs give one
// claimant per (issue, stage); a claim table with heartbeats notices a dead
// worker long before River's own stuck-job rescue would.
//
// One engine works a SQLite database (the home's lock sees to it). Any
// number of engines, on any number of hosts, share a PostgreSQL database
// (Config.Pool): each works jobs and keeps its claims alive, and the one
// River's elector chose leads: it alone reads the tracker and releases dead
// workers' claims (see Serve).
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/jobstore"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/workflow"
)

// Config configures an Engine. Zero durations take the defaults.
type Config struct {
	// DB is the engine's database (jobs, claims, events), as package store
	// opens it: a SQLite file, or PostgreSQL's database/sql pool (then
	// Pool is required).
	DB *sql.DB
	// Pool, when set, is the PostgreSQL database DB runs on, shared with
	// other engines: River works on it through its pgx driver, and this
	// engine polls the tracker only while it leads (see Serve).
	Pool *pgxpool.Pool
	// Worker is this engine's worker id (the home's, see homedir.Owners):
	// on a shared database the developer runs of the issues it holds come
	// to a queue of its own while it lives (see affinity.go). One engine
	// runs per worker at a time (the caller holds the home's lock): a
	// start releases what the worker's last engine on this host left
	// (see reapAtStart).
	Worker string
	// TakeoverAfter is how long a worker may be silent before the issues
	// it holds go to others. Default DefaultTakeoverAfter.
	TakeoverAfter time.Duration
	// Host names the machine the engine runs on, in its claims: a claim's
	// processes are killed only by an engine of the same host. Engines
	// that share a Host must see each other's processes (one machine, or
	// one container). Default os.Hostname().
	Host string
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
	// RetryDelay is the first retry's delay; each next one is 4x, up to
	// MaxRetryDelay. Default 2 s.
	RetryDelay time.Duration
	// MaxRetryDelay bounds a retry's delay, so that a job with many tries
	// waits minutes, not hours. Default 2 min.
	MaxRetryDelay time.Duration
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
	// Metrics, when set, is told of stage runs and reaped claims (and
	// given to the roles through Deps when Deps has none).
	Metrics *metrics.Metrics
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
	// nextRelease is when the release schedule is looked at again.
	nextRelease time.Time
	client      riverClient
	jobs        *jobstore.Store // the statements on River's tables River's client lacks
	sql         claimSQL        // the statements on the claims, in the database's dialect
	owner       string          // this engine's claim owner id, and its River client's id
	host        string          // Config.Host
	queues      map[string]string
	mu          sync.Mutex
	started     bool
	stopBeat    func() // stops the worker's heartbeat (beatUntil)
	// waiting holds the stage runs whose last outcome was to wait, and how
	// (see setWaiting). On a shared database the database holds them, and
	// waiting is the leader's read of it for its poll (see waits.go).
	waitMu  sync.Mutex
	waiting map[StageArgs]waitState
	wakes   uint64 // see wakeCount
	// unforgotten: forgetChanges could not write the database (shared).
	unforgotten bool
	// reviewed holds the issues at a review gate whose threads were read
	// since they got there, with their merge request: a poll reads them
	// again only when that merge request changed.
	reviewMu sync.Mutex
	reviewed map[int64]int64
	// pollErr is the last poll's error (nil after a good one): /readyz.
	// following is set while another engine leads (see Serve).
	pollMu    sync.Mutex
	pollErr   error
	polled    bool
	following bool
}

// riverClient is what the engine asks of River's client, whichever its
// driver (River's Client type is generic in the driver's transaction).
type riverClient interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	ID() string
}

// Ready says whether the engine works: started, and its last read of the
// tracker succeeded, or another engine leads and reads it (for /readyz).
func (e *Engine) Ready(ctx context.Context) error {
	_, err := e.Readiness(ctx)
	return err
}

// Readiness is Ready with what a ready engine does: "polls the tracker",
// or "waiting to lead: another worker polls" on PostgreSQL while another
// engine leads.
func (e *Engine) Readiness(context.Context) (string, error) {
	e.mu.Lock()
	started := e.started
	e.mu.Unlock()
	if !started {
		return "", errors.New("the engine is not started")
	}
	e.pollMu.Lock()
	defer e.pollMu.Unlock()
	switch {
	case e.pollErr != nil:
		return "", e.pollErr
	case e.following:
		return "waiting to lead: another worker polls", nil
	case !e.polled:
		return "", errors.New("the engine has not read the tracker yet")
	}
	return "polls the tracker", nil
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
	dialect := store.DialectOf(cfg.DB)
	switch {
	case dialect == store.Postgres && cfg.Pool == nil:
		return nil, errors.New("engine: the database is PostgreSQL's: Config.Pool, the pgx pool under it, is required")
	case dialect == store.SQLite && cfg.Pool != nil:
		return nil, errors.New("engine: Config.Pool is set, but the database is a SQLite file")
	}
	setDefaults(&cfg)
	if cfg.Deps.Metrics == nil {
		cfg.Deps.Metrics = cfg.Metrics
	}
	e := &Engine{cfg: cfg, jobs: jobstore.New(cfg.DB), sql: newClaimSQL(dialect), wf: cfg.Deps.Workflow, tracker: cfg.Deps.Tracker,
		log: cfg.Deps.Log, deps: cfg.Deps, owner: uuid.NewString(), host: cfg.Host,
		queues: map[string]string{}, waiting: map[StageArgs]waitState{}, reviewed: map[int64]int64{}}
	cfg.Deps.Wake = func() { e.wakeWaiting(context.Background()) }
	if err := Migrate(ctx, cfg.DB, cfg.Pool); err != nil {
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
		if e.routed(&st) {
			// This worker's own queue: the developer runs of the issues
			// it holds (see affinity.go).
			own := workerQueue(cfg.Worker)
			queues[own] = river.QueueConfig{MaxWorkers: max(queues[own].MaxWorkers, st.Concurrency, 1)}
		}
	}
	rc := &river.Config{
		// The client's id is the claims' owner: River's attempted_by and
		// its leader's id name the engine as the claims do.
		ID:                e.owner,
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
	}
	var err error
	if cfg.Pool != nil {
		e.client, err = river.NewClient(riverpgxv5.New(cfg.Pool), rc)
	} else {
		e.client, err = river.NewClient(riversqlite.New(cfg.DB), rc)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: river client: %w", err)
	}
	return e, nil
}

// shared reports whether other engines may work this database: it is
// PostgreSQL's.
func (e *Engine) shared() bool { return e.cfg.Pool != nil }

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
	if c.MaxRetryDelay < c.RetryDelay {
		c.MaxRetryDelay = max(2*time.Minute, c.RetryDelay)
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
	if c.TakeoverAfter <= 0 {
		c.TakeoverAfter = DefaultTakeoverAfter
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
		if c.Host == "" {
			c.Host = "localhost"
		}
	}
}

// Migrate creates River's tables and the engine's own in db, or brings
// them up to date. On PostgreSQL (pool set, the pgx pool under db) River's
// are migrated on its pgx driver; the engine's are made through db in
// either dialect.
func Migrate(ctx context.Context, db *sql.DB, pool *pgxpool.Pool) error {
	var err error
	if pool != nil {
		err = jobstore.MigratePostgres(ctx, pool)
	} else {
		err = jobstore.Migrate(ctx, db)
	}
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := migrateClaims(ctx, db); err != nil {
		return err
	}
	// In a write transaction: workers starting together take turns.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("engine: migrate workers and waits: %w", err)
	}
	defer tx.Rollback()
	for _, q := range append([]string{workersSchema}, waitsSchema...) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("engine: migrate workers and waits: %w", err)
		}
	}
	if err := addTextColumn(ctx, tx, store.DialectOf(db), "agentorg_workers", "owner"); err != nil {
		return fmt.Errorf("engine: migrate workers: %w", err)
	}
	return tx.Commit()
}

var queueUnsafe = regexp.MustCompile(`[^a-z0-9_-]+`)

func queueName(stage string) string {
	return "stage_" + queueUnsafe.ReplaceAllString(stage, "_")
}

// Start starts working jobs. Before it takes any job it releases what
// crashed engines left (see reapAtStart): on SQLite every claim (the caller
// holds the home lock, so no other engine can be working them), on
// PostgreSQL the dead ones, and this host's processes a dead engine left.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return nil
	}
	if _, err := e.reapAtStart(ctx); err != nil {
		return err
	}
	if err := role.RemoveLeftoverCheckouts(ctx, e.deps); err != nil {
		return err
	}
	if e.shared() && e.cfg.Worker != "" {
		if err := e.beatWorker(ctx); err != nil {
			return err
		}
	}
	if err := e.client.Start(ctx); err != nil {
		return fmt.Errorf("engine: start river: %w", err)
	}
	if e.shared() && e.cfg.Worker != "" {
		bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		e.stopBeat = stop
		go e.beatUntil(bctx)
	}
	e.started = true
	return nil
}

// beatUntil records every Heartbeat that this worker lives, until ctx ends.
func (e *Engine) beatUntil(ctx context.Context) {
	t := time.NewTicker(e.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.beatWorker(ctx); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("worker heartbeat failed", "err", err)
			}
		}
	}
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
	if e.stopBeat != nil {
		e.stopBeat()
		e.stopBeat = nil
	}
	err := e.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = e.client.StopAndCancel(context.Background())
	}
	return errors.Join(err, role.RemoveIdleCheckouts(context.WithoutCancel(ctx), e.deps))
}

// Serve reconciles every PollInterval (and whenever Wake is called) until
// ctx ends, and releases dead workers' claims.
//
// On PostgreSQL only the leader does (DESIGN rule 12: one poll per
// tracker, however many workers): the engine whose River client River's
// elector chose, as river_leader says. The others work jobs and keep their
// claims alive, and look at each PollInterval whether they lead now. Every
// engine kills its own host's processes that dead engines left (sweep).
// River's elector (v0.51.2, internal/leadership) bids every 5 s (plus up to
// 1 s of jitter) and grants terms of 15 s (5 s + 10 s of padding), renewed
// every 5 s: when a leader stops, it resigns and the others bid within
// 50 ms; when it dies, its term runs out first, so another engine leads
// within about 21 s (15 s + a bid interval), and polls from its next
// PollInterval on.
func (e *Engine) Serve(ctx context.Context, wake <-chan struct{}) error {
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		lead, err := e.leading(ctx)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				e.cfg.Logger.Warn("cannot tell which worker leads", "err", err)
			}
			e.setPolled(false, fmt.Errorf("the engine cannot tell which worker leads: %w", err))
		case !lead:
			e.setPolled(true, nil)
		default:
			_, err := e.Reconcile(ctx)
			if err != nil {
				if ctx.Err() == nil {
					e.cfg.Logger.Warn("reconcile failed", "err", err)
				}
				err = fmt.Errorf("the last read of the tracker failed: %w", err)
			}
			e.setPolled(false, err)
			if _, err := e.reap(ctx, false); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("reap failed", "err", err)
			}
			if _, err := e.rescueQueues(ctx); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("rescue of gone workers' jobs failed", "err", err)
			}
		}
		if e.shared() {
			if _, err := e.sweep(ctx); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("sweep of leftover processes failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// leading reports whether this engine polls the tracker: always on SQLite;
// on PostgreSQL while River's elector has made its client the leader and
// the term has not run out.
func (e *Engine) leading(ctx context.Context) (bool, error) {
	if !e.shared() {
		return true, nil
	}
	id, expires, err := e.jobs.Leader(ctx)
	if err != nil {
		return false, err
	}
	return id == e.client.ID() && time.Now().Before(expires), nil
}

// setPolled records the outcome of a turn of Serve for Readiness:
// following (another engine leads), or how this engine's read of the
// tracker went (err, which says what failed).
func (e *Engine) setPolled(following bool, err error) {
	e.pollMu.Lock()
	defer e.pollMu.Unlock()
	e.following, e.pollErr = following, err
	if !following {
		e.polled = true
	}
}

// RunUntilIdle reconciles and works until nothing is actionable: no job is
// queued or running and a fresh read of the tracker enqueues nothing. Issues
// waiting for a human stay where they are. It reads the tracker whoever
// leads: it is for an engine working alone (a one-shot run, tests). On
// PostgreSQL it also releases dead claims and gone workers' queues, as the
// leader does: a job a killed engine left running is never idle, and only
// its claim's heartbeat tells it is dead.
func (e *Engine) RunUntilIdle(ctx context.Context) error {
	var reaped time.Time
	for {
		if e.shared() && time.Since(reaped) >= e.cfg.Heartbeat {
			reaped = time.Now()
			if _, err := e.reap(ctx, false); err != nil {
				return err
			}
			if _, err := e.rescueQueues(ctx); err != nil {
				return err
			}
		}
		// Workers enqueue what their transitions call for, so the tracker
		// needs reading only once the queue has drained.
		idle, err := e.idle(ctx)
		if err != nil {
			return err
		}
		if idle {
			n, err := e.reconcile(ctx, true)
			if err != nil {
				return err
			}
			if n == 0 && !e.watching() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// idle reports whether no stage job is unfinished (see jobstore's Idle, a
// query tuned for being asked 40 times a second).
func (e *Engine) idle(ctx context.Context) (bool, error) {
	idle, err := e.jobs.Idle(ctx, StageArgs{}.Kind())
	if err != nil {
		return false, fmt.Errorf("engine: list jobs: %w", err)
	}
	return idle, nil
}

// Reconcile reads the tracker and enqueues a job for every (issue, stage)
// whose labels call for it. It returns how many jobs it newly enqueued
// (duplicates of queued or running jobs are not counted).
func (e *Engine) Reconcile(ctx context.Context) (int, error) {
	return e.reconcile(ctx, false)
}

// reconcile is Reconcile; atRest leaves out the stage runs that last
// waited for a person (RunUntilIdle counts them as at rest). One read of
// the issues serves the stages and the review gates, and the merge
// requests are asked about only when something waits on one: an idle
// poll costs a forge one request.
func (e *Engine) reconcile(ctx context.Context, atRest bool) (int, error) {
	if err := e.scheduleRelease(ctx); err != nil {
		return 0, fmt.Errorf("engine: release schedule: %w", err)
	}
	issues, err := e.tracker.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: e.pollLabels()})
	if err != nil {
		return 0, fmt.Errorf("engine: reconcile: %w", err)
	}
	if err := e.loadWaits(ctx); err != nil {
		return 0, err
	}
	if err := e.forgetLeft(ctx, issues); err != nil {
		return 0, err
	}
	changed, err := e.changedMRs(ctx, issues)
	if err != nil {
		return 0, fmt.Errorf("engine: reconcile: %w", err)
	}
	inserted := 0
	for _, is := range issues {
		n, err := e.enqueuePolled(ctx, is, atRest, changed)
		if err != nil {
			e.forgetChanges(ctx)
			return inserted, err
		}
		inserted += n
	}
	n, err := e.reviews(ctx, issues, changed)
	if err != nil {
		e.forgetChanges(ctx)
	}
	return inserted + n, err
}

// pollLabels are the labels a poll reads issues by: every stage's, and the
// review gates' waits labels.
func (e *Engine) pollLabels() []string {
	var labels []string
	for _, st := range e.wf.Stages {
		labels = append(labels, st.On)
		if st.Running != "" {
			labels = append(labels, st.Running)
		}
	}
	for i := range e.wf.Gates {
		if g := &e.wf.Gates[i]; e.reviewGate(g) && !slices.Contains(labels, g.Waits) {
			labels = append(labels, g.Waits)
		}
	}
	return labels
}

// reviewGate reports whether reviewers' threads at gate g start triage.
func (e *Engine) reviewGate(g *workflow.Gate) bool {
	return g.MergeRequest && g.ChangesRequested != "" && e.wf.StageOn(g.ChangesRequested) != nil
}

// reviewGates returns the review gates an open issue waits at.
func (e *Engine) reviewGates(is agentorg.Issue) []*workflow.Gate {
	if is.State != agentorg.IssueOpen {
		return nil
	}
	var out []*workflow.Gate
	for i := range e.wf.Gates {
		if g := &e.wf.Gates[i]; e.reviewGate(g) && is.HasLabel(g.Waits) {
			out = append(out, g)
		}
	}
	return out
}

// reviews starts review triage on merge requests waiting for a human where
// an allowed reviewer's thread waits for an answer: a thread the bot
// resolved and a reviewer wrote in since is reopened, and the issue moves
// from the gate's waits label to its changes_requested label. The threads
// of a merge request are read when its issue arrives at the gate and then
// only when the merge request changed. It returns how many issues moved.
// Trackers without review threads are skipped.
func (e *Engine) reviews(ctx context.Context, issues []agentorg.Issue, changed mrSet) (int, error) {
	if _, ok := e.tracker.(agentorg.ReviewThreads); !ok {
		return 0, nil
	}
	e.reviewMu.Lock()
	defer e.reviewMu.Unlock()
	if e.shared() {
		// Another worker may have led the last poll.
		was, err := e.storedReviewed(ctx)
		if err != nil {
			return 0, fmt.Errorf("engine: read the review marks: %w", err)
		}
		e.reviewed = was
	}
	seen := map[int64]int64{}
	moved := 0
	for _, is := range issues {
		for _, g := range e.reviewGates(is) {
			var err error
			mr, known := e.reviewed[is.Number]
			if known && (mr == 0 || !changed.changed(mr)) {
				seen[is.Number] = mr
				continue
			}
			if !known {
				if mr, err = e.openMR(ctx, is.Number, changed); err != nil {
					return moved, fmt.Errorf("engine: reviews of #%d: %w", is.Number, err)
				}
			}
			if mr == 0 {
				seen[is.Number] = 0
				continue
			}
			ok, err := e.startTriage(ctx, g, is, mr)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
				continue
			}
			seen[is.Number] = mr
		}
	}
	if e.shared() {
		if err := e.storeReviewed(ctx, e.reviewed, seen); err != nil {
			return moved, fmt.Errorf("engine: record the review marks: %w", err)
		}
	}
	e.reviewed = seen
	return moved, nil
}

// openMR returns the number of the issue's open merge request, 0 if none:
// from the merge requests a poll found changed when it is there (the first
// poll's are every open one), else asked for.
func (e *Engine) openMR(ctx context.Context, issue int64, changed mrSet) (int64, error) {
	branch := e.wf.Branch(issue)
	for _, m := range changed {
		if m.Issue == issue && m.SourceBranch == branch && m.State == agentorg.MROpen {
			return m.Number, nil
		}
	}
	m, err := gate.IssueMR(ctx, e.tracker, e.wf, issue)
	if errors.Is(err, agentorg.ErrNotFound) || (err == nil && m.State != agentorg.MROpen) {
		return 0, nil
	}
	return m.Number, err
}

// startTriage moves an issue at review gate g to triage when a reviewer's
// thread on merge request mr waits for an answer, and reports whether it did.
func (e *Engine) startTriage(ctx context.Context, g *workflow.Gate, is agentorg.Issue, mr int64) (bool, error) {
	waiting, err := role.ReviewWaiting(ctx, e.deps, g, mr)
	if err != nil {
		return false, fmt.Errorf("engine: reviews of #%d: %w", is.Number, err)
	}
	if len(waiting) == 0 {
		return false, nil
	}
	reopened, err := role.ReopenReplied(ctx, e.deps, mr, waiting)
	if err != nil {
		return false, err
	}
	var ids, who []string
	for _, th := range waiting {
		ids = append(ids, th.ID)
		if !slices.Contains(who, th.Author()) {
			who = append(who, th.Author())
		}
	}
	reason := fmt.Sprintf("review thread(s) %s by %s wait for an answer", strings.Join(ids, ", "), strings.Join(who, ", "))
	if len(reopened) > 0 {
		reason += fmt.Sprintf("; reopened %s, resolved by the bot before a reviewer wrote in it again", strings.Join(reopened, ", "))
	}
	bot := e.wf.Tracker.Bot
	is, err = e.tracker.UpdateLabels(ctx, is.Number, []string{g.ChangesRequested}, []string{g.Waits}, bot)
	if err != nil {
		return false, err
	}
	if err := e.record(ctx, eventlog.Event{Issue: is.Number, Actor: bot, Kind: eventlog.KindTransition, From: g.Waits, To: g.ChangesRequested,
		Reason: reason, Data: map[string]string{"threads": strings.Join(ids, " "), "reopened": strings.Join(reopened, " ")}}); err != nil {
		return false, err
	}
	_, err = e.enqueue(ctx, is)
	return err == nil, err
}

// enqueue inserts the jobs an issue's labels call for.
func (e *Engine) enqueue(ctx context.Context, is agentorg.Issue) (int, error) {
	return e.enqueueWhen(ctx, is, func(StageArgs) bool { return true })
}

// enqueuePolled is enqueue for a poll: it leaves out the stage runs that
// wait for something that has not changed, and, at rest, those that wait
// for a person.
func (e *Engine) enqueuePolled(ctx context.Context, is agentorg.Issue, atRest bool, changed mrSet) (int, error) {
	return e.enqueueWhen(ctx, is, func(a StageArgs) bool { return !e.asleep(ctx, a, is, atRest, changed) })
}

// enqueueWhen inserts the jobs an issue's labels call for that due agrees to.
func (e *Engine) enqueueWhen(ctx context.Context, is agentorg.Issue, due func(StageArgs) bool) (int, error) {
	inserted := 0
	for i := range e.wf.Stages {
		st := &e.wf.Stages[i]
		if !is.HasLabel(st.On) && (st.Running == "" || !is.HasLabel(st.Running)) {
			continue
		}
		if !due(StageArgs{Issue: is.Number, Stage: st.Name}) {
			continue
		}
		queue, err := e.queueFor(ctx, st, is.Number)
		if err != nil {
			return inserted, fmt.Errorf("engine: enqueue %s on #%d: %w", st.Name, is.Number, err)
		}
		res, err := e.client.Insert(ctx, StageArgs{Issue: is.Number, Stage: st.Name}, &river.InsertOpts{
			Queue: queue,
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

// scheduleRelease opens a release issue when the workflow's schedule calls
// for one (role.ScheduledRelease). Finding there is nothing to release
// reads the repository, so after such a look the next waits a tenth of the
// schedule (at most ten minutes), not the next poll.
func (e *Engine) scheduleRelease(ctx context.Context) error {
	r := e.wf.Release
	if r == nil || r.Schedule <= 0 || time.Now().Before(e.nextRelease) {
		return nil
	}
	n, err := role.ScheduledRelease(ctx, e.deps, time.Now())
	if err != nil {
		return err
	}
	if n == 0 {
		e.nextRelease = time.Now().Add(min(r.Schedule/10, 10*time.Minute))
	}
	return nil
}
