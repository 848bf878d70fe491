package dblock

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// unlockTimeout bounds an unlock's statement; past it the connection is
// closed, which releases the lock as surely.
const unlockTimeout = 10 * time.Second

// closeWait bounds how long destroying a connection waits for pgx to finish
// (pgx bounds its own clean-up at 15 seconds).
const closeWait = 20 * time.Second

// Postgres returns locks shared by every process whose pool is on the same
// PostgreSQL database. A lock is a session-level advisory lock
// (pg_advisory_lock on Key(name)) taken on a connection acquired from pool
// and kept out of the pool until unlock, which releases the lock and gives
// the connection back. Because the lock belongs to the connection's
// session, the server drops it when the connection dies: a process that
// crashes, is killed or loses its network while holding a lock leaves
// nothing behind, and the next waiter gets the lock as soon as the server
// notices (at once for a process that died, after TCP keepalive for a host
// that vanished).
//
// Each Lock, while it waits and while it holds, takes one of pool's
// connections: a pool shared with other work needs room for that work plus
// every lock that can be awaited at once, or else the waiters can starve the
// holder of connections (give the locks a pool of their own to be sure).
//
// When ctx ends during the wait, pgx interrupts the statement, closes the
// connection and sends the server a cancel request; Lock returns once pgx
// is done with that connection and the server has closed the session, so
// that the abandoned wait cannot take the lock afterwards.
// A connection whose unlock fails is closed rather than returned to the
// pool, so that the server drops the lock instead of a pooled connection
// keeping it.
func Postgres(pool *pgxpool.Pool) Locker { return pgLocker{pool} }

type pgLocker struct{ pool *pgxpool.Pool }

func (p pgLocker) Lock(ctx context.Context, name string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, waiting(name, err)
	}
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, waiting(name, ctx.Err())
		}
		return nil, fmt.Errorf("lock %q: %w", name, err)
	}
	key := Key(name)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		// Whatever happened, the connection goes: a lock it might hold
		// goes with it, and no late cancel request can reach a statement
		// of its next user.
		destroy(conn)
		if ctx.Err() != nil {
			return nil, waiting(name, ctx.Err())
		}
		return nil, fmt.Errorf("lock %q: %w", name, err)
	}
	var once sync.Once
	return func() { once.Do(func() { unlock(conn, key) }) }, nil
}

// unlock releases the lock key held on conn and gives conn back to its
// pool, or closes conn when the release fails (the server then drops the
// lock with the session).
func unlock(conn *pgxpool.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	var released bool
	if err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", key).Scan(&released); err != nil || !released {
		destroy(conn)
		return
	}
	conn.Release()
}

// destroy takes conn out of its pool and closes it, waiting until pgx has
// finished with it (after an interrupted statement, until the server has
// been sent the cancel request and has closed the session, and with it
// every lock and wait the session had).
func destroy(conn *pgxpool.Conn) {
	c := conn.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	_ = c.Close(ctx)
	select {
	case <-c.PgConn().CleanupDone():
	case <-ctx.Done():
	}
}
