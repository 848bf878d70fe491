package homedir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agentorg/agentorg/workspace"
)

// An issue's work (the developer's commits in its worktree) stays in the
// mirror of the home that made it until validation pushes it. For another
// worker to take the issue over (docs/lifecycle.md I21), the database
// keeps the last attempt's work too: a git bundle of its commits less what
// the target holds, one per issue, the newest.

const workSchema = `
CREATE TABLE IF NOT EXISTS agentorg_work_bundles (
	issue      INTEGER PRIMARY KEY,
	attempt    INTEGER NOT NULL,
	sha        TEXT NOT NULL,
	size       INTEGER NOT NULL DEFAULT 0,
	too_large  INTEGER NOT NULL DEFAULT 0,
	bundle     BLOB,
	worker     TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);`

// DefaultMaxBundle is the largest work bundle kept in the database.
const DefaultMaxBundle = 64 << 20

// Work is an issue's last work kept in the database.
type Work struct {
	Issue   int64
	Attempt int
	SHA     string // the attempt's work commit
	// Size is the bundle's size in bytes; 0 when the target holds SHA
	// already (nothing to bundle).
	Size int64
	// TooLarge says the bundle was over the cap and is not kept: a worker
	// taking the issue over starts from the pushed branch or the target.
	TooLarge bool
	Bundle   []byte
	Worker   string // the worker that kept it
	At       time.Time
}

// KeepWork keeps issue n's work commit sha (attempt's) in the database: a
// bundle of it less what base (the target, as the mirror has it) holds,
// replacing the issue's earlier one. A bundle over the cap is recorded as
// too large, without its bytes.
func (o *Owners) KeepWork(ctx context.Context, m *workspace.Mirror, n int64, attempt int, sha, base string) (Work, error) {
	w := Work{Issue: n, Attempt: attempt, SHA: sha, Worker: o.Self(), At: o.now().UTC()}
	dir, err := os.MkdirTemp("", "agentorg-work-")
	if err != nil {
		return Work{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "work.bundle")
	made, err := m.Bundle(ctx, file, sha, base)
	if err != nil {
		return Work{}, fmt.Errorf("home: keep the work of #%d: %w", n, err)
	}
	if made {
		fi, err := os.Stat(file)
		if err != nil {
			return Work{}, err
		}
		w.Size = fi.Size()
		if max := o.maxBundle(); w.Size > max {
			w.TooLarge = true
		} else if w.Bundle, err = os.ReadFile(file); err != nil {
			return Work{}, err
		}
	}
	// Only a newer attempt's work replaces the kept one.
	_, err = o.DB.ExecContext(ctx, `INSERT INTO agentorg_work_bundles (issue, attempt, sha, size, too_large, bundle, worker, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (issue) DO UPDATE SET attempt = excluded.attempt, sha = excluded.sha, size = excluded.size, too_large = excluded.too_large,
			bundle = excluded.bundle, worker = excluded.worker, created_at = excluded.created_at
		WHERE excluded.attempt >= agentorg_work_bundles.attempt`,
		n, attempt, sha, w.Size, flag(w.TooLarge), w.Bundle, w.Worker, w.At.Format(time.RFC3339))
	if err != nil {
		return Work{}, fmt.Errorf("home: keep the work of #%d: %w", n, err)
	}
	return w, nil
}

func (o *Owners) maxBundle() int64 {
	if o.MaxBundle > 0 {
		return o.MaxBundle
	}
	return DefaultMaxBundle
}

// LastWork returns issue n's work kept in the database; ok is false when
// none is.
func (o *Owners) LastWork(ctx context.Context, n int64) (w Work, ok bool, err error) {
	var at string
	err = o.DB.QueryRowContext(ctx, `SELECT issue, attempt, sha, size, too_large, bundle, worker, created_at FROM agentorg_work_bundles WHERE issue = ?`, n).
		Scan(&w.Issue, &w.Attempt, &w.SHA, &w.Size, &w.TooLarge, &w.Bundle, &w.Worker, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Work{}, false, nil
	}
	if err != nil {
		return Work{}, false, fmt.Errorf("home: the work of #%d: %w", n, err)
	}
	w.At, _ = time.Parse(time.RFC3339, at)
	return w, true, nil
}

// ImportWork brings w into the mirror m: once it returns, w.SHA is a
// commit of m. A work too large to have been kept is an error saying so.
func (o *Owners) ImportWork(ctx context.Context, m *workspace.Mirror, w Work) error {
	if _, err := m.Tree(ctx, w.SHA); err == nil {
		return nil // here already (or on the target)
	}
	if w.TooLarge {
		return fmt.Errorf("the work of #%d (attempt %d, %s) was not kept in the database: its bundle, %d bytes, is over the cap of %d",
			w.Issue, w.Attempt, w.SHA, w.Size, o.maxBundle())
	}
	if len(w.Bundle) == 0 {
		return fmt.Errorf("the work of #%d (attempt %d, %s) is on the target the worker that kept it had, which this mirror does not have",
			w.Issue, w.Attempt, w.SHA)
	}
	dir, err := os.MkdirTemp("", "agentorg-work-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "work.bundle")
	if err := os.WriteFile(file, w.Bundle, 0o600); err != nil {
		return err
	}
	return m.Unbundle(ctx, file, w.SHA)
}
