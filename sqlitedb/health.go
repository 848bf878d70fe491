package sqlitedb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// FileState is what a database file looks like before SQLite reads it.
type FileState int

const (
	// Missing: there is no file.
	Missing FileState = iota
	// Empty: the file has no bytes (SQLite would make it a new database).
	Empty
	// NotSQLite: the file does not start with SQLite's header.
	NotSQLite
	// Present: the file starts with SQLite's header; its pages are for
	// QuickCheck or IntegrityCheck to judge.
	Present
)

// header is the 16 bytes every SQLite 3 database file starts with.
var header = []byte("SQLite format 3\x00")

// Inspect says what the file at path is, reading its first 16 bytes only:
// cheap enough for every open. A database with a WAL file but no bytes of
// its own is Empty: its content was cut away.
func Inspect(path string) (FileState, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Missing, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitedb: %w", err)
	}
	defer f.Close()
	buf := make([]byte, len(header))
	n, err := io.ReadFull(f, buf)
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		return Empty, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NotSQLite, nil
	case err != nil:
		return 0, fmt.Errorf("sqlitedb: read %s: %w", path, err)
	case !bytes.Equal(buf, header):
		return NotSQLite, nil
	}
	return Present, nil
}

// QuickCheck runs SQLite's `PRAGMA quick_check` (every page read, the
// b-trees and their records checked, indexes not compared with their
// tables) and returns what it found wrong, at most max problems; none
// means the database is sound as far as that goes. An error reading the
// file at all (SQLITE_CORRUPT, "file is not a database") is returned as a
// problem too, since that is what it is.
func QuickCheck(ctx context.Context, db *sql.DB, max int) ([]string, error) {
	return check(ctx, db, fmt.Sprintf("PRAGMA quick_check(%d)", limit(max)))
}

// IntegrityCheck is QuickCheck's thorough sibling, `PRAGMA
// integrity_check`: it also checks that every index matches its table, and
// costs a few times more. For fsck.
func IntegrityCheck(ctx context.Context, db *sql.DB, max int) ([]string, error) {
	return check(ctx, db, fmt.Sprintf("PRAGMA integrity_check(%d)", limit(max)))
}

func limit(max int) int {
	if max <= 0 {
		return 100
	}
	return max
}

// check runs a check pragma and returns the lines that are not "ok".
func check(ctx context.Context, db *sql.DB, pragma string) ([]string, error) {
	rows, err := db.QueryContext(ctx, pragma)
	if err != nil {
		if corrupt(err) {
			return []string{err.Error()}, nil
		}
		return nil, fmt.Errorf("sqlitedb: %s: %w", pragma, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("sqlitedb: %s: %w", pragma, err)
		}
		for _, l := range strings.Split(line, "\n") {
			// "*** in database main ***" heads the problems; it names no one.
			if l = strings.TrimSpace(l); l != "ok" && l != "" && !strings.HasPrefix(l, "*** in database") {
				problems = append(problems, l)
			}
		}
	}
	if err := rows.Err(); err != nil {
		if corrupt(err) {
			return append(problems, err.Error()), nil
		}
		return nil, fmt.Errorf("sqlitedb: %s: %w", pragma, err)
	}
	return problems, nil
}

// corrupt reports an error that means the file is damaged, not that the
// query failed for another reason (a cancelled context, a busy database).
func corrupt(err error) bool {
	s := err.Error()
	return strings.Contains(s, "malformed") || strings.Contains(s, "not a database") ||
		strings.Contains(s, "SQLITE_CORRUPT") || strings.Contains(s, "SQLITE_NOTADB")
}

// OpenToRead opens the database at path for looking at, without the
// pragmas Open sets (journal_mode writes the header): for checking a
// database that may be damaged, changing nothing. The caller only reads.
// It is not opened read-only: a read-only connection leaves SQLite's -wal
// and -shm files behind, where a closing reader removes them.
func OpenToRead(path string) (*sql.DB, error) {
	d, err := dsn(path)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(d)
	if err != nil {
		return nil, err
	}
	u.RawQuery = fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Bounds limit the check made on every open (CheckBounded).
type Bounds struct {
	// FullPages: a database of at most this many pages is checked whole.
	FullPages int
	// Budget: a larger one has its tables checked one by one, starting
	// from one that changes with the clock, until this much time is spent,
	// so that successive opens cover the tables. A table whose check is
	// still running at twice the budget is left unjudged (interrupted):
	// the engine's start and fsck check it.
	Budget time.Duration
}

// DefaultBounds check whole a database of up to 2 MiB (about 35 ms with
// this driver on a 2-core VM), and sample for 15 ms beyond that (30 ms at
// most).
var DefaultBounds = Bounds{FullPages: 512, Budget: 15 * time.Millisecond}

// CheckBounded is QuickCheck within b: the whole database when it is
// small, else a sample of its tables. whole says which it was.
func CheckBounded(ctx context.Context, db *sql.DB, b Bounds, now time.Time) (problems []string, whole bool, err error) {
	var pages int
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		if corrupt(err) {
			return []string{err.Error()}, true, nil
		}
		return nil, false, fmt.Errorf("sqlitedb: page_count: %w", err)
	}
	if pages <= b.FullPages {
		problems, err := QuickCheck(ctx, db, 10)
		return problems, true, err
	}
	tables, err := tableNames(ctx, db)
	if err != nil {
		if corrupt(err) {
			return []string{err.Error()}, false, nil
		}
		return nil, false, err
	}
	started := time.Now()
	bounded, cancel := context.WithTimeout(ctx, 2*b.Budget)
	defer cancel()
	first := int(now.Unix()/60) % len(tables)
	for i := range tables {
		t := tables[(first+i)%len(tables)]
		got, err := check(bounded, db, "PRAGMA quick_check("+quoteIdent(t)+")")
		if bounded.Err() != nil && ctx.Err() == nil {
			break // out of time: that table is left for a whole check
		}
		if err != nil {
			return nil, false, err
		}
		problems = append(problems, got...)
		if len(problems) > 0 || time.Since(started) >= b.Budget {
			break
		}
	}
	return problems, false, nil
}

func tableNames(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: tables: %w", err)
	}
	defer rows.Close()
	names := []string{"sqlite_schema"}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
