package workflow

import (
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
)

// Defaults for what a workflow leaves out.
const (
	DefaultBot             = "agentorg"
	DefaultRepoURL         = "."
	DefaultTargetBranch    = "main"
	DefaultBranchPrefix    = "agentorg/issue-"
	DefaultAttempts        = 3
	DefaultStallAttempts   = 2
	DefaultAgentTimeout    = 30 * time.Minute
	DefaultAgentStall      = 10 * time.Minute
	DefaultCheckTimeout    = 10 * time.Minute
	DefaultE2ETimeout      = 20 * time.Minute
	DefaultStageConcurrent = 1
	DefaultReviewRounds    = 3
	DefaultGrace           = 10 * time.Minute // auto_approve.grace
	DefaultMaxPerDay       = 10               // auto_approve.max_per_day
)

var roles = []string{agentorg.RolePM, agentorg.RolePick, agentorg.RoleDeveloper, agentorg.RoleValidator, agentorg.RoleMerge, agentorg.RoleE2E, agentorg.RoleCI, agentorg.RoleTriage}

// promptsFor lists the prompts a stage renders; stages that run no agent
// need none.
func promptsFor(s Stage) []string {
	switch s.Role {
	case agentorg.RolePM:
		return []string{PromptPM}
	case agentorg.RoleDeveloper:
		return []string{PromptDeveloper, PromptFix}
	case agentorg.RoleValidator:
		if s.Agent != "" {
			return []string{PromptValidate}
		}
	case agentorg.RoleTriage:
		return []string{PromptTriage, PromptReview}
	}
	return nil
}

// runsAgent reports whether a role must hand work to an agent.
func runsAgent(role string) bool {
	return role == agentorg.RolePM || role == agentorg.RoleDeveloper || role == agentorg.RoleTriage
}

// mayRunAgent reports whether a role can use an agent: the validator's
// judges the acceptance criteria no command can check.
func mayRunAgent(role string) bool { return runsAgent(role) || role == agentorg.RoleValidator }

func applyDefaults(w *Workflow) {
	if w.Tracker.Kind == "" {
		w.Tracker.Kind = TrackerEmbedded
	}
	if w.Tracker.Bot == "" {
		w.Tracker.Bot = DefaultBot
	}
	if w.Repo.URL == "" {
		w.Repo.URL = DefaultRepoURL
	}
	if w.Repo.TargetBranch == "" {
		w.Repo.TargetBranch = DefaultTargetBranch
	}
	if w.Repo.BranchPrefix == "" {
		w.Repo.BranchPrefix = DefaultBranchPrefix
	}
	if w.Budget.Attempts == 0 {
		w.Budget.Attempts = DefaultAttempts
	}
	if w.Budget.StallAttempts == 0 {
		w.Budget.StallAttempts = DefaultStallAttempts
	}
	if w.Budget.ReviewRounds == 0 {
		w.Budget.ReviewRounds = DefaultReviewRounds
	}
	for i := range w.Gates {
		if g := &w.Gates[i]; len(g.Reviewers) == 0 && g.ChangesRequested != "" {
			g.Reviewers = g.Approvers
		}
	}
	for _, g := range w.Gates {
		if g.AutoApprove != nil && g.MergeRequest {
			// Runs on the waits label; success is the approve label.
			w.Stages = append(w.Stages, Stage{Name: AutoApproveStage(g.Name), Role: agentorg.RoleAutoApprove,
				On: g.Waits, Success: g.Approve, Failure: w.Escalation, Concurrency: 1})
		}
	}
	hygieneDefaults(&w.Hygiene)
	if w.Confinement == "" {
		w.Confinement = ConfinementRequired
	}
	for i := range w.Agents {
		a := &w.Agents[i]
		if a.Timeout == 0 {
			a.Timeout = DefaultAgentTimeout
		}
		if a.StallTimeout == 0 {
			a.StallTimeout = DefaultAgentStall
		}
	}
	for i := range w.Stages {
		s := &w.Stages[i]
		if s.Concurrency == 0 {
			s.Concurrency = DefaultStageConcurrent
		}
		if s.Failure == "" {
			s.Failure = w.Escalation
		}
	}
	for i := range w.Checks {
		if w.Checks[i].Timeout == 0 {
			w.Checks[i].Timeout = DefaultCheckTimeout
		}
	}
	if w.E2E.Timeout == 0 {
		w.E2E.Timeout = DefaultE2ETimeout
	}
	if w.Parallel.Overlap == "" {
		w.Parallel.Overlap = OverlapWarn
	}
	if w.E2E.Recovery == "" {
		w.E2E.Recovery = RecoveryRevert
	}
	if w.Prompts == nil {
		w.Prompts = map[string]string{}
	}
}

