package role

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/workflow"
)

// merge merges the issue's merge request once an allowed human approved it
// at the head that was validated, guarded by that SHA, then closes the issue.
type merge struct{}

func (m merge) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	out, err := m.run(ctx, d, r)
	if errors.Is(err, agentorg.ErrTargetBusy) {
		// Nothing is wrong with the change, and what was validated stays
		// validated: the merge waits for the target to take it.
		return Outcome{Wait: true, ForHuman: true, Reason: "the merge waits: " + err.Error(), External: out.External}, nil
	}
	return out, err
}

func (merge) run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
	if err != nil {
		return Outcome{}, err
	}
	if tc, ok := d.Tracker.(agentorg.TargetChecker); ok && mr.State != agentorg.MRMerged {
		// Before any validation or agent run: a target that cannot take
		// the merge now would only have it all done again later.
		if err := tc.CheckTarget(ctx, d.Workflow.Repo.TargetBranch); err != nil {
			return Outcome{}, err
		}
	}
	if mr.State != agentorg.MRMerged {
		// E2E failed on the target and it is closed: only the recovery's
		// changes land. The merge waits; what was validated stays so.
		if why, err := closedTo(ctx, d, n); err != nil || why != "" {
			return Outcome{Wait: true, ForHuman: true, Watch: &Watch{}, Reason: "the merge waits: " + why}, err
		}
	}
	if mr.State != agentorg.MRMerged {
		// Merges take turns; a run whose merge request a train merged
		// meanwhile only finishes the issue, side by side with the others.
		trainMu.Lock()
		defer trainMu.Unlock()
		if mr, err = gate.IssueMR(ctx, d.Tracker, d.Workflow, n); err != nil {
			return Outcome{}, err
		}
	}
	var external time.Duration
	if mr.State == agentorg.MRMerged && r.Stage.AutoMerge {
		// GitLab's auto-merge did it between polls.
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindMerge,
			Reason: fmt.Sprintf("GitLab merged !%d into %s (auto-merge)", mr.Number, mr.TargetBranch),
			Data:   map[string]string{"mr": fmt.Sprint(mr.Number), "merge_sha": mr.MergeSHA, "auto_merge": "merged"}})
	}
	if mr.State != agentorg.MRMerged {
		// Merge every ready merge request at once, this one first; what
		// the train leaves goes through the merge queue below.
		ext, err := runTrain(ctx, d, r)
		external += ext
		if err != nil {
			return Outcome{}, err
		}
		if mr, err = gate.IssueMR(ctx, d.Tracker, d.Workflow, n); err != nil {
			return Outcome{}, err
		}
	}
	if mr.State != agentorg.MRMerged {
		a, ok, err := d.Log.LastAttempt(ctx, n)
		if err != nil {
			return Outcome{}, err
		}
		if ok && a.Agent == eventlog.EngineAgent && a.Verdict == "" {
			// This stage crashed while validating a rebase: finish it.
			ext, err := revalidate(ctx, d, r, &a)
			external += ext
			if err != nil {
				return Outcome{}, err
			}
			if a.Verdict != eventlog.GO {
				out, err := noGo(ctx, d, r, a, validateFailure(d))
				out.External = external
				return out, err
			}
		}
		if !ok || a.Verdict != eventlog.GO {
			return escalate(ctx, d, r, fmt.Sprintf("merge request !%d has no GO from validation; refusing to merge", mr.Number))
		}
		g := d.Workflow.GateApproving(r.Stage.On)
		bot := d.Workflow.Tracker.Bot
		if a.Agent == eventlog.EngineAgent {
			// The merge queue's rebase of the approved change, validated
			// GO. Its commits are new, so the approval of the change
			// before it is void: a human approves this one (which is how
			// this stage runs again) before it merges.
			approved := g == nil
			if !approved && mr.HeadSHA == a.CommitSHA {
				if approved, err = approvedAt(ctx, d, g, mr, a.CommitSHA); err != nil {
					return Outcome{}, err
				}
			}
			if !approved {
				out, err := backForApproval(ctx, d, r, g, mr, a, "")
				out.External += external
				return out, err
			}
		} else if mr.HeadSHA != a.CommitSHA {
			// Someone else's commit is at the head: it is theirs, not
			// agentorg's to validate or to push over; a person decides.
			if foreign, err := foreignHead(ctx, d, n, mr.HeadSHA); err != nil {
				return Outcome{}, err
			} else if foreign != "" {
				return escalate(ctx, d, r, fmt.Sprintf("merge request !%d: %s", mr.Number, foreign))
			}
			// An earlier push of agentorg's own: this GO's push is to come.
			why := fmt.Sprintf("merge request !%d head %s is not the validated commit %s", mr.Number, short(mr.HeadSHA), short(a.CommitSHA))
			return backToValidation(ctx, d, r, why)
		}
		if g != nil {
			ok, err := approvedAt(ctx, d, g, mr, a.CommitSHA)
			if err != nil {
				return Outcome{}, err
			}
			if !ok {
				return escalate(ctx, d, r, fmt.Sprintf("merge request !%d has no approval at its head by an allowed approver", mr.Number))
			}
		}
		// A merge queue, for what the merge train left: when the target
		// moved since validation, the approved change is brought in on top
		// of it and validated again; a GO goes back to the human gate, since
		// its commits are new (DESIGN rule 5), and merges once approved.
		moved, err := staleGO(ctx, d, n, a)
		var foreign *foreignError
		if errors.As(err, &foreign) {
			return escalate(ctx, d, r, foreign.why)
		}
		if err != nil {
			return Outcome{}, err
		}
		if moved != "" {
			b, err := revalidation(ctx, d, r, a.N)
			if err != nil {
				return Outcome{}, err
			}
			_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindUpdate,
				Reason: fmt.Sprintf("validating again as attempt %d before merging: %s", b.N, moved)})
			ext, err := revalidate(ctx, d, r, &b)
			external += ext
			if err != nil {
				return Outcome{}, err
			}
			if b.Verdict != eventlog.GO {
				out, err := noGo(ctx, d, r, b, validateFailure(d))
				out.External = external
				return out, err
			}
			if g != nil {
				out, err := backForApproval(ctx, d, r, g, mr, b, a.CommitSHA)
				out.External += external
				return out, err
			}
			if mr, err = pushHead(ctx, d, n, mr, b.CommitSHA); err != nil {
				return Outcome{}, err
			}
			a = b
		}
		if r.Stage.AutoMerge {
			auto, out, err := autoMerge(ctx, d, r, mr, a.CommitSHA)
			if err != nil || out != nil {
				if out != nil {
					out.External += external
					return *out, err
				}
				return Outcome{}, err
			}
			mr = auto
		}
		if mr.State != agentorg.MRMerged {
			merged, err := mergeOnto(ctx, d, mr.Number, a.CommitSHA)
			if errors.Is(err, agentorg.ErrTargetMoved) {
				// Moved since it was validated: a retry validates it again.
				return Outcome{}, err
			}
			if errors.Is(err, agentorg.ErrHeadMoved) || errors.Is(err, agentorg.ErrConflict) || errors.Is(err, agentorg.ErrNotMergeable) {
				return escalate(ctx, d, r, fmt.Sprintf("merge of !%d refused: %v", mr.Number, err))
			}
			if err != nil {
				return Outcome{}, err
			}
			mr = merged
		}
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindMerge,
			Reason: fmt.Sprintf("merged !%d at %s into %s", mr.Number, short(a.CommitSHA), mr.TargetBranch),
			Data:   map[string]string{"mr": fmt.Sprint(mr.Number), "merge_sha": mr.MergeSHA}})
	}
	if err := d.Tracker.CloseIssue(ctx, n, d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	// Merged: its intent overlaps nothing in flight any more.
	if err := d.Log.DeleteIntent(ctx, n); err != nil {
		return Outcome{}, err
	}
	// The branch is merged: its worktree and local branch have served
	// their purpose (the merge request keeps the branch on the origin).
	if err := d.Mirror.RemoveWorktree(ctx, WorktreePath(d.Home, n)); err != nil {
		return Outcome{}, err
	}
	if err := d.Mirror.DeleteBranch(ctx, d.Workflow.Branch(n)); err != nil {
		return Outcome{}, err
	}
	return Outcome{Reason: fmt.Sprintf("merged !%d as %s; issue closed", mr.Number, short(mr.MergeSHA)), External: external}, nil
}

