package gitlab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

var _ agentorg.MRChanges = (*Tracker)(nil)

// ChangedMRs asks GitLab once for the merge requests updated since the
// previous call began (by GitLab's clock: the Date of its first answer),
// minus the overlap: its filters are whole seconds and inclusive, and a
// note moves a merge request's updated_at at most once a minute
// (ThrottledTouch), so a change is reported again on the calls of the
// following minute. Any state is asked for, so that a merge is seen. The
// first call asks for the open ones only: a project's history is never
// paged through. Approvals are not read.
func (t *Tracker) ChangedMRs(ctx context.Context) ([]agentorg.MergeRequest, error) {
	t.mrSyncMu.Lock()
	defer t.mrSyncMu.Unlock()
	mark, err := t.readMark(ctx, mrMarks)
	if err != nil {
		return nil, err
	}
	opt := &gl.ListProjectMergeRequestsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
		OrderBy: ptr("updated_at"), Sort: ptr("asc")}
	if mark.IsZero() {
		opt.State = ptr("opened")
	} else {
		opt.UpdatedAfter = ptr(mark.Add(-t.overlap))
	}
	newest := mark
	out := []agentorg.MergeRequest{}
	for {
		page, resp, err := t.c.MergeRequests.ListProjectMergeRequests(t.project, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(err, "gitlab: list changed merge requests")
		}
		if opt.Page == 1 {
			if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil && d.After(newest) {
				newest = d.UTC()
			}
		}
		for _, g := range page {
			m := t.mr(ctx, g)
			if m.UpdatedAt.After(newest) {
				newest = m.UpdatedAt
			}
			out = append(out, m)
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if newest.After(mark) {
		if err := t.storeMark(ctx, mrMarks, newest); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// The watermarks: of the issue copy, and of the merge requests the
// engine's poll asked about (the table each is kept in).
const (
	issueMarks = "gitlab_sync"
	mrMarks    = "gitlab_mr_sync"
)

// readMark reads a watermark: when the last complete sync began, by
// GitLab's clock; zero before the first.
func (t *Tracker) readMark(ctx context.Context, table string) (time.Time, error) {
	var mark string
	err := t.db.QueryRowContext(ctx, "SELECT watermark FROM "+table+" WHERE project = ?", t.project).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("gitlab: read the watermark (%s): %w", table, err)
	}
	w, err := time.Parse(time.RFC3339Nano, mark)
	if err != nil {
		return time.Time{}, fmt.Errorf("gitlab: stored watermark %q (%s): %w", mark, table, err)
	}
	return w, nil
}

func (t *Tracker) storeMark(ctx context.Context, table string, at time.Time) error {
	if _, err := t.db.ExecContext(ctx, "INSERT INTO "+table+` (project, watermark) VALUES (?, ?)
		ON CONFLICT (project) DO UPDATE SET watermark = excluded.watermark`, t.project, at.Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("gitlab: store the watermark (%s): %w", table, err)
	}
	return nil
}
