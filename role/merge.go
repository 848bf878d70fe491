package role

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// merge merges the issue's merge request once an allowed human approved it
// at the head that was validated, guarded by that SHA, then closes the issue.
type merge struct{}

func (merge) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	mr, err := IssueMR(ctx, d.Tracker, n)
	if err != nil {
		return Outcome{}, err
	}
	if mr.State != agentorg.MRMerged {
		a, ok, err := d.Log.LastAttempt(ctx, n)
		if err != nil {
			return Outcome{}, err
		}
		if !ok || a.Verdict != eventlog.GO {
			return escalate(ctx, d, r, fmt.Sprintf("merge request !%d has no GO from validation; refusing to merge", mr.Number))
		}
		// Merge exactly what was validated, on top of the target as it is
		// now; otherwise validation runs again (and a human reviews again).
		why, err := staleGO(ctx, d, n, a)
		if err != nil {
			return Outcome{}, err
		}
		if why != "" {
			vs := d.Workflow.StagesWithRole(agentorg.RoleValidator)
			if len(vs) == 0 {
				return escalate(ctx, d, r, why+"; no validate stage to run again")
			}
			return Outcome{To: vs[0].On, Reason: why + ": validating again before merging"}, nil
		}
		gate := d.Workflow.GateApproving(r.Stage.On)
		if gate != nil && !ApprovedByAllowed(mr, gate.Approvers, d.Workflow.Tracker.Bot) {
			return escalate(ctx, d, r, fmt.Sprintf("merge request !%d has no approval at its head by an allowed approver", mr.Number))
		}
		merged, err := d.Tracker.MergeMR(ctx, mr.Number, a.CommitSHA, d.Workflow.Tracker.Bot)
		if errors.Is(err, agentorg.ErrHeadMoved) || errors.Is(err, agentorg.ErrConflict) || errors.Is(err, agentorg.ErrNotMergeable) {
			return escalate(ctx, d, r, fmt.Sprintf("merge of !%d refused: %v", mr.Number, err))
		}
		if err != nil {
			return Outcome{}, err
		}
		mr = merged
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindMerge,
			Reason: fmt.Sprintf("merged !%d at %s into %s", mr.Number, short(a.CommitSHA), mr.TargetBranch),
			Data:   map[string]string{"mr": fmt.Sprint(mr.Number), "merge_sha": mr.MergeSHA}})
	}
	if err := d.Tracker.CloseIssue(ctx, n, d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	// The branch is merged: its worktree and local branch have served
	// their purpose (the merge request keeps the branch on the origin).
	if err := d.Mirror.RemoveWorktree(ctx, WorktreePath(d.Home, n)); err != nil {
		return Outcome{}, err
	}
	if err := d.Mirror.DeleteBranch(ctx, Branch(d.Workflow, n)); err != nil {
		return Outcome{}, err
	}
	return Outcome{Reason: fmt.Sprintf("merged !%d as %s; issue closed", mr.Number, short(mr.MergeSHA))}, nil
}

// IssueMR returns the newest merge request of an issue that is open or merged.
func IssueMR(ctx context.Context, t agentorg.Tracker, issue int64) (agentorg.MergeRequest, error) {
	mrs, err := t.ListMRs(ctx, agentorg.MRFilter{Issue: issue})
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	for i := len(mrs) - 1; i >= 0; i-- {
		if mrs[i].State != agentorg.MRClosed {
			return mrs[i], nil
		}
	}
	return agentorg.MergeRequest{}, fmt.Errorf("issue #%d has no open merge request: %w", issue, agentorg.ErrNotFound)
}

// ApprovedByAllowed reports whether an allowed human (never the bot)
// approved the merge request at its current head.
func ApprovedByAllowed(mr agentorg.MergeRequest, approvers []string, bot string) bool {
	for _, a := range mr.ApprovedAtHead() {
		if a.User != bot && slices.Contains(approvers, a.User) {
			return true
		}
	}
	return false
}
