package sqlitedb

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

type bumpArgs struct{}

func (bumpArgs) Kind() string { return "sqlitedb_test_bump" }

// bumpWorker writes to the shared database from inside a job, as the engine's
// workers do.
type bumpWorker struct {
	river.WorkerDefaults[bumpArgs]
	bump func(ctx context.Context) error
}

func (w *bumpWorker) Work(ctx context.Context, _ *river.Job[bumpArgs]) error { return w.bump(ctx) }

// lockedWriter is an io.Writer safe for River's concurrent logging.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// River runs on the pool Open returns (more than one connection, unlike the
// riversqlite suggestion) while other code writes in transactions: no job may
// fail and nothing may report the database as locked.
func TestRiverSharesThePool(t *testing.T) {
	db := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)"); err != nil {
		t.Fatal(err)
	}
	bump := func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE counter SET n = ?", n+1); err != nil {
			return err
		}
		return tx.Commit()
	}

	logs := &lockedWriter{}
	workers := river.NewWorkers()
	river.AddWorker(workers, &bumpWorker{bump: bump})
	client, err := river.NewClient(riversqlite.New(db), &river.Config{
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	done, stop := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer stop()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}

	const jobs, outside = 30, 60
	var wg sync.WaitGroup
	outsideErrs := make(chan error, outside+jobs)
	wg.Go(func() {
		for range outside {
			if err := bump(ctx); err != nil {
				outsideErrs <- err
			}
		}
	})
	wg.Go(func() {
		for range jobs {
			if _, err := client.Insert(ctx, bumpArgs{}, nil); err != nil {
				outsideErrs <- err
			}
		}
	})
	for range jobs {
		select {
		case ev := <-done:
			if ev.Kind != river.EventKindJobCompleted {
				t.Errorf("job %d: %s: %+v", ev.Job.ID, ev.Kind, ev.Job.Errors)
			}
		case <-ctx.Done():
			t.Fatal("jobs did not complete")
		}
	}
	wg.Wait()
	close(outsideErrs)
	for err := range outsideErrs {
		t.Errorf("outside River: %v", err)
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer stopCancel()
	if err := client.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}

	var n int
	if err := db.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != jobs+outside {
		t.Errorf("counter %d, want %d", n, jobs+outside)
	}
	if l := logs.String(); strings.Contains(l, "locked") || strings.Contains(l, "BUSY") {
		t.Errorf("River logged lock errors:\n%s", l)
	}
}
