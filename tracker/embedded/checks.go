package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/agentorg/agentorg"
)

// maxCheckOutput bounds the stored output of a check. Callers are meant to
// pass a trimmed tail already; this keeps a mistake from bloating the database.
const maxCheckOutput = 64 << 10

// tail returns the last max bytes of s at most, cut on a rune boundary.
func tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s
}

// SetCheck records r, replacing any earlier result for (r.SHA, r.Name). A
// zero r.At is set to now; an output longer than 64 KiB keeps its tail.
func (t *Tracker) SetCheck(ctx context.Context, r agentorg.CheckResult) error {
	if r.SHA == "" || r.Name == "" || r.Status == "" {
		return fmt.Errorf("set check: SHA, name and status are required (got %q, %q, %q)", r.SHA, r.Name, r.Status)
	}
	at := formatTime(r.At)
	if r.At.IsZero() {
		at = t.nowText()
	}
	return t.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tracker_checks (sha, name, status, output, duration_ns, at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (sha, name) DO UPDATE SET status = excluded.status, output = excluded.output,
				duration_ns = excluded.duration_ns, at = excluded.at`,
			r.SHA, r.Name, string(r.Status), tail(r.Output, maxCheckOutput), int64(r.Duration), at)
		if err != nil {
			return fmt.Errorf("set check %s on %s: %w", r.Name, r.SHA, err)
		}
		return nil
	})
}

// Checks lists the results recorded for sha, ordered by name; none is not an
// error.
func (t *Tracker) Checks(ctx context.Context, sha string) ([]agentorg.CheckResult, error) {
	out := []agentorg.CheckResult{}
	err := t.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT sha, name, status, output, duration_ns, at FROM tracker_checks
			WHERE sha = ? ORDER BY name`, sha)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r agentorg.CheckResult
			var status, at string
			var ns int64
			if err := rows.Scan(&r.SHA, &r.Name, &status, &r.Output, &ns, &at); err != nil {
				return err
			}
			r.Status = agentorg.CheckStatus(status)
			r.Duration = time.Duration(ns)
			if r.At, err = parseTime(at); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("checks of %s: %w", sha, err)
	}
	return out, nil
}
