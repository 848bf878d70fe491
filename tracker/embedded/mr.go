package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agentorg/agentorg"
)

const mrColumns = `number, COALESCE(issue, 0), title, description, source_branch, target_branch, head_sha,
	state, merge_sha, merged_by, author, created_at, updated_at`

func scanMR(s scanner) (agentorg.MergeRequest, error) {
	var (
		m                agentorg.MergeRequest
		state            string
		created, updated string
	)
	err := s.Scan(&m.Number, &m.Issue, &m.Title, &m.Description, &m.SourceBranch, &m.TargetBranch, &m.HeadSHA,
		&state, &m.MergeSHA, &m.MergedBy, &m.Author, &created, &updated)
	if err != nil {
		return m, err
	}
	m.State = agentorg.MRState(state)
	if m.CreatedAt, err = parseTime(created); err != nil {
		return m, err
	}
	if m.UpdatedAt, err = parseTime(updated); err != nil {
		return m, err
	}
	m.Approvals = []agentorg.Approval{}
	return m, nil
}

// scanApprovals appends the approvals of rows (mr, user, sha, at) to the merge
// requests they belong to.
func scanApprovals(rows *sql.Rows, mrs []agentorg.MergeRequest, index map[int64]int) error {
	defer rows.Close()
	for rows.Next() {
		var n int64
		var a agentorg.Approval
		var at string
		if err := rows.Scan(&n, &a.User, &a.SHA, &at); err != nil {
			return err
		}
		var err error
		if a.At, err = parseTime(at); err != nil {
			return err
		}
		if i, ok := index[n]; ok {
			mrs[i].Approvals = append(mrs[i].Approvals, a)
		}
	}
	return rows.Err()
}

