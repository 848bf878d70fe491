package app

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/agentorg/agentorg/store"
)

// With the embedded tracker, merges are made by writing the origin's refs
// (workspace.MergeIntoAt, LandMerge): the origin must be a repository on a
// file system, and every worker of a shared database must see the same one.
// agentorg cannot tell two disks apart, so it holds workers to one path:
// the first worker records its origin's absolute path in the database and
// the others must find a repository at that same path (one host with many
// processes, or storage every host mounts at that path). Served over git's
// HTTP, the origin cannot take the embedded tracker's merges: that is what
// GitLab is for (its origin is GitLab's, whatever host a worker is on).
const sharedOriginSchema = `
CREATE TABLE IF NOT EXISTS agentorg_origin (
	one  INTEGER PRIMARY KEY CHECK (one = 1),
	path TEXT NOT NULL
);`

// checkSharedOrigin holds a worker of a shared database with the embedded
// tracker to the organization's origin (see sharedOriginSchema).
func checkSharedOrigin(ctx context.Context, db *sql.DB, where, origin string) error {
	if isRemoteURL(origin) {
		return fmt.Errorf("the embedded tracker merges by writing the origin's branches, so its origin is a repository on a file system, not %s: "+
			"on a shared database every worker needs that path (one host, or storage all hosts mount at one path); for workers anywhere, use GitLab", origin)
	}
	abs, err := filepath.Abs(origin)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, sharedOriginSchema); err != nil {
		return fmt.Errorf("database %s: %w", where, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO agentorg_origin (one, path) VALUES (1, ?) ON CONFLICT (one) DO NOTHING`, abs); err != nil {
		return fmt.Errorf("database %s: record the origin: %w", where, err)
	}
	var recorded string
	if err := db.QueryRowContext(ctx, `SELECT path FROM agentorg_origin WHERE one = 1`).Scan(&recorded); err != nil {
		return fmt.Errorf("database %s: read the origin: %w", where, err)
	}
	if recorded != abs {
		return fmt.Errorf("this worker's origin is %s, but the organization on %s works on %s: with the embedded tracker every worker "+
			"must see one origin at one path (run the workers on one host, or mount the origin's storage at %s on every host; with GitLab any host works)",
			abs, where, recorded, recorded)
	}
	if _, err := os.Stat(recorded); err != nil {
		return fmt.Errorf("the organization on %s works on the origin %s, which this host does not have (%v): "+
			"with the embedded tracker every worker must see it at that path (mount its storage there), or use GitLab", where, recorded, err)
	}
	return nil
}

// sharedDB reports whether the organization's database is shared by workers.
func (o *Org) sharedDB() bool { return o.Store.Dialect == store.Postgres }
