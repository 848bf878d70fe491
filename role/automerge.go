package role

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// gatherPipeline reads what an auto-merge of mr at sha is decided on
// (planAutoMerge): the pipeline on sha, or since when there is none, and
// the merge request again once the pipeline passed with auto-merge set.
func gatherPipeline(ctx context.Context, d *Deps, r *Run, mr agentorg.MergeRequest, sha string) (pipelineFacts, error) {
	_, ok := d.Tracker.(agentorg.AutoMerger)
	pr, ok2 := d.Tracker.(agentorg.PipelineReader)
	if !ok || !ok2 {
		return pipelineFacts{}, nil // validation allows auto_merge on GitLab only; merge as usual
	}
	f := pipelineFacts{Supported: true}
	p, err := pr.Pipeline(ctx, sha)
	if errors.Is(err, agentorg.ErrNotFound) {
		if f.Since, err = waitingSince(ctx, d, r, sha); err != nil {
			return f, err
		}
		f.Grace = d.CINoPipeline
		if f.Grace <= 0 {
			f.Grace = DefaultCINoPipeline
		}
		return f, nil
	}
	if err != nil {
		return f, err
	}
	f.Found, f.P = true, p
	if done, passed := p.Finished(); done && passed && mr.AutoMerge {
		f.Current, err = d.Tracker.MR(ctx, mr.Number)
	}
	return f, err
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