// pushHead makes sha the head of the issue's branch and merge request,
// unless it is already.
func pushHead(ctx context.Context, d *Deps, n int64, mr agentorg.MergeRequest, sha string) (agentorg.MergeRequest, error) {
	if mr.HeadSHA == sha {
		return mr, nil
	}
	if err := d.push(ctx, n, sha); err != nil {
		return mr, err
	}
	mr, err := d.Tracker.SetMRHead(ctx, mr.Number, sha)
	if err != nil {
		return mr, err
	}
	return mr, publishChecks(ctx, d, sha)
}

// publishChecks hands the forge the check results it could not take
// before sha was pushed (GitLab: commit statuses on the new head).
func publishChecks(ctx context.Context, d *Deps, sha string) error {
	if p, ok := d.Tracker.(agentorg.CheckPublisher); ok {
		return p.PublishChecks(ctx, sha)
	}
	return nil
}

// backForApproval pushes the merge queue's GO rebase b of the approved
// change and sends the merge request back to the human gate: new commits
// void the approval (DESIGN rule 5). Idempotent: after a crash anywhere in
// it, the stage's next run ends here again.
func backForApproval(ctx context.Context, d *Deps, r *Run, gate *workflow.Gate, mr agentorg.MergeRequest, b eventlog.Attempt, approved string) (Outcome, error) {
	mr, err := pushHead(ctx, d, r.Issue.Number, mr, b.CommitSHA)
	if err != nil {
		return Outcome{}, err
	}
	why := fmt.Sprintf("%s moved: the change was brought up to date as %s and validated GO (attempt %d); new commits void the earlier approval, so merge request !%d waits for a new one",
		d.Workflow.Repo.TargetBranch, short(b.CommitSHA), b.N, mr.Number)
	if approved != "" {
		why = fmt.Sprintf("%s moved after %s was approved: the change was brought up to date as %s and validated GO (attempt %d); new commits void that approval, so merge request !%d waits for a new one",
			d.Workflow.Repo.TargetBranch, short(approved), short(b.CommitSHA), b.N, mr.Number)
	}
	return Outcome{To: gate.Waits, Reason: why}, nil
}

