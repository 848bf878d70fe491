package role

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// Defaults for the ci role (Deps.CIPoll, Deps.CINoPipeline).
const (
	DefaultCIPoll       = 10 * time.Second
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
// Deps.CINoPipeline (the project runs no CI for it) passes.
type ci struct{}

func (ci) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	pr, ok := d.Tracker.(agentorg.PipelineReader)
	if !ok {
		return Outcome{Reason: "the tracker runs no CI; nothing to wait for"}, nil
	}
	mr, err := IssueMR(ctx, d.Tracker, n)
	if err != nil {
		return Outcome{}, err
	}
	poll := d.CIPoll
	if poll <= 0 {
		poll = DefaultCIPoll
	}
	grace := d.CINoPipeline
	if grace <= 0 {
		grace = DefaultCINoPipeline
	}
	limit := r.Stage.Timeout
	if limit <= 0 {
		limit = DefaultCITimeout
	}
	began := time.Now()
	var p agentorg.Pipeline
	for {
		p, err = pr.Pipeline(ctx, mr.HeadSHA)
		switch {
		case errors.Is(err, agentorg.ErrNotFound):
			if time.Since(began) > grace {
				return Outcome{Reason: fmt.Sprintf("no pipeline ran on %s within %s: nothing to wait for", short(mr.HeadSHA), grace)}, nil
			}
		case err != nil:
			return Outcome{}, err
		}
		if done, _ := p.Finished(); err == nil && done {
			break
		}
		if time.Since(began) > limit {
			return Outcome{}, fmt.Errorf("pipeline #%d on %s is still %s after %s", p.ID, short(mr.HeadSHA), p.Status, limit)
		}
		select {
		case <-ctx.Done():
			return Outcome{}, ctx.Err()
		case <-time.After(poll):
		}
	}
	external := time.Since(began)
	if _, passed := p.Finished(); passed {
		return Outcome{Reason: fmt.Sprintf("pipeline #%d passed (%s) on %s", p.ID, p.Status, short(mr.HeadSHA)), External: external}, nil
	}
	out, err := pipelineFailed(ctx, d, r, mr, p, r.Stage.Failure)
	out.External = external
	return out, err
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
	body := agentorg.Marker(FeedbackKey) + "\n" + b.String()
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
