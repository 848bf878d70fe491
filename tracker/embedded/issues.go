package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agentorg/agentorg"
)

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

const issueColumns = "number, title, body, state, author, created_at, updated_at"

func scanIssue(s scanner) (agentorg.Issue, error) {
	var (
		iss              agentorg.Issue
		state            string
		created, updated string
		err              error
	)
	if err := s.Scan(&iss.Number, &iss.Title, &iss.Body, &state, &iss.Author, &created, &updated); err != nil {
		return iss, err
	}
	iss.State = agentorg.IssueState(state)
	if iss.CreatedAt, err = parseTime(created); err != nil {
		return iss, err
	}
	if iss.UpdatedAt, err = parseTime(updated); err != nil {
		return iss, err
	}
	iss.Labels = []string{}
	return iss, nil
}

// loadIssue reads issue n with its labels.
func loadIssue(ctx context.Context, tx *sql.Tx, n int64) (agentorg.Issue, error) {
	iss, err := scanIssue(tx.QueryRowContext(ctx, "SELECT "+issueColumns+" FROM tracker_issues WHERE number = ?", n))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return iss, issueNotFound(n)
		}
		return iss, fmt.Errorf("issue #%d: %w", n, err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT label FROM tracker_issue_labels WHERE issue = ? ORDER BY position", n)
	if err != nil {
		return iss, fmt.Errorf("issue #%d: labels: %w", n, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return iss, fmt.Errorf("issue #%d: labels: %w", n, err)
		}
		iss.Labels = append(iss.Labels, l)
	}
	if err := rows.Err(); err != nil {
		return iss, fmt.Errorf("issue #%d: labels: %w", n, err)
	}
	return iss, nil
}

// issueExists returns an error wrapping ErrNotFound unless issue n exists.
func issueExists(ctx context.Context, tx *sql.Tx, n int64) error {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM tracker_issues WHERE number = ?", n).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return issueNotFound(n)
	}
	if err != nil {
		return fmt.Errorf("issue #%d: %w", n, err)
	}
	return nil
}

// cleanLabels rejects empty names and drops repeats, keeping the first.
func cleanLabels(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, l := range names {
		if strings.TrimSpace(l) == "" {
			return nil, errors.New("empty label name")
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out, nil
}

// CreateIssue opens an issue. A title is required; labels must not be empty
// and repeats are dropped. The initial labels are recorded as label events by
// in.Author, so that the events alone explain every label an issue carries.
func (t *Tracker) CreateIssue(ctx context.Context, in agentorg.NewIssue) (agentorg.Issue, error) {
	if strings.TrimSpace(in.Title) == "" {
		return agentorg.Issue{}, errors.New("create issue: empty title")
	}
	labels, err := cleanLabels(in.Labels)
	if err != nil {
		return agentorg.Issue{}, fmt.Errorf("create issue: %w", err)
	}
	var out agentorg.Issue
	err = t.write(ctx, func(tx *sql.Tx) error {
		now := t.nowText()
		var n int64
		err := tx.QueryRowContext(ctx, `INSERT INTO tracker_issues (title, body, state, author, created_at, updated_at)
			VALUES (?, ?, 'open', ?, ?, ?) RETURNING number`, in.Title, in.Body, in.Author, now, now).Scan(&n)
		if err != nil {
			return fmt.Errorf("create issue: %w", err)
		}
		// Initial labels are recorded as added by the author, so that the
		// events alone explain every label the issue carries.
		for i, l := range labels {
			if err := addLabel(ctx, tx, n, l, int64(i+1), in.Author, now); err != nil {
				return err
			}
		}
		out, err = loadIssue(ctx, tx, n)
		return err
	})
	return out, err
}

func addLabel(ctx context.Context, tx *sql.Tx, n int64, label string, pos int64, actor, now string) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO tracker_issue_labels (issue, label, position) VALUES (?, ?, ?)", n, label, pos); err != nil {
		return fmt.Errorf("issue #%d: add label %q: %w", n, label, err)
	}
	return labelEvent(ctx, tx, n, label, agentorg.LabelAdded, actor, now)
}

func labelEvent(ctx context.Context, tx *sql.Tx, n int64, label string, action agentorg.LabelAction, actor, now string) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO tracker_label_events (issue, label, action, actor, at) VALUES (?, ?, ?, ?, ?)",
		n, label, string(action), actor, now); err != nil {
		return fmt.Errorf("issue #%d: record label event: %w", n, err)
	}
	return nil
}

