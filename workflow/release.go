package workflow

import (
	"fmt"
	"github.com/agentorg/agentorg/deploy"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	// The zone database travels in the binary, so that a timezone the
	// workflow names is valid (and means the same) on every host, however
	// bare its /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/agentorg/agentorg"
	"github.com/goccy/go-yaml/ast"
)

// Release says how the organization releases what merged (issue 18). A
// workflow with a release section gets the release lifecycle without
// writing it (see ReleaseLabels): a human (or the schedule) adds the
// release label to an issue; the release stage's agent writes the notes
// and proposes the version; the release gate waits for a human to approve
// them (a rejection, with its reason, goes back to the release stage); the
// publish stage tags and updates the changelog; the deploy stage, when
// there are environments, deploys to them in order.
type Release struct {
	// Agent is the release agent: an agent of the workflow, run read-only.
	// Required.
	Agent string
	// TagPrefix goes before the version in the tag; default "v" ("" when
	// the file says so).
	TagPrefix string
	// Changelog is the changelog file, a path in the repository; default
	// "CHANGELOG.md".
	Changelog string
	// FirstVersion is the version of the first release, MAJOR.MINOR.PATCH;
	// default "0.1.0".
	FirstVersion string
	// Schedule, when not 0, opens a release issue once that long has
	// passed since the last release and something merged since; 0 releases
	// on demand only.
	Schedule time.Duration
	// Approvers approve the notes at the release gate; default: everyone
	// who approves some gate of the file (each once, in file order).
	Approvers []string
}

// Environment is a place the organization deploys a release to, in the
// order the file lists them.
type Environment struct {
	// Name is lower-case letters, digits and dashes, unique.
	Name string
	// Deploy and Verify are required shell commands (sh -c); Rollback is
	// optional: without it a failed verification escalates without rolling
	// back.
	Deploy, Verify, Rollback string
	// Timeout bounds each command; default 10m.
	Timeout time.Duration
	// Auto is how a deployment starts without being asked: "" (never: a
	// human asks), AutoRelease (right after the release is published, and
	// on later environments once the previous one's deployment passed) or
	// AutoHealthy (once the previous environment has been healthy for
	// HealthyFor; never on the first).
	Auto string
	// HealthyFor is set exactly when Auto is AutoHealthy.
	HealthyFor time.Duration
	// Approvers must approve a deployment here, Approvals of them (default
	// 1 when there are approvers, 0 when none; never more than there are).
	Approvers []string
	Approvals int
	// Windows are when deployments may start ("Mon-Fri 09:00-17:00"),
	// Freezes when they may not ("2026-12-24..2026-12-26 holidays"), both
	// as written: package deploy parses them, in TimeZone.
	Windows []Located
	Freezes []Located
	// TimeZone is an IANA zone name; default "UTC".
	TimeZone string
	// MaxPerDay bounds the deployments here in any 24 hours; 0: no limit.
	MaxPerDay int
}

// Located is a value as written, with where it was written, for a package
// that parses it later to report file:line.
type Located struct {
	Text string
	Pos  Position
}

// Release defaults and values.
const (
	DefaultTagPrefix     = "v"
	DefaultChangelog     = "CHANGELOG.md"
	DefaultFirstVersion  = "0.1.0"
	DefaultDeployTimeout = 10 * time.Minute
	DefaultTimeZone      = "UTC"
	AutoRelease          = "release"
	AutoHealthy          = "healthy"
)

// The release lifecycle's labels, stages and gate, which a workflow with a
// release section gets without writing them. A workflow file may not
// define them itself: see checkRelease.
const (
	// LabelRelease starts a release on the issue that carries it. The
	// release gate's rejection sets it again, so the release stage writes
	// the notes anew with the reason.
	LabelRelease           = "release"
	LabelReleaseRunning    = "release:running"
	LabelReleaseReview     = "release:review"
	LabelReleaseApproved   = "release:approved"
	LabelReleasePublishing = "release:publishing"
	LabelReleaseDone       = "release:done"
	// LabelDeployRunning and LabelDeployDone exist when the workflow has
	// environments.
	LabelDeployRunning = "deploy:running"
	LabelDeployDone    = "deploy:done"

	StageRelease = "release"
	StagePublish = "publish"
	StageDeploy  = "deploy"
	GateRelease  = "release"
)

// releaseRoles are the roles only the release lifecycle's own stages run.
var releaseRoles = []string{agentorg.RoleRelease, agentorg.RolePublish, agentorg.RoleDeploy}

