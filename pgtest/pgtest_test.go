package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Each database is a fresh one of its own: a table made in one is not in
// the other, and both are gone once their tests end.
func TestNewIsolates(t *testing.T) {
	ctx := context.Background()
	var names []string
	t.Run("first", func(t *testing.T) {
		dsn := New(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TABLE mine (x int)`); err != nil {
			t.Fatal(err)
		}
		names = append(names, conn.Config().Database)
	})
	t.Run("second", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, New(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var found bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass('mine') IS NOT NULL`).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if found {
			t.Error("the second database has the first's table")
		}
		names = append(names, conn.Config().Database)
	})
	if t.Failed() || len(names) != 2 {
		return
	}
	if names[0] == names[1] {
		t.Fatalf("both tests got database %s", names[0])
	}
	admin, err := pgx.Connect(ctx, DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var left int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = ANY($1)`, names).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d of the databases %v were not dropped", left, names)
	}
}