// Issue returns issue number with its labels in the order they were added.
func (t *Tracker) Issue(ctx context.Context, number int64) (agentorg.Issue, error) {
	var out agentorg.Issue
	err := t.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = loadIssue(ctx, tx, number)
		return err
	})
	return out, err
}

// issueFilterSQL turns f into a WHERE clause over tracker_issues. Every
// condition is served by an index (see the schema).
func (t *Tracker) issueFilterSQL(f agentorg.IssueFilter) (string, []any, error) {
	var conds []string
	var args []any
	switch f.State {
	case "":
	case agentorg.IssueOpen, agentorg.IssueClosed:
		conds = append(conds, "state = ?")
		args = append(args, string(f.State))
	default:
		return "", nil, fmt.Errorf("list issues: unknown state %q", f.State)
	}
	if !f.UpdatedAfter.IsZero() {
		// Pollers ask for what changed since their last look, a small share
		// of the issues; without the hint the planner scans the table in
		// number order rather than use the index and sort.
		if t.pg {
			conds = append(conds, "updated_at >= ?") // PostgreSQL's planner has the statistics
		} else {
			conds = append(conds, "likelihood(updated_at >= ?, 0.05)")
		}
		args = append(args, formatTime(f.UpdatedAfter))
	}
	if len(f.AnyLabel) > 0 {
		conds = append(conds, "number IN (SELECT issue FROM tracker_issue_labels WHERE label IN ("+placeholders(len(f.AnyLabel))+"))")
		for _, l := range f.AnyLabel {
			args = append(args, l)
		}
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// ListIssues returns the issues f selects, ordered by number.
func (t *Tracker) ListIssues(ctx context.Context, f agentorg.IssueFilter) ([]agentorg.Issue, error) {
	where, args, err := t.issueFilterSQL(f)
	if err != nil {
		return nil, err
	}
	out := []agentorg.Issue{}
	err = t.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+issueColumns+" FROM tracker_issues"+where+" ORDER BY number", args...)
		if err != nil {
			return fmt.Errorf("list issues: %w", err)
		}
		defer rows.Close()
		index := map[int64]int{}
		for rows.Next() {
			iss, err := scanIssue(rows)
			if err != nil {
				return fmt.Errorf("list issues: %w", err)
			}
			index[iss.Number] = len(out)
			out = append(out, iss)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list issues: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		// All labels of the selected issues in one query rather than one per issue.
		lrows, err := tx.QueryContext(ctx, `SELECT issue, label FROM tracker_issue_labels
			WHERE issue IN (SELECT number FROM tracker_issues`+where+`) ORDER BY issue, position`, args...)
		if err != nil {
			return fmt.Errorf("list issues: labels: %w", err)
		}
		defer lrows.Close()
		for lrows.Next() {
			var n int64
			var l string
			if err := lrows.Scan(&n, &l); err != nil {
				return fmt.Errorf("list issues: labels: %w", err)
			}
			if i, ok := index[n]; ok {
				out[i].Labels = append(out[i].Labels, l)
			}
		}
		if err := lrows.Err(); err != nil {
			return fmt.Errorf("list issues: labels: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CloseIssue closes an issue, recording actor; closing a closed issue is a
// no-op.
func (t *Tracker) CloseIssue(ctx context.Context, number int64, actor string) error {
	return t.write(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, "SELECT state FROM tracker_issues WHERE number = ?", number).Scan(&state)
		if err != nil {
			return notFound(err, issueNotFound(number))
		}
		if state == string(agentorg.IssueClosed) {
			return nil
		}
		now := t.nowText()
		if _, err := tx.ExecContext(ctx, `UPDATE tracker_issues SET state = 'closed', closed_by = ?, closed_at = ?, updated_at = ?
			WHERE number = ?`, actor, now, now, number); err != nil {
			return fmt.Errorf("issue #%d: close: %w", number, err)
		}
		return nil
	})
}

// ReopenIssue opens a closed issue again; reopening an open issue is a
// no-op.
func (t *Tracker) ReopenIssue(ctx context.Context, number int64, actor string) error {
	return t.write(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, "SELECT state FROM tracker_issues WHERE number = ?", number).Scan(&state)
		if err != nil {
			return notFound(err, issueNotFound(number))
		}
		if state != string(agentorg.IssueClosed) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tracker_issues SET state = 'open', closed_by = '', closed_at = '', updated_at = ?
			WHERE number = ?`, t.nowText(), number); err != nil {
			return fmt.Errorf("issue #%d: reopen: %w", number, err)
		}
		return nil
	})
}

// UpdateLabels applies add then remove in one transaction, recording one
// label event per actual change (adds first, then removes, each in argument
// order). A label both added and removed, or an empty label name, is refused.
// Closed issues may be relabelled.
func (t *Tracker) UpdateLabels(ctx context.Context, number int64, add, remove []string, actor string) (agentorg.Issue, error) {
	add, err := cleanLabels(add)
	if err != nil {
		return agentorg.Issue{}, fmt.Errorf("issue #%d: update labels: %w", number, err)
	}
	remove, err = cleanLabels(remove)
	if err != nil {
		return agentorg.Issue{}, fmt.Errorf("issue #%d: update labels: %w", number, err)
	}
	for _, l := range add {
		for _, r := range remove {
			if l == r {
				return agentorg.Issue{}, fmt.Errorf("issue #%d: update labels: %q is both added and removed", number, l)
			}
		}
	}
	var out agentorg.Issue
	err = t.write(ctx, func(tx *sql.Tx) error {
		if err := issueExists(ctx, tx, number); err != nil {
			return err
		}
		present := map[string]bool{}
		var lastPos int64
		rows, err := tx.QueryContext(ctx, "SELECT label, position FROM tracker_issue_labels WHERE issue = ?", number)
		if err != nil {
			return fmt.Errorf("issue #%d: update labels: %w", number, err)
		}
		for rows.Next() {
			var l string
			var pos int64
			if err := rows.Scan(&l, &pos); err != nil {
				rows.Close()
				return fmt.Errorf("issue #%d: update labels: %w", number, err)
			}
			present[l] = true
			lastPos = max(lastPos, pos)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("issue #%d: update labels: %w", number, err)
		}

		// Events are recorded adds first, then removes, each in argument order.
		now := t.nowText()
		changed := false
		for _, l := range add {
			if present[l] {
				continue
			}
			lastPos++
			if err := addLabel(ctx, tx, number, l, lastPos, actor, now); err != nil {
				return err
			}
			changed = true
		}
		for _, l := range remove {
			if !present[l] {
				continue
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM tracker_issue_labels WHERE issue = ? AND label = ?", number, l); err != nil {
				return fmt.Errorf("issue #%d: remove label %q: %w", number, l, err)
			}
			if err := labelEvent(ctx, tx, number, l, agentorg.LabelRemoved, actor, now); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			if err := touchIssue(ctx, tx, number, now); err != nil {
				return err
			}
		}
		out, err = loadIssue(ctx, tx, number)
		return err
	})
	return out, err
}

func touchIssue(ctx context.Context, tx *sql.Tx, n int64, now string) error {
	if _, err := tx.ExecContext(ctx, "UPDATE tracker_issues SET updated_at = ? WHERE number = ?", now, n); err != nil {
		return fmt.Errorf("issue #%d: %w", n, err)
	}
	return nil
}

// LabelEvents lists the label events of an issue, oldest first.
func (t *Tracker) LabelEvents(ctx context.Context, number int64) ([]agentorg.LabelEvent, error) {
	out := []agentorg.LabelEvent{}
	err := t.read(ctx, func(tx *sql.Tx) error {
		if err := issueExists(ctx, tx, number); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, issue, label, action, actor, at FROM tracker_label_events
			WHERE issue = ? ORDER BY id`, number)
		if err != nil {
			return fmt.Errorf("issue #%d: label events: %w", number, err)
		}
		defer rows.Close()
		for rows.Next() {
			var e agentorg.LabelEvent
			var action, at string
			if err := rows.Scan(&e.ID, &e.Issue, &e.Label, &action, &e.Actor, &at); err != nil {
				return fmt.Errorf("issue #%d: label events: %w", number, err)
			}
			e.Action = agentorg.LabelAction(action)
			if e.At, err = parseTime(at); err != nil {
				return fmt.Errorf("issue #%d: label events: %w", number, err)
			}
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("issue #%d: label events: %w", number, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