// validate checks what spans sections: labels, agents, the label graph,
// approvers, checks and prompts. It runs before defaults, so an empty field
// means the file left it out.
func (d *decoder) validate(w *Workflow) {
	d.checkRelease(w) // first: it adds the release lifecycle for the checks below
	d.validateEnvironmentTexts(w)
	d.checkLabels(w)
	d.checkStages(w)
	d.checkGates(w)
	d.checkReachable(w)
	d.checkChecks(w)
	d.checkPrompts(w)
	d.checkDiscord(w)
}

func (d *decoder) checkLabels(w *Workflow) {
	defined := map[string]int{}
	var names []string
	for i, l := range w.Labels {
		if l.Name == "" {
			continue
		}
		p := d.valPos[at("labels", fmt.Sprint(i), "name")]
		if first, dup := defined[l.Name]; dup {
			d.errorf(p, "duplicate label %q (first at line %d)", l.Name, first)
			continue
		}
		defined[l.Name] = p.Line
		names = append(names, l.Name)
	}
	use := func(label, path, role string) {
		if label == "" {
			return
		}
		if _, ok := defined[label]; !ok {
			d.errorf(d.valPos[path], "label %q (%s) is not defined in labels%s", label, role, suggest(label, names))
		}
	}
	use(w.OptIn, at("opt_in"), "opt_in")
	use(w.Escalation, at("escalation"), "escalation")
	for _, s := range w.Stages {
		p := at("stages", s.Name)
		for _, k := range []struct{ key, label string }{{"on", s.On}, {"running", s.Running}, {"success", s.Success}, {"failure", s.Failure}} {
			use(k.label, at(p, k.key), fmt.Sprintf("%s of stage %q", k.key, s.Name))
		}
	}
	for _, g := range w.Gates {
		p := at("gates", g.Name)
		for _, k := range []struct{ key, label string }{{"waits", g.Waits}, {"approve", g.Approve}, {"reject", g.Reject}, {"changes_requested", g.ChangesRequested}} {
			use(k.label, at(p, k.key), fmt.Sprintf("%s of gate %q", k.key, g.Name))
		}
	}
}

func (d *decoder) checkStages(w *Workflow) {
	agents := make([]string, len(w.Agents))
	for i, a := range w.Agents {
		agents[i] = a.Name
	}
	byOn := map[string]string{}
	for _, s := range w.Stages {
		p := at("stages", s.Name)
		implied := d.implied[p] // checked by checkRelease
		switch {
		case implied:
		case impliedRole(s.Role) != "":
			d.errorf(d.valPos[at(p, "role")], "stage %q: %s", s.Name, impliedRole(s.Role))
		case s.Role != "" && !contains(roles, s.Role):
			d.errorf(d.valPos[at(p, "role")], "unknown role %q for stage %q (known: %s)%s", s.Role, s.Name, strings.Join(roles, ", "), suggest(s.Role, roles))
		}
		switch {
		case implied:
		case s.Agent != "" && !contains(agents, s.Agent):
			d.errorf(d.valPos[at(p, "agent")], "stage %q names agent %q, which is not defined in agents%s", s.Name, s.Agent, suggest(s.Agent, agents))
		case s.Agent != "" && contains(roles, s.Role) && !mayRunAgent(s.Role):
			d.errorf(d.valPos[at(p, "agent")], "stage %q names agent %q, but role %s runs no agent", s.Name, s.Agent, s.Role)
		case s.Agent == "" && runsAgent(s.Role):
			d.errorf(d.keyPos[p], "stage %q has role %s, which needs an agent: add agent: <name of an agent>", s.Name, s.Role)
		}
		if s.On != "" {
			if first, dup := byOn[s.On]; dup {
				pos := d.valPos[at(p, "on")]
				if implied {
					pos = d.valPos[at("stages", first, "on")] // the file's stage
				}
				d.errorf(pos, "stages %q and %q both run on label %q: an issue there would go to both", first, s.Name, s.On)
			} else {
				byOn[s.On] = s.Name
			}
		}
		rolePos := d.valPos[at(p, "role")]
		if s.AutoMerge {
			switch {
			case s.Role != agentorg.RoleMerge:
				d.errorf(d.valPos[at(p, "auto_merge")], "stage %q sets auto_merge, which only a merge stage can use (its role is %s)", s.Name, s.Role)
			case w.Tracker.Kind != TrackerGitLab:
				d.errorf(d.valPos[at(p, "auto_merge")], "stage %q sets auto_merge, which hands the merge to GitLab's auto-merge: it needs tracker.kind gitlab", s.Name)
			}
		}
		switch s.Role {
		case agentorg.RoleValidator:
			if len(w.Checks) == 0 {
				d.errorf(rolePos, "stage %q has role validator but no checks are defined: add a checks list", s.Name)
			}
		case agentorg.RoleCI:
			if w.Tracker.Kind != TrackerGitLab {
				d.errorf(rolePos, "stage %q has role ci, which watches the forge's pipelines: it needs tracker.kind gitlab", s.Name)
			}
		case agentorg.RoleTriage:
			if !triageTriggered(w, s.On) {
				d.errorf(d.valPos[at(p, "on")], "stage %q has role triage, which runs on a merge request gate's changes_requested label; no gate names %q there", s.Name, s.On)
			}
			if len(w.StagesWithRole(agentorg.RoleDeveloper)) == 0 {
				d.errorf(rolePos, "stage %q has role triage, whose fixes go to a developer's session: add a stage with role developer", s.Name)
			}
		case agentorg.RoleE2E:
			if strings.TrimSpace(w.E2E.Run) == "" {
				// At the line to fill in, when the file has one.
				pos, written := d.valPos[at("e2e", "run")]
				if !written {
					pos = rolePos
				}
				d.errorf(pos, "stage %q has role e2e but e2e.run is empty: set the end-to-end command", s.Name)
			}
		}
	}
}