func loadMR(ctx context.Context, tx *sql.Tx, n int64) (agentorg.MergeRequest, error) {
	m, err := scanMR(tx.QueryRowContext(ctx, "SELECT "+mrColumns+" FROM tracker_merge_requests WHERE number = ?", n))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return m, mrNotFound(n)
		}
		return m, fmt.Errorf("merge request !%d: %w", n, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT mr, "user", sha, at FROM tracker_mr_approvals WHERE mr = ? ORDER BY id`, n)
	if err != nil {
		return m, fmt.Errorf("merge request !%d: approvals: %w", n, err)
	}
	mrs := []agentorg.MergeRequest{m}
	if err := scanApprovals(rows, mrs, map[int64]int{n: 0}); err != nil {
		return m, fmt.Errorf("merge request !%d: approvals: %w", n, err)
	}
	return mrs[0], nil
}

// MR returns merge request number with all its approvals, oldest first.
func (t *Tracker) MR(ctx context.Context, number int64) (agentorg.MergeRequest, error) {
	var out agentorg.MergeRequest
	err := t.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = loadMR(ctx, tx, number)
		return err
	})
	return out, err
}

// CreateMR returns the open merge request from the same source into the same
// target unchanged if there is one (whatever in says), else opens a new one.
// A non-zero in.Issue must exist.
func (t *Tracker) CreateMR(ctx context.Context, in agentorg.NewMR) (agentorg.MergeRequest, error) {
	switch {
	case in.SourceBranch == "" || in.TargetBranch == "" || in.HeadSHA == "":
		return agentorg.MergeRequest{}, fmt.Errorf("create merge request: source branch, target branch and head SHA are required (got %q, %q, %q)",
			in.SourceBranch, in.TargetBranch, in.HeadSHA)
	case in.SourceBranch == in.TargetBranch:
		return agentorg.MergeRequest{}, fmt.Errorf("create merge request: source and target are both %q", in.SourceBranch)
	}
	var out agentorg.MergeRequest
	err := t.write(ctx, func(tx *sql.Tx) error {
		var n int64
		err := tx.QueryRowContext(ctx, `SELECT number FROM tracker_merge_requests
			WHERE source_branch = ? AND target_branch = ? AND state = 'opened'`, in.SourceBranch, in.TargetBranch).Scan(&n)
		if err == nil {
			out, err = loadMR(ctx, tx, n)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("create merge request: %w", err)
		}
		var issue any // NULL when the merge request belongs to no issue
		if in.Issue != 0 {
			if err := issueExists(ctx, tx, in.Issue); err != nil {
				return fmt.Errorf("create merge request: %w", err)
			}
			issue = in.Issue
		}
		now := t.nowText()
		err = tx.QueryRowContext(ctx, `INSERT INTO tracker_merge_requests
			(issue, title, description, source_branch, target_branch, head_sha, state, author, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 'opened', ?, ?, ?) RETURNING number`,
			issue, in.Title, in.Description, in.SourceBranch, in.TargetBranch, in.HeadSHA, in.Author, now, now).Scan(&n)
		if err != nil {
			return fmt.Errorf("create merge request: %w", err)
		}
		out, err = loadMR(ctx, tx, n)
		return err
	})
	return out, err
}

// ListMRs lists the merge requests f selects, ordered by number.
func (t *Tracker) ListMRs(ctx context.Context, f agentorg.MRFilter) ([]agentorg.MergeRequest, error) {
	where, args := "", []any{}
	and := func(cond string, arg any) {
		if where == "" {
			where = " WHERE " + cond
		} else {
			where += " AND " + cond
		}
		args = append(args, arg)
	}
	switch f.State {
	case "":
	case agentorg.MROpen, agentorg.MRMerged, agentorg.MRClosed:
		and("state = ?", string(f.State))
	default:
		return nil, fmt.Errorf("list merge requests: unknown state %q", f.State)
	}
	if f.Issue != 0 {
		and("issue = ?", f.Issue)
	}
	if f.SourceBranch != "" {
		and("source_branch = ?", f.SourceBranch)
	}
	if f.TargetBranch != "" {
		and("target_branch = ?", f.TargetBranch)
	}
	return t.listMRs(ctx, where, args)
}

// listMRs lists the merge requests a WHERE clause selects, by number, with
// their approvals.
func (t *Tracker) listMRs(ctx context.Context, where string, args []any) ([]agentorg.MergeRequest, error) {
	out := []agentorg.MergeRequest{}
	err := t.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+mrColumns+" FROM tracker_merge_requests"+where+" ORDER BY number", args...)
		if err != nil {
			return fmt.Errorf("list merge requests: %w", err)
		}
		defer rows.Close()
		index := map[int64]int{}
		for rows.Next() {
			m, err := scanMR(rows)
			if err != nil {
				return fmt.Errorf("list merge requests: %w", err)
			}
			index[m.Number] = len(out)
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list merge requests: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		arows, err := tx.QueryContext(ctx, `SELECT mr, "user", sha, at FROM tracker_mr_approvals
			WHERE mr IN (SELECT number FROM tracker_merge_requests`+where+`) ORDER BY id`, args...)
		if err != nil {
			return fmt.Errorf("list merge requests: approvals: %w", err)
		}
		if err := scanApprovals(arows, out, index); err != nil {
			return fmt.Errorf("list merge requests: approvals: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// notOpen is the error for a change to a merge request that is merged or closed.
func notOpen(m agentorg.MergeRequest) error {
	return fmt.Errorf("merge request !%d is %s: %w", m.Number, m.State, agentorg.ErrNotMergeable)
}

func touchMR(ctx context.Context, tx *sql.Tx, n int64, now string) error {
	if _, err := tx.ExecContext(ctx, "UPDATE tracker_merge_requests SET updated_at = ? WHERE number = ?", now, n); err != nil {
		return fmt.Errorf("merge request !%d: %w", n, err)
	}
	return nil
}

// SetMRHead records sha as the head of an open merge request. Approvals given
// at earlier heads stay stored but no longer count (ApprovedAtHead).
func (t *Tracker) SetMRHead(ctx context.Context, number int64, sha string) (agentorg.MergeRequest, error) {
	if sha == "" {
		return agentorg.MergeRequest{}, fmt.Errorf("merge request !%d: set head: empty SHA", number)
	}
	var out agentorg.MergeRequest
	err := t.write(ctx, func(tx *sql.Tx) error {
		m, err := loadMR(ctx, tx, number)
		if err != nil {
			return err
		}
		if m.HeadSHA == sha {
			out = m
			return nil
		}
		if m.State != agentorg.MROpen {
			return notOpen(m)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tracker_merge_requests SET head_sha = ?, updated_at = ? WHERE number = ?",
			sha, t.nowText(), number); err != nil {
			return fmt.Errorf("merge request !%d: set head: %w", number, err)
		}
		out, err = loadMR(ctx, tx, number)
		return err
	})
	return out, err
}

// ApproveMR records user's approval at the current head; approving again at
// the same head changes nothing.
func (t *Tracker) ApproveMR(ctx context.Context, number int64, user string) (agentorg.MergeRequest, error) {
	if user == "" {
		return agentorg.MergeRequest{}, fmt.Errorf("merge request !%d: approve: empty user", number)
	}
	var out agentorg.MergeRequest
	err := t.write(ctx, func(tx *sql.Tx) error {
		m, err := loadMR(ctx, tx, number)
		if err != nil {
			return err
		}
		for _, a := range m.ApprovedAtHead() {
			if a.User == user {
				out = m
				return nil
			}
		}
		if m.State != agentorg.MROpen {
			return notOpen(m)
		}
		now := t.nowText()
		if _, err := tx.ExecContext(ctx, `INSERT INTO tracker_mr_approvals (mr, "user", sha, at) VALUES (?, ?, ?, ?)`,
			number, user, m.HeadSHA, now); err != nil {
			return fmt.Errorf("merge request !%d: approve: %w", number, err)
		}
		if err := touchMR(ctx, tx, number, now); err != nil {
			return err
		}
		out, err = loadMR(ctx, tx, number)
		return err
	})
	return out, err
}

// UnapproveMR removes every approval user gave, at any head.
func (t *Tracker) UnapproveMR(ctx context.Context, number int64, user string) (agentorg.MergeRequest, error) {
	var out agentorg.MergeRequest
	err := t.write(ctx, func(tx *sql.Tx) error {
		m, err := loadMR(ctx, tx, number)
		if err != nil {
			return err
		}
		approved := false
		for _, a := range m.Approvals {
			approved = approved || a.User == user
		}
		if !approved {
			out = m
			return nil
		}
		if m.State != agentorg.MROpen {
			return notOpen(m)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tracker_mr_approvals WHERE mr = ? AND "user" = ?`, number, user); err != nil {
			return fmt.Errorf("merge request !%d: unapprove: %w", number, err)
		}
		if err := touchMR(ctx, tx, number, t.nowText()); err != nil {
			return err
		}
		out, err = loadMR(ctx, tx, number)
		return err
	})
	return out, err
}

