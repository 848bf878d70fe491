package embedded

import (
	"context"
	"time"

	"github.com/agentorg/agentorg"
)

var _ agentorg.MRChanges = (*Tracker)(nil)

// mrChangesOverlap is how far before the previous call each ChangedMRs
// reads again: a write that began before the call (another process: the
// CLI) may commit a moment after it.
const mrChangesOverlap = time.Minute

// ChangedMRs returns the merge requests updated since the previous call
// began, minus the overlap; the first call returns the open ones.
func (t *Tracker) ChangedMRs(ctx context.Context) ([]agentorg.MergeRequest, error) {
	t.changesMu.Lock()
	defer t.changesMu.Unlock()
	began := t.now()
	where, args := " WHERE state = ?", []any{string(agentorg.MROpen)}
	if !t.changesMark.IsZero() {
		where, args = " WHERE updated_at >= ?", []any{formatTime(t.changesMark.Add(-mrChangesOverlap))}
	}
	mrs, err := t.listMRs(ctx, where, args)
	if err != nil {
		return nil, err
	}
	t.changesMark = began
	return mrs, nil
}
