package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentorg/agentorg/gate"
)

// release: a release's notes wait at the release gate. The notice carries
// the notes as they will be tagged, the version (and why agentorg
// corrected the agent's), the released commit and the CHANGELOG change.
func (s *story) release(ctx context.Context, n *Notice) error {
	wf := s.src.Workflow
	g := wf.GateWaiting(s.opening.To)
	n.Mentions = sortedCopy(g.Approvers)
	rec, ok, err := s.src.Log.ReleaseOf(ctx, s.issue.Number)
	if err != nil {
		return err
	}
	version, err := gate.PlanVersion(ctx, s.src.Tracker, s.issue.Number)
	if err != nil {
		return err
	}
	noun := "release"
	if !ok {
		n.Text = "_The release notes are missing: the release stage may still be writing them._"
	} else {
		noun = "release " + rec.Tag
		n.Text = strings.TrimSpace(rec.Notes)
		n.Fields = append(n.Fields,
			Field{Name: "Version", Value: "`" + rec.Tag + "`", Inline: true},
			Field{Name: "Commit", Value: fmt.Sprintf("`%s` (E2E passed)", short(rec.Commit)), Inline: true},
			Field{Name: "Issues", Value: fmt.Sprint(len(rec.Issues)), Inline: true},
			Field{Name: "CHANGELOG change", Value: fmt.Sprintf("!%d", rec.MR), Inline: true})
		if rec.Correction != "" {
			n.Fields = append(n.Fields, Field{Name: "Version corrected", Value: rec.Correction})
		}
	}
	n.Fields = append(n.Fields, Field{Name: "Approvers", Value: g.Allowed(), Inline: true},
		Field{Name: "How to decide", Value: howTo(wf, g, s.issue.Number)})
	if s.gateStatus(n, g, noun, "release") {
		n.Ask = &Ask{Gate: g.Name, Plan: version}
	}
	return nil
}

// deploy: a deployment waits for its environment's approvers. The event
// that opened it says which environment, version and people; the notice
// closes once the version ran there (or the release moved on).
func (s *story) deploy(ctx context.Context, n *Notice) error {
	env, version := s.opening.Data["env"], s.opening.Data["version"]
	n.Mentions = sortedCopy(strings.Split(s.opening.Data["waiting"], ","))
	tag := version
	if r := s.src.Workflow.Release; r != nil {
		tag = r.TagPrefix + version
	}
	n.Title = s.title(fmt.Sprintf("%s waits to deploy to %s", tag, env))
	n.Text = s.opening.Reason
	n.Fields = append(n.Fields,
		Field{Name: "Environment", Value: env, Inline: true},
		Field{Name: "Version", Value: "`" + tag + "`", Inline: true},
		Field{Name: "How to approve", Value: fmt.Sprintf("`agentorg deploy approve %s --to %s --as NAME`", tag, env)})
	n.Color, n.Status = ColorWaiting, fmt.Sprintf("waits since %s", stamp(s.opening.At))
	for _, e := range s.later {
		if e.Data["env"] != env || e.Data["version"] != version {
			continue
		}
		switch {
		case e.Data["approved"] == "true":
			n.Status = fmt.Sprintf("%s at %s · %s", e.Reason, stamp(e.At), s.where())
		case e.Data["state"] != "" && e.Data["rollback"] == "":
			n.Status = fmt.Sprintf("%s at %s · %s", e.Reason, stamp(e.At), s.where())
			n.Closed = true
			n.Color = ColorDone
			if e.Data["state"] != "succeeded" {
				n.Color = ColorFailed
			}
			n.Title = s.title(fmt.Sprintf("%s to %s: %s", tag, env, e.Data["state"]))
		}
	}
	return nil
}
