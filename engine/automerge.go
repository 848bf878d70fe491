package engine

import (
	"context"
	"errors"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/gate"
)

// cancelAutoMerge withdraws a pending GitLab auto-merge of the issue's merge
// request once the approval behind it no longer holds: GitLab would
// otherwise merge it by itself when the pipeline passes.
func (e *Engine) cancelAutoMerge(ctx context.Context, issue int64) error {
	am, ok := e.tracker.(agentorg.AutoMerger)
	if !ok {
		return nil
	}
	mr, err := gate.IssueMR(ctx, e.tracker, e.wf, issue)
	if errors.Is(err, agentorg.ErrNotFound) {
		return nil
	}
	if err != nil || !mr.AutoMerge {
		return err
	}
	_, err = am.CancelAutoMerge(ctx, mr.Number, e.wf.Tracker.Bot)
	return err
}
