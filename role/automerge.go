package role

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// autoMerge hands an approved, validated merge request to the forge's
// auto-merge (a merge stage with auto_merge, on GitLab). It reads the
// pipeline on sha first, because GitLab merges at once when no pipeline is
// running:
//   - running: auto-merge is set (once) and the stage waits; later polls
//     find the merge request merged, or the pipeline ended;
//   - passed: the merge request is merged now (or GitLab is merging it);
//   - failed: GitLab cancelled the auto-merge; the failure goes back to the
//     developer as the ci role sends it, or to a human;
//   - none yet: the stage waits for one, and after Deps.CINoPipeline
//     there is no CI to wait for: it merges now.
//
// It returns the merge request merged, or open for the caller to merge now
// (out nil), or the outcome the stage ends with (waiting included).
func autoMerge(ctx context.Context, d *Deps, r *Run, mr agentorg.MergeRequest, sha string) (agentorg.MergeRequest, *Outcome, error) {
	am, ok := d.Tracker.(agentorg.AutoMerger)
	pr, ok2 := d.Tracker.(agentorg.PipelineReader)
	if !ok || !ok2 {
		return mr, nil, nil // validation allows auto_merge on GitLab only; merge as usual
	}
	n, bot := r.Issue.Number, d.Workflow.Tracker.Bot
	// The stage waits without a worker; the engine runs it again once the
	// pipeline's status or the merge request changed.
	wait := func(why, status string, until time.Time) (agentorg.MergeRequest, *Outcome, error) {
		return mr, &Outcome{Wait: true, Reason: why, Watch: &Watch{MR: mr.Number, SHA: sha, Pipeline: status, Until: until}}, nil
	}
	p, err := pr.Pipeline(ctx, sha)
	if errors.Is(err, agentorg.ErrNotFound) {
		since, err := waitingSince(ctx, d, r, sha)
		if err != nil {
			return mr, nil, err
		}
		grace := d.CINoPipeline
		if grace <= 0 {
			grace = DefaultCINoPipeline
		}
		if time.Since(since) > grace {
			return mr, nil, nil // no CI runs on this head: nothing to wait for
		}
		return wait(fmt.Sprintf("waiting for a pipeline on %s before setting auto-merge", short(sha)), "", since.Add(grace))
	}
	if err != nil {
		return mr, nil, err
	}
	done, passed := p.Finished()
	switch {
	case done && passed:
		if !mr.AutoMerge {
			return mr, nil, nil // passed already: merge now
		}
		cur, err := d.Tracker.MR(ctx, mr.Number)
		if err != nil {
			return mr, nil, err
		}
		if cur.State == agentorg.MRMerged {
			return cur, nil, nil
		}
		mr = cur
		return wait(fmt.Sprintf("pipeline #%d passed on %s; GitLab is merging !%d", p.ID, short(sha), mr.Number), p.Status, time.Time{})
	case done:
		// GitLab cancels auto-merge when the pipeline fails.
		to := r.Stage.Failure
		if cis := d.Workflow.StagesWithRole(agentorg.RoleCI); len(cis) > 0 {
			to = cis[0].Failure
		}
		out, err := pipelineFailed(ctx, d, r, mr, p, to)
		if err == nil && out.To == d.Workflow.Escalation {
			out, err = escalate(ctx, d, r, fmt.Sprintf("pipeline #%d %s on %s: merge request !%d was not merged", p.ID, p.Status, short(sha), mr.Number))
		}
		return mr, &out, err
	}
	if !mr.AutoMerge {
		set, err := am.AutoMergeMR(ctx, mr.Number, sha, bot)
		if errors.Is(err, agentorg.ErrHeadMoved) || errors.Is(err, agentorg.ErrConflict) || errors.Is(err, agentorg.ErrNotMergeable) {
			out, err := escalate(ctx, d, r, fmt.Sprintf("auto-merge of !%d refused: %v", mr.Number, err))
			return mr, &out, err
		}
		if err != nil {
			return mr, nil, err
		}
		if set.State == agentorg.MRMerged {
			return set, nil, nil
		}
		mr = set
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindMerge,
			Reason: fmt.Sprintf("auto-merge set: GitLab merges !%d when pipeline #%d on %s succeeds", mr.Number, p.ID, short(sha)),
			Data:   map[string]string{"mr": fmt.Sprint(mr.Number), "pipeline": fmt.Sprint(p.ID), "head": sha, "auto_merge": "set"}})
	}
	return wait(fmt.Sprintf("pipeline #%d is %s on %s; GitLab merges !%d when it succeeds", p.ID, p.Status, short(sha), mr.Number), p.Status, time.Time{})
}

// waitingSince is when the merge stage first found no pipeline on sha: the
// first time it looks, it records that in the event log, so the wait
// survives across polls and restarts without holding a worker.
func waitingSince(ctx context.Context, d *Deps, r *Run, sha string) (time.Time, error) {
	evs, err := d.Log.Events(ctx, eventlog.Filter{Issue: r.Issue.Number, Kind: eventlog.KindUpdate})
	if err != nil {
		return time.Time{}, err
	}
	for _, e := range evs {
		if e.Data["waiting_for_pipeline"] == sha {
			return e.At, nil
		}
	}
	now := time.Now()
	err = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
		Kind: eventlog.KindUpdate, Reason: fmt.Sprintf("auto-merge waits for a pipeline on %s", short(sha)),
		Data: map[string]string{"waiting_for_pipeline": sha}})
	return now, err
}
