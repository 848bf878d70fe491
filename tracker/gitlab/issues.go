package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

// The issue copy: every issue of the project as last read, and the
// watermark (the latest updated_at seen) of each project; and the
// watermark of the merge requests the engine's poll last asked about.
const schema = `
CREATE TABLE IF NOT EXISTS gitlab_issues (
	project    TEXT NOT NULL,
	iid        INTEGER NOT NULL,
	updated_at TEXT NOT NULL,
	doc        TEXT NOT NULL,
	PRIMARY KEY (project, iid)
);
CREATE TABLE IF NOT EXISTS gitlab_pending_checks (
	project TEXT NOT NULL,
	sha     TEXT NOT NULL,
	name    TEXT NOT NULL,
	doc     TEXT NOT NULL,
	PRIMARY KEY (project, sha, name)
);
CREATE TABLE IF NOT EXISTS gitlab_sync (
	project   TEXT PRIMARY KEY,
	watermark TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gitlab_mr_sync (
	project   TEXT PRIMARY KEY,
	watermark TEXT NOT NULL
);`

// migrate creates the tables in a write transaction: trackers that start
// together on one PostgreSQL database take turns (two concurrent CREATE
// TABLE IF NOT EXISTS can collide there).
func (t *Tracker) migrate(ctx context.Context) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("gitlab: create the issue copy's tables: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("gitlab: create the issue copy's tables: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("gitlab: create the issue copy's tables: %w", err)
	}
	return nil
}

// timeText sorts like the time (fixed width, UTC).
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func (t *Tracker) issue(ctx context.Context, g *gl.Issue) agentorg.Issue {
	is := agentorg.Issue{
		Number: g.IID, Title: g.Title, Body: g.Description, State: agentorg.IssueOpen,
		Labels: slices.Clone([]string(g.Labels)), CreatedAt: tm(g.CreatedAt), UpdatedAt: tm(g.UpdatedAt),
	}
	if is.Labels == nil {
		is.Labels = []string{}
	}
	if g.State == "closed" {
		is.State = agentorg.IssueClosed
	}
	if g.Author != nil {
		is.Author = t.name(ctx, g.Author.Username)
	}
	return is
}

// remember stores an issue in the copy unless the copy holds a newer read.
func (t *Tracker) remember(ctx context.Context, is agentorg.Issue) error {
	doc, err := json.Marshal(is)
	if err != nil {
		return err
	}
	_, err = t.db.ExecContext(ctx, `INSERT INTO gitlab_issues (project, iid, updated_at, doc) VALUES (?, ?, ?, ?)
		ON CONFLICT (project, iid) DO UPDATE SET updated_at = excluded.updated_at, doc = excluded.doc
		WHERE excluded.updated_at >= gitlab_issues.updated_at`,
		t.project, is.Number, timeText(is.UpdatedAt), string(doc))
	if err != nil {
		return fmt.Errorf("gitlab: remember issue #%d: %w", is.Number, err)
	}
	return nil
}

