package role

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/deploy"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/workflow"
)

// deployer takes a published release through the workflow's environments
// in order, each when its governance allows (package deploy decides: the
// previous environment passed, a rule or the approvers promoted it, inside
// a window, outside a freeze, under the day's limit). A deployment is
// recorded before its command runs, verified after, and rolled back to the
// last good version when verify fails; the failure is escalated with an
// issue of its own. While governance holds a promotion the stage waits,
// until the time it names or until a person acts.
type deployer struct{}

func (deployer) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	wf, n, bot := d.Workflow, r.Issue.Number, d.Workflow.Tracker.Bot
	rec, ok, err := d.Log.ReleaseOf(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if !ok || !rec.Published {
		return Outcome{}, Permanent(fmt.Errorf("issue #%d has no published release to deploy", n))
	}
	rules, err := wf.DeployRules()
	if err != nil {
		return Outcome{}, Permanent(err)
	}
	var external time.Duration
	for i := range wf.Environments {
		env := &wf.Environments[i]
		deps, err := d.Log.Deployments(ctx, "")
		if err != nil {
			return Outcome{}, err
		}
		last, found := newest(deps, env.Name, rec.Version)
		switch {
		case found && last.State == deploy.StateSucceeded:
			continue // deployed here already
		case found && last.State == deploy.StateRunning:
			// A deployment a crash cut short: finish that one, not another.
			ok, ext, err := runDeployment(ctx, d, r, env, rec, last)
			external += ext
			if err != nil || !ok {
				return failed(ctx, d, r, env, rec, external, err)
			}
			continue
		case found && last.State == deploy.StateFailed:
			return failed(ctx, d, r, env, rec, external, nil)
		}
		approvals, err := d.Log.DeployApprovals(ctx, env.Name, rec.Version)
		if err != nil {
			return Outcome{}, err
		}
		by := ""
		if len(approvals) > 0 {
			by = approvals[0]
		}
		dec := deploy.Decide(rules, env.Name, deploy.Request{Env: env.Name, Version: rec.Version, By: by, Approvals: approvals, Now: time.Now()}, eventlog.DeployHistory(deps))
		if !dec.Allow {
			if dec.Rule == deploy.RuleAlreadyDeployed {
				continue
			}
			// A person or the clock: either way a one-shot run leaves the
			// release at rest (a window may open in hours), and the daemon
			// comes back when the issue changes or at the time governance
			// names. The engine records the wait with its reason: the rule.
			if len(dec.Waiting) > 0 {
				askApprovers(ctx, d, r, env.Name, rec.Version, dec)
			}
			out := Outcome{Wait: true, ForHuman: true, Reason: dec.Why}
			if !dec.Retry.IsZero() {
				out.Watch = &Watch{Until: dec.Retry}
			}
			return out, nil
		}
		ok, ext, err := runDeployment(ctx, d, r, env, rec, eventlog.Deployment{AllowedBy: dec.Rule})
		external += ext
		if err != nil || !ok {
			return failed(ctx, d, r, env, rec, external, err)
		}
	}
	if err := d.Tracker.CloseIssue(ctx, n, bot); err != nil {
		return Outcome{}, err
	}
	var names []string
	for _, e := range wf.Environments {
		names = append(names, e.Name)
	}
	return Outcome{Reason: fmt.Sprintf("deployed %s to %s", rec.Tag, strings.Join(names, ", ")), External: external}, nil
}

// newest is the newest deployment (not a rollback) of version to env.
func newest(deps []eventlog.Deployment, env, version string) (eventlog.Deployment, bool) {
	for i := len(deps) - 1; i >= 0; i-- {
		if x := deps[i]; x.Env == env && x.Version == version && !x.Rollback {
			return x, true
		}
	}
	return eventlog.Deployment{}, false
}

// askApprovers records, once per reason, that a deployment waits for its
// environment's approvers, naming them: the event a notice to them opens on.
func askApprovers(ctx context.Context, d *Deps, r *Run, env, version string, dec deploy.Decision) {
	evs, err := d.Log.Events(ctx, eventlog.Filter{Issue: r.Issue.Number, Kind: eventlog.KindDeploy})
	if err != nil {
		return
	}
	for _, e := range evs {
		if e.Data["waiting"] != "" && e.Reason == dec.Why {
			return
		}
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
		Kind: eventlog.KindDeploy, Reason: dec.Why,
		Data: map[string]string{"env": env, "version": version, "rule": dec.Rule, "waiting": strings.Join(dec.Waiting, ",")}})
}

