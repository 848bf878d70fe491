package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// writeLockKey is the advisory lock every write transaction of agentorg's
// takes first on PostgreSQL (see pgConn.BeginTx): "agentorg" in ASCII.
const writeLockKey int64 = 0x6167656e746f7267

// pgConnector hands database/sql connections from River's pgx pool, each
// speaking agentorg's common SQL (see Translate).
type pgConnector struct {
	inner driver.Connector
	cache *translations
}

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ic, ok := conn.(pgInner)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: pgx connection %T lacks an interface the translation forwards", conn)
	}
	return &pgConn{pgInner: ic, cache: c.cache}, nil
}

func (c pgConnector) Driver() driver.Driver { return pgDriver{c.inner.Driver()} }

// pgDriver is pgx's driver under a type of ours, so that DialectOf can tell
// a database opened here from SQLite's.
type pgDriver struct{ driver.Driver }

// pgInner is what pgConn needs of pgx's stdlib connection: exactly the
// optional interfaces it implements, since database/sql picks its code
// paths by them.
type pgInner interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
}

// pgConn is a pgx connection whose statements are translated from the
// common SQL, and whose write transactions take turns.
type pgConn struct {
	pgInner
	cache *translations
}

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.pgInner.PrepareContext(context.Background(), c.cache.get(query))
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.pgInner.PrepareContext(ctx, c.cache.get(query))
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.pgInner.ExecContext(ctx, c.cache.get(query), textArgs(args))
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.pgInner.QueryContext(ctx, c.cache.get(query), textArgs(args))
}

// textArgs makes the string arguments text PostgreSQL takes: its text
// holds no NUL and no bytes that are not UTF-8 (it refuses the whole
// statement), while what agentorg stores of agents' and commands' output
// (an issue body, a comment, a check's tail) may carry either. Each NUL,
// and each run of bytes that are not UTF-8, becomes U+FFFD (Text).
func textArgs(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		if s, ok := a.Value.(string); ok && Text(s) != s {
			args[i].Value = Text(s)
		}
	}
	return args
}

// Text is s as PostgreSQL's text can hold it: each NUL, and each run of
// bytes that are not UTF-8, replaced by U+FFFD; s itself when it is valid.
func Text(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx begins a transaction. A read-write one first waits for the
// database-wide write lock, held until it ends: agentorg's stores were
// written for SQLite, where a write transaction excludes every other
// (BEGIN IMMEDIATE), and read-then-write sequences in a transaction (the
// next issue number, a merge request's head check) rely on it. Across
// processes on PostgreSQL the advisory lock keeps that meaning, without
// serialization failures to retry. Read-only transactions do not wait,
// nor do Atomic ones.
func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.pgInner.BeginTx(ctx, opts)
	if err != nil || opts.ReadOnly || opts.Isolation == driver.IsolationLevel(Atomic.Isolation) {
		return tx, err
	}
	arg := []driver.NamedValue{{Ordinal: 1, Value: writeLockKey}}
	if _, err := c.pgInner.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", arg); err != nil {
		return nil, errors.Join(fmt.Errorf("store: write lock: %w", err), tx.Rollback())
	}
	return tx, nil
}

// translations keeps each statement's translation: a process sends fewer
// than a hundred distinct texts, many times each.
type translations struct {
	mu sync.RWMutex
	m  map[string]string
}

// maxTranslations bounds the cache; past it texts are translated each time
// (only text that embeds changing values would get there).
const maxTranslations = 4096

func (t *translations) get(q string) string {
	t.mu.RLock()
	out, ok := t.m[q]
	t.mu.RUnlock()
	if ok {
		return out
	}
	out = Translate(q)
	t.mu.Lock()
	if len(t.m) < maxTranslations {
		t.m[q] = out
	}
	t.mu.Unlock()
	return out
}

// openPostgresSQL returns a database/sql pool over connections of pool.
func openPostgresSQL(poolConnector driver.Connector) *sql.DB {
	db := sql.OpenDB(pgConnector{inner: poolConnector, cache: &translations{m: map[string]string{}}})
	// The connections belong to the pgx pool: database/sql must not keep
	// idle ones from it (stdlib.OpenDBFromPool does the same).
	db.SetMaxIdleConns(0)
	return db
}
