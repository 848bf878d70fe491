package gitlab

import (
	"context"
	"fmt"
	"sync"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

func (t *Tracker) comment(ctx context.Context, issue int64, n *gl.Note) agentorg.Comment {
	return agentorg.Comment{ID: n.ID, Issue: issue, Author: t.name(ctx, n.Author.Username), Body: n.Body,
		CreatedAt: tm(n.CreatedAt), UpdatedAt: tm(n.UpdatedAt)}
}

// Comments lists an issue's notes oldest first, system notes ("added label
// x") left out.
func (t *Tracker) Comments(ctx context.Context, issue int64) ([]agentorg.Comment, error) {
	opt := &gl.ListIssueNotesOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
		OrderBy: ptr("created_at"), Sort: ptr("asc")}
	out := []agentorg.Comment{}
	for {
		page, resp, err := t.c.Notes.ListIssueNotes(t.project, issue, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(err, fmt.Sprintf("gitlab: issue #%d: notes", issue))
		}
		for _, n := range page {
			if !n.System {
				out = append(out, t.comment(ctx, issue, n))
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// AddComment posts a note as actor.
func (t *Tracker) AddComment(ctx context.Context, issue int64, body, actor string) (agentorg.Comment, error) {
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.Comment{}, err
	}
	n, _, err := t.c.Notes.CreateIssueNote(t.project, issue, &gl.CreateIssueNoteOptions{Body: &body}, opts...)
	if err != nil {
		return agentorg.Comment{}, wrap(err, fmt.Sprintf("gitlab: issue #%d: add note", issue))
	}
	return t.comment(ctx, issue, n), nil
}

// UpsertComment updates the note holding Marker(key), or posts one. GitLab
// has no compare-and-swap, so upserts of one key are serialised in this
// process, and a duplicate that still appears (another process, a create
// whose answer was lost and then retried by the engine) is folded into the
// oldest note carrying the marker.
func (t *Tracker) UpsertComment(ctx context.Context, issue int64, key, body, actor string) (agentorg.Comment, error) {
	marker := agentorg.Marker(key)
	if !agentorg.HasMarker(body, key) {
		body = marker + "\n" + body
	}
	mu, _ := t.keyLocks.LoadOrStore(fmt.Sprintf("%d\x00%s", issue, key), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	marked := func() ([]agentorg.Comment, error) {
		all, err := t.Comments(ctx, issue)
		if err != nil {
			return nil, err
		}
		var out []agentorg.Comment
		for _, c := range all {
			if agentorg.HasMarker(c.Body, key) {
				out = append(out, c)
			}
		}
		return out, nil
	}
	found, err := marked()
	if err != nil {
		return agentorg.Comment{}, err
	}
	if len(found) == 0 {
		if _, err := t.AddComment(ctx, issue, body, actor); err != nil {
			return agentorg.Comment{}, err
		}
		if found, err = marked(); err != nil {
			return agentorg.Comment{}, err
		}
		if len(found) == 0 {
			return agentorg.Comment{}, fmt.Errorf("gitlab: issue #%d: the note for %s was created but is not listed", issue, key)
		}
	}
	keep := found[0]
	for _, dup := range found[1:] {
		if _, err := t.c.Notes.DeleteIssueNote(t.project, issue, dup.ID, gl.WithContext(ctx)); err != nil && status(err) != 404 {
			return agentorg.Comment{}, wrap(err, fmt.Sprintf("gitlab: issue #%d: delete duplicate note %d", issue, dup.ID))
		}
	}
	if keep.Body == body {
		return keep, nil
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.Comment{}, err
	}
	n, _, err := t.c.Notes.UpdateIssueNote(t.project, issue, keep.ID, &gl.UpdateIssueNoteOptions{Body: &body}, opts...)
	if err != nil {
		return agentorg.Comment{}, wrap(err, fmt.Sprintf("gitlab: issue #%d: update note %d", issue, keep.ID))
	}
	return t.comment(ctx, issue, n), nil
}