// mergeOnto merges the merge request at head onto the target the mirror
// last saw, which validation showed head contains: if the target moved
// since, a tracker that can guard it refuses (agentorg.ErrTargetMoved).
func mergeOnto(ctx context.Context, d *Deps, number int64, head string) (agentorg.MergeRequest, error) {
	bot := d.Workflow.Tracker.Bot
	guarded, ok := d.Tracker.(agentorg.TargetGuardedMerger)
	if !ok {
		return d.Tracker.MergeMR(ctx, number, head, bot)
	}
	base, err := d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	contains, err := d.Mirror.IsAncestor(ctx, base, head)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	if !contains {
		return agentorg.MergeRequest{}, fmt.Errorf("merge request !%d: %s moved to %s, which %s was not validated on: %w",
			number, d.Workflow.Repo.TargetBranch, short(base), short(head), agentorg.ErrTargetMoved)
	}
	return guarded.MergeMRAt(ctx, number, head, base, bot)
}

// backToValidation sends the issue to the validate stage, which validates
// again and puts the result in front of a human.
func backToValidation(ctx context.Context, d *Deps, r *Run, why string) (Outcome, error) {
	vs := d.Workflow.StagesWithRole(agentorg.RoleValidator)
	if len(vs) == 0 {
		return escalate(ctx, d, r, why+"; no validate stage to run again")
	}
	return Outcome{To: vs[0].On, Reason: why + ": validating again"}, nil
}

// validateFailure is where a NO-GO goes: the validate stage's failure label.
func validateFailure(d *Deps) string {
	if vs := d.Workflow.StagesWithRole(agentorg.RoleValidator); len(vs) > 0 {
		return vs[0].Failure
	}
	return ""
}

// approvedAt reports whether someone gate g allows (never the bot) approved
// merge request mr at sha, as package gate decides it.
func approvedAt(ctx context.Context, d *Deps, g *workflow.Gate, mr agentorg.MergeRequest, sha string) (bool, error) {
	policy, err := PolicyApprovals(ctx, d.Log, mr.Issue, g)
	if err != nil {
		return false, err
	}
	f, err := gate.GatherMR(ctx, d.Tracker, d.Workflow, g, mr, policy)
	if err != nil {
		return false, err
	}
	_, ok := gate.ApprovedAt(g, f, sha)
	return ok, nil
}
