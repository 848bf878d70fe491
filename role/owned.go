package role

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/workspace"
)

// issueWorktree opens issue n's worktree for attempt, first moving aside
// whatever another home left at its place or under its branch name
// (homedir.Owners: a home never reuses work it did not make), and saying
// so in the event log. When another worker holds the issue, this one
// takes it over first (takeOver): tookOver says so, and the attempt then
// starts a new agent session.
func (d *Deps) issueWorktree(ctx context.Context, r *Run, attempt int) (wt *workspace.Worktree, tookOver bool, err error) {
	n := r.Issue.Number
	path, branch := WorktreePath(d.Home, n), d.Workflow.Branch(n)
	if d.Owners != nil {
		if tookOver, err = d.takeOver(ctx, r, attempt); err != nil {
			return nil, false, err
		}
		moved, err := d.Owners.Prepare(ctx, d.Mirror, n, path, branch)
		if err != nil {
			return nil, false, err
		}
		for _, why := range moved {
			_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
				Kind: eventlog.KindHousekeep, Reason: why})
		}
	}
	base, err := d.worktreeBase(ctx, n, attempt)
	if err != nil {
		return nil, false, err
	}
	wt, _, err = d.Mirror.Worktree(ctx, path, branch, base)
	if err != nil {
		return nil, false, err
	}
	if d.Owners != nil {
		if err := d.Owners.Mark(ctx, n, wt.Path); err != nil {
			return nil, false, err
		}
	}
	return wt, tookOver, nil
}

// worktreeBase is where issue n's branch starts when it is made: the
// commit a takeover for attempt restarts from, else the target, or the
// last attempt's work when there is one (an issue whose merged change E2E
// sent back, its worktree removed at the merge: the session's earlier
// edits are there again, and validation merges them onto the target as
// ever).
func (d *Deps) worktreeBase(ctx context.Context, n int64, attempt int) (string, error) {
	if ev, ok, err := takeoverOf(ctx, d, n, attempt); err != nil {
		return "", err
	} else if c := ev.Data["commit"]; ok && c != "" {
		if _, err := d.Mirror.Tree(ctx, c); err == nil {
			return c, nil
		}
	}
	as, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return "", err
	}
	for i := len(as) - 1; i >= 0; i-- {
		if w := as[i].Work(); w != "" {
			if _, err := d.Mirror.Tree(ctx, w); err != nil {
				break // gone from the mirror: start from the target
			}
			return w, nil
		}
	}
	return d.targetRef(), nil
}

// push sets the origin's branch of issue n to sha, unless the origin has a
// branch of that name this home did not push: that is left alone, and the
// stage cannot run until a person moves it (retrying would not help).
func (d *Deps) push(ctx context.Context, n int64, sha string) error {
	branch := d.Workflow.Branch(n)
	if d.Owners != nil {
		err := d.Owners.MayPush(ctx, d.Mirror, n, branch)
		var foreign *homedir.ForeignBranchError
		if errors.As(err, &foreign) {
			return Permanent(err)
		}
		if err != nil {
			return err
		}
	}
	// Leased: the branch must still be where agentorg left it (or absent),
	// so a commit someone pushed there is never overwritten.
	old, found, err := d.Mirror.OriginBranch(ctx, branch)
	if err != nil {
		return err
	}
	if found && old == sha {
		return nil
	}
	if found {
		if why, err := foreignHead(ctx, d, n, old); err != nil {
			return err
		} else if why != "" {
			return Permanent(fmt.Errorf("refusing to push %s: %s", short(sha), why))
		}
	}
	return d.Mirror.PushLeased(ctx, sha, branch, old)
}