func (d *decoder) checkGates(w *Workflow) {
	stageOn := map[string]string{}
	for _, s := range w.Stages {
		if _, dup := stageOn[s.On]; !dup {
			stageOn[s.On] = s.Name
		}
	}
	bot := nonEmpty(w.Tracker.Bot, DefaultBot)
	waits := map[string]string{}
	approves := map[string]string{}
	for _, g := range w.Gates {
		p := at("gates", g.Name)
		if g.Waits != "" {
			wp := d.valPos[at(p, "waits")]
			if first, dup := waits[g.Waits]; dup {
				if d.implied[p] {
					wp = d.valPos[at("gates", first, "waits")] // the file's gate
				}
				d.errorf(wp, "gates %q and %q both wait on label %q", first, g.Name, g.Waits)
			} else {
				waits[g.Waits] = g.Name
			}
			if s, ok := stageOn[g.Waits]; ok {
				d.errorf(wp, "gate %q waits on label %q, which stage %q runs on: the issue would not wait for a human", g.Name, g.Waits, s)
			}
		}
		if g.Approve != "" {
			if first, dup := approves[g.Approve]; dup {
				d.errorf(d.valPos[at(p, "approve")], "gates %q and %q both approve with label %q", first, g.Name, g.Approve)
			} else {
				approves[g.Approve] = g.Name
			}
		}
		if len(g.Approvers) == 0 && g.MinAccessLevel == agentorg.AccessNone && !d.implied[p] {
			pos, ok := d.valPos[at(p, "approvers")]
			if !ok {
				pos = d.keyPos[p]
			}
			d.errorf(pos, "gate %q has no approvers and no min_access_level: nobody could approve", g.Name)
		}
		if g.MinAccessLevel != agentorg.AccessNone && w.Tracker.Kind != TrackerGitLab {
			d.errorf(d.valPos[at(p, "min_access_level")], "gate %q sets min_access_level, but the %s tracker has no project roles: it needs tracker.kind gitlab (name the approvers instead)",
				g.Name, nonEmpty(w.Tracker.Kind, TrackerEmbedded))
		}
		for i, a := range g.Approvers {
			if a == bot {
				d.errorf(d.valPos[at(p, "approvers", fmt.Sprint(i))], "the bot %q cannot approve gate %q: its own label changes never count as approvals", a, g.Name)
			}
		}
		d.checkReview(w, g, bot)
		if g.AutoApprove != nil && !g.MergeRequest {
			d.errorf(d.keyPos[at(p, "auto_approve")], "gate %q sets auto_approve, which approves merge requests by rule: it needs merge_request: true", g.Name)
		}
	}
}