// ReleaseLabels are the labels the release section adds, in lifecycle
// order; the deploy labels only with environments.
func ReleaseLabels(withEnvironments bool) []Label {
	ls := []Label{
		{LabelRelease, "#5843ad", "Starts a release: the release agent writes the notes"},
		{LabelReleaseRunning, "#9e8ad9", "The release agent is writing the release notes"},
		{LabelReleaseReview, "#ed9121", "Release notes wait for a human's approval"},
		{LabelReleaseApproved, "#428bca", "Release approved; waiting to be published"},
		{LabelReleasePublishing, "#6699cc", "The release is being tagged and its changelog written"},
		{LabelReleaseDone, "#008000", "Released"},
	}
	if withEnvironments {
		ls = append(ls,
			Label{LabelDeployRunning, "#d1b275", "The release is being deployed to the environments"},
			Label{LabelDeployDone, "#009966", "Released and deployed"})
	}
	return ls
}

// releaseStages are the stages the release section adds.
func releaseStages(r *Release, withEnvironments bool) []Stage {
	ss := []Stage{
		{Name: StageRelease, Role: agentorg.RoleRelease, Agent: r.Agent, On: LabelRelease, Running: LabelReleaseRunning, Success: LabelReleaseReview},
		{Name: StagePublish, Role: agentorg.RolePublish, On: LabelReleaseApproved, Running: LabelReleasePublishing, Success: LabelReleaseDone},
	}
	if withEnvironments {
		ss = append(ss, Stage{Name: StageDeploy, Role: agentorg.RoleDeploy, On: LabelReleaseDone, Running: LabelDeployRunning, Success: LabelDeployDone})
	}
	return ss
}

// Environment returns the environment called name.
func (w *Workflow) Environment(name string) *Environment {
	for i := range w.Environments {
		if w.Environments[i].Name == name {
			return &w.Environments[i]
		}
	}
	return nil
}

var (
	releaseKeys     = []string{"agent", "tag_prefix", "changelog", "first_version", "schedule", "approvers"}
	environmentKeys = []string{"name", "deploy", "verify", "rollback", "timeout", "auto", "healthy_for", "approvers", "approvals", "windows", "freezes", "timezone", "max_per_day"}
	// versionRE is MAJOR.MINOR.PATCH as semantic versioning writes it.
	versionRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	// environmentNameRE is what an environment may be called.
	environmentNameRE = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// release reads the release section, with its defaults.
func (d *decoder) release(e entry) *Release {
	r := &Release{TagPrefix: DefaultTagPrefix, Changelog: DefaultChangelog, FirstVersion: DefaultFirstVersion}
	d.object(e.v, "release", e.keyPos, releaseKeys, []string{"agent"}, func(f entry) {
		switch f.key {
		case "agent":
			r.Agent = d.str(f.v)
		case "tag_prefix":
			r.TagPrefix = d.str(f.v)
			if s := r.TagPrefix; strings.ContainsAny(s, " \t~^:?*[\\") || strings.Contains(s, "..") || strings.Contains(s, "@{") || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "/") {
				d.errorf(f.v.pos, "%s %q cannot begin a git tag name (such as v or release-)", f.v.desc, s)
			}
		case "changelog":
			r.Changelog = d.str(f.v)
			if s := r.Changelog; s == "" || path.IsAbs(s) || path.Clean(s) != s || s == "." || s == ".." || strings.HasPrefix(s, "../") || strings.Contains(s, "\\") {
				d.errorf(f.v.pos, "%s must be a file in the repository, such as %s or docs/CHANGES.md, not %q", f.v.desc, DefaultChangelog, s)
			}
		case "first_version":
			r.FirstVersion = d.str(f.v)
			if !versionRE.MatchString(r.FirstVersion) {
				d.errorf(f.v.pos, "%s must be a version MAJOR.MINOR.PATCH, such as %s or 1.0.0, not %q", f.v.desc, DefaultFirstVersion, r.FirstVersion)
			}
		case "schedule":
			r.Schedule = d.duration(f.v)
		case "approvers":
			r.Approvers = d.users(f.v, at("release", "approvers"), "approver", GateRelease)
		}
	})
	return r
}

