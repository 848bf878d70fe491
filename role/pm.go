package role

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/workflow"
)

// pm plans an issue: its agent reads a clean checkout of the target branch
// (read-only) and answers with a plan, which is posted as the issue's plan
// comment for the human plan gate.
type pm struct{}

func (pm) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	ag, def, err := d.agent(r)
	if err != nil {
		return Outcome{}, err
	}
	if err := d.Mirror.Fetch(ctx); err != nil {
		return Outcome{}, err
	}
	head, err := d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return Outcome{}, err
	}
	dir, release, err := d.checkout(ctx, head)
	if err != nil {
		return Outcome{}, err
	}
	defer release()

	tr, err := d.openTranscript(r.ID)
	if err != nil {
		return Outcome{}, err
	}
	defer tr.Close()
	began := time.Now()
	data := promptData(d, r, 0)
	if data.Feedback, err = Feedback(ctx, d.Tracker, r.Issue.Number); err != nil {
		return Outcome{}, err
	}
	if data.Plan, err = Plan(ctx, d.Tracker, r.Issue.Number); err != nil {
		return Outcome{}, err
	}
	// The plan is made knowing which checks the target already fails: the
	// baseline, run once per target head and kept for validation.
	fmt.Fprintf(tr, "== baseline: the checks on %s at %.10s\n", d.Workflow.Repo.TargetBranch, head)
	bl, err := Baseline(ctx, d, head, dir, tr)
	if err != nil {
		return Outcome{}, err
	}
	data.RedChecks = redChecksText(bl)
	prompt, err := d.Workflow.Render("pm", data)
	if err != nil {
		return Outcome{}, err
	}
	res, err := ag.Start(ctx, agentorg.Task{
		Role: r.Stage.Role, Issue: r.Issue.Number, Dir: dir, Prompt: prompt,
		Access: agentorg.ReadOnly, Env: d.AgentEnv(def), Transcript: tr,
		Timeout: def.Timeout, StallTimeout: def.StallTimeout, OnStart: r.OnStart,
	})
	if err != nil {
		if errors.Is(err, agentorg.ErrAgent) {
			// What the failed run spent still counts (agentorg usage).
			recordAgentRun(ctx, d, r, def.Name, res, "planning failed: "+oneLine(err.Error()), map[string]string{"failed": "true"})
		}
		return Outcome{}, err
	}
	recordAgentRun(ctx, d, r, def.Name, res, "planned: "+oneLine(res.Summary), nil)
	plan := strings.TrimSpace(res.Summary)
	if plan == "" {
		return Outcome{}, fmt.Errorf("%w: the PM agent answered with an empty plan", agentorg.ErrAgent)
	}
	how := fmt.Sprintf("Approve with `agentorg approve %d`, or reject with a reason.", r.Issue.Number)
	if g := d.Workflow.GateWaiting(r.Stage.Success); g != nil && d.Workflow.Tracker.Kind == workflow.TrackerGitLab {
		how = fmt.Sprintf("To approve, an approver adds the `%s` label; to send it back, a comment with the reason and the `%s` label.", g.Approve, g.Reject)
	}
	// The footer is for the humans at the gate: Plan leaves it out of what
	// the agents are given.
	body := fmt.Sprintf("%s%s\n\n%s\n_Session %s. %s_", planHeading(r.Issue.Number), plan, agentorg.Marker(planFooterKey), res.SessionID, how)
	if _, err := d.Tracker.UpsertComment(ctx, r.Issue.Number, PlanKey(r.Issue.Number), body, d.Workflow.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	return Outcome{Reason: "plan posted for approval (session " + res.SessionID + ")", External: time.Since(began)}, nil
}
