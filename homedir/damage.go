package homedir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/agentorg/agentorg/sqlitedb"
)

// ErrDamaged marks a home whose database cannot be trusted. Every command
// refuses such a home, before it writes anything.
var ErrDamaged = errors.New("the home's database is damaged")

// DamagedError says what is wrong with a home's database and what to do.
type DamagedError struct {
	Home string
	// What is wrong, as a clause: "is empty (0 bytes)".
	What string
	// Problems are what SQLite's checks found, if they ran.
	Problems []string
}

func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

func (e *DamagedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "home %s: agentorg.db %s. Nothing was changed.\n", e.Home, e.What)
	for i, p := range e.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "  ... and %d more (`agentorg fsck` lists them)\n", len(e.Problems)-i)
			break
		}
		fmt.Fprintf(&b, "  sqlite: %s\n", p)
	}
	fmt.Fprintf(&b, "To go on, do one of:\n")
	fmt.Fprintf(&b, "  - restore %s from a backup (with its -wal file if the backup has one), then run the command again;\n", DB(e.Home))
	fmt.Fprintf(&b, "  - move the home aside and start a new one: mv %s %s.damaged (its worktrees and transcripts stay there to look at).\n", e.Home, e.Home)
	fmt.Fprintf(&b, "`agentorg fsck --home %s` checks the whole home.", e.Home)
	return b.String()
}

// CheckFiles looks at a home's database file before SQLite opens it (and
// so before anything can create or change it): a missing or empty database
// in a home that has been used is damaged, not new; a file that is not a
// SQLite database is damaged. A new home (nothing there) passes.
func CheckFiles(dir string) error {
	state, err := sqlitedb.Inspect(DB(dir))
	if err != nil {
		return fmt.Errorf("home %s: %w", dir, err)
	}
	switch state {
	case sqlitedb.Present:
		return nil
	case sqlitedb.NotSQLite:
		return &DamagedError{Home: dir, What: "is not a SQLite database (it does not start with SQLite's header)"}
	}
	if fi, err := os.Stat(DB(dir) + "-wal"); err == nil && fi.Size() > 0 {
		return &DamagedError{Home: dir, What: "has no content, but its write-ahead log (agentorg.db-wal) has: the database was cut away"}
	}
	signs := used(dir)
	if len(signs) == 0 {
		return nil // a new home
	}
	what := "is missing"
	if state == sqlitedb.Empty {
		what = "is empty (0 bytes)"
	}
	return &DamagedError{Home: dir, What: fmt.Sprintf("%s, but this home has been used (it has %s): the database is lost, not new, "+
		"and a new one would reuse the old issues' numbers, worktrees and branches", what, strings.Join(signs, ", "))}
}

// CheckPages runs SQLite's own check over the open database of home dir,
// within bounds (the whole of a small database, a sample of a large one).
func CheckPages(ctx context.Context, db *sql.DB, dir string, b sqlitedb.Bounds) error {
	problems, whole, err := sqlitedb.CheckBounded(ctx, db, b, time.Now())
	if err != nil {
		return fmt.Errorf("home %s: check the database: %w", dir, err)
	}
	if len(problems) == 0 {
		return nil
	}
	what := "is damaged: SQLite's quick_check found a problem"
	if !whole {
		what = "is damaged: SQLite's quick_check of a sample of its tables found a problem"
	}
	return &DamagedError{Home: dir, What: what, Problems: problems}
}
