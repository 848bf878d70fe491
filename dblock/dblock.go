// Package dblock holds named locks that hold across processes and hosts:
// what must happen one at a time in the whole organization (a merge train
// per target branch, one E2E run per target) takes a lock by name, whichever
// worker runs it (DESIGN rule 12: no process-wide state).
//
// Two implementations: Local, for one process alone (a SQLite home, where one
// engine runs per home), and Postgres, for many processes sharing one
// PostgreSQL database, where a lock is a session-level advisory lock that the
// server drops when the holder's connection dies, so that a crashed worker
// never leaves a lock held.
//
// A lock orders work; it does not make the work safe. A holder is not told
// when it loses the lock (its database connection broke), so what a lock
// guards must stay correct without it (the merge's target guard does): the
// lock keeps workers from undoing each other's work, not from breaking it.
package dblock

import (
	"context"
	"fmt"
	"hash/fnv"
)

// Locker takes named locks.
type Locker interface {
	// Lock blocks until the lock called name is held, then returns the
	// function that releases it. When ctx ends first, it returns an error
	// that wraps ctx's (errors.Is(err, context.Canceled) holds after a
	// cancel) and holds nothing. Calling unlock more than once is harmless:
	// only the first call releases.
	//
	// Locks are not reentrant: a second Lock of a name the caller holds
	// waits for the first to be released.
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// Key is the advisory lock key Postgres takes for name: FNV-64a of
// "agentorg:"+name, so that other users of advisory locks in the same
// database are unlikely to collide with agentorg's. In pg_locks a key
// shows as classid (its high 32 bits) and objid (its low 32 bits), with
// objsubid 1.
func Key(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("agentorg:" + name))
	return int64(h.Sum64())
}

// waiting is the error of a Lock whose ctx ended before the lock was held.
func waiting(name string, err error) error {
	return fmt.Errorf("waiting for the lock %q: %w", name, err)
}
