// Package sqlitedb opens the one SQLite database file that agentorg shares
// between the embedded tracker, the engine's own tables and the River job
// queue (riversqlite). Everything that writes to that file must go through a
// pool opened here, so that all connections agree on locking behaviour.
package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// BusyTimeout is how long a connection waits for another connection's write
// lock before giving up with SQLITE_BUSY.
const BusyTimeout = 10 * time.Second

// MaxOpenConns is the size of the pool Open returns: one, as the riversqlite
// docs advise.
//
// SQLite admits one writer at a time whatever the pool size. With several
// connections, River's pollers, the workers and the tracker all contend for
// the write lock inside SQLite, whose busy handler sleeps and retries (up to
// 100 ms a turn); measured with `agentorg bench`, a pool of 8 ran 100 issues at
// 0.6 issues/s, a pool of 1 at 4 issues/s, because database/sql then queues
// callers in Go and hands the connection over at once. The price is a rule
// every caller keeps: never query the pool while holding a transaction or an
// open *sql.Rows from it, or the caller waits for itself forever.
const MaxOpenConns = 1

// params are the modernc DSN parameters every connection is opened with.
// busy_timeout is applied first by the driver, so the others can wait for
// locks too (journal_mode=WAL needs one on a fresh file).
var params = strings.Join([]string{
	fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds()),
	"_pragma=journal_mode(WAL)",
	"_pragma=foreign_keys(1)",
	// NORMAL is durable in WAL mode except for the last commits before a power
	// loss, and spares an fsync per commit.
	"_pragma=synchronous(NORMAL)",
	"_txlock=immediate",
}, "&")

// Open opens the SQLite database at path, creating the file if it is missing,
// with WAL journaling, a busy timeout of BusyTimeout, foreign keys enforced,
// synchronous=NORMAL, and transactions that take the write lock at BEGIN
// (read-only transactions, sql.TxOptions{ReadOnly: true}, begin deferred and
// must not write). Each connection keeps its statements prepared, by their
// text. The caller closes the returned pool.
func Open(path string) (*sql.DB, error) {
	return openDB(path, newCachingConnector)
}

// openDB is Open with the driver's connector wrapped by wrap: tests compare
// the statement cache with the driver alone, and count what it does.
func openDB(path string, wrap func(driver.Connector) driver.Connector) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlitedb: empty database path")
	}
	dsn, err := dsn(path)
	if err != nil {
		return nil, err
	}
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: open %s: %w", path, err)
	}
	db := sql.OpenDB(wrap(connector))
	db.SetMaxOpenConns(MaxOpenConns)
	// Keep the connections: reopening one reruns the pragmas and drops its cache.
	db.SetMaxIdleConns(MaxOpenConns)

	// sql.OpenDB is lazy; open one connection now so that a bad path or a
	// file that cannot switch to WAL fails here rather than on first use.
	ctx, cancel := context.WithTimeout(context.Background(), BusyTimeout+5*time.Second)
	defer cancel()
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitedb: open %s: %w", path, err)
	}
	// SQLite silently keeps the old mode when WAL is unavailable (e.g. some
	// network file systems); concurrent readers depend on it, so refuse.
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("sqlitedb: open %s: journal mode is %q, want wal", path, mode)
	}
	return db, nil
}

// dsn builds a file: URI so that any byte in the path ('?', '#', '%') is
// escaped; the driver cuts a plain file name at its first '?'.
func dsn(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlitedb: %s: %w", path, err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: params}
	return u.String(), nil
}
