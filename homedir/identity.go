package homedir

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/agentorg/agentorg/store"
)

// Identity is which home a database belongs to.
type Identity struct {
	// ID is random, made once when the home's database is made.
	ID string
	// Path is where the home was when last opened.
	Path string
	// AdoptThrough: issues up to this number were worked on by this home
	// before homes had an identity (an older agentorg), so what they left
	// is this home's. 0 for a home made with an identity.
	AdoptThrough int64
}

const identitySchema = `
CREATE TABLE IF NOT EXISTS agentorg_home (
	one           INTEGER PRIMARY KEY CHECK (one = 1),
	id            TEXT NOT NULL,
	path          TEXT NOT NULL,
	adopt_through INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL
);`

// Identify returns the identity of the home whose database is db, making
// one the first time. A database an older agentorg made (it has events
// but no identity) adopts the issues it worked on. dir is where the home
// is now; Identity.Path is where it was, for the caller to compare.
//
// It reads and makes the identity in one write transaction: two commands
// that open a new home at once (or workers that start together on one
// PostgreSQL database) make one identity, and both read it.
func Identify(ctx context.Context, db *sql.DB, dir string) (Identity, error) {
	// Read before the transaction, which SQLite's single connection holds.
	adopt, err := lastIssueWorkedOn(ctx, db)
	if err != nil {
		return Identity{}, fmt.Errorf("home %s: identity: %w", dir, err)
	}
	pg := store.DialectOf(db) == store.Postgres
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Identity{}, fmt.Errorf("home %s: %w", dir, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, identitySchema+ownerSchema+workSchema); err != nil {
		return Identity{}, fmt.Errorf("home %s: %w", dir, err)
	}
	if err := addColumn(ctx, tx, pg, "agentorg_worktrees", "worker", `TEXT NOT NULL DEFAULT ''`); err != nil {
		return Identity{}, fmt.Errorf("home %s: %w", dir, err)
	}
	var id Identity
	err = tx.QueryRowContext(ctx, `SELECT id, path, adopt_through FROM agentorg_home`).Scan(&id.ID, &id.Path, &id.AdoptThrough)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		id = Identity{ID: randomID(), Path: dir, AdoptThrough: adopt}
		if _, err := tx.ExecContext(ctx, `INSERT INTO agentorg_home (one, id, path, adopt_through, created_at) VALUES (1, ?, ?, ?, ?)`,
			id.ID, dir, id.AdoptThrough, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return Identity{}, fmt.Errorf("home %s: identity: %w", dir, err)
		}
	case err != nil:
		return Identity{}, fmt.Errorf("home %s: identity: %w", dir, err)
	}
	if err := tx.Commit(); err != nil {
		return Identity{}, fmt.Errorf("home %s: identity: %w", dir, err)
	}
	return id, nil
}

// SetPath records that the home recorded at old is now at dir. won is
// false when another process recorded it first (two commands opened the
// moved home at once): that one says so.
func SetPath(ctx context.Context, db *sql.DB, old, dir string) (won bool, err error) {
	res, err := db.ExecContext(ctx, `UPDATE agentorg_home SET path = ? WHERE path = ?`, dir, old)
	if err != nil {
		return false, fmt.Errorf("home %s: record its path: %w", dir, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// lastIssueWorkedOn is the highest issue number in the event log, 0 when
// there is none (or no event log yet).
func lastIssueWorkedOn(ctx context.Context, db *sql.DB) (int64, error) {
	if ok, err := store.TableExists(ctx, db, "agentorg_events"); err != nil || !ok {
		return 0, err
	}
	var last sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(issue) FROM agentorg_events`).Scan(&last)
	return last.Int64, err
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// addColumn adds a column a later version added to a table an earlier one
// made, unless it is there (DDL in SQLite's spelling: package store
// translates it for PostgreSQL). Two workers may add it at once: the one
// that finds it made meanwhile is content.
func addColumn(ctx context.Context, tx *sql.Tx, pg bool, table, column, def string) error {
	q := `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`
	if pg {
		q = `SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?`
	}
	var n int
	if err := tx.QueryRowContext(ctx, q, table, column).Scan(&n); err != nil || n > 0 {
		return err
	}
	// The caller's write transaction excludes another worker's adding it.
	if _, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+column+` `+def); err != nil {
		return fmt.Errorf("add column %s to %s: %w", column, table, err)
	}
	return nil
}
