package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/pgtest"
)

// each runs f on a fresh database of each dialect.
func each(t *testing.T, f func(t *testing.T, db *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := Open(context.Background(), pgtest.New(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
}

const schema = `
CREATE TABLE IF NOT EXISTS things (
	id    INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
	name  TEXT NOT NULL UNIQUE,
	big   INTEGER NOT NULL DEFAULT 0,
	data  BLOB
);
CREATE INDEX IF NOT EXISTS things_big ON things (big);`

func TestCommonSQL(t *testing.T) {
	each(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		if ok, err := TableExists(ctx, db.SQL, "things"); err != nil || ok {
			t.Fatalf("before the schema: exists %v, %v", ok, err)
		}
		if _, err := db.SQL.ExecContext(ctx, schema); err != nil {
			t.Fatal(err)
		}
		if ok, err := TableExists(ctx, db.SQL, "things"); err != nil || !ok {
			t.Fatalf("after the schema: exists %v, %v", ok, err)
		}
		if got := DialectOf(db.SQL); got != db.Dialect {
			t.Fatalf("DialectOf = %v, want %v", got, db.Dialect)
		}
		// Heartbeats are Unix milliseconds: more than 32 bits.
		const ms = int64(1_796_000_000_000)
		var ids []int64
		for _, name := range []string{"a", "b?", "it's"} {
			var id int64
			if err := db.SQL.QueryRowContext(ctx, `INSERT INTO things (name, big, data) VALUES (?, ?, ?) RETURNING id`, name, ms, []byte{0, 1}).Scan(&id); err != nil {
				t.Fatalf("insert %q: %v", name, err)
			}
			ids = append(ids, id)
		}
		if ids[0] >= ids[1] || ids[1] >= ids[2] {
			t.Fatalf("ids %v are not increasing", ids)
		}
		// Upserts with excluded, as the claims table does.
		if _, err := db.SQL.ExecContext(ctx, `INSERT INTO things (name, big) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET big = excluded.big`, "a", 7); err != nil {
			t.Fatal(err)
		}
		var big int64
		var data []byte
		if err := db.SQL.QueryRowContext(ctx, `SELECT big, data FROM things WHERE name = ? AND name <> '?'`, "a").Scan(&big, &data); err != nil {
			t.Fatal(err)
		}
		if big != 7 || len(data) != 2 {
			t.Fatalf("a: big %d data %v", big, data)
		}
		// A deleted last row's id is not reused.
		if _, err := db.SQL.ExecContext(ctx, `DELETE FROM things WHERE id = ?`, ids[2]); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := db.SQL.QueryRowContext(ctx, `INSERT INTO things (name) VALUES (?) RETURNING id`, "d").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if id <= ids[2] {
			t.Fatalf("id %d reused (last was %d)", id, ids[2])
		}
	})
}

// TestWriteTransactionsTakeTurns: a write transaction excludes every other
// write transaction, on PostgreSQL as on SQLite, so that read-then-write
// sequences stay sound across workers; a read-only one does not wait, nor
// does an Atomic one.
func TestWriteTransactionsTakeTurns(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A second pool on the same database: another worker.
	other, err := Open(ctx, db.Pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := db.SQL.ExecContext(ctx, schema); err != nil {
		t.Fatal(err)
	}
	first, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.ExecContext(ctx, `INSERT INTO things (name) VALUES (?)`, "first"); err != nil {
		t.Fatal(err)
	}

	ro, err := other.SQL.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("a read-only transaction waited for the writer: %v", err)
	}
	ro.Rollback()
	// An Atomic one neither: it writes rows of its own beside the writer.
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	atomic, err := other.SQL.BeginTx(short, Atomic)
	if err == nil {
		_, err = atomic.ExecContext(short, `INSERT INTO things (name) VALUES (?)`, "atomic")
	}
	if err == nil {
		err = atomic.Commit()
	}
	cancel()
	if err != nil {
		t.Fatalf("an Atomic transaction waited for the writer: %v", err)
	}

	began := make(chan error, 1)
	var second *sql.Tx
	go func() {
		var err error
		second, err = other.SQL.BeginTx(ctx, nil)
		began <- err
	}()
	select {
	case err := <-began:
		t.Fatalf("a second write transaction began while the first ran (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-began:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the second write transaction never began after the first committed")
	}
	// It sees what the first committed: the turn came after it.
	var n int
	if err := second.QueryRowContext(ctx, `SELECT count(*) FROM things WHERE name = ?`, "first").Scan(&n); err != nil || n != 1 {
		t.Fatalf("second sees %d rows of the first (%v)", n, err)
	}
	if err := second.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "mysql://u:secret@h/db"); err == nil || contains(err.Error(), "secret") {
		t.Fatalf("mysql URL: %v", err)
	}
	_, err := Open(ctx, "postgres://u:hunter2@127.0.0.1:1/nothing?connect_timeout=2")
	if err == nil {
		t.Fatal("a database nobody listens for opened")
	}
	if contains(err.Error(), "hunter2") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if !contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("the error does not say which database: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestTextArgs: text PostgreSQL would refuse (a NUL, bytes that are not
// UTF-8, as agents' output carries) is stored with U+FFFD in their place
// instead of failing the statement; on SQLite it is stored as given.
func TestTextArgs(t *testing.T) {
	each(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		if _, err := db.SQL.ExecContext(ctx, `CREATE TABLE notes (body TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		raw := "a\x00b\xffc ok é"
		if _, err := db.SQL.ExecContext(ctx, `INSERT INTO notes (body) VALUES (?)`, raw); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.SQL.QueryRowContext(ctx, `SELECT body FROM notes WHERE body <> ?`, "x\x00").Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := raw
		if db.Dialect == Postgres {
			want = "a\uFFFDb\uFFFDc ok é"
		}
		if got != want {
			t.Fatalf("stored %q, want %q", got, want)
		}
	})
}
