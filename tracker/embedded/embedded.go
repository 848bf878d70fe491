// Package embedded is the default agentorg.Tracker: issues, labels, comments,
// merge requests and check results kept in SQLite tables prefixed tracker_,
// next to the engine's tables and the job queue in the same database file.
// The embedded tracker also plays the forge: MergeMR performs the git merge
// through Options.Merge.
//
// Conventions:
//   - Issue and merge request numbers are separate sequences starting at 1.
//   - An issue's labels are listed in the order they were added; a label
//     removed and added again moves to the end.
//   - Times are stored as fixed-width RFC 3339 text in UTC with nanoseconds
//     (so that comparing the text compares the times) and returned in UTC.
//   - Writing to an issue (labels, closing, comments) bumps its UpdatedAt only
//     when something changed, so idempotent retries do not look like activity.
//   - Changes to a merged or closed merge request are refused with
//     agentorg.ErrNotMergeable, except calls that would change nothing, which
//     return the merge request as it is, so that retries stay idempotent.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/agentorg/agentorg/store"
	"sync"
	"time"

	"github.com/agentorg/agentorg"
)

// Options configures a Tracker.
type Options struct {
	// Merge performs the git merge of a merge request in the origin repository (the embedded
	// tracker plays the forge). It must be idempotent and refuse when the source head is not
	// expectedHead (agentorg.ErrHeadMoved) or the merge conflicts (agentorg.ErrConflict).
	// It returns the SHA of the merge commit on the target branch.
	Merge func(ctx context.Context, source, target, expectedHead, message string) (mergeSHA string, err error)
	// MergeAt, when set, replaces Merge: it also refuses to merge when the
	// target branch is not at expectedTarget (agentorg.ErrTargetMoved); an
	// empty expectedTarget means any. MergeMRAt needs it.
	MergeAt func(ctx context.Context, source, target, expectedHead, expectedTarget, message string) (mergeSHA string, err error)
	// Land, when set, lands a merge commit the caller built (see
	// agentorg.CommitLander): target moves from expectedTarget to commit,
	// whose parents must be expectedTarget and expectedHead. Idempotent
	// like Merge; LandMR needs it.
	Land func(ctx context.Context, source, target, expectedHead, expectedTarget, commit, message string) (mergeSHA string, err error)
	// CheckTarget, when set, says whether target can take a merge now
	// (agentorg.TargetChecker): an error wrapping agentorg.ErrTargetBusy
	// when the origin's working tree that holds it cannot follow.
	CheckTarget func(ctx context.Context, target string) error
	Now         func() time.Time // defaults to time.Now; tests may fix it
}

// Tracker implements agentorg.Tracker on SQLite. It is safe for concurrent use,
// also by several processes sharing the database file.
type Tracker struct {
	db    *sql.DB
	merge func(ctx context.Context, source, target, expectedHead, expectedTarget, message string) (string, error)
	land  func(ctx context.Context, source, target, expectedHead, expectedTarget, commit, message string) (string, error)
	check func(ctx context.Context, target string) error
	now   func() time.Time
	pg    bool // on PostgreSQL (no SQLite planner hints)

	changesMu   sync.Mutex // one ChangedMRs at a time
	changesMark time.Time  // when the last ChangedMRs began
}

var (
	_ agentorg.Tracker             = (*Tracker)(nil)
	_ agentorg.TargetGuardedMerger = (*Tracker)(nil)
	_ agentorg.CommitLander        = (*Tracker)(nil)
	_ agentorg.TargetChecker       = (*Tracker)(nil)
)

// New returns a tracker over db, which should come from store.Open (SQLite
// or PostgreSQL): the tracker relies on write transactions taking the
// write lock at BEGIN, which is what keeps find-then-create operations
// (UpsertComment, CreateMR) from racing. Call Migrate before use.
func New(db *sql.DB, o Options) *Tracker {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	merge := o.MergeAt
	if merge == nil && o.Merge != nil {
		merge = func(ctx context.Context, source, target, head, expectedTarget, message string) (string, error) {
			if expectedTarget != "" {
				return "", fmt.Errorf("merge %s: this tracker cannot guard the target branch (Options.MergeAt is nil)", source)
			}
			return o.Merge(ctx, source, target, head, message)
		}
	}
	return &Tracker{db: db, merge: merge, land: o.Land, check: o.CheckTarget, now: now, pg: store.DialectOf(db) == store.Postgres}
}

// CheckTarget implements agentorg.TargetChecker through Options.CheckTarget
// (no check configured: any target can take a merge).
func (t *Tracker) CheckTarget(ctx context.Context, target string) error {
	if t.check == nil {
		return nil
	}
	return t.check(ctx, target)
}

// timeLayout is fixed width (always nine fractional digits, always Z) so that
// the text sorts like the time, which UpdatedAfter relies on.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func (t *Tracker) nowText() string { return formatTime(t.now()) }

// write runs fn in a write transaction.
func (t *Tracker) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("embedded tracker: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("embedded tracker: commit: %w", err)
	}
	return nil
}

// read runs fn in a read-only transaction, so that a result assembled from
// several queries (an issue and its labels) comes from one snapshot.
func (t *Tracker) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := t.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("embedded tracker: begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

func issueNotFound(n int64) error {
	return fmt.Errorf("issue #%d: %w", n, agentorg.ErrNotFound)
}

func mrNotFound(n int64) error {
	return fmt.Errorf("merge request !%d: %w", n, agentorg.ErrNotFound)
}

// notFound maps sql.ErrNoRows to err and leaves other errors as they are.
func notFound(err, nf error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nf
	}
	return err
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	b := make([]byte, 0, 3*n)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '?')
	}
	return string(b)
}
