package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations[i] brings the schema from version i to version i+1. Append new
// steps; never edit a released one, databases in the field have run it.
var migrations = []string{
	// 1: the initial schema.
	`
-- Small columns first: reading a column stored after a long body means
-- walking the body's overflow pages.
CREATE TABLE tracker_issues (
	number     INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: numbers are never reused
	state      TEXT NOT NULL CHECK (state IN ('open', 'closed')),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	author     TEXT NOT NULL,
	closed_by  TEXT NOT NULL DEFAULT '',
	closed_at  TEXT NOT NULL DEFAULT '',
	title      TEXT NOT NULL,
	body       TEXT NOT NULL
);
-- ListIssues filters on state and updated_at; the engine polls with both.
CREATE INDEX tracker_issues_state_updated ON tracker_issues (state, updated_at);
CREATE INDEX tracker_issues_updated ON tracker_issues (updated_at);

CREATE TABLE tracker_issue_labels (
	issue    INTEGER NOT NULL REFERENCES tracker_issues (number),
	label    TEXT NOT NULL,
	position INTEGER NOT NULL, -- order of addition within the issue
	PRIMARY KEY (issue, label)
) WITHOUT ROWID;
-- For the AnyLabel filter: label -> issues.
CREATE INDEX tracker_issue_labels_label ON tracker_issue_labels (label, issue);

CREATE TABLE tracker_label_events (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	issue  INTEGER NOT NULL REFERENCES tracker_issues (number),
	label  TEXT NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('add', 'remove')),
	actor  TEXT NOT NULL,
	at     TEXT NOT NULL
);
CREATE INDEX tracker_label_events_issue ON tracker_label_events (issue, id);

CREATE TABLE tracker_comments (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	issue      INTEGER NOT NULL REFERENCES tracker_issues (number),
	author     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	body       TEXT NOT NULL
);
CREATE INDEX tracker_comments_issue ON tracker_comments (issue, id);

CREATE TABLE tracker_merge_requests (
	number        INTEGER PRIMARY KEY AUTOINCREMENT,
	issue         INTEGER REFERENCES tracker_issues (number), -- NULL: no issue
	state         TEXT NOT NULL CHECK (state IN ('opened', 'merged', 'closed')),
	source_branch TEXT NOT NULL,
	target_branch TEXT NOT NULL,
	head_sha      TEXT NOT NULL,
	merge_sha     TEXT NOT NULL DEFAULT '',
	merged_by     TEXT NOT NULL DEFAULT '',
	author        TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	title         TEXT NOT NULL,
	description   TEXT NOT NULL
);
-- At most one open merge request per branch pair: CreateMR's find-before-create,
-- held by the database too.
CREATE UNIQUE INDEX tracker_merge_requests_open_branches
	ON tracker_merge_requests (source_branch, target_branch) WHERE state = 'opened';
CREATE INDEX tracker_merge_requests_issue ON tracker_merge_requests (issue);
CREATE INDEX tracker_merge_requests_state ON tracker_merge_requests (state);

CREATE TABLE tracker_mr_approvals (
	id   INTEGER PRIMARY KEY AUTOINCREMENT, -- order of approval
	mr   INTEGER NOT NULL REFERENCES tracker_merge_requests (number),
	"user" TEXT NOT NULL, -- quoted: a reserved word in PostgreSQL
	sha  TEXT NOT NULL,
	at   TEXT NOT NULL,
	UNIQUE (mr, "user", sha)
);

CREATE TABLE tracker_checks (
	sha         TEXT NOT NULL,
	name        TEXT NOT NULL,
	status      TEXT NOT NULL,
	output      TEXT NOT NULL,
	duration_ns INTEGER NOT NULL,
	at          TEXT NOT NULL,
	PRIMARY KEY (sha, name)
) WITHOUT ROWID;
`,
	// 2: review threads on merge requests.
	`
CREATE TABLE tracker_review_threads (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	mr          INTEGER NOT NULL REFERENCES tracker_merge_requests (number),
	path        TEXT NOT NULL DEFAULT '', -- '' for a thread on the whole merge request
	line        INTEGER NOT NULL DEFAULT 0,
	resolved_by TEXT NOT NULL DEFAULT ''  -- '' while unresolved
);
CREATE INDEX tracker_review_threads_mr ON tracker_review_threads (mr, id);
CREATE TABLE tracker_review_notes (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	thread     INTEGER NOT NULL REFERENCES tracker_review_threads (id),
	author     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	body       TEXT NOT NULL
);
CREATE INDEX tracker_review_notes_thread ON tracker_review_notes (thread, id);
`,
}

// Migrate creates the tracker's tables or brings them up to the latest schema
// version, recorded in the single row of tracker_schema. It
// is idempotent and safe to run from several processes at once: the steps run
// in one write transaction, which SQLite serialises.
func (t *Tracker) Migrate(ctx context.Context) error {
	return t.write(ctx, func(tx *sql.Tx) error {
		// A single row (id = 1) holds the version.
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS tracker_schema (
			id      INTEGER PRIMARY KEY CHECK (id = 1),
			version INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("embedded tracker: migrate: %w", err)
		}
		var version int
		err := tx.QueryRowContext(ctx, "SELECT version FROM tracker_schema WHERE id = 1").Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			version = 0
		} else if err != nil {
			return fmt.Errorf("embedded tracker: migrate: read schema version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("embedded tracker: schema version %d is newer than this binary understands (%d)", version, len(migrations))
		}
		for v := version; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("embedded tracker: migrate to schema version %d: %w", v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tracker_schema (id, version) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version`, len(migrations)); err != nil {
			return fmt.Errorf("embedded tracker: migrate: record schema version: %w", err)
		}
		return nil
	})
}
