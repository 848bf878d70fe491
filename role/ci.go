package role

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
)

// Defaults for the ci role (Deps.CINoPipeline).
const (
	DefaultCINoPipeline = 2 * time.Minute
	// DefaultCITimeout bounds the wait for one pipeline when the stage sets
	// no timeout.
	DefaultCITimeout = 2 * time.Hour
)

// ci waits for the forge's pipeline on the merge request's head. A pipeline
// that passes moves the issue on; one that fails goes back to the
// developer's same session (the stage's failure label), with the failed jobs
// and the tails of their logs as the reviewer's feedback, and the new commit
// is validated and pushed again. A head with no pipeline after
// Deps.CINoPipeline (the project runs no CI for it) passes. While the
// pipeline runs, the stage waits without holding a worker: the engine runs
// it again once the pipeline's status or the merge request changed.
type ci struct{}

func (ci) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	pr, ok := d.Tracker.(agentorg.PipelineReader)
	if !ok {
		return Outcome{Reason: "the tracker runs no CI; nothing to wait for"}, nil
	}
	mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
	if err != nil {
		return Outcome{}, err
	}
	grace := d.CINoPipeline
	if grace <= 0 {
		grace = DefaultCINoPipeline
	}
	limit := r.Stage.Timeout
	if limit <= 0 {
		limit = DefaultCITimeout
	}
	head := mr.HeadSHA
	since, err := ciSince(ctx, d, r, head)
	if err != nil {
		return Outcome{}, err
	}
	p, err := pr.Pipeline(ctx, head)
	if errors.Is(err, agentorg.ErrNotFound) {
		if time.Since(since) > grace {
			return Outcome{Reason: fmt.Sprintf("no pipeline ran on %s within %s: nothing to wait for", short(head), grace)}, nil
		}
		return Outcome{Wait: true, Reason: fmt.Sprintf("waiting for a pipeline on %s", short(head)),
			Watch: &Watch{MR: mr.Number, SHA: head, Until: since.Add(grace)}}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	done, passed := p.Finished()
	switch {
	case !done && time.Since(since) > limit:
		return Outcome{}, fmt.Errorf("pipeline #%d on %s is still %s after %s", p.ID, short(head), p.Status, limit)
	case !done:
		return Outcome{Wait: true, Reason: fmt.Sprintf("pipeline #%d is %s on %s", p.ID, p.Status, short(head)),
			Watch: &Watch{MR: mr.Number, SHA: head, Pipeline: p.Status, Until: since.Add(limit)}}, nil
	case passed:
		return Outcome{Reason: fmt.Sprintf("pipeline #%d passed (%s) on %s", p.ID, p.Status, short(head))}, nil
	}
	return pipelineFailed(ctx, d, r, mr, p, r.Stage.Failure)
}

// ciSince is when the stage first waited for CI on head: recorded in the
// event log the first time, so that the grace and the time limit hold
// across polls and restarts without holding a worker.
func ciSince(ctx context.Context, d *Deps, r *Run, head string) (time.Time, error) {
	evs, err := d.Log.Events(ctx, eventlog.Filter{Issue: r.Issue.Number, Kind: eventlog.KindUpdate})
	if err != nil {
		return time.Time{}, err
	}
	for _, e := range evs {
		if e.Stage == r.Stage.Name && e.Data["ci_head"] == head {
			return e.At, nil
		}
	}
	now := time.Now()
	err = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, At: now,
		Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindUpdate, Reason: fmt.Sprintf("CI: waiting for the pipeline on %s", short(head)),
		Data: map[string]string{"ci_head": head}})
	return now, err
}

// pipelineFailed reports a failed pipeline as feedback for the developer's
// same session and sends the issue to the label to (the escalation label
// when ""), or escalates when the attempt budget is spent.
func pipelineFailed(ctx context.Context, d *Deps, r *Run, mr agentorg.MergeRequest, p agentorg.Pipeline, to string) (Outcome, error) {
	n := r.Issue.Number
	// The report goes where a reviewer's words go: the developer's fix
	// prompt reads the newest feedback comment.
	var b strings.Builder
	fmt.Fprintf(&b, "## CI failed\n\nPipeline #%d on `%s` (merge request !%d) ended %s.", p.ID, short(mr.HeadSHA), mr.Number, p.Status)
	if p.URL != "" {
		fmt.Fprintf(&b, " %s", p.URL)
	}
	b.WriteString("\n")
	for _, j := range p.Failed {
		fmt.Fprintf(&b, "\n### Job `%s` (stage %s) %s", j.Name, j.Stage, j.Status)
		if j.Reason != "" {
			fmt.Fprintf(&b, ": %s", j.Reason)
		}
		fmt.Fprintf(&b, "\n\n```\n%s\n```\n", strings.TrimRight(j.LogTail, "\n"))
	}
	if len(p.Failed) == 0 {
		b.WriteString("\nNo failed job was reported.\n")
	}
	body := agentorg.Marker(agentorg.FeedbackKey) + "\n" + b.String()
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("ci:%d:%s", n, mr.HeadSHA), body, d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindVerdict,
		Reason: fmt.Sprintf("pipeline #%d %s on %s: back to the developer", p.ID, p.Status, short(mr.HeadSHA)),
		Data:   map[string]string{"pipeline": fmt.Sprint(p.ID), "head": mr.HeadSHA, "failed_jobs": fmt.Sprint(len(p.Failed))}})
	as, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if len(as) >= d.Workflow.Budget.Attempts {
		return escalate(ctx, d, r, fmt.Sprintf("CI failed on attempt %d; the attempt budget (%d) is spent", len(as), d.Workflow.Budget.Attempts))
	}
	if to == "" {
		to = d.Workflow.Escalation
	}
	return Outcome{To: to, Reason: fmt.Sprintf("pipeline #%d %s: back to the developer's session", p.ID, p.Status)}, nil
}
