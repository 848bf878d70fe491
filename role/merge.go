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

// mergeSteps bounds the decisions of one run: the turn, the train, two
// validations and a push are the steps before the last.
const mergeSteps = 8

// run gathers the facts, asks planMerge what to do and does it, until the
// action is one that ends the run.
func (m merge) run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	in := mergeInput{
		Issue:     r.Issue.Number,
		Target:    d.Workflow.Repo.TargetBranch,
		AutoMerge: r.Stage.AutoMerge,
		Recovery:  d.Workflow.E2E.Recovery,
		Gate:      d.Workflow.GateApproving(r.Stage.On),
		CIFailure: r.Stage.Failure,
	}
	_, in.CanTrain = d.Tracker.(agentorg.TargetGuardedMerger)
	if vs := d.Workflow.StagesWithRole(agentorg.RoleValidator); len(vs) > 0 {
		in.ValidateOn = vs[0].On
	}
	if cis := d.Workflow.StagesWithRole(agentorg.RoleCI); len(cis) > 0 {
		in.CIFailure = cis[0].Failure
	}
	var external time.Duration
	for step := 0; step < mergeSteps; step++ {
		if err := gatherMerge(ctx, d, r, &in); err != nil {
			return Outcome{External: external}, err
		}
		act := planMerge(in)
		switch act.Kind {
		case mergeTurn:
			// Merges into a target take turns, across every worker;
			// a run whose merge request a train merged meanwhile
			// only finishes the issue. The turn lasts until the run
			// returns (planMerge asks for it once).
			unlock, err := d.lock(ctx, mergeLock(in.Target))
			if err != nil {
				return Outcome{External: external}, err
			}
			defer unlock()
			in.Turn = true
		case mergeTrain:
			ext, err := runTrain(ctx, d, r)
			external += ext
			if err != nil {
				return Outcome{External: external}, err
			}
			in.TrainDone = true
		case mergeRevalidate:
			a := in.Attempt
			if act.Moved != "" {
				b, err := revalidation(ctx, d, r, a.N)
				if err != nil {
					return Outcome{External: external}, err
				}
				_ = d.Log.Record(ctx, eventlog.Event{Issue: in.Issue, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindUpdate,
					Reason: act.Reason})
				in.RequeuedFrom, a = a.CommitSHA, b
			}
			ext, err := revalidate(ctx, d, r, &a)
			external += ext
			if err != nil {
				return Outcome{External: external}, err
			}
			in.Validated = a.N
		case mergePush:
			if _, err := pushHead(ctx, d, in.Issue, in.MR, act.SHA); err != nil {
				return Outcome{External: external}, err
			}
		default:
			out, err := applyMerge(ctx, d, r, in, act)
			out.External += external
			return out, err
		}
	}
	return Outcome{External: external}, fmt.Errorf("merge of #%d: no decision after %d steps", in.Issue, mergeSteps)
}

// gatherMerge reads the facts planMerge decides on, as they are now: only
// those the decision can reach from what it read before (the attempt once
// the turn is taken and the train ran, what lies past the approval only
// when it holds), so that no path reads more than it needs.
func gatherMerge(ctx context.Context, d *Deps, r *Run, in *mergeInput) error {
	n := in.Issue
	in.Attempt, in.HasAttempt, in.Approved, in.Foreign, in.Stale, in.StaleForeign, in.Pipeline = eventlog.Attempt{}, false, false, "", "", "", pipelineFacts{}
	mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
	if err != nil {
		return err
	}
	in.MR = mr
	if mr.State == agentorg.MRMerged {
		return nil
	}
	if !in.Turn {
		if tc, ok := d.Tracker.(agentorg.TargetChecker); ok {
			if err := tc.CheckTarget(ctx, in.Target); errors.Is(err, agentorg.ErrTargetBusy) {
				in.Busy = err.Error()
				return nil
			} else if err != nil {
				return err
			}
		}
		in.Closure, err = d.Log.Target(ctx, in.Target)
		return err
	}
	if in.CanTrain && !in.TrainDone {
		return nil
	}
	a, ok, err := d.Log.LastAttempt(ctx, n)
	if err != nil {
		return err
	}
	in.Attempt, in.HasAttempt = a, ok
	if !ok || a.Verdict != eventlog.GO {
		return nil
	}
	atHead := mr.HeadSHA == a.CommitSHA
	if atHead {
		// Another worker may have validated it: its head is on the origin.
		if err := d.haveHead(ctx, n, a.CommitSHA, mr.SourceBranch); err != nil {
			return err
		}
	}
	if in.Gate != nil && atHead {
		if in.Approved, err = approvedAt(ctx, d, in.Gate, mr, a.CommitSHA); err != nil {
			return err
		}
	}
	if a.Agent != eventlog.EngineAgent && !atHead {
		in.Foreign, err = foreignHead(ctx, d, n, mr.HeadSHA)
		return err
	}
	if in.Gate != nil && (!in.Approved || in.RequeuedFrom != "") {
		return nil // nothing past the approval matters without it
	}
	if in.RequeuedFrom == "" {
		in.Stale, err = staleGO(ctx, d, n, a)
		var foreign *foreignError
		if errors.As(err, &foreign) {
			in.StaleForeign = foreign.why
			return nil
		}
		if err != nil || in.Stale != "" {
			return err
		}
	}
	if atHead && in.AutoMerge {
		in.Pipeline, err = gatherPipeline(ctx, d, r, mr, a.CommitSHA)
	}
	in.Now = time.Now()
	return err
}

