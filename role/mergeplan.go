package role

import (
	"fmt"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/workflow"
)

// The merge stage decides and acts apart (DESIGN rule 11). planMerge reads
// a mergeInput, the facts the stage gathered, and returns one mergeAction;
// it does no I/O. The executor (merge.Run) applies the action and records
// it. Some actions are steps (take the turn, run the train, validate again,
// push the GO): the executor applies them, gathers the facts again and asks
// the planner once more, so a run is a short sequence of decisions, each on
// the facts as they are after the step before.

// mergeInput is everything the merge decision reads.
type mergeInput struct {
	// Issue is the issue the stage runs for, Target the target branch.
	Issue  int64
	Target string
	// MR is the issue's merge request, read at every step.
	MR agentorg.MergeRequest
	// AutoMerge says the stage hands the merge to the forge's auto-merge.
	AutoMerge bool

	// Busy says why the target cannot take a merge now (the forge's
	// agentorg.ErrTargetBusy); "" when it can. Read before the turn.
	Busy string
	// Closure is the target's E2E recovery state, Recovery the workflow's
	// e2e.recovery: a closed target takes only the recovery's changes.
	Closure  eventlog.Target
	Recovery string

	// Turn says this run holds the merge turn: merges take turns.
	Turn bool
	// CanTrain says the forge merges onto an expected target
	// (agentorg.TargetGuardedMerger), which a merge train needs;
	// TrainDone that this run ran it.
	CanTrain, TrainDone bool

	// Attempt is the issue's last attempt (HasAttempt false: none).
	Attempt    eventlog.Attempt
	HasAttempt bool
	// Validated is the attempt this run validated (0: none): its verdict
	// is this run's, not one the stage found.
	Validated int
	// RequeuedFrom is the approved commit this run's merge queue brought
	// up to date on a target that moved ("": none).
	RequeuedFrom string

	// Gate is the gate approving at the stage's label (nil: none), and
	// Approved whether one it allows approved MR at its head, as package
	// gate decides it (DESIGN rule 5, docs/lifecycle.md I4, I5); read only
	// when the head is the attempt's commit.
	Gate     *workflow.Gate
	Approved bool
	// Foreign says whose commit the head is when it is not the developer
	// attempt's and agentorg did not push it ("" otherwise).
	Foreign string
	// Stale says why a GO no longer stands (the target moved past it),
	// StaleForeign that the head is someone else's commit (staleGO).
	Stale, StaleForeign string

	// ValidateOn is the validate stage's label ("": no validate stage);
	// CIFailure where a failed pipeline sends the issue.
	ValidateOn, CIFailure string

	// Pipeline is the auto-merge's view of the pipeline on the head.
	Pipeline pipelineFacts
	// Now is when the facts were read.
	Now time.Time
}

// pipelineFacts is what an auto-merge decision reads.
type pipelineFacts struct {
	// Supported says the forge can auto-merge and read pipelines.
	Supported bool
	// Found says a pipeline runs or ran on the head, P which.
	Found bool
	P     agentorg.Pipeline
	// Since is when the stage first found no pipeline on the head, Grace
	// how long it waits for one (Deps.CINoPipeline).
	Since time.Time
	Grace time.Duration
	// Current is the merge request read again once its pipeline passed
	// with auto-merge set: GitLab may have merged it meanwhile.
	Current agentorg.MergeRequest
}

// mergeKind is one of the merge stage's actions.
type mergeKind int

const (
	// mergeFinish: the merge request is merged; close the issue (and
	// record Event, when set).
	mergeFinish mergeKind = iota + 1
	// mergeWait: nothing to do until something changes (a busy or closed
	// target, a pipeline that runs); the labels stay.
	mergeWait
	// mergeTurn: take the merge turn, then look again.
	mergeTurn
	// mergeTrain: merge every ready merge request at once, then look again.
	mergeTrain
	// mergeRevalidate: validate the change again (Moved "": finish the
	// merge queue's validation a crash left; else the target moved), then
	// look again.
	mergeRevalidate
	// mergePush: push the merge queue's GO (SHA) to the merge request,
	// then look again.
	mergePush
	// mergeBackForApproval: push the merge queue's GO (Attempt) and send
	// the issue back to the human gate (To): new commits void approvals.
	mergeBackForApproval
	// mergeBackToValidation: the head is not the validated commit; the
	// validate stage (To) validates again.
	mergeBackToValidation
	// mergeBackToDeveloper: this run's validation is NO-GO (Attempt); the
	// convergence policy sends it to the developer or a human.
	mergeBackToDeveloper
	// mergeSetAutoMerge: hand the merge request to the forge's auto-merge
	// at SHA while Pipeline runs.
	mergeSetAutoMerge
	// mergePipelineFailed: the pipeline failed under auto-merge; back to
	// the developer (To), or to a human with Reason.
	mergePipelineFailed
	// mergeMerge: merge the merge request at SHA.
	mergeMerge
	// mergeEscalate: a person decides, told Reason.
	mergeEscalate
)