// environments reads the environments, in order, with their defaults.
func (d *decoder) environments(e entry) []Environment {
	its, _ := d.items(e.v)
	out := make([]Environment, 0, len(its))
	first := map[string]int{}
	for i, it := range its {
		it.desc = d.itemName(it, "environment", i)
		p := at("environments", strconv.Itoa(i))
		env := Environment{Timeout: DefaultDeployTimeout, TimeZone: DefaultTimeZone}
		written := map[string]Position{} // key -> where its value is
		d.object(it, p, it.pos, environmentKeys, []string{"name", "deploy", "verify"}, func(f entry) {
			written[f.key] = f.v.pos
			switch f.key {
			case "name":
				if env.Name = d.uniqueName(f.v, "environment name", "like staging or prod-eu", environmentNameRE, first); env.Name == "" {
					return
				}
			case "deploy":
				env.Deploy = d.str(f.v)
			case "verify":
				env.Verify = d.str(f.v)
			case "rollback":
				env.Rollback = d.str(f.v)
			case "timeout":
				env.Timeout = d.duration(f.v)
			case "auto":
				env.Auto = d.oneOf(f.v, f.v.desc, []string{AutoRelease, AutoHealthy})
			case "healthy_for":
				env.HealthyFor = d.duration(f.v)
			case "approvers":
				env.Approvers = d.environmentApprovers(f.v, p, it.desc)
			case "approvals":
				if n, ok := d.positive(f.v); ok {
					env.Approvals = n
				}
			case "windows":
				env.Windows = d.located(f.v)
			case "freezes":
				env.Freezes = d.located(f.v)
			case "timezone":
				env.TimeZone = d.timeZone(f.v)
			case "max_per_day":
				if n, ok := d.integer(f.v); ok {
					if n < 0 {
						d.errorf(f.v.pos, "%s must not be negative (0: no limit), not %d", f.v.desc, n)
					}
					env.MaxPerDay = n
				}
			}
		})
		if _, isMap := it.node.(*ast.MappingNode); isMap {
			d.checkEnvironment(&env, i, it.desc, written)
		}
		out = append(out, env)
	}
	return out
}

// checkEnvironment checks what spans an environment's keys, and defaults
// its approvals.
func (d *decoder) checkEnvironment(env *Environment, i int, desc string, written map[string]Position) {
	autoPos, autoSet := written["auto"]
	healthyPos, healthySet := written["healthy_for"]
	switch {
	case env.Auto == AutoHealthy && i == 0:
		d.errorf(autoPos, "%s is the first environment: auto: healthy waits until the previous environment has been healthy for healthy_for, and there is none; use auto: release", desc)
	case env.Auto == AutoHealthy && !healthySet:
		d.errorf(autoPos, "%s has auto: healthy, which waits until the previous environment has been healthy for healthy_for: add healthy_for (such as 30m)", desc)
	case healthySet && env.Auto != AutoHealthy && (!autoSet || env.Auto == AutoRelease):
		d.errorf(healthyPos, "healthy_for in %s only serves auto: healthy (deploy once the previous environment has been healthy that long): add auto: healthy, or remove healthy_for", desc)
	}
	approvalsPos, approvalsSet := written["approvals"]
	switch {
	case !approvalsSet && len(env.Approvers) > 0:
		env.Approvals = 1
	case approvalsSet && env.Approvals > 0 && len(env.Approvers) == 0:
		d.errorf(approvalsPos, "approvals in %s counts approvals from its approvers, and it names none: add approvers", desc)
	case env.Approvals > len(env.Approvers):
		d.errorf(approvalsPos, "%s asks for %d approvals from %d approvers: no deployment could ever be approved", desc, env.Approvals, len(env.Approvers))
	}
}

// environmentApprovers reads an environment's approvers; each is named
// once, since approvals count distinct people.
func (d *decoder) environmentApprovers(v value, p, desc string) []string {
	its, _ := d.items(v)
	var out []string
	for _, it := range its {
		name := d.str(it)
		switch {
		case strings.TrimSpace(name) == "":
			d.errorf(it.pos, "empty approver name in %s", desc)
			continue
		case contains(out, name):
			d.errorf(it.pos, "approver %q is listed twice in %s", name, desc)
			continue
		}
		d.valPos[at(p, "approvers", strconv.Itoa(len(out)))] = it.pos
		out = append(out, name)
	}
	return out
}

// located reads a list of strings, each kept with its position.
func (d *decoder) located(v value) []Located {
	its, _ := d.items(v)
	var out []Located
	for _, it := range its {
		out = append(out, Located{Text: d.str(it), Pos: it.pos})
	}
	return out
}

