// Package pgtest gives a test a PostgreSQL database of its own: made fresh
// on the server AGENTORG_TEST_POSTGRES names, dropped when the test ends, so
// that tests never share state. When the server cannot be reached the test
// is skipped, except under CI=true, where it fails: CI must run them (.ci/run
// starts PostgreSQL).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the server the tests use when AGENTORG_TEST_POSTGRES is not
// set: a local PostgreSQL with trust authentication and a database "test".
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN is the server's address for the tests: AGENTORG_TEST_POSTGRES, a URL
// (postgres://user@host:port/database?...), or DefaultDSN.
func DSN() string {
	if dsn := os.Getenv("AGENTORG_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// New makes a database with a random name on the server (from the database
// DSN names) and returns its address; the database is dropped, with any
// connection still open on it, when the test ends.
func New(t testing.TB) string {
	t.Helper()
	admin := DSN()
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: AGENTORG_TEST_POSTGRES must be a postgres:// URL, not %q", admin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		msg := "pgtest: PostgreSQL is not reachable at " + u.Redacted() + " (set AGENTORG_TEST_POSTGRES, or start it: .ci/run does): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	defer conn.Close(context.Background())

	b := make([]byte, 8)
	rand.Read(b)
	name := "agentorg_test_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