var mergeKinds = map[mergeKind]string{
	mergeFinish: "finish", mergeWait: "wait", mergeTurn: "turn", mergeTrain: "train",
	mergeRevalidate: "revalidate", mergePush: "push", mergeBackForApproval: "back for approval",
	mergeBackToValidation: "back to validation", mergeBackToDeveloper: "back to developer",
	mergeSetAutoMerge: "auto-merge", mergePipelineFailed: "pipeline failed", mergeMerge: "merge",
	mergeEscalate: "escalate",
}

func (k mergeKind) String() string {
	if s, ok := mergeKinds[k]; ok {
		return s
	}
	return fmt.Sprintf("mergeKind(%d)", int(k))
}

// mergeAction is one decision of the merge stage, with the reason the
// event log or the outcome records.
type mergeAction struct {
	Kind   mergeKind
	Reason string
	// To is the label a back-to action moves the issue to.
	To string
	// SHA is the commit to push, merge or auto-merge.
	SHA string
	// MR is the merge request as merged (finish).
	MR agentorg.MergeRequest
	// Event and Data, with finish, are a merge event to record first.
	Event string
	Data  map[string]string
	// Wait: ForHuman and Watch as Outcome has them.
	ForHuman bool
	Watch    *Watch
	// Moved, with revalidate, is why the GO no longer stands.
	Moved string
	// Attempt is the attempt acted on (back for approval, to developer).
	Attempt eventlog.Attempt
	// Pipeline is the pipeline acted on (auto-merge, pipeline failed).
	Pipeline agentorg.Pipeline
}

