package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The state E2E leaves a target branch in, and the flaky E2E failures.
// A target is closed (a CI "tree closed") from a failure E2E confirmed
// until E2E passes again; while closed, only the recovery's changes land.
const targetSchema = `
CREATE TABLE IF NOT EXISTS agentorg_targets (
	branch        TEXT PRIMARY KEY,
	closed        INTEGER NOT NULL DEFAULT 0,
	red_sha       TEXT NOT NULL DEFAULT '',
	green_sha     TEXT NOT NULL DEFAULT '',
	since         TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	bisected      INTEGER NOT NULL DEFAULT 0,
	culprit       TEXT NOT NULL DEFAULT '',
	culprit_issue INTEGER NOT NULL DEFAULT 0,
	partner       TEXT NOT NULL DEFAULT '',
	partner_issue INTEGER NOT NULL DEFAULT 0,
	revert_issue  INTEGER NOT NULL DEFAULT 0,
	sent_back     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS agentorg_e2e_flakes (
	command TEXT NOT NULL,
	head    TEXT NOT NULL,
	at      TEXT NOT NULL,
	PRIMARY KEY (command, head)
);`

// Target is what E2E says of a target branch. The zero Target is open.
type Target struct {
	Branch string
	Closed bool
	// RedSHA is the head whose confirmed E2E failure closed the target;
	// GreenSHA the newest first-parent ancestor E2E passed on, where the
	// bisect starts ("" when none is known).
	RedSHA, GreenSHA string
	Since            time.Time
	Reason           string
	// Bisected is set once the culprit is known (or known not to exist:
	// Culprit "" after a bisect means the failure predates the merges).
	Bisected bool
	// Culprit is the first-parent commit (a merge) that broke E2E, and
	// CulpritIssue its issue (0: not agentorg's). When the culprit breaks
	// E2E only together with an earlier merge, Partner names that one.
	Culprit      string
	CulpritIssue int64
	Partner      string
	PartnerIssue int64
	// RevertIssue is the issue that reverts the culprit (recovery revert).
	RevertIssue int64
	// SentBack is set once the culprit's issue went back to its developer.
	SentBack bool
}

// Target returns the state of branch; a branch never closed is open.
func (l *Log) Target(ctx context.Context, branch string) (Target, error) {
	t := Target{Branch: branch}
	var closed, bisected, sentBack int
	var since string
	err := l.db.QueryRowContext(ctx, `SELECT closed, red_sha, green_sha, since, reason, bisected, culprit, culprit_issue,
		partner, partner_issue, revert_issue, sent_back FROM agentorg_targets WHERE branch = ?`, branch).Scan(
		&closed, &t.RedSHA, &t.GreenSHA, &since, &t.Reason, &bisected, &t.Culprit, &t.CulpritIssue,
		&t.Partner, &t.PartnerIssue, &t.RevertIssue, &sentBack)
	if errors.Is(err, sql.ErrNoRows) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("eventlog: target %s: %w", branch, err)
	}
	t.Closed, t.Bisected, t.SentBack = closed != 0, bisected != 0, sentBack != 0
	t.Since, _ = time.Parse(timeFormat, since)
	return t, nil
}

// SetTarget records the state of a target branch.
func (l *Log) SetTarget(ctx context.Context, t Target) error {
	since := ""
	if !t.Since.IsZero() {
		since = t.Since.UTC().Format(timeFormat)
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_targets (branch, closed, red_sha, green_sha, since, reason, bisected,
		culprit, culprit_issue, partner, partner_issue, revert_issue, sent_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (branch) DO UPDATE SET closed = excluded.closed, red_sha = excluded.red_sha, green_sha = excluded.green_sha,
		since = excluded.since, reason = excluded.reason, bisected = excluded.bisected, culprit = excluded.culprit,
		culprit_issue = excluded.culprit_issue, partner = excluded.partner, partner_issue = excluded.partner_issue,
		revert_issue = excluded.revert_issue, sent_back = excluded.sent_back`,
		t.Branch, b2i(t.Closed), t.RedSHA, t.GreenSHA, since, text(t.Reason), b2i(t.Bisected),
		t.Culprit, t.CulpritIssue, t.Partner, t.PartnerIssue, t.RevertIssue, b2i(t.SentBack))
	if err != nil {
		return fmt.Errorf("eventlog: target %s: %w", t.Branch, err)
	}
	return nil
}

// b2i is a boolean as the INTEGER columns keep it: a Go bool bound to one
// is 1 or 0 on SQLite, but PostgreSQL refuses to encode it as a BIGINT.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AddFlake records that E2E command failed at head and passed when run
// again; it reports whether this is news (a retry records it once).
func (l *Log) AddFlake(ctx context.Context, command, head string) (bool, error) {
	res, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_e2e_flakes (command, head, at) VALUES (?, ?, ?)
		ON CONFLICT (command, head) DO NOTHING`, command, head, l.now().UTC().Format(timeFormat))
	if err != nil {
		return false, fmt.Errorf("eventlog: e2e flakes: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Flakes counts the flaky failures recorded for E2E command.
func (l *Log) Flakes(ctx context.Context, command string) (int, error) {
	var n int
	if err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM agentorg_e2e_flakes WHERE command = ?`, command).Scan(&n); err != nil {
		return 0, fmt.Errorf("eventlog: e2e flakes: %w", err)
	}
	return n, nil
}