// applyMerge applies an action that ends the run, and records it.
func applyMerge(ctx context.Context, d *Deps, r *Run, in mergeInput, act mergeAction) (Outcome, error) {
	bot := d.Workflow.Tracker.Bot
	record := func(reason string, data map[string]string) {
		_ = d.Log.Record(ctx, eventlog.Event{Issue: in.Issue, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindMerge, Reason: reason, Data: data})
	}
	merged := func(mr agentorg.MergeRequest, sha string) (Outcome, error) {
		record(mergeNow(mr, sha).Reason, map[string]string{"mr": fmt.Sprint(mr.Number), "merge_sha": mr.MergeSHA})
		return finishMerge(ctx, d, in.Issue, mr)
	}
	mr := in.MR
	switch act.Kind {
	case mergeFinish:
		if act.Event != "" {
			record(act.Event, act.Data)
		}
		return finishMerge(ctx, d, in.Issue, act.MR)
	case mergeWait:
		return Outcome{Wait: true, ForHuman: act.ForHuman, Watch: act.Watch, Reason: act.Reason}, nil
	case mergeEscalate:
		return escalate(ctx, d, r, act.Reason)
	case mergeBackToValidation:
		return Outcome{To: act.To, Reason: act.Reason}, nil
	case mergeBackForApproval:
		// Idempotent: after a crash anywhere in it, the stage's next run
		// ends here again.
		if _, err := pushHead(ctx, d, in.Issue, mr, act.SHA); err != nil {
			return Outcome{}, err
		}
		return Outcome{To: act.To, Reason: act.Reason}, nil
	case mergeBackToDeveloper:
		return noGo(ctx, d, r, act.Attempt, validateFailure(d))
	case mergeMerge:
		done, err := mergeOnto(ctx, d, mr.Number, act.SHA)
		if errors.Is(err, agentorg.ErrTargetMoved) {
			// Moved since it was validated: a retry validates it again.
			return Outcome{}, err
		}
		if refused(err) {
			return escalate(ctx, d, r, fmt.Sprintf("merge of !%d refused: %v", mr.Number, err))
		}
		if err != nil {
			return Outcome{}, err
		}
		return merged(done, act.SHA)
	case mergeSetAutoMerge:
		am, ok := d.Tracker.(agentorg.AutoMerger)
		if !ok {
			return Outcome{}, fmt.Errorf("merge request !%d: the forge has no auto-merge", mr.Number)
		}
		set, err := am.AutoMergeMR(ctx, mr.Number, act.SHA, bot)
		if refused(err) {
			return escalate(ctx, d, r, fmt.Sprintf("auto-merge of !%d refused: %v", mr.Number, err))
		}
		if err != nil {
			return Outcome{}, err
		}
		if set.State == agentorg.MRMerged {
			return merged(set, act.SHA)
		}
		record(act.Reason, map[string]string{"mr": fmt.Sprint(set.Number), "pipeline": fmt.Sprint(act.Pipeline.ID), "head": act.SHA, "auto_merge": "set"})
		w := autoMergeWait(set, act.Pipeline, act.SHA)
		return Outcome{Wait: true, Reason: w.Reason, Watch: w.Watch}, nil
	case mergePipelineFailed:
		out, err := pipelineFailed(ctx, d, r, mr, act.Pipeline, act.To)
		if err == nil && out.To == d.Workflow.Escalation {
			return escalate(ctx, d, r, act.Reason)
		}
		return out, err
	}
	return Outcome{}, fmt.Errorf("merge of #%d: no executor for the action %s", in.Issue, act.Kind)
}

// refused reports a merge the forge refused for the merge request's sake.
func refused(err error) bool {
	return errors.Is(err, agentorg.ErrHeadMoved) || errors.Is(err, agentorg.ErrConflict) || errors.Is(err, agentorg.ErrNotMergeable)
}

// finishMerge closes issue n, whose merge request mr is merged, and clears
// what it held.
func finishMerge(ctx context.Context, d *Deps, n int64, mr agentorg.MergeRequest) (Outcome, error) {
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
	return Outcome{Reason: fmt.Sprintf("merged !%d as %s; issue closed", mr.Number, short(mr.MergeSHA))}, nil
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