// planMerge decides what the merge stage does next. It reads in only.
func planMerge(in mergeInput) mergeAction {
	mr := in.MR
	if mr.State == agentorg.MRMerged {
		done := mergeAction{Kind: mergeFinish, MR: mr, Reason: fmt.Sprintf("merged !%d as %s; issue closed", mr.Number, short(mr.MergeSHA))}
		if in.AutoMerge && !in.TrainDone {
			// GitLab's auto-merge did it between polls.
			done.Event = fmt.Sprintf("GitLab merged !%d into %s (auto-merge)", mr.Number, mr.TargetBranch)
			done.Data = map[string]string{"mr": fmt.Sprint(mr.Number), "merge_sha": mr.MergeSHA, "auto_merge": "merged"}
		}
		return done
	}
	if !in.Turn {
		// Before the turn, and before any validation or agent run: a
		// target that cannot take the merge now would only have it all
		// done again later. What was validated stays validated.
		if in.Busy != "" {
			return mergeAction{Kind: mergeWait, ForHuman: true, Reason: "the merge waits: " + in.Busy}
		}
		// E2E failed on the target and it is closed: only the recovery's
		// changes land.
		if why := closedReason(in.Closure, in.Recovery, in.Issue); why != "" {
			return mergeAction{Kind: mergeWait, ForHuman: true, Watch: &Watch{}, Reason: "the merge waits: " + why}
		}
		return mergeAction{Kind: mergeTurn, Reason: "merges take turns"}
	}
	if in.CanTrain && !in.TrainDone {
		// Merge every ready merge request at once, this one first; what
		// the train leaves goes through the merge queue below.
		return mergeAction{Kind: mergeTrain, Reason: fmt.Sprintf("merge train for %s, !%d first", in.Target, mr.Number)}
	}

	a := in.Attempt
	engine := in.HasAttempt && a.Agent == eventlog.EngineAgent
	if engine && a.Verdict == "" {
		// This stage crashed while validating a rebase: finish it.
		return mergeAction{Kind: mergeRevalidate, Attempt: a, Reason: fmt.Sprintf("finishing the validation of attempt %d that a crash left", a.N)}
	}
	if in.HasAttempt && a.Verdict != eventlog.GO && in.Validated != 0 && in.Validated == a.N {
		return mergeAction{Kind: mergeBackToDeveloper, Attempt: a, Reason: fmt.Sprintf("attempt %d, validated again before merging, is %s (distance %d)", a.N, a.Verdict, a.Distance)}
	}
	if !in.HasAttempt || a.Verdict != eventlog.GO {
		return escalation(fmt.Sprintf("merge request !%d has no GO from validation; refusing to merge", mr.Number))
	}
	if in.RequeuedFrom != "" && in.Gate != nil {
		// The merge queue's GO: its commits are new, so the approval of
		// the change before it is void (I5).
		return backForApproval(in, a, in.RequeuedFrom)
	}
	atHead := mr.HeadSHA == a.CommitSHA
	approved := in.Gate == nil || atHead && in.Approved
	if engine {
		// The merge queue's rebase of the approved change, validated GO:
		// a human approves it at its head (which is how this stage runs
		// again) before it merges.
		if !approved {
			return backForApproval(in, a, "")
		}
	} else if !atHead {
		// Someone else's commit is at the head: it is theirs, not
		// agentorg's to validate or to push over; a person decides.
		if in.Foreign != "" {
			return escalation(fmt.Sprintf("merge request !%d: %s", mr.Number, in.Foreign))
		}
		// An earlier push of agentorg's own: this GO's push is to come.
		why := fmt.Sprintf("merge request !%d head %s is not the validated commit %s", mr.Number, short(mr.HeadSHA), short(a.CommitSHA))
		if in.ValidateOn == "" {
			return escalation(why + "; no validate stage to run again")
		}
		return mergeAction{Kind: mergeBackToValidation, To: in.ValidateOn, Reason: why + ": validating again"}
	}
	if !approved {
		return escalation(fmt.Sprintf("merge request !%d has no approval at its head by an allowed approver", mr.Number))
	}
	if in.RequeuedFrom == "" {
		// A merge queue, for what the train left: when the target moved
		// since validation, the approved change is brought in on top of it
		// and validated again (once a run).
		if in.StaleForeign != "" {
			return escalation(in.StaleForeign)
		}
		if in.Stale != "" {
			return mergeAction{Kind: mergeRevalidate, Attempt: a, Moved: in.Stale,
				Reason: fmt.Sprintf("validating again as attempt %d before merging: %s", a.N+1, in.Stale)}
		}
	}
	if !atHead {
		// The merge queue's GO without a gate: it merges as pushed.
		return mergeAction{Kind: mergePush, SHA: a.CommitSHA, Attempt: a,
			Reason: fmt.Sprintf("pushing attempt %d's GO %s to merge request !%d", a.N, short(a.CommitSHA), mr.Number)}
	}
	if in.AutoMerge && in.Pipeline.Supported {
		return planAutoMerge(in, a.CommitSHA)
	}
	return mergeNow(mr, a.CommitSHA)
}

// planAutoMerge decides how a validated, approved merge request at sha is
// handed to the forge's auto-merge. The pipeline on sha is read first,
// because GitLab merges at once when none is running:
//   - running: auto-merge is set (once) and the stage waits; later polls
//     find the merge request merged, or the pipeline ended;
//   - passed: the merge request is merged now (or GitLab is merging it);
//   - failed: GitLab cancelled the auto-merge; the failure goes back to the
//     developer as the ci role sends it, or to a human;
//   - none yet: the stage waits for one, and after the grace there is no
//     CI to wait for: it merges now.
func planAutoMerge(in mergeInput, sha string) mergeAction {
	mr, p := in.MR, in.Pipeline
	// The stage waits without a worker; the engine runs it again once the
	// pipeline's status or the merge request changed.
	if !p.Found {
		if in.Now.Sub(p.Since) > p.Grace {
			return mergeNow(mr, sha) // no CI runs on this head: nothing to wait for
		}
		return mergeAction{Kind: mergeWait, Reason: fmt.Sprintf("waiting for a pipeline on %s before setting auto-merge", short(sha)),
			Watch: &Watch{MR: mr.Number, SHA: sha, Until: p.Since.Add(p.Grace)}}
	}
	done, passed := p.P.Finished()
	switch {
	case done && passed:
		if !mr.AutoMerge {
			return mergeNow(mr, sha) // passed already: merge now
		}
		if cur := p.Current; cur.State == agentorg.MRMerged {
			return mergeAction{Kind: mergeFinish, MR: cur, Reason: fmt.Sprintf("merged !%d as %s; issue closed", cur.Number, short(cur.MergeSHA)),
				Event: fmt.Sprintf("merged !%d at %s into %s", cur.Number, short(sha), cur.TargetBranch),
				Data:  map[string]string{"mr": fmt.Sprint(cur.Number), "merge_sha": cur.MergeSHA}}
		}
		return mergeAction{Kind: mergeWait, Reason: fmt.Sprintf("pipeline #%d passed on %s; GitLab is merging !%d", p.P.ID, short(sha), mr.Number),
			Watch: &Watch{MR: mr.Number, SHA: sha, Pipeline: p.P.Status}}
	case done:
		// GitLab cancels auto-merge when the pipeline fails.
		return mergeAction{Kind: mergePipelineFailed, To: in.CIFailure, Pipeline: p.P, SHA: sha,
			Reason: fmt.Sprintf("pipeline #%d %s on %s: merge request !%d was not merged", p.P.ID, p.P.Status, short(sha), mr.Number)}
	}
	if !mr.AutoMerge {
		return mergeAction{Kind: mergeSetAutoMerge, SHA: sha, Pipeline: p.P,
			Reason: fmt.Sprintf("auto-merge set: GitLab merges !%d when pipeline #%d on %s succeeds", mr.Number, p.P.ID, short(sha))}
	}
	return autoMergeWait(mr, p.P, sha)
}

