package jobstore

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/store"
)

// stageArgs are shaped as the engine's stage jobs are: the store reads
// "stage" from a job's args.
type stageArgs struct {
	Issue int64  `json:"issue"`
	Stage string `json:"stage"`
}

func (stageArgs) Kind() string { return "jobstore_test_stage" }

// otherArgs are a kind the store is never asked about.
type otherArgs struct{}

func (otherArgs) Kind() string { return "jobstore_test_other" }

// blockingWorker holds the first job it works until release is closed, so
// that the job stays running; later runs return at once.
type blockingWorker struct {
	river.WorkerDefaults[stageArgs]
	once    sync.Once
	started chan int64
	release chan struct{}
}

func (w *blockingWorker) Work(ctx context.Context, j *river.Job[stageArgs]) error {
	first := false
	w.once.Do(func() { first = true })
	if first {
		w.started <- j.ID
		select {
		case <-w.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

type otherWorker struct {
	river.WorkerDefaults[otherArgs]
}

func (otherWorker) Work(context.Context, *river.Job[otherArgs]) error { return nil }

// riverClient is what the tests ask of River's client, on either driver.
type riverClient interface {
	Insert(context.Context, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Start(context.Context) error
	Stop(context.Context) error
	JobGet(context.Context, int64) (*rivertype.JobRow, error)
	JobCancel(context.Context, int64) (*rivertype.JobRow, error)
	ID() string
}

// backend is a migrated database of one dialect, of the test's own, with
// the store over it, a River client on it, and the test's own statements in
// its dialect.
type backend struct {
	store  *Store
	exec   func(ctx context.Context, query string, args ...any) error
	client func(*river.Config) (riverClient, error)
	close  func() // closes the database under the store
	// claimsTable is the part of the engine's claims table (engine's
	// claimsSchema, which the engine owns and migrates) that the store's
	// running-jobs query reads; insertClaim records a claim in it,
	// deleteClaims empties it.
	claimsTable, insertClaim, deleteClaims string
}

// dialects are the databases the store speaks: every contract test runs on
// each.
var dialects = []struct {
	name string
	open func(t *testing.T) backend
}{
	{"sqlite", sqliteBackend},
	{"postgres", postgresBackend},
	{"postgres-sql", postgresSQLBackend},
}

func sqliteBackend(t *testing.T) backend {
	db := migrated(t)
	return backend{
		store: New(db),
		exec: func(ctx context.Context, query string, args ...any) error {
			_, err := db.ExecContext(ctx, query, args...)
			return err
		},
		client: func(cfg *river.Config) (riverClient, error) { return river.NewClient(riversqlite.New(db), cfg) },
		close:  func() { db.Close() },
		claimsTable: `CREATE TABLE agentorg_claims (
	job_id INTEGER PRIMARY KEY, issue INTEGER NOT NULL, stage TEXT NOT NULL, run_id TEXT NOT NULL,
	owner TEXT NOT NULL, host TEXT NOT NULL DEFAULT '', pgid INTEGER NOT NULL DEFAULT 0, heartbeat_at INTEGER NOT NULL)`,
		insertClaim:  `INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, pgid, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		deleteClaims: `DELETE FROM agentorg_claims`,
	}
}

func postgresBackend(t *testing.T) backend {
	pool := migratedPostgres(t)
	db := sqlOver(t, pool)
	return backend{
		store: New(db.SQL),
		exec: func(ctx context.Context, query string, args ...any) error {
			_, err := pool.Exec(ctx, query, args...)
			return err
		},
		client:       func(cfg *river.Config) (riverClient, error) { return river.NewClient(riverpgxv5.New(pool), cfg) },
		close:        func() { db.Close(); pool.Close() },
		claimsTable:  postgresClaimsTable,
		insertClaim:  postgresInsertClaim,
		deleteClaims: `DELETE FROM agentorg_claims`,
	}
}

const (
	postgresClaimsTable = `CREATE TABLE agentorg_claims (
	job_id BIGINT PRIMARY KEY, issue BIGINT NOT NULL, stage TEXT NOT NULL, run_id TEXT NOT NULL,
	owner TEXT NOT NULL, host TEXT NOT NULL DEFAULT '', pgid BIGINT NOT NULL DEFAULT 0, heartbeat_at BIGINT NOT NULL)`
	postgresInsertClaim = `INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, pgid, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
)

// postgresSQLBackend is PostgreSQL as the engine and the dashboards reach
// it: New over the database/sql pool store.Open makes (which translates
// agentorg's SQL, and leaves the store's PostgreSQL alone), River on the
// pgx pool under it.
func postgresSQLBackend(t *testing.T) backend {
	db, err := store.Open(t.Context(), pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := MigratePostgres(t.Context(), db.Pool); err != nil {
		t.Fatal(err)
	}
	return backend{
		store: New(db.SQL),
		exec: func(ctx context.Context, query string, args ...any) error {
			_, err := db.SQL.ExecContext(ctx, query, args...)
			return err
		},
		client:       func(cfg *river.Config) (riverClient, error) { return river.NewClient(riverpgxv5.New(db.Pool), cfg) },
		close:        func() { db.Close() },
		claimsTable:  postgresClaimsTable,
		insertClaim:  postgresInsertClaim,
		deleteClaims: `DELETE FROM agentorg_claims`,
	}
}

// Every method, against River's migrated schema, with jobs River inserted
// and a job River's own worker is running, on each dialect.
func TestStoreOnRiversJobs(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { testStoreOnRiversJobs(t, d.open(t)) })
	}
}

func testStoreOnRiversJobs(t *testing.T, b backend) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := b.exec(ctx, b.claimsTable); err != nil {
		t.Fatal(err)
	}
	s := b.store
	kind := stageArgs{}.Kind()

	w := &blockingWorker{started: make(chan int64, 1), release: make(chan struct{})}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	river.AddWorker(workers, otherWorker{})
	client, err := b.client(&river.Config{
		Queues:            map[string]river.QueueConfig{"work": {MaxWorkers: 1}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}

	if ok, err := s.Exists(ctx); err != nil || !ok {
		t.Fatalf("Exists: %v, %v", ok, err)
	}
	wantIdle(t, s, kind, true)
	wantCounts(t, s, kind, nil)

	// A job of another kind is not the kind's.
	if _, err := client.Insert(ctx, otherArgs{}, &river.InsertOpts{Queue: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	wantIdle(t, s, kind, true)
	wantCounts(t, s, kind, nil)

	develop, err := client.Insert(ctx, stageArgs{Issue: 1, Stage: "develop"}, &river.InsertOpts{Queue: "work"})
	if err != nil {
		t.Fatal(err)
	}
	merge, err := client.Insert(ctx, stageArgs{Issue: 2, Stage: "merge"}, &river.InsertOpts{Queue: "later", ScheduledAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wantIdle(t, s, kind, false)
	wantCounts(t, s, kind, []Count{{"develop", "available", 1}, {"merge", "scheduled", 1}})

	// River's worker takes the develop job and holds it.
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.WithoutCancel(ctx))
	select {
	case id := <-w.started:
		if id != develop.Job.ID {
			t.Fatalf("the worker took job %d, want %d", id, develop.Job.ID)
		}
	case <-ctx.Done():
		t.Fatal("River never worked the develop job")
	}
	wantCounts(t, s, kind, []Count{{"develop", "running", 1}, {"merge", "scheduled", 1}})
	unclaimed := []RunningJob{{ID: develop.Job.ID, Issue: 1, Stage: "develop"}}
	wantRunning(t, "Running, unclaimed", s.Running, kind, unclaimed)
	// Unclaimed just after River handed it out, its worker may yet claim
	// it; unclaimed for longer than that (here: a negative wait), it is.
	wantRunning(t, "Unclaimed for a minute", unclaimedFor(s, time.Minute), kind, nil)
	wantRunning(t, "Unclaimed at all", unclaimedFor(s, -time.Minute), kind, unclaimed)
	// Left by the client River handed it to, and by no other.
	wantRunning(t, "LeftBy its client", leftBy(s, client.ID()), kind, unclaimed)
	wantRunning(t, "LeftBy another client", leftBy(s, "another"), kind, nil)

	if err := b.exec(ctx, b.insertClaim, develop.Job.ID, 1, "develop", "run-1", "dead", "host-a", 42, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	claimed := []RunningJob{{ID: develop.Job.ID, Issue: 1, Stage: "develop", PGID: 42, Owner: "dead", Host: "host-a", RunID: "run-1"}}
	wantRunning(t, "Running, claimed", s.Running, kind, claimed)
	wantRunning(t, "Unclaimed, claimed", unclaimedFor(s, -time.Minute), kind, nil)
	wantRunning(t, "LeftBy, claimed", leftBy(s, client.ID()), kind, nil)
	wantRunning(t, "Running of another kind", s.Running, otherArgs{}.Kind(), nil)

	// A claimed job is left to its claimant; once the claim is gone, it is
	// requeued: available, with the try River counted given back.
	if ok, err := s.Requeue(ctx, develop.Job.ID); err != nil || ok {
		t.Fatalf("Requeue of a claimed job: %v, %v; want false", ok, err)
	}
	if err := b.exec(ctx, b.deleteClaims); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Requeue(ctx, develop.Job.ID); err != nil || !ok {
		t.Fatalf("Requeue of the running job: %v, %v; want true", ok, err)
	}
	if j, err := client.JobGet(ctx, develop.Job.ID); err != nil || j.State != rivertype.JobStateAvailable || j.Attempt != 0 {
		t.Fatalf("the requeued job: %+v, %v; want available at attempt 0", j, err)
	}
	wantRunning(t, "Running after Requeue", s.Running, kind, nil)
	// Only a running job is requeued.
	for _, id := range []int64{develop.Job.ID, merge.Job.ID} {
		if ok, err := s.Requeue(ctx, id); err != nil || ok {
			t.Fatalf("Requeue of job %d, not running: %v, %v; want false", id, ok, err)
		}
	}
	if j, err := client.JobGet(ctx, merge.Job.ID); err != nil || j.State != rivertype.JobStateScheduled {
		t.Fatalf("the scheduled job after a Requeue: %+v, %v", j, err)
	}

	// The job finishes; with the scheduled one cancelled, the kind is idle.
	close(w.release)
	for {
		j, err := client.JobGet(ctx, develop.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == rivertype.JobStateCompleted {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the develop job never completed: %+v", j)
		case <-time.After(20 * time.Millisecond):
		}
	}
	wantIdle(t, s, kind, false)
	if _, err := client.JobCancel(ctx, merge.Job.ID); err != nil {
		t.Fatal(err)
	}
	wantIdle(t, s, kind, true)
	wantCounts(t, s, kind, []Count{{"develop", "completed", 1}, {"merge", "cancelled", 1}})
}

// Leader names the client River's elector chose, with its term's end, and
// no one before any client ran or once the leader resigned, on each
// dialect.
func TestLeader(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			b := d.open(t)
			if id, _, err := b.store.Leader(ctx); err != nil || id != "" {
				t.Fatalf("Leader before any client ran: %q, %v; want none", id, err)
			}
			workers := river.NewWorkers()
			river.AddWorker(workers, otherWorker{})
			client, err := b.client(&river.Config{
				ID:      "jobstore-test-client",
				Queues:  map[string]river.QueueConfig{"work": {MaxWorkers: 1}},
				Workers: workers,
				Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := client.Start(ctx); err != nil {
				t.Fatal(err)
			}
			for {
				id, expires, err := b.store.Leader(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if id == "jobstore-test-client" {
					if left := time.Until(expires); left <= 0 || left > time.Minute {
						t.Fatalf("the leader's term ends in %s, want within River's TTL", left)
					}
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("the client was never elected: the leader is %q", id)
				case <-time.After(20 * time.Millisecond):
				}
			}
			if err := client.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if id, _, err := b.store.Leader(ctx); err != nil || id != "" {
				t.Fatalf("Leader once the client stopped: %q, %v; want none (it resigned)", id, err)
			}
		})
	}
}

func unclaimedFor(s *Store, after time.Duration) func(context.Context, string) ([]RunningJob, error) {
	return func(ctx context.Context, kind string) ([]RunningJob, error) { return s.Unclaimed(ctx, kind, after) }
}

func leftBy(s *Store, owner string) func(context.Context, string) ([]RunningJob, error) {
	return func(ctx context.Context, kind string) ([]RunningJob, error) { return s.LeftBy(ctx, kind, owner) }
}

func wantIdle(t *testing.T, s *Store, kind string, want bool) {
	t.Helper()
	if got, err := s.Idle(t.Context(), kind); err != nil || got != want {
		t.Fatalf("Idle(%s): %v, %v; want %v", kind, got, err, want)
	}
}

func wantCounts(t *testing.T, s *Store, kind string, want []Count) {
	t.Helper()
	got, err := s.Counts(t.Context(), kind)
	if err != nil {
		t.Fatal(err)
	}
	order := func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.State, b.State))
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Fatalf("Counts(%s): %+v, want %+v", kind, got, want)
	}
}

func wantRunning(t *testing.T, what string, list func(context.Context, string) ([]RunningJob, error), kind string, want []RunningJob) {
	t.Helper()
	got, err := list(t.Context(), kind)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
}

// A store's statements fail (and say so) on a closed database rather than
// answering.
func TestStoreErrors(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			s := b.store
			b.close()
			ctx := t.Context()
			if _, err := s.Idle(ctx, "k"); err == nil {
				t.Error("Idle on a closed database: no error")
			}
			if _, err := s.Counts(ctx, "k"); err == nil {
				t.Error("Counts on a closed database: no error")
			}
			if _, err := s.Exists(ctx); err == nil {
				t.Error("Exists on a closed database: no error")
			}
			if _, err := s.Running(ctx, "k"); err == nil {
				t.Error("Running on a closed database: no error")
			}
			if _, err := s.Unclaimed(ctx, "k", time.Second); err == nil {
				t.Error("Unclaimed on a closed database: no error")
			}
			if _, _, err := s.Leader(ctx); err == nil {
				t.Error("Leader on a closed database: no error")
			}
			if _, err := s.Requeue(ctx, 1); err == nil {
				t.Error("Requeue on a closed database: no error")
			}
		})
	}
}

// TestMigratePostgresConcurrently: workers starting together on an empty
// database migrate it once between them, without colliding.
func TestMigratePostgresConcurrently(t *testing.T) {
	url := pgtest.New(t)
	ctx := context.Background()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- MigratePostgres(ctx, pool)
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// sqlOver is agentorg's database/sql pool on pool's database (store.Open),
// which the store runs its statements on, in either dialect.
func sqlOver(t *testing.T, pool *pgxpool.Pool) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
