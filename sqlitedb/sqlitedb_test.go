package sqlitedb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestEveryConnectionIsConfigured(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	if got := db.Stats().MaxOpenConnections; got != MaxOpenConns {
		t.Fatalf("pool of %d connections, want %d", got, MaxOpenConns)
	}
	// Hold every connection at once so that each is a distinct one.
	var conns []*sql.Conn
	for range MaxOpenConns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var mode string
		var busy, fk, sync int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || busy < 10000 || fk != 1 || sync != 1 {
			t.Errorf("conn %d: journal_mode=%s busy_timeout=%d foreign_keys=%d synchronous=%d; want wal, >=10000, 1, 1 (NORMAL)",
				i, mode, busy, fk, sync)
		}
	}
}

// Both transactions read, pause, then write. With deferred BEGIN both would
// hold a read snapshot and the second writer would fail with SQLITE_BUSY at
// once; with the write lock taken at BEGIN the second waits for the first.
func TestConcurrentWriteTransactionsBothSucceed(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)"); err != nil {
		t.Fatal(err)
	}

	const writers = 2
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			<-start
			errs[i] = func() error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				var n int
				if err := tx.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
					return err
				}
				time.Sleep(100 * time.Millisecond) // let the other writer begin meanwhile
				if _, err := tx.ExecContext(ctx, "UPDATE counter SET n = ?", n+1); err != nil {
					return err
				}
				return tx.Commit()
			}()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers {
		t.Fatalf("counter = %d, want %d (an update was lost)", n, writers)
	}
}

func TestForeignKeysAreEnforced(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE parent (id INTEGER PRIMARY KEY);
		CREATE TABLE child (parent INTEGER NOT NULL REFERENCES parent(id))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO child VALUES (42)"); err == nil {
		t.Fatal("inserted a row referencing a missing parent")
	}
}

func TestPathIsTakenLiterally(t *testing.T) {
	// '?' and '#' would otherwise start a query or fragment, '%' an escape.
	path := filepath.Join(t.TempDir(), "odd dir", "a?b#c%20d.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not created at the given path: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "a?b#c%20d.db" && e.Name() != "a?b#c%20d.db-wal" && e.Name() != "a?b#c%20d.db-shm" {
			t.Errorf("unexpected file %q next to the database", e.Name())
		}
	}
}

func TestBadPathsAreRefused(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "missing", "dir", "x.db")} {
		if db, err := Open(path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}
