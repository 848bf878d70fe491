// Package storetest runs a store's tests on each database agentorg
// supports: SQLite (a file of the test's own) and PostgreSQL (a database of
// the test's own, see pgtest: skipped locally when no server runs, a
// failure under CI=true). A store's contract is one suite run against each.
package storetest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/store"
)

// Dialects are the databases Each runs on, in order.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// Open opens a fresh, empty database of dialect d, closed when t ends.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	target := filepath.Join(t.TempDir(), "agentorg.db")
	if d == store.Postgres {
		target = pgtest.New(t)
	}
	return OpenTarget(t, target)
}

// OpenTarget opens the database target names (see store.Open), closed when
// t ends.
func OpenTarget(t testing.TB, target string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each runs f as a subtest per dialect ("sqlite", "postgres"), each with a
// fresh database.
func Each(t *testing.T, f func(t *testing.T, db *sql.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d.String(), func(t *testing.T) { f(t, Open(t, d).SQL) })
	}
}