// deployEnv is what a deploy, verify or rollback command is told: the
// checks' environment (no token, nothing of the agents') and the version.
func deployEnv(d *Deps, env *workflow.Environment, version, tag, commit string) []string {
	return append(append([]string{}, d.CheckEnv...),
		"AGENTORG_ENVIRONMENT="+env.Name, "AGENTORG_VERSION="+version, "AGENTORG_TAG="+tag, "AGENTORG_COMMIT="+commit)
}

// runDeployment deploys the release to env and verifies it, under the
// record dep (a crash's, running; or ID 0: a new one allowed by
// dep.AllowedBy), in a clean checkout of the released commit. false: it
// failed (deploy or verify), was recorded failed, and rolled back to the
// last good version where there is one.
func runDeployment(ctx context.Context, d *Deps, r *Run, env *workflow.Environment, rec eventlog.ReleaseRecord, dep eventlog.Deployment) (bool, time.Duration, error) {
	bot := d.Workflow.Tracker.Bot
	forge, _ := d.Tracker.(agentorg.DeploymentRecorder)
	id, forgeID, allowedBy := dep.ID, dep.ForgeID, dep.AllowedBy
	if id == 0 {
		var err error
		if id, err = d.Log.StartDeployment(ctx, eventlog.Deployment{Env: env.Name, Version: rec.Version, Commit: rec.Commit,
			State: deploy.StateRunning, AllowedBy: allowedBy, Issue: r.Issue.Number}); err != nil {
			return false, 0, err
		}
		_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindDeploy,
			Reason: fmt.Sprintf("deploying %s to %s (%s)", rec.Tag, env.Name, allowedBy),
			Data:   map[string]string{"env": env.Name, "version": rec.Version, "deployment": fmt.Sprint(id), "rule": allowedBy}})
		if forge != nil {
			if forgeID, err = forge.StartDeployment(ctx, agentorg.Deployment{Environment: env.Name, Version: rec.Version, Tag: rec.Tag, Commit: rec.Commit, Status: agentorg.DeploymentRunning}); err != nil {
				return false, 0, err
			}
			if err := d.Log.SetDeploymentForge(ctx, id, forgeID); err != nil {
				return false, 0, err
			}
		}
	}
	dir, release, err := d.checkout(ctx, rec.Commit)
	if err != nil {
		return false, 0, err
	}
	defer release()
	began := time.Now()
	vars := deployEnv(d, env, rec.Version, rec.Tag, rec.Commit)
	var out strings.Builder
	run := func(what, cmd string) check.Result {
		res := check.Run(ctx, dir, vars, check.Check{Name: what + " " + env.Name, Run: cmd, Timeout: env.Timeout, Started: r.OnStart}, nil)
		fmt.Fprintf(&out, "== %s (%s): %s\n%s\n", what, cmd, passFail(res), res.Output)
		return res
	}
	res := run("deploy", env.Deploy)
	if res.Passed {
		res = run("verify", env.Verify)
	}
	if ctx.Err() != nil {
		return false, time.Since(began), ctx.Err() // cut short: the record stays running for the restart
	}
	state, status := deploy.StateSucceeded, agentorg.DeploymentSuccess
	if !res.Passed {
		state, status = deploy.StateFailed, agentorg.DeploymentFailed
	}
	if err := d.Log.FinishDeployment(ctx, id, state, out.String()); err != nil {
		return false, time.Since(began), err
	}
	if forge != nil && forgeID != 0 {
		if err := forge.FinishDeployment(ctx, forgeID, status); err != nil {
			return false, time.Since(began), err
		}
	}
	if res.Passed {
		_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindDeploy,
			Reason: fmt.Sprintf("deployed %s to %s and verified it", rec.Tag, env.Name),
			Data:   map[string]string{"env": env.Name, "version": rec.Version, "deployment": fmt.Sprint(id), "state": state}})
		return true, time.Since(began), nil
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindDeploy,
		Reason: fmt.Sprintf("%s of %s to %s failed: %s", res.Name, rec.Tag, env.Name, oneLine(res.Reason)),
		Data:   map[string]string{"env": env.Name, "version": rec.Version, "deployment": fmt.Sprint(id), "state": state}})
	if err := rollBack(ctx, d, r, env, rec, dir); err != nil {
		return false, time.Since(began), err
	}
	return false, time.Since(began), nil
}

func passFail(r check.Result) string {
	if r.Passed {
		return "ok"
	}
	return "failed: " + oneLine(r.Reason)
}