// checkReview checks a gate's review keys: changes_requested belongs to a
// merge request gate and starts a triage stage; reviewers are people.
func (d *decoder) checkReview(w *Workflow, g Gate, bot string) {
	p := at("gates", g.Name)
	for i, r := range g.Reviewers {
		if r == bot {
			d.errorf(d.valPos[at(p, "reviewers", fmt.Sprint(i))], "the bot %q cannot be a reviewer of gate %q: its own comments are never acted on", r, g.Name)
		}
	}
	if g.ChangesRequested == "" {
		if len(g.Reviewers) > 0 {
			d.errorf(d.valPos[at(p, "reviewers", "0")], "gate %q names reviewers but no changes_requested label: nothing would act on their review threads", g.Name)
		}
		return
	}
	cp := d.valPos[at(p, "changes_requested")]
	if !g.MergeRequest {
		d.errorf(cp, "gate %q sets changes_requested, which is for merge request gates: add merge_request: true", g.Name)
	}
	if g.ChangesRequested == g.Waits || g.ChangesRequested == g.Approve || g.ChangesRequested == g.Reject {
		d.errorf(cp, "gate %q: changes_requested %q must differ from waits, approve and reject", g.Name, g.ChangesRequested)
		return
	}
	s := w.StageOn(g.ChangesRequested)
	switch {
	case s == nil:
		d.errorf(cp, "gate %q: no stage runs on changes_requested label %q: add a stage with role triage and on: %s", g.Name, g.ChangesRequested, g.ChangesRequested)
	case s.Role != agentorg.RoleTriage:
		d.errorf(d.valPos[at("stages", s.Name, "role")], "stage %q runs on gate %q's changes_requested label %q, so its role must be triage, not %s", s.Name, g.Name, g.ChangesRequested, s.Role)
	}
}

// checkReachable walks the label graph from opt_in: a stage leads from its
// on label to running, success and failure (escalation by default); a gate
// from waits to approve and reject. Stages and gates off the walk are dead.
func (d *decoder) checkReachable(w *Workflow) {
	if w.OptIn == "" {
		return
	}
	next := map[string][]string{}
	for _, s := range w.Stages {
		next[s.On] = append(next[s.On], s.Running, s.Success, nonEmpty(s.Failure, w.Escalation))
	}
	for _, g := range w.Gates {
		next[g.Waits] = append(next[g.Waits], g.Approve, g.Reject, g.ChangesRequested)
	}
	if _, ok := next[w.OptIn]; !ok {
		d.errorf(d.valPos[at("opt_in")], "no stage runs on and no gate waits on opt_in label %q: opting an issue in would do nothing", w.OptIn)
	}
	seen := map[string]bool{w.OptIn: true}
	queue := []string{w.OptIn}
	if w.Release != nil {
		// A human, or the schedule, starts a release with its label.
		seen[LabelRelease] = true
		queue = append(queue, LabelRelease)
	}
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		for _, n := range next[l] {
			if n != "" && !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, s := range w.Stages {
		if s.On != "" && !seen[s.On] {
			d.errorf(d.valPos[at("stages", s.Name, "on")], "stage %q can never run: nothing sets label %q", s.Name, s.On)
		}
	}
	for _, g := range w.Gates {
		if g.Waits != "" && !seen[g.Waits] {
			d.errorf(d.valPos[at("gates", g.Name, "waits")], "gate %q can never be reached: nothing sets label %q", g.Name, g.Waits)
		}
	}
}

func (d *decoder) checkChecks(w *Workflow) {
	first := map[string]int{}
	for i, c := range w.Checks {
		if c.Name == "" {
			continue
		}
		p := d.valPos[at("checks", fmt.Sprint(i), "name")]
		if line, dup := first[c.Name]; dup {
			d.errorf(p, "duplicate check name %q (first at line %d)", c.Name, line)
			continue
		}
		first[c.Name] = p.Line
	}
}

func (d *decoder) checkPrompts(w *Workflow) {
	for _, s := range w.Stages {
		for _, name := range promptsFor(s) {
			if _, ok := w.Prompts[name]; !ok {
				d.errorf(d.valPos[at("stages", s.Name, "role")], "stage %q has role %s, which needs prompt %q: add it under prompts", s.Name, s.Role, name)
			}
		}
	}
	for _, name := range promptNames {
		v, ok := d.prompts[name]
		if !ok {
			continue
		}
		if strings.TrimSpace(w.Prompts[name]) == "" {
			d.errorf(v.pos, "prompt %q is empty", name)
			continue
		}
		for _, te := range checkTemplate(name, w.Prompts[name]) {
			d.errorf(d.templatePos(v, w.Prompts[name], te), "prompt %q: %s", name, te.msg)
		}
	}
}

// triageTriggered reports whether label is some merge request gate's
// changes_requested label.
func triageTriggered(w *Workflow, label string) bool {
	for _, g := range w.Gates {
		if g.MergeRequest && g.ChangesRequested != "" && g.ChangesRequested == label {
			return true
		}
	}
	return false
}