// sync brings the issue copy up to date: one request for everything updated
// since the watermark minus the overlap (more pages only when that much
// changed), whatever the number of open issues. The watermark is the server's
// clock (the Date of the first answer) when the last complete sync began, so
// an idle project costs one request with an empty page; the overlap covers
// GitLab's whole-second filters and changes committed while a sync ran.
func (t *Tracker) sync(ctx context.Context) error {
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	watermark, err := t.readMark(ctx, issueMarks)
	if err != nil {
		return err
	}
	opt := &gl.ListProjectIssuesOptions{
		ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
		Scope:       ptr("all"), OrderBy: ptr("updated_at"), Sort: ptr("asc"),
	}
	if !watermark.IsZero() {
		opt.UpdatedAfter = ptr(watermark.Add(-t.overlap))
	}
	newest := watermark
	first := true
	for {
		page, resp, err := t.c.Issues.ListProjectIssues(t.project, opt, gl.WithContext(ctx))
		if err != nil {
			return wrap(err, "gitlab: list issues")
		}
		if first {
			first = false
			if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil && d.After(newest) {
				newest = d.UTC()
			}
		}
		for _, g := range page {
			is := t.issue(ctx, g)
			if err := t.remember(ctx, is); err != nil {
				return err
			}
			if is.UpdatedAt.After(newest) {
				newest = is.UpdatedAt
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if newest.After(watermark) {
		return t.storeMark(ctx, issueMarks, newest)
	}
	return nil
}

// ListIssues brings the copy up to date and selects from it, by number.
func (t *Tracker) ListIssues(ctx context.Context, f agentorg.IssueFilter) ([]agentorg.Issue, error) {
	if err := t.sync(ctx); err != nil {
		return nil, err
	}
	rows, err := t.db.QueryContext(ctx, "SELECT doc FROM gitlab_issues WHERE project = ? AND updated_at >= ? ORDER BY iid",
		t.project, timeText(f.UpdatedAfter))
	if err != nil {
		return nil, fmt.Errorf("gitlab: read the issue copy: %w", err)
	}
	defer rows.Close()
	out := []agentorg.Issue{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var is agentorg.Issue
		if err := json.Unmarshal([]byte(doc), &is); err != nil {
			return nil, fmt.Errorf("gitlab: issue copy: %w", err)
		}
		if f.State != "" && is.State != f.State {
			continue
		}
		if len(f.AnyLabel) > 0 && !slices.ContainsFunc(f.AnyLabel, is.HasLabel) {
			continue
		}
		if !f.UpdatedAfter.IsZero() && is.UpdatedAt.Before(f.UpdatedAfter) {
			continue
		}
		out = append(out, is)
	}
	return out, rows.Err()
}

// Issue reads one issue from GitLab (never the copy: callers act on it).
func (t *Tracker) Issue(ctx context.Context, number int64) (agentorg.Issue, error) {
	g, _, err := t.c.Issues.GetIssue(t.project, number, gl.WithContext(ctx))
	if err != nil {
		return agentorg.Issue{}, wrap(err, fmt.Sprintf("gitlab: issue #%d", number))
	}
	is := t.issue(ctx, g)
	return is, t.remember(ctx, is)
}

// CreateIssue opens an issue as in.Author.
func (t *Tracker) CreateIssue(ctx context.Context, in agentorg.NewIssue) (agentorg.Issue, error) {
	if in.Title == "" {
		return agentorg.Issue{}, errors.New("gitlab: create issue: the title is empty")
	}
	if err := checkLabels(in.Labels); err != nil {
		return agentorg.Issue{}, fmt.Errorf("gitlab: create issue: %w", err)
	}
	opts, err := t.as(ctx, in.Author)
	if err != nil {
		return agentorg.Issue{}, err
	}
	o := &gl.CreateIssueOptions{Title: &in.Title, Description: &in.Body}
	if len(in.Labels) > 0 {
		o.Labels = ptr(gl.LabelOptions(in.Labels))
	}
	g, _, err := t.c.Issues.CreateIssue(t.project, o, opts...)
	if err != nil {
		return agentorg.Issue{}, wrap(err, "gitlab: create issue")
	}
	is := t.issue(ctx, g)
	return is, t.remember(ctx, is)
}

// CloseIssue closes an open issue; closing a closed one changes nothing.
func (t *Tracker) CloseIssue(ctx context.Context, number int64, actor string) error {
	is, err := t.Issue(ctx, number)
	if err != nil {
		return err
	}
	if is.State == agentorg.IssueClosed {
		return nil
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return err
	}
	g, _, err := t.c.Issues.UpdateIssue(t.project, number, &gl.UpdateIssueOptions{StateEvent: ptr("close")}, opts...)
	if err != nil {
		return wrap(err, fmt.Sprintf("gitlab: close issue #%d", number))
	}
	return t.remember(ctx, t.issue(ctx, g))
}

// ReopenIssue opens a closed issue again; reopening an open one changes
// nothing.
func (t *Tracker) ReopenIssue(ctx context.Context, number int64, actor string) error {
	is, err := t.Issue(ctx, number)
	if err != nil {
		return err
	}
	if is.State != agentorg.IssueClosed {
		return nil
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return err
	}
	g, _, err := t.c.Issues.UpdateIssue(t.project, number, &gl.UpdateIssueOptions{StateEvent: ptr("reopen")}, opts...)
	if err != nil {
		return wrap(err, fmt.Sprintf("gitlab: reopen issue #%d", number))
	}
	return t.remember(ctx, t.issue(ctx, g))
}

// UpdateLabels adds and removes labels in one request. Only real changes are
// sent, so a retry records no events and does not bump UpdatedAt.
func (t *Tracker) UpdateLabels(ctx context.Context, number int64, add, remove []string, actor string) (agentorg.Issue, error) {
	if err := checkLabels(append(slices.Clone(add), remove...)); err != nil {
		return agentorg.Issue{}, fmt.Errorf("gitlab: issue #%d: %w", number, err)
	}
	is, err := t.Issue(ctx, number)
	if err != nil {
		return agentorg.Issue{}, err
	}
	var toAdd, toRemove []string
	for _, l := range add {
		if !is.HasLabel(l) && !slices.Contains(toAdd, l) {
			toAdd = append(toAdd, l)
		}
	}
	for _, l := range remove {
		if is.HasLabel(l) && !slices.Contains(toAdd, l) && !slices.Contains(toRemove, l) {
			toRemove = append(toRemove, l)
		}
	}
	if len(toAdd) == 0 && len(toRemove) == 0 {
		return is, nil
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.Issue{}, err
	}
	o := &gl.UpdateIssueOptions{}
	if len(toAdd) > 0 {
		o.AddLabels = ptr(gl.LabelOptions(toAdd))
	}
	if len(toRemove) > 0 {
		o.RemoveLabels = ptr(gl.LabelOptions(toRemove))
	}
	g, _, err := t.c.Issues.UpdateIssue(t.project, number, o, opts...)
	if err != nil {
		return agentorg.Issue{}, wrap(err, fmt.Sprintf("gitlab: issue #%d: update labels", number))
	}
	is = t.issue(ctx, g)
	return is, t.remember(ctx, is)
}

// LabelEvents lists resource_label_events, oldest first, the token's own
// account named as the bot. Events of a label deleted since have no name and
// are left out.
func (t *Tracker) LabelEvents(ctx context.Context, number int64) ([]agentorg.LabelEvent, error) {
	// Approvals are judged from these actors: the bot's own account must be
	// recognised, so not knowing it is an error, not a guess.
	if _, err := t.tokenUser(ctx); err != nil {
		return nil, err
	}
	opt := &gl.ListLabelEventsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	out := []agentorg.LabelEvent{}
	for {
		page, resp, err := t.c.ResourceLabelEvents.ListIssueLabelEvents(t.project, number, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(err, fmt.Sprintf("gitlab: issue #%d: label events", number))
		}
		for _, e := range page {
			if e.Label.Name == "" {
				continue
			}
			action := agentorg.LabelAdded
			if e.Action == "remove" {
				action = agentorg.LabelRemoved
			}
			out = append(out, agentorg.LabelEvent{ID: e.ID, Issue: number, Label: e.Label.Name, Action: action,
				Actor: t.name(ctx, e.User.Username), At: tm(e.CreatedAt)})
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