// autoMergeWait waits for GitLab's auto-merge of mr while p runs on sha.
func autoMergeWait(mr agentorg.MergeRequest, p agentorg.Pipeline, sha string) mergeAction {
	return mergeAction{Kind: mergeWait, Reason: fmt.Sprintf("pipeline #%d is %s on %s; GitLab merges !%d when it succeeds", p.ID, p.Status, short(sha), mr.Number),
		Watch: &Watch{MR: mr.Number, SHA: sha, Pipeline: p.Status}}
}

// mergeNow merges mr at sha; the reason is the merge event's.
func mergeNow(mr agentorg.MergeRequest, sha string) mergeAction {
	return mergeAction{Kind: mergeMerge, SHA: sha, Reason: fmt.Sprintf("merged !%d at %s into %s", mr.Number, short(sha), mr.TargetBranch)}
}

func escalation(why string) mergeAction { return mergeAction{Kind: mergeEscalate, Reason: why} }

// backForApproval sends the merge queue's GO b of the approved change back
// to the human gate: new commits void the approval (DESIGN rule 5).
// approved is the commit the voided approval was given at, when known.
func backForApproval(in mergeInput, b eventlog.Attempt, approved string) mergeAction {
	why := fmt.Sprintf("%s moved: the change was brought up to date as %s and validated GO (attempt %d); new commits void the earlier approval, so merge request !%d waits for a new one",
		in.Target, short(b.CommitSHA), b.N, in.MR.Number)
	if approved != "" {
		why = fmt.Sprintf("%s moved after %s was approved: the change was brought up to date as %s and validated GO (attempt %d); new commits void that approval, so merge request !%d waits for a new one",
			in.Target, short(approved), short(b.CommitSHA), b.N, in.MR.Number)
	}
	return mergeAction{Kind: mergeBackForApproval, To: in.Gate.Waits, SHA: b.CommitSHA, Attempt: b, Reason: why}
}

// closedReason says why issue n may not land now ("" when it may): the
// target t is closed, and n is neither the revert nor, with recovery
// close, the culprit's fix.
func closedReason(t eventlog.Target, recovery string, n int64) string {
	if !t.Closed {
		return ""
	}
	switch {
	case t.RevertIssue != 0 && n == t.RevertIssue:
		return ""
	case recovery == workflow.RecoveryClose && n == t.CulpritIssue && t.SentBack:
		return ""
	}
	may := "nothing lands until E2E passes on it again (a person can push a fix)"
	switch {
	case t.RevertIssue != 0:
		may = fmt.Sprintf("only the revert (#%d) lands until E2E passes on it again", t.RevertIssue)
	case t.CulpritIssue != 0 && recovery == workflow.RecoveryClose:
		may = fmt.Sprintf("only the fix of #%d lands until E2E passes on it again", t.CulpritIssue)
	}
	return fmt.Sprintf("%s is closed since %s: %s; %s", t.Branch, t.Since.Local().Format("15:04:05"), t.Reason, may)
}
