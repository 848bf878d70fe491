// Package store opens agentorg's database: a SQLite file in the home (the
// default, for one machine) or a PostgreSQL database that any number of
// workers on any number of hosts share (a postgres:// URL). Everything
// agentorg keeps (the embedded tracker, the event log, attempts, review
// rounds, the check cache, claims, usage) and River's job queue live in
// that one database.
//
// agentorg's stores are written once, over database/sql, in the SQL the
// two engines share, spelled as SQLite spells it; on PostgreSQL the
// connections translate it (Translate) and make write transactions take
// turns as SQLite's do (see pgConn.BeginTx). River and the few statements
// only one engine can say (jobstore, locks) use the dialect's own driver:
// DB.Pool on PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/agentorg/agentorg/sqlitedb"
)

// Atomic are the options of a write transaction that needs only to be
// atomic: its statements guard themselves (unique keys, conditions on the
// rows they change), so on PostgreSQL it does not wait for the write lock
// that read-then-write transactions take in turn (pgConn.BeginTx): the
// engine's claims, which every stage run takes and releases. On SQLite it
// is an ordinary write transaction.
var Atomic = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// Dialect is which database engine a DB runs on.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// DB is an opened database.
type DB struct {
	// SQL is the pool agentorg's stores use, in the common SQL.
	SQL *sql.DB
	// Pool is PostgreSQL's pgx pool (River's riverpgxv5 driver, locks);
	// nil on SQLite.
	Pool    *pgxpool.Pool
	Dialect Dialect
	// Where says which database this is, for messages: the file, or the
	// URL without its password.
	Where string
}

// Close closes the database's pools.
func (db *DB) Close() error {
	err := db.SQL.Close()
	if db.Pool != nil {
		db.Pool.Close()
	}
	return err
}

// IsURL reports whether target names a PostgreSQL database rather than a
// SQLite file.
func IsURL(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// Open opens the database target names: a postgres:// URL, or the path of
// a SQLite file (made if missing, see sqlitedb.Open).
func Open(ctx context.Context, target string) (*DB, error) {
	if !IsURL(target) {
		if strings.Contains(target, "://") {
			return nil, fmt.Errorf("database %q: only postgres:// URLs and SQLite file paths are supported", Redact(target))
		}
		db, err := sqlitedb.Open(target)
		if err != nil {
			return nil, err
		}
		return &DB{SQL: db, Dialect: SQLite, Where: target}, nil
	}
	return OpenPostgres(ctx, target)
}

// DefaultMaxConns is the size of a worker's PostgreSQL pool when the URL
// does not say (pool_max_conns): River's producers and notifier, the
// stages' runs and the locks held by merge trains all draw on it.
const DefaultMaxConns = 24

// OpenPostgres opens the PostgreSQL database at url and checks that it
// answers.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	where := Redact(url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", where, err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s does not answer: %w", where, err)
	}
	return &DB{SQL: openPostgresSQL(stdlib.GetPoolConnector(pool)), Pool: pool, Dialect: Postgres, Where: where}, nil
}

// LockPool opens a pool of its own on db's PostgreSQL database for named
// locks (dblock.Postgres): a lock holds a connection while it waits and
// while it is held, and must not take the connections River and the
// stores need to finish the very run that holds it. The caller closes it.
func (db *DB) LockPool(ctx context.Context, maxConns int32) (*pgxpool.Pool, error) {
	if db.Pool == nil {
		return nil, fmt.Errorf("database %s: named locks in the database need PostgreSQL", db.Where)
	}
	cfg := db.Pool.Config().Copy()
	cfg.MaxConns = max(maxConns, 2)
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", db.Where, err)
	}
	return pool, nil
}

// Redact returns a database URL without its password (a path unchanged).
func Redact(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" {
		if IsURL(target) {
			return "postgres://…" // unparsable: say nothing of it
		}
		return target
	}
	return u.Redacted()
}

// DialectOf says which engine db, a pool opened by this package, runs on.
func DialectOf(db *sql.DB) Dialect {
	if _, ok := db.Driver().(pgDriver); ok {
		return Postgres
	}
	return SQLite
}

// TableExists reports whether db has a table of that name. It reads the
// catalog only, so it works on a database no store ever migrated.
func TableExists(ctx context.Context, db *sql.DB, name string) (bool, error) {
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if DialectOf(db) == Postgres {
		q = `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?`
	}
	var n int
	if err := db.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("store: find table %s: %w", name, err)
	}
	return n > 0, nil
}
