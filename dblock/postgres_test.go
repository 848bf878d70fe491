package dblock_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentorg/agentorg/dblock"
	"github.com/agentorg/agentorg/pgtest"
)

// newPool opens a pool on the database at url: one process's.
func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestPostgres runs the contract over two pools on one database: two
// processes, each with its own connections.
func TestPostgres(t *testing.T) {
	url := pgtest.New(t)
	a, b := newPool(t, url), newPool(t, url)
	testLocker(t, dblock.Postgres(a), dblock.Postgres(b))
	// Every test unlocked what it took: the server holds nothing, and no
	// abandoned wait is left.
	if granted, waiting := advisory(t, a, "cancel"); granted+waiting != 0 {
		t.Errorf("after the tests, the lock \"cancel\" has %d holders and %d waiters on the server, want none", granted, waiting)
	}
	for _, name := range []string{"excl", "one", "two", "three", "free", "twice", "crowd"} {
		if granted, waiting := advisory(t, a, name); granted+waiting != 0 {
			t.Errorf("after the tests, the lock %q has %d holders and %d waiters on the server, want none", name, granted, waiting)
		}
	}
}

// TestPostgresCancelEndsTheServersWait: once Lock returned its ctx's error,
// the server no longer has the wait queued.
func TestPostgresCancelEndsTheServersWait(t *testing.T) {
	url := pgtest.New(t)
	a, b := newPool(t, url), newPool(t, url)
	unlock := lock(t, dblock.Postgres(a), "m")
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	ch := lockAsync(ctx, dblock.Postgres(b), "m")
	waitFor(t, "b's Lock to wait on the server", func() bool {
		_, waiting := advisory(t, a, "m")
		return waiting == 1
	})
	cancel()
	select {
	case r := <-ch:
		if r.err == nil {
			r.unlock()
			t.Fatal("a cancelled Lock took the lock")
		}
	case <-time.After(must):
		t.Fatalf("a Lock did not return in %s after its ctx was cancelled", must)
	}
	if granted, waiting := advisory(t, a, "m"); granted != 1 || waiting != 0 {
		t.Errorf("after the cancelled Lock returned: %d holders and %d waiters on the server, want 1 and 0", granted, waiting)
	}
}

// TestPostgresCrashedHolder: a holder whose connection dies (its process
// crashed, its host went away) loses the lock, and the waiter gets it.
func TestPostgresCrashedHolder(t *testing.T) {
	url := pgtest.New(t)
	holder, waiter, admin := newPool(t, url), newPool(t, url), newPool(t, url)
	unlockHolder := lock(t, dblock.Postgres(holder), "merge:main")
	ch := lockAsync(context.Background(), dblock.Postgres(waiter), "merge:main")
	waitsFor(t, ch, "the waiter's Lock")

	// The holder's process dies: the server ends its session.
	k := uint64(dblock.Key("merge:main"))
	var killed bool
	if err := admin.QueryRow(context.Background(), `
		SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid::int8 = $1 AND objid::int8 = $2`,
		int64(k>>32), int64(k&0xffffffff)).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the holder's session: %v (terminated: %v)", err, killed)
	}
	unlockWaiter := acquired(t, ch, "the waiter's Lock after the holder's session died")

	// The dead holder's unlock does not release the waiter's lock, and
	// gives back no connection to its pool.
	unlockHolder()
	if st := holder.Stat(); st.AcquiredConns() != 0 {
		t.Errorf("the holder's pool has %d connections out after its unlock, want 0", st.AcquiredConns())
	}
	if granted, _ := advisory(t, admin, "merge:main"); granted != 1 {
		t.Errorf("after the dead holder's unlock, the lock has %d holders, want 1 (the waiter)", granted)
	}
	again := lockAsync(context.Background(), dblock.Postgres(holder), "merge:main")
	waitsFor(t, again, "the holder's new Lock while the waiter holds")
	unlockWaiter()
	acquired(t, again, "the holder's new Lock after the waiter's unlock")()
}

// TestPostgresUnlockGivesTheConnectionBack: a lock takes one connection
// while held, and unlock returns it to the pool, not closed.
func TestPostgresUnlockGivesTheConnectionBack(t *testing.T) {
	pool := newPool(t, pgtest.New(t))
	l := dblock.Postgres(pool)
	lock(t, l, "warm")() // the pool has a connection now
	before := pool.Stat()
	unlock := lock(t, l, "x")
	if st := pool.Stat(); st.AcquiredConns() != 1 {
		t.Errorf("while a lock is held: %d connections out of the pool, want 1", st.AcquiredConns())
	}
	unlock()
	after := pool.Stat()
	if after.AcquiredConns() != 0 {
		t.Errorf("after unlock: %d connections out of the pool, want 0", after.AcquiredConns())
	}
	if after.NewConnsCount() != before.NewConnsCount() || after.TotalConns() != before.TotalConns() {
		t.Errorf("unlock closed its connection: %d connections made before, %d after; %d open before, %d after",
			before.NewConnsCount(), after.NewConnsCount(), before.TotalConns(), after.TotalConns())
	}
}

// advisory counts the sessions of pool's database that hold and that wait
// for the advisory lock name takes.
func advisory(t *testing.T, pool *pgxpool.Pool, name string) (granted, waiting int) {
	t.Helper()
	k := uint64(dblock.Key(name))
	err := pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND classid::int8 = $1 AND objid::int8 = $2
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(k>>32), int64(k&0xffffffff)).Scan(&granted, &waiting)
	if err != nil {
		t.Fatal(err)
	}
	return granted, waiting
}

// waitFor polls cond until it holds, failing the test after must.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(must)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", must, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
