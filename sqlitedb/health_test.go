package sqlitedb

import (
	"context"
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInspectTellsTheFileStates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.db")
	want := func(what string, st FileState) {
		t.Helper()
		got, err := Inspect(p)
		if err != nil || got != st {
			t.Errorf("%s: Inspect = %v, %v; want %v", what, got, err, st)
		}
	}
	want("no file", Missing)
	os.WriteFile(p, nil, 0o644)
	want("0 bytes", Empty)
	os.WriteFile(p, []byte("SQLite"), 0o644)
	want("a short file", NotSQLite)
	os.WriteFile(p, []byte(strings.Repeat("not a database ", 300)), 0o644)
	want("text", NotSQLite)
	os.Remove(p)
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	want("a new database", Present)
}

// filled makes a database of about pages pages: one table of rows.
func filled(t testing.TB, path string, pages int) *sql.DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); CREATE INDEX t_body ON t (body)`); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 400)
	tx, _ := db.BeginTx(ctx, nil)
	for i := 0; i < pages*4; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (body) VALUES (?)`, body+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestCheckBoundedIsWholeWhenSmallAndSamplesWhenLarge(t *testing.T) {
	db := filled(t, filepath.Join(t.TempDir(), "a.db"), 200)
	defer db.Close()
	ctx := context.Background()
	problems, whole, err := CheckBounded(ctx, db, Bounds{FullPages: math.MaxInt}, time.Now())
	if err != nil || !whole || len(problems) != 0 {
		t.Errorf("small database: problems %v, whole %v, err %v; want none, whole", problems, whole, err)
	}
	problems, whole, err = CheckBounded(ctx, db, Bounds{FullPages: 10, Budget: time.Nanosecond}, time.Now())
	if err != nil || whole || len(problems) != 0 {
		t.Errorf("large database: problems %v, whole %v, err %v; want none, a sample", problems, whole, err)
	}
}

// BenchmarkOpenCheck measures the check every open makes (Inspect, then
// CheckBounded with DefaultBounds), and the whole quick_check the engine
// makes at its start, on a database of about 15 MB, the size of a
// 1,000-issue home's; AGENTORG_BENCH_DB names a real one instead (say
// the home `agentorg bench -n 1000 --keep DIR` leaves in DIR/home).
func BenchmarkOpenCheck(b *testing.B) {
	path := os.Getenv("AGENTORG_BENCH_DB")
	var db *sql.DB
	var err error
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
		db = filled(b, path, 3800)
	} else if db, err = Open(path); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := Inspect(path); err != nil {
				b.Fatal(err)
			}
			if p, _, err := CheckBounded(ctx, db, DefaultBounds, time.Now()); err != nil || len(p) > 0 {
				b.Fatal(p, err)
			}
		}
	})
	b.Run("engine-start", func(b *testing.B) {
		for b.Loop() {
			if p, err := QuickCheck(ctx, db, 10); err != nil || len(p) > 0 {
				b.Fatal(p, err)
			}
		}
	})
}