// MergeMR merges an open merge request whose head is expectedSHA through
// Options.Merge and records the merge. A merged request is returned unchanged
// whatever expectedSHA is. Errors from Options.Merge (ErrHeadMoved,
// ErrConflict) are wrapped and the request stays open.
func (t *Tracker) MergeMR(ctx context.Context, number int64, expectedSHA, actor string) (agentorg.MergeRequest, error) {
	return t.MergeMRAt(ctx, number, expectedSHA, "", actor)
}

// MergeMRAt is MergeMR onto expectedTarget only: when the target branch is
// at another commit it merges nothing and returns agentorg.ErrTargetMoved.
// An empty expectedTarget is MergeMR.
func (t *Tracker) MergeMRAt(ctx context.Context, number int64, expectedSHA, expectedTarget, actor string) (agentorg.MergeRequest, error) {
	var do func(agentorg.MergeRequest, string) (string, error)
	if t.merge != nil {
		do = func(m agentorg.MergeRequest, msg string) (string, error) {
			return t.merge(ctx, m.SourceBranch, m.TargetBranch, expectedSHA, expectedTarget, msg)
		}
	}
	return t.mergeWith(ctx, number, expectedSHA, actor, "merge into (Options.Merge is nil)", do)
}

// LandMR is MergeMRAt landing commit, a merge commit the caller built on
// expectedTarget and validated (a merge train's), through Options.Land.
func (t *Tracker) LandMR(ctx context.Context, number int64, expectedSHA, expectedTarget, commit, actor string) (agentorg.MergeRequest, error) {
	var do func(agentorg.MergeRequest, string) (string, error)
	if t.land != nil {
		do = func(m agentorg.MergeRequest, msg string) (string, error) {
			return t.land(ctx, m.SourceBranch, m.TargetBranch, expectedSHA, expectedTarget, commit, msg)
		}
	}
	return t.mergeWith(ctx, number, expectedSHA, actor, "land merges in (Options.Land is nil)", do)
}

