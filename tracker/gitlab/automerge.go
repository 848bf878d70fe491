package gitlab

import (
	"context"
	"fmt"
	"net/http"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

var _ agentorg.AutoMerger = (*Tracker)(nil)

// AutoMergeMR sets GitLab's auto-merge on a merge request: PUT .../merge
// with auto_merge (GitLab 17.11+) and merge_when_pipeline_succeeds (its
// older name, still honoured) and the sha guard. GitLab answers with the
// merge request, open with merge_when_pipeline_succeeds set while it waits
// for the pipeline.
//
// Trap: GitLab merges at once when the head has no running pipeline (none
// yet, or one that already failed) unless the project requires pipelines to
// succeed. Callers ask only while a pipeline is running on expectedSHA.
func (t *Tracker) AutoMergeMR(ctx context.Context, number int64, expectedSHA, actor string) (agentorg.MergeRequest, error) {
	m, err := t.MR(ctx, number)
	if err != nil {
		return m, err
	}
	switch {
	case m.State == agentorg.MRMerged:
		return m, nil
	case m.State != agentorg.MROpen:
		return agentorg.MergeRequest{}, notOpen(m)
	case m.HeadSHA != expectedSHA:
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: head is %s, expected %q: %w", number, m.HeadSHA, expectedSHA, agentorg.ErrHeadMoved)
	case m.AutoMerge:
		return m, nil
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	msg := fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\nMerge request !%d", m.SourceBranch, m.TargetBranch, m.Title, number)
	g, _, err := t.c.MergeRequests.AcceptMergeRequest(t.project, number, &gl.AcceptMergeRequestOptions{
		SHA: &expectedSHA, AutoMerge: ptr(true), MergeWhenPipelineSucceeds: ptr(true), MergeCommitMessage: &msg,
	}, opts...)
	switch status(err) {
	case 0:
	case http.StatusConflict:
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d at %s: %v: %w", number, expectedSHA, err, agentorg.ErrHeadMoved)
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnprocessableEntity:
		cur, _, gerr := t.c.MergeRequests.GetMergeRequest(t.project, number, nil, gl.WithContext(ctx))
		if gerr == nil && (cur.HasConflicts || cur.DetailedMergeStatus == "conflict") {
			return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: %v: %w", number, err, agentorg.ErrConflict)
		}
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: auto-merge refused: %v: %w", number, err, agentorg.ErrNotMergeable)
	default:
		return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: set auto-merge", number))
	}
	out := t.mr(ctx, &g.BasicMergeRequest)
	return out, t.approvals(ctx, &out)
}

// CancelAutoMerge withdraws GitLab's auto-merge
// (POST .../cancel_merge_when_pipeline_succeeds). A merge request that has
// none, or is no longer open, is returned as it is.
func (t *Tracker) CancelAutoMerge(ctx context.Context, number int64, actor string) (agentorg.MergeRequest, error) {
	m, err := t.MR(ctx, number)
	if err != nil || !m.AutoMerge {
		return m, err
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	_, _, err = t.c.MergeRequests.CancelMergeWhenPipelineSucceeds(t.project, number, opts...)
	if err != nil && status(err) != http.StatusNotAcceptable { // 406: already not set
		return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: cancel auto-merge", number))
	}
	return t.MR(ctx, number)
}
