package workflow

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
)

// withRelease appends sections (top-level YAML) to the base document.
func withRelease(t *testing.T, sections string) string {
	t.Helper()
	return readBase(t) + sections
}

const releaseMinimal = "release:\n  agent: coder\n"

func TestReleaseParsesWithDefaults(t *testing.T) {
	w, err := Parse("wf.yaml", []byte(withRelease(t, releaseMinimal)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &Release{Agent: "coder", TagPrefix: "v", Changelog: "CHANGELOG.md", FirstVersion: "0.1.0",
		Approvers: []string{"alice", "bob"}} // every gate's approvers, each once
	if !reflect.DeepEqual(w.Release, want) {
		t.Errorf("release\n got %+v\nwant %+v", w.Release, want)
	}
	if w.Environments != nil {
		t.Errorf("environments = %+v, want none", w.Environments)
	}
}

func TestReleaseParsesExplicitValues(t *testing.T) {
	src := withRelease(t, `release:
  agent: coder
  tag_prefix: ""
  changelog: docs/CHANGES.md
  first_version: 1.0.0
  schedule: 168h
  approvers: [carol]
`)
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &Release{Agent: "coder", TagPrefix: "", Changelog: "docs/CHANGES.md", FirstVersion: "1.0.0",
		Schedule: 168 * time.Hour, Approvers: []string{"carol"}}
	if !reflect.DeepEqual(w.Release, want) {
		t.Errorf("release\n got %+v\nwant %+v", w.Release, want)
	}
	if g := w.Gate(GateRelease); g == nil || !reflect.DeepEqual(g.Approvers, []string{"carol"}) {
		t.Errorf("release gate = %+v, want approvers [carol]", g)
	}
}

const environmentsExample = `environments:
  - name: staging
    deploy: ./deploy.sh staging
    verify: curl -fsS https://staging.example.com/health
  - name: prod
    deploy: ./deploy.sh prod
    verify: ./smoke.sh prod
    rollback: ./deploy.sh prod --previous
    timeout: 20m
    auto: healthy
    healthy_for: 1h
    approvers: [alice, bob]
    approvals: 2
    windows: ["Mon-Fri 09:00-17:00", "Sat 10:00-12:00"]
    freezes: ["2026-12-24..2026-12-26 holidays"]
    timezone: Europe/Paris
    max_per_day: 3
  - name: edge
    deploy: ./deploy.sh edge
    verify: ./smoke.sh edge
    auto: release
    approvers: [carol]
`

func TestEnvironmentsParse(t *testing.T) {
	src := withRelease(t, releaseMinimal+environmentsExample)
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	line := func(s string) int {
		return strings.Count(src[:strings.Index(src, s)], "\n") + 1
	}
	want := []Environment{
		{Name: "staging", Deploy: "./deploy.sh staging", Verify: "curl -fsS https://staging.example.com/health",
			Timeout: 10 * time.Minute, TimeZone: "UTC"},
		{Name: "prod", Deploy: "./deploy.sh prod", Verify: "./smoke.sh prod", Rollback: "./deploy.sh prod --previous",
			Timeout: 20 * time.Minute, Auto: AutoHealthy, HealthyFor: time.Hour,
			Approvers: []string{"alice", "bob"}, Approvals: 2,
			Windows: []Located{
				{"Mon-Fri 09:00-17:00", Position{line("Mon-Fri"), 15}},
				{"Sat 10:00-12:00", Position{line("Mon-Fri"), 38}},
			},
			Freezes:  []Located{{"2026-12-24..2026-12-26 holidays", Position{line("2026-12-24"), 15}}},
			TimeZone: "Europe/Paris", MaxPerDay: 3},
		{Name: "edge", Deploy: "./deploy.sh edge", Verify: "./smoke.sh edge", Timeout: 10 * time.Minute,
			Auto: AutoRelease, Approvers: []string{"carol"}, Approvals: 1, TimeZone: "UTC"},
	}
	if !reflect.DeepEqual(w.Environments, want) {
		t.Errorf("environments\n got %+v\nwant %+v", w.Environments, want)
	}
	if e := w.Environment("prod"); e == nil || e.Name != "prod" || e != &w.Environments[1] {
		t.Errorf("Environment(prod) = %+v", e)
	}
	if w.Environment("nowhere") != nil {
		t.Error("Environment(nowhere) found one")
	}
}

// The release lifecycle is added: its labels, stages and gate, with the
// labels' colours; the workflow is valid with them and the issue can go
// from release to deploy:done.
func TestReleaseLifecycleIsAdded(t *testing.T) {
	for _, withEnvs := range []bool{false, true} {
		src := releaseMinimal
		if withEnvs {
			src += environmentsExample
		}
		w, err := Parse("wf.yaml", []byte(withRelease(t, src)), testEnv)
		if err != nil {
			t.Fatal(err)
		}
		labels := ReleaseLabels(withEnvs)
		for _, l := range labels {
			got := w.Label(l.Name)
			if got == nil || *got != l || !colorRE.MatchString(got.Color) || got.Description == "" {
				t.Errorf("envs %v: label %q = %+v, want %+v", withEnvs, l.Name, got, l)
			}
		}
		if got := len(w.Labels); got != 15+len(labels) {
			t.Errorf("envs %v: %d labels, want the base's 15 and %d", withEnvs, got, len(labels))
		}
		stages := []Stage{
			{Name: StageRelease, Role: agentorg.RoleRelease, Agent: "coder", On: "release", Running: "release:running", Success: "release:review", Failure: "needs:human", Concurrency: 1},
			{Name: StagePublish, Role: agentorg.RolePublish, On: "release:approved", Running: "release:publishing", Success: "release:done", Failure: "needs:human", Concurrency: 1},
		}
		if withEnvs {
			stages = append(stages, Stage{Name: StageDeploy, Role: agentorg.RoleDeploy, On: "release:done", Running: "deploy:running", Success: "deploy:done", Failure: "needs:human", Concurrency: 1})
		}
		for _, s := range stages {
			if got := w.Stage(s.Name); got == nil || !reflect.DeepEqual(*got, s) {
				t.Errorf("envs %v: stage %q = %+v, want %+v", withEnvs, s.Name, got, s)
			}
		}
		if !withEnvs && w.Stage(StageDeploy) != nil {
			t.Error("a deploy stage without environments")
		}
		wantGate := Gate{Name: GateRelease, Waits: "release:review", Approve: "release:approved", Reject: "release", Approvers: []string{"alice", "bob"}}
		if got := w.Gate(GateRelease); got == nil || !reflect.DeepEqual(*got, wantGate) {
			t.Errorf("envs %v: gate = %+v, want %+v", withEnvs, got, wantGate)
		}
		if w.GateWaiting(LabelReleaseReview) == nil || w.StageOn(LabelRelease) == nil {
			t.Error("lookups do not find the release stage and gate")
		}
		// The release labels follow the lifecycle, before escalation.
		life := w.Lifecycle()
		var order []string
		for _, l := range labels {
			order = append(order, l.Name)
		}
		i := slices.Index(life, LabelRelease)
		if i < 0 || !slices.Equal(life[i:i+len(order)], order) || life[len(life)-1] != "needs:human" {
			t.Errorf("envs %v: lifecycle %v, want %v in a row", withEnvs, life, order)
		}
		for _, l := range order {
			if !slices.Contains(w.StateLabels(), l) {
				t.Errorf("envs %v: %q is not a state label", withEnvs, l)
			}
		}
	}
}

// A workflow without the sections gets none of it.
func TestNoReleaseNoLifecycle(t *testing.T) {
	w, err := Parse("wf.yaml", []byte(readBase(t)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w.Release != nil || w.Environments != nil {
		t.Errorf("release %+v, environments %+v", w.Release, w.Environments)
	}
	if len(w.Labels) != 15 || len(w.Stages) != 6 || len(w.Gates) != 2 {
		t.Errorf("%d labels, %d stages, %d gates; want the base's 15, 6, 2", len(w.Labels), len(w.Stages), len(w.Gates))
	}
	for _, l := range ReleaseLabels(true) {
		if w.Label(l.Name) != nil {
			t.Errorf("label %q without a release section", l.Name)
		}
	}
	if w.Stage(StageRelease) != nil || w.Gate(GateRelease) != nil {
		t.Error("release stage or gate without a release section")
	}
}

// A stage of the file may start from what the lifecycle leaves: here a
// stage after the release is published, without environments.
func TestReleaseDoneFeedsAStageOfTheFile(t *testing.T) {
	src := applyEdits(t, readBase(t), []edit{
		{"  - {name: needs:human}\n", "  - {name: needs:human}\n  - {name: announced}\n"},
		{"  merge: {role: merge,", "  announce: {role: pick, on: release:done, success: announced}\n  merge: {role: merge,"},
	}) + releaseMinimal
	if _, err := Parse("wf.yaml", []byte(src), testEnv); err != nil {
		t.Fatal(err)
	}
}

func TestReleaseProblems(t *testing.T) {
	tests := []struct {
		name     string
		sections string // appended to the base; markers as in TestParseProblems
		edits    []edit // applied to the base
		want     []string
	}{
		{
			name:     "unknown keys, with suggestions",
			sections: "release:\n  agent: coder\n  «tag_prefx: v\nenvironments:\n  - name: a\n    deploy: d\n    verify: v\n    «rolback: r\n",
			want: []string{
				`unknown key "tag_prefx" in release (did you mean "tag_prefix"?)`,
				`unknown key "rolback" in environment "a" (did you mean "rollback"?)`,
			},
		},
		{
			name:     "unknown top-level key",
			sections: "«enviroments: []\n",
			want:     []string{`unknown key "enviroments" at the top level (did you mean "environments"?)`},
		},
		{
			name:     "release without agent",
			sections: "«release:\n  schedule: 24h\n",
			want:     []string{`missing required key "agent" in release`},
		},
		{
			name:     "release agent not an agent",
			sections: "release:\n  agent: «codr\n",
			want:     []string{`release.agent "codr" is not an agent of the workflow: name one defined under agents (did you mean "coder"?)`},
		},
		{
			name:     "bad values",
			sections: "release:\n  agent: coder\n  tag_prefix: «\"v \"\n  changelog: «../CHANGELOG.md\n  first_version: «\"1.0\"\n  schedule: «weekly\n  approvers: «[]\n",
			want: []string{
				`tag_prefix in release "v " cannot begin a git tag name (such as v or release-)`,
				`changelog in release must be a file in the repository, such as CHANGELOG.md or docs/CHANGES.md, not "../CHANGELOG.md"`,
				`first_version in release must be a version MAJOR.MINOR.PATCH, such as 0.1.0 or 1.0.0, not "1.0"`,
				`invalid duration "weekly" for schedule in release: use a Go duration such as "90s", "10m" or "1h30m"`,
				`release.approvers is empty: nobody could approve a release; name the people who approve release notes, or leave it out for every gate's approvers`,
			},
		},
		{
			name:     "the bot approving",
			sections: "release:\n  agent: coder\n  approvers: [«agentorg]\n",
			want:     []string{`the bot "agentorg" cannot approve gate "release": its own label changes never count as approvals`},
		},
		{
			name:     "environments without release",
			sections: "«environments:\n  - {name: prod, deploy: d, verify: v}\n",
			want:     []string{`environments need a release section: a deployment deploys a release (notes approved, tagged), so add release: with at least agent: <name of an agent>`},
		},
		{
			name:     "environment missing required keys",
			sections: releaseMinimal + "environments:\n  - «name: prod\n    verify: v\n  - «deploy: d\n    verify: «\"\"\n",
			want: []string{
				`missing required key "deploy" in environment "prod"`,
				`missing required key "name" in environment #2`,
				`verify in environment #2 is empty`,
			},
		},
		{
			name:     "bad environment values",
			sections: releaseMinimal + "environments:\n  - name: «Prod_EU\n    deploy: d\n    verify: v\n    timeout: «0s\n    auto: «relase\n    timezone: «Mars/Olympus\n    max_per_day: «-1\n    windows: «\"Mon-Fri\"\n",
			want: []string{
				`environment name "Prod_EU" must be lower-case letters, digits and dashes, like staging or prod-eu`,
				`timeout in environment "Prod_EU" must be positive, not "0s"`,
				`auto in environment "Prod_EU" must be release or healthy, not "relase" (did you mean "release"?)`,
				`timezone in environment "Prod_EU": unknown time zone "Mars/Olympus": use an IANA name such as Europe/Paris, America/New_York or UTC`,
				`max_per_day in environment "Prod_EU" must not be negative (0: no limit), not -1`,
				`windows in environment "Prod_EU" must be a list, not the string "Mon-Fri"`,
			},
		},
		{
			name:     "Local time zone and empty window",
			sections: releaseMinimal + "environments:\n  - {name: a, deploy: d, verify: v, timezone: «Local, windows: [«\"\"], freezes: [«\" \"]}\n",
			want: []string{
				`timezone in environment "a": Local would be whatever zone the server runs in; name the zone, such as Europe/Paris or UTC`,
				`environment "a": window "": want days and times, like "Mon-Fri 09:00-17:00"`,
				`environment "a": freeze " ": want a date or dates, like "2026-12-24..2026-12-26 holidays"`,
			},
		},
		{
			name:     "duplicate environment",
			sections: releaseMinimal + "environments:\n  - {name: prod, deploy: d, verify: v}\n  - {name: «prod, deploy: d, verify: v}\n",
			want:     []string{`duplicate environment name "prod" (first at line 64)`},
		},
		{
			name: "auto healthy without healthy_for, healthy_for without it, healthy first",
			sections: releaseMinimal + "environments:\n  - {name: a, deploy: d, verify: v, auto: «healthy, healthy_for: 1h}\n" +
				"  - {name: b, deploy: d, verify: v, auto: «healthy}\n" +
				"  - {name: c, deploy: d, verify: v, healthy_for: «1h}\n" +
				"  - {name: e, deploy: d, verify: v, auto: release, healthy_for: «1h}\n",
			want: []string{
				`environment "a" is the first environment: auto: healthy waits until the previous environment has been healthy for healthy_for, and there is none; use auto: release`,
				`environment "b" has auto: healthy, which waits until the previous environment has been healthy for healthy_for: add healthy_for (such as 30m)`,
				`healthy_for in environment "c" only serves auto: healthy (deploy once the previous environment has been healthy that long): add auto: healthy, or remove healthy_for`,
				`healthy_for in environment "e" only serves auto: healthy (deploy once the previous environment has been healthy that long): add auto: healthy, or remove healthy_for`,
			},
		},
		{
			name: "approvals",
			sections: releaseMinimal + "environments:\n  - {name: a, deploy: d, verify: v, approvers: [alice], approvals: «2}\n" +
				"  - {name: b, deploy: d, verify: v, approvals: «1}\n" +
				"  - {name: c, deploy: d, verify: v, approvers: [alice, «alice, «agentorg], approvals: «0}\n",
			want: []string{
				`environment "a" asks for 2 approvals from 1 approvers: no deployment could ever be approved`,
				`approvals in environment "b" counts approvals from its approvers, and it names none: add approvers`,
				`approver "alice" is listed twice in environment "c"`,
				`the bot "agentorg" cannot approve deployments to environment "c": its own approvals never count`,
				`approvals in environment "c" must be at least 1, not 0`,
			},
		},
		{
			name:     "a label of the lifecycle defined by the file",
			edits:    []edit{{"  - {name: needs:human}\n", "  - {name: needs:human}\n  - {name: «release:done, color: \"#000000\"}\n"}},
			sections: releaseMinimal,
			want:     []string{`label "release:done" belongs to the release lifecycle, which the release section adds: remove it from labels (or rename it)`},
		},
		{
			name: "a stage and a gate of the lifecycle defined by the file",
			edits: []edit{
				{"  merge: {role: merge,", "  «publish: {role: pick, on: e2e:done, success: e2e:ready}\n  merge: {role: merge,"},
				{"  plan: {waits:", "  «release: {waits: e2e:failed, approve: e2e:done, approvers: [alice]}\n  plan: {waits:"},
			},
			sections: releaseMinimal,
			want: []string{
				`stage "publish" belongs to the release lifecycle, which the release section adds: remove it from stages (or rename it)`,
				`gate "release" belongs to the release lifecycle, which the release section adds: remove it from gates (or rename it)`,
			},
		},
		{
			name:     "a stage of the file running a release role",
			edits:    []edit{{"role: pick,", "role: «publish,"}},
			sections: releaseMinimal,
			want:     []string{`stage "pick": role publish belongs to the stage the release section adds; a stage of the file cannot run it`},
		},
		{
			name:     "a stage of the file on a label the lifecycle runs on",
			edits:    []edit{{"  merge: {role: merge,", "  announce: {role: pick, on: «release:done, success: e2e:ready}\n  merge: {role: merge,"}},
			sections: releaseMinimal + "environments:\n  - {name: a, deploy: d, verify: v}\n",
			want:     []string{`stages "announce" and "deploy" both run on label "release:done": an issue there would go to both`},
		},
		{
			name:     "no approvers anywhere",
			edits:    []edit{{"approvers: [alice]}", "min_access_level: developer}"}, {"    approvers: [alice, bob]\n", "    min_access_level: developer\n"}, {"  kind: embedded\n", "  kind: gitlab\n  gitlab: {url: https://g.example.com, project: g/p, token: $GITLAB_TOKEN}\n"}},
			sections: "«release:\n  agent: coder\n",
			want:     []string{`release has no approvers and no gate names any: add release.approvers, the people who approve release notes`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := applyEdits(t, readBase(t), tc.edits) + tc.sections
			text, marks := mark(src)
			if len(marks) != len(tc.want) {
				t.Fatalf("%d markers for %d messages", len(marks), len(tc.want))
			}
			w, err := Parse("wf.yaml", []byte(text), testEnv)
			if w != nil {
				t.Fatal("Parse returned a workflow along with problems")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse error = %v (%T), want Problems", err, err)
			}
			var want Problems
			for i, m := range tc.want {
				want = append(want, Problem{File: "wf.yaml", Pos: marks[i], Message: m})
			}
			if !reflect.DeepEqual(ps, want) {
				t.Errorf("problems:\n%v\nwant:\n%v", ps, want)
			}
		})
	}
}

// The example the default workflow carries, commented out, is valid as it
// stands once uncommented, and the default itself has no release.
func TestDefaultReleaseExample(t *testing.T) {
	text := string(Default(DefaultOptions{Approvers: []string{"alice"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}))
	w, err := Parse("wf.yaml", []byte(text), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w.Release != nil || w.Environments != nil || w.Stage(StageRelease) != nil {
		t.Error("the default workflow releases")
	}
	for _, section := range []string{"# release:\n", "# environments:\n"} {
		i := strings.Index(text, section)
		if i < 0 {
			t.Fatalf("the default workflow has no %q example", section)
		}
		lines := strings.Split(text[i:], "\n")
		for n := 0; n < len(lines) && strings.HasPrefix(lines[n], "#") && lines[n] != "#"; n++ {
			lines[n] = strings.TrimPrefix(strings.TrimPrefix(lines[n], "#"), " ")
		}
		text = text[:i] + strings.Join(lines, "\n")
	}
	w, err = Parse("wf.yaml", []byte(text), testEnv)
	if err != nil {
		t.Fatalf("uncommented: %v", err)
	}
	if r := w.Release; r == nil || r.Agent != "coder" || r.Schedule != 168*time.Hour || !slices.Equal(r.Approvers, []string{"alice"}) {
		t.Errorf("release = %+v", r)
	}
	if len(w.Environments) != 2 || w.Environment("production").Approvals != 1 || w.Environment("staging").Auto != AutoRelease {
		t.Errorf("environments = %+v", w.Environments)
	}
	if w.Stage(StageDeploy) == nil {
		t.Error("no deploy stage")
	}
}