// timeZone reads an IANA zone name. "Local" is refused: it would mean
// whatever zone the server happens to run in.
func (d *decoder) timeZone(v value) string {
	s := d.str(v)
	switch {
	case s == "":
		d.errorf(v.pos, "%s is empty: leave it out for %s, or name a zone such as Europe/Paris", v.desc, DefaultTimeZone)
	case s == "Local":
		d.errorf(v.pos, "%s: Local would be whatever zone the server runs in; name the zone, such as Europe/Paris or %s", v.desc, DefaultTimeZone)
	default:
		if _, err := time.LoadLocation(s); err != nil {
			d.errorf(v.pos, "%s: unknown time zone %q: use an IANA name such as Europe/Paris, America/New_York or %s", v.desc, s, DefaultTimeZone)
		}
	}
	return s
}

// validateEnvironmentTexts checks each environment's windows and freezes
// with package deploy's parsers, the ones that decide whether a deployment
// may start, so that "agentorg check" shows a text they refuse at its line
// before any deployment waits on it. They are kept as written.
func (d *decoder) validateEnvironmentTexts(w *Workflow) {
	for _, env := range w.Environments {
		loc, err := time.LoadLocation(env.TimeZone)
		if err != nil {
			continue // reported at the time zone's line
		}
		for _, l := range env.Windows {
			if _, err := deploy.ParseWindow(l.Text); err != nil {
				d.errorf(l.Pos, "environment %q: %v", env.Name, err)
			}
		}
		for _, l := range env.Freezes {
			if _, err := deploy.ParseFreeze(l.Text, loc); err != nil {
				d.errorf(l.Pos, "environment %q: %v", env.Name, err)
			}
		}
	}
}