// mergeWith checks that the request is open at expectedSHA, runs the git
// side through do, and records the merge. An already merged request is
// returned as it is; otherwise a nil do is an error: the tracker has no
// repository to do it in (what says what is missing).
func (t *Tracker) mergeWith(ctx context.Context, number int64, expectedSHA, actor, what string, do func(m agentorg.MergeRequest, message string) (string, error)) (agentorg.MergeRequest, error) {
	m, err := t.MR(ctx, number)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	if m.State == agentorg.MRMerged {
		return m, nil
	}
	if m.State != agentorg.MROpen {
		return agentorg.MergeRequest{}, notOpen(m)
	}
	if m.HeadSHA != expectedSHA {
		return agentorg.MergeRequest{}, fmt.Errorf("merge request !%d: head is %s, expected %s: %w", number, m.HeadSHA, expectedSHA, agentorg.ErrHeadMoved)
	}
	if do == nil {
		return agentorg.MergeRequest{}, fmt.Errorf("merge request !%d: the embedded tracker has no repository to %s", number, what)
	}

	// The git merge runs outside any transaction: it can take a while and
	// must not hold SQLite's write lock meanwhile. It is idempotent, so a
	// concurrent MergeMR of the same request gets the same merge commit, and
	// a retry after a crash between git and the record below completes it.
	mergeSHA, err := do(m, agentorg.MergeMessage(m.SourceBranch, m.TargetBranch, m.Title, number))
	if err != nil {
		return agentorg.MergeRequest{}, fmt.Errorf("merge request !%d: merge %s into %s: %w", number, m.SourceBranch, m.TargetBranch, err)
	}
	if mergeSHA == "" {
		return agentorg.MergeRequest{}, fmt.Errorf("merge request !%d: merge %s into %s returned no merge commit", number, m.SourceBranch, m.TargetBranch)
	}

	var out agentorg.MergeRequest
	err = t.write(ctx, func(tx *sql.Tx) error {
		cur, err := loadMR(ctx, tx, number)
		if err != nil {
			return err
		}
		if cur.State == agentorg.MRMerged { // a concurrent MergeMR recorded it first
			out = cur
			return nil
		}
		// The branch is in the target now whatever happened to the record
		// meanwhile, so record the merge; the head is what was merged, even
		// if a later push was recorded while git ran.
		if _, err := tx.ExecContext(ctx, `UPDATE tracker_merge_requests
			SET state = 'merged', head_sha = ?, merge_sha = ?, merged_by = ?, updated_at = ? WHERE number = ?`,
			expectedSHA, mergeSHA, actor, t.nowText(), number); err != nil {
			return fmt.Errorf("merge request !%d: record merge %s: %w", number, mergeSHA, err)
		}
		out, err = loadMR(ctx, tx, number)
		return err
	})
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	return out, nil
}