// rollBack runs env's rollback command to the last good version there,
// when the environment has one and there is such a version.
func rollBack(ctx context.Context, d *Deps, r *Run, env *workflow.Environment, rec eventlog.ReleaseRecord, dir string) error {
	deps, err := d.Log.Deployments(ctx, env.Name)
	if err != nil {
		return err
	}
	to := deploy.LastGood(env.Name, rec.Version, eventlog.DeployHistory(deps))
	bot := d.Workflow.Tracker.Bot
	if env.Rollback == "" || to == "" {
		why := "the environment has no rollback command"
		if env.Rollback != "" {
			why = "no earlier version succeeded there"
		}
		_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindDeploy,
			Reason: fmt.Sprintf("no rollback of %s: %s", env.Name, why), Data: map[string]string{"env": env.Name}})
		return nil
	}
	good, ok, err := d.Log.Release(ctx, to)
	if err != nil {
		return err
	}
	commit, tag := "", to
	if ok {
		commit, tag = good.Commit, good.Tag
	}
	id, err := d.Log.StartDeployment(ctx, eventlog.Deployment{Env: env.Name, Version: to, Commit: commit, State: deploy.StateRunning, Rollback: true,
		AllowedBy: fmt.Sprintf("rollback after %s failed", rec.Tag), Issue: r.Issue.Number})
	if err != nil {
		return err
	}
	res := check.Run(ctx, dir, deployEnv(d, env, to, tag, commit), check.Check{Name: "rollback " + env.Name, Run: env.Rollback, Timeout: env.Timeout, Started: r.OnStart}, nil)
	state := deploy.StateRolledBack
	if !res.Passed {
		state = deploy.StateFailed
	}
	if err := d.Log.FinishDeployment(ctx, id, state, fmt.Sprintf("== rollback (%s): %s\n%s\n", env.Rollback, passFail(res), res.Output)); err != nil {
		return err
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindDeploy,
		Reason: fmt.Sprintf("rolled %s back to %s: %s", env.Name, tag, passFail(res)),
		Data:   map[string]string{"env": env.Name, "version": to, "deployment": fmt.Sprint(id), "state": state, "rollback": "true"}})
	return nil
}

// failed escalates the release issue after a failed deployment to env, and
// opens an issue for the failure (once), linked to the release and its
// issues.
func failed(ctx context.Context, d *Deps, r *Run, env *workflow.Environment, rec eventlog.ReleaseRecord, external time.Duration, err error) (Outcome, error) {
	if err != nil {
		return Outcome{}, err
	}
	n, bot := r.Issue.Number, d.Workflow.Tracker.Bot
	key := fmt.Sprintf("deploy-failed:%s:%s", env.Name, rec.Version)
	issue, err := failureIssue(ctx, d, n, key)
	if err != nil {
		return Outcome{}, err
	}
	if issue == 0 {
		deps, err := d.Log.Deployments(ctx, env.Name)
		if err != nil {
			return Outcome{}, err
		}
		tail := ""
		if last, ok := newest(deps, env.Name, rec.Version); ok {
			tail = lastLines(last.Output, 30)
		}
		var refs []string
		for _, i := range rec.Issues {
			refs = append(refs, fmt.Sprintf("#%d", i))
		}
		is, err := d.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("Deploying %s to %s failed", rec.Tag, env.Name),
			Body: fmt.Sprintf("%s\nThe deployment of %s (%.10s, release #%d) to %s failed and was rolled back where it could be.\n\nThe release carries %s.\n\n```\n%s\n```\n",
				agentorg.Marker(key), rec.Tag, rec.Commit, n, env.Name, strings.Join(refs, ", "), tail), Author: bot})
		if err != nil {
			return Outcome{}, err
		}
		issue = is.Number
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindDeploy,
			Reason: fmt.Sprintf("opened #%d for the failed deployment of %s to %s", issue, rec.Tag, env.Name),
			Data:   map[string]string{"env": env.Name, "version": rec.Version, "failure_issue": fmt.Sprint(issue), "key": key}})
	}
	return Outcome{To: d.Workflow.Escalation, External: external,
		Reason: fmt.Sprintf("deploying %s to %s failed verify and was rolled back: see #%d", rec.Tag, env.Name, issue)}, nil
}

// failureIssue is the issue already opened for a failed deployment (key),
// 0 when none was.
func failureIssue(ctx context.Context, d *Deps, n int64, key string) (int64, error) {
	evs, err := d.Log.Events(ctx, eventlog.Filter{Issue: n})
	if err != nil {
		return 0, err
	}
	for _, e := range evs {
		if e.Kind == eventlog.KindDeploy && e.Data["key"] == key {
			var i int64
			fmt.Sscan(e.Data["failure_issue"], &i)
			return i, nil
		}
	}
	// Opened, and a crash came before the record: the issue carries the key.
	all, err := d.Tracker.ListIssues(ctx, agentorg.IssueFilter{})
	if err != nil {
		return 0, err
	}
	for _, is := range all {
		if agentorg.HasMarker(is.Body, key) {
			return is.Number, nil
		}
	}
	return 0, nil
}