// checkRelease checks the release section and environments against the
// rest of the file, then adds the release lifecycle: its labels, its
// stages (release, publish, and deploy with environments) and its gate,
// for the checks that follow to check with the file's own. What it adds
// is recorded in d.implied, and its positions are the release key's, so
// that a problem they meet points there.
//
// A file may not define a label, stage or gate of the lifecycle itself:
// each is refused at its line rather than merged, since one written for
// another purpose would silently start releases (the label release) or
// stand in for the lifecycle's own.
func (d *decoder) checkRelease(w *Workflow) {
	if w.Release == nil {
		if len(w.Environments) > 0 {
			d.errorf(d.keyPos[at("environments")], "environments need a release section: a deployment deploys a release (notes approved, tagged), so add release: with at least agent: <name of an agent>")
		}
		return
	}
	r := w.Release
	pos := d.keyPos[at("release")]
	withEnvs := len(w.Environments) > 0
	if dc := w.Discord; dc.BotMode() {
		var missing []string
		for _, k := range []string{"release", "deploy"} {
			if !dc.Muted(k) && (k == "release" || withEnvs) && dc.Channel(k) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			d.errorf(pos, "discord (bot mode) has no channel for %s notices: add a default channel under discord.channels, or one for each kind (or mute it)", orList(missing))
		}
	}
	bot := nonEmpty(w.Tracker.Bot, DefaultBot)
	if d.implied == nil {
		d.implied = map[string]bool{}
	}

	agents := make([]string, len(w.Agents))
	for i, a := range w.Agents {
		agents[i] = a.Name
	}
	if r.Agent != "" && !contains(agents, r.Agent) {
		d.errorf(d.valPos[at("release", "agent")], "release.agent %q is not an agent of the workflow: name one defined under agents%s", r.Agent, suggest(r.Agent, agents))
	}

	// The gate's approvers, and where each was written.
	approvers := r.Approvers
	approverPos := make([]Position, len(approvers))
	for i := range approvers {
		approverPos[i] = d.valPos[at("release", "approvers", strconv.Itoa(i))]
	}
	if _, written := d.valPos[at("release", "approvers")]; !written {
		for _, g := range w.Gates {
			for i, a := range g.Approvers {
				if a != bot && !contains(approvers, a) {
					approvers = append(approvers, a)
					approverPos = append(approverPos, d.valPos[at("gates", g.Name, "approvers", strconv.Itoa(i))])
				}
			}
		}
		r.Approvers = approvers
		d.implied[at("gates", GateRelease, "approvers")] = true // no warnings twice
		if len(approvers) == 0 {
			d.errorf(pos, "release has no approvers and no gate names any: add release.approvers, the people who approve release notes")
		}
	} else if len(approvers) == 0 {
		d.errorf(d.valPos[at("release", "approvers")], "release.approvers is empty: nobody could approve a release; name the people who approve release notes, or leave it out for every gate's approvers")
	}

	labels := ReleaseLabels(withEnvs)
	stages := releaseStages(r, withEnvs)
	reserved := func(kind, name string, p Position) {
		d.errorf(p, "%s %q belongs to the release lifecycle, which the release section adds: remove it from %ss (or rename it)", kind, name, kind)
	}
	for i, l := range w.Labels {
		for _, rl := range labels {
			if l.Name == rl.Name {
				reserved("label", l.Name, d.valPos[at("labels", strconv.Itoa(i), "name")])
			}
		}
	}
	for _, s := range w.Stages {
		for _, rs := range stages {
			if s.Name == rs.Name {
				reserved("stage", s.Name, d.keyPos[at("stages", s.Name)])
			}
		}
	}
	for _, g := range w.Gates {
		if g.Name == GateRelease {
			reserved("gate", g.Name, d.keyPos[at("gates", g.Name)])
		}
	}

	for _, l := range labels {
		if w.Label(l.Name) == nil {
			d.valPos[at("labels", strconv.Itoa(len(w.Labels)), "name")] = pos
			w.Labels = append(w.Labels, l)
		}
	}
	for _, s := range stages {
		if w.Stage(s.Name) != nil {
			continue // refused above
		}
		p := at("stages", s.Name)
		d.implied[p] = true
		d.keyPos[p] = pos
		for _, k := range []string{"role", "agent", "on", "running", "success"} {
			d.valPos[at(p, k)] = pos
		}
		w.Stages = append(w.Stages, s)
	}
	if w.Gate(GateRelease) == nil {
		p := at("gates", GateRelease)
		d.implied[p] = true
		d.keyPos[p] = pos
		for _, k := range []string{"waits", "approve", "reject"} {
			d.valPos[at(p, k)] = pos
		}
		for i, ap := range approverPos {
			d.valPos[at(p, "approvers", strconv.Itoa(i))] = ap
		}
		w.Gates = append(w.Gates, Gate{Name: GateRelease, Waits: LabelReleaseReview, Approve: LabelReleaseApproved,
			Reject: LabelRelease, Approvers: approvers})
	}

	for j, env := range w.Environments {
		for i, a := range env.Approvers {
			if a == bot {
				d.errorf(d.valPos[at("environments", strconv.Itoa(j), "approvers", strconv.Itoa(i))], "the bot %q cannot approve deployments to environment %q: its own approvals never count", a, env.Name)
			}
		}
	}
}

// impliedRole says why a stage the file wrote may not run role ("" when
// it may).
func impliedRole(role string) string {
	if !contains(releaseRoles, role) {
		return ""
	}
	return fmt.Sprintf("role %s belongs to the stage the release section adds; a stage of the file cannot run it", role)
}

// DeployRules are the environments' governance as package deploy decides
// it, in order.
func (w *Workflow) DeployRules() ([]deploy.Rules, error) {
	var out []deploy.Rules
	for _, e := range w.Environments {
		loc, err := time.LoadLocation(e.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("environment %s: time zone %q: %w", e.Name, e.TimeZone, err)
		}
		r := deploy.Rules{Name: e.Name, Auto: e.Auto, HealthyFor: e.HealthyFor, Approvers: e.Approvers, Approvals: e.Approvals,
			Location: loc, MaxPerDay: e.MaxPerDay}
		for _, l := range e.Windows {
			win, err := deploy.ParseWindow(l.Text)
			if err != nil {
				return nil, fmt.Errorf("environment %s: %w", e.Name, err)
			}
			r.Windows = append(r.Windows, win)
		}
		for _, l := range e.Freezes {
			fr, err := deploy.ParseFreeze(l.Text, loc)
			if err != nil {
				return nil, fmt.Errorf("environment %s: %w", e.Name, err)
			}
			r.Freezes = append(r.Freezes, fr)
		}
		out = append(out, r)
	}
	return out, nil
}

// ReleasingLabels are the states of a release not yet published: one
// release is drafted at a time.
var ReleasingLabels = []string{LabelRelease, LabelReleaseRunning, LabelReleaseReview, LabelReleaseApproved, LabelReleasePublishing}
