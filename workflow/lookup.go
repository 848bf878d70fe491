package workflow

import "fmt"

// Lookups return pointers into the workflow's slices, or nil when nothing
// matches. Validation guarantees names, on labels, waits labels and approve
// labels are unique, so the first match is the only one.

// Stage returns the stage called name.
func (w *Workflow) Stage(name string) *Stage {
	for i := range w.Stages {
		if w.Stages[i].Name == name {
			return &w.Stages[i]
		}
	}
	return nil
}

// StageOn returns the stage that runs on label.
func (w *Workflow) StageOn(label string) *Stage {
	for i := range w.Stages {
		if w.Stages[i].On == label {
			return &w.Stages[i]
		}
	}
	return nil
}

// StagesWithRole returns the stages that run role, in file order.
func (w *Workflow) StagesWithRole(role string) []*Stage {
	var out []*Stage
	for i := range w.Stages {
		if w.Stages[i].Role == role {
			out = append(out, &w.Stages[i])
		}
	}
	return out
}

// Gate returns the gate called name.
func (w *Workflow) Gate(name string) *Gate {
	for i := range w.Gates {
		if w.Gates[i].Name == name {
			return &w.Gates[i]
		}
	}
	return nil
}

// AutoApproveStage names the stage the workflow adds for a gate's
// auto_approve rules.
func AutoApproveStage(gate string) string { return "auto-approve-" + gate }

// GateWaiting returns the gate whose Waits is label.
func (w *Workflow) GateWaiting(label string) *Gate {
	for i := range w.Gates {
		if w.Gates[i].Waits == label {
			return &w.Gates[i]
		}
	}
	return nil
}

// GateApproving returns the gate whose Approve is label.
func (w *Workflow) GateApproving(label string) *Gate {
	for i := range w.Gates {
		if w.Gates[i].Approve == label {
			return &w.Gates[i]
		}
	}
	return nil
}

// Agent returns the agent called name.
func (w *Workflow) Agent(name string) *Agent {
	for i := range w.Agents {
		if w.Agents[i].Name == name {
			return &w.Agents[i]
		}
	}
	return nil
}

// Label returns the label called name.
func (w *Workflow) Label(name string) *Label {
	for i := range w.Labels {
		if w.Labels[i].Name == name {
			return &w.Labels[i]
		}
	}
	return nil
}

// StateLabels returns every label that carries lifecycle state: those the
// stages and gates use, opt_in and escalation. They come in label-list
// order, without repeats; a used label missing from the list (only possible
// in a workflow built by hand) comes last.
func (w *Workflow) StateLabels() []string {
	used := map[string]bool{}
	var order []string
	add := func(ls ...string) {
		for _, l := range ls {
			if l != "" && !used[l] {
				used[l] = true
				order = append(order, l)
			}
		}
	}
	add(w.OptIn, w.Escalation)
	for _, s := range w.Stages {
		add(s.On, s.Running, s.Success, s.Failure)
	}
	for _, g := range w.Gates {
		add(g.Waits, g.Approve, g.Reject)
	}
	out := make([]string, 0, len(order))
	listed := map[string]bool{}
	for _, l := range w.Labels {
		if used[l.Name] && !listed[l.Name] {
			listed[l.Name] = true
			out = append(out, l.Name)
		}
	}
	for _, l := range order {
		if !listed[l] {
			out = append(out, l)
		}
	}
	return out
}

// HowToApprove tells a person how to pass gate g on issue n: with the CLI on
// the embedded tracker, in the tracker itself on GitLab (where the CLI acts
// as the bot's token and cannot approve for anyone).
func (w *Workflow) HowToApprove(g *Gate, n int64) string {
	if w.Tracker.Kind == TrackerGitLab {
		if g.MergeRequest {
			return fmt.Sprintf("an approver approves the merge request in GitLab and adds the `%s` label", g.Approve)
		}
		return fmt.Sprintf("an approver adds the `%s` label in GitLab", g.Approve)
	}
	return fmt.Sprintf("an approver can run `agentorg approve %d`", n)
}

// Lifecycle returns the state labels in the order an issue meets them: from
// opt_in along each stage's running and success labels and each gate's
// approval first, then the side roads (failures, changes requested,
// rejections) where they branch off, and the escalation label last. Labels
// nothing leads to from opt_in follow in StateLabels order.
func (w *Workflow) Lifecycle() []string {
	seen := map[string]bool{}
	var order []string
	var visit func(l string)
	visit = func(l string) {
		if l == "" || seen[l] || l == w.Escalation {
			return
		}
		seen[l] = true
		order = append(order, l)
		for _, s := range w.Stages {
			switch l {
			case s.On:
				visit(s.Running)
				fallthrough
			case s.Running:
				visit(s.Success)
				visit(s.Failure)
			}
		}
		if g := w.GateWaiting(l); g != nil {
			visit(g.Approve)
			visit(g.ChangesRequested)
			visit(g.Reject)
		}
	}
	visit(w.OptIn)
	for _, l := range w.StateLabels() {
		visit(l)
	}
	if w.Escalation != "" {
		order = append(order, w.Escalation)
	}
	return order
}
