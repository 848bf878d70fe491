package human

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/deploy"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/release"
	"github.com/agentorg/agentorg/workflow"
)

// RefusedError says governance refuses a deployment, and by which rule.
type RefusedError struct {
	Rule, Why string
}

func (e *RefusedError) Error() string { return e.Why + " (rule: " + e.Rule + ")" }

// ApproveDeployment records that user approves deploying version (v0.1.0
// or 0.1.0) to env. What no approval can make right is refused with its
// rule, and recorded: an unknown environment or version, a user who is not
// one of env's approvers, a version that has not passed the environment
// before. It returns what governance says now: allowed, or why the
// deployment still waits (more approvals, a window, a freeze).
func (d *Desk) ApproveDeployment(ctx context.Context, env, version, user string) (deploy.Decision, error) {
	wf := d.Workflow
	if wf.Release == nil {
		return deploy.Decision{}, fmt.Errorf("the workflow has no release section, so nothing is deployed")
	}
	e := wf.Environment(env)
	if e == nil {
		var names []string
		for _, x := range wf.Environments {
			names = append(names, x.Name)
		}
		return deploy.Decision{}, fmt.Errorf("no environment %q in the workflow (environments: %s)", env, strings.Join(names, ", "))
	}
	v, err := release.ParseVersion(strings.TrimPrefix(version, wf.Release.TagPrefix))
	if err != nil {
		return deploy.Decision{}, fmt.Errorf("%q: %w", version, err)
	}
	rec, ok, err := d.Log.Release(ctx, v.String())
	if err != nil {
		return deploy.Decision{}, err
	}
	if !ok || !rec.Published {
		return deploy.Decision{}, fmt.Errorf("%s is not released: agentorg release list shows what is", v.Tag(wf.Release.TagPrefix))
	}
	refuse := func(rule, why string) (deploy.Decision, error) {
		_ = d.record(ctx, eventlog.Event{Issue: rec.Issue, Actor: user, Kind: eventlog.KindRefused, Reason: why,
			Data: map[string]string{"env": env, "version": rec.Version, "rule": rule}})
		return deploy.Decision{}, &RefusedError{Rule: rule, Why: why}
	}
	if !slices.Contains(e.Approvers, user) {
		allowed := "nobody: the environment takes no approvals"
		if len(e.Approvers) > 0 {
			allowed = strings.Join(e.Approvers, ", ")
		}
		return refuse("approvers", fmt.Sprintf("%s may not approve deploying to %s (approvers: %s); change environments.%s.approvers in the workflow to allow them", user, env, allowed, env))
	}
	rules, err := wf.DeployRules()
	if err != nil {
		return deploy.Decision{}, err
	}
	deps, err := d.Log.Deployments(ctx, "")
	if err != nil {
		return deploy.Decision{}, err
	}
	approvals, err := d.Log.DeployApprovals(ctx, env, rec.Version)
	if err != nil {
		return deploy.Decision{}, err
	}
	dec := deploy.Decide(rules, env, deploy.Request{Env: env, Version: rec.Version, By: user, Approvals: append(approvals, user), Now: time.Now()}, eventlog.DeployHistory(deps))
	if !dec.Allow && strings.HasPrefix(dec.Rule, "not passed") {
		return refuse(dec.Rule, dec.Why)
	}
	if err := d.Log.ApproveDeployment(ctx, env, rec.Version, user); err != nil {
		return dec, err
	}
	what := fmt.Sprintf("%s approved deploying %s to %s", user, rec.Tag, env)
	if err := d.record(ctx, eventlog.Event{Issue: rec.Issue, Actor: user, Kind: eventlog.KindDeploy, Reason: what,
		Data: map[string]string{"env": env, "version": rec.Version, "approved": "true"}}); err != nil {
		return dec, err
	}
	// The comment is the change the waiting deploy stage is woken by.
	if _, err := d.Tracker.AddComment(ctx, rec.Issue, what+".", user); err != nil {
		return dec, err
	}
	return dec, nil
}

// StartRelease opens a release issue for user and labels it for the
// release stage. One release is drafted at a time: an open issue carrying
// a release label already is returned with an error naming it.
func (d *Desk) StartRelease(ctx context.Context, user string) (agentorg.Issue, error) {
	wf := d.Workflow
	if wf.Release == nil {
		return agentorg.Issue{}, fmt.Errorf("the workflow has no release section: add one (see the README's Releases) to release")
	}
	open, err := d.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: workflow.ReleasingLabels})
	if err != nil {
		return agentorg.Issue{}, err
	}
	if len(open) > 0 {
		return open[0], fmt.Errorf("#%d is a release in progress (%s): finish or close it first", open[0].Number, strings.Join(open[0].Labels, ", "))
	}
	is, err := d.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Release", Author: user,
		Body: "A release of what merged since the last one, asked for by " + user + "."})
	if err != nil {
		return is, err
	}
	return d.Labels(ctx, is.Number, []string{workflow.LabelRelease}, nil, user)
}
