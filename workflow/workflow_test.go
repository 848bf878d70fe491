package workflow

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// marker, in a test document, stands just before the spot a problem must
// point at. The test removes it and derives the expected line:col from where
// it stood.
const marker = "«"

// mark strips markers from src and returns the clean text and each marker's
// position (1-based line, rune column, like the YAML parser), in file order.
func mark(src string) (string, []Position) {
	var out strings.Builder
	var pos []Position
	for i, line := range strings.Split(src, "\n") {
		if i > 0 {
			out.WriteByte('\n')
		}
		col := 1
		for {
			j := strings.Index(line, marker)
			if j < 0 {
				break
			}
			out.WriteString(line[:j])
			col += utf8.RuneCountInString(line[:j])
			pos = append(pos, Position{Line: i + 1, Column: col})
			line = line[j+len(marker):]
		}
		out.WriteString(line)
	}
	return out.String(), pos
}

func testEnv(name string) (string, bool) {
	switch name {
	case "AGENT_TOKEN":
		return "agent-secret", true
	case "GITLAB_TOKEN":
		return "glpat-secret", true
	case "EMPTY":
		return "", true
	}
	return "", false
}

func readBase(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// edit replaces old, which must occur exactly once, by new.
type edit struct{ old, new string }

func applyEdits(t *testing.T, src string, edits []edit) string {
	t.Helper()
	for _, e := range edits {
		if n := strings.Count(src, e.old); n != 1 {
			t.Fatalf("edit %q matches %d times in the base document", e.old, n)
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return src
}

func TestParseValid(t *testing.T) {
	w, err := Parse("wf.yaml", []byte(readBase(t)), testEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if w.Path != "wf.yaml" || w.Version != 1 || w.OptIn != "agentorg" || w.Escalation != "needs:human" {
		t.Errorf("header: %+v", w)
	}
	var stages, gates []string
	for _, s := range w.Stages {
		stages = append(stages, s.Name)
	}
	for _, g := range w.Gates {
		gates = append(gates, g.Name)
	}
	if want := []string{"plan", "pick", "develop", "validate", "merge", "e2e"}; !slices.Equal(stages, want) {
		t.Errorf("stages in file order = %v, want %v", stages, want)
	}
	if want := []string{"plan", "merge"}; !slices.Equal(gates, want) {
		t.Errorf("gates = %v, want %v", gates, want)
	}
	a := w.Agent("coder")
	if a == nil {
		t.Fatal("no agent coder")
	}
	if want := (Agent{
		Name: "coder", Kind: "command", Command: []string{"my-agent", "--print"},
		Env:     map[string]string{"TOKEN": "agent-secret", "MODE": "fast"},
		Timeout: 30 * time.Minute, StallTimeout: 10 * time.Minute,
	}); !reflect.DeepEqual(*a, want) {
		t.Errorf("agent = %+v, want %+v", *a, want)
	}
	dev := w.Stage("develop")
	if want := (Stage{Name: "develop", Role: "developer", Agent: "coder", On: "dev:ready", Running: "dev:running",
		Success: "dev:done", Failure: "needs:human", Concurrency: 2}); dev == nil || *dev != want {
		t.Errorf("develop = %+v, want %+v (failure defaults to escalation)", dev, want)
	}
	merge := w.Gate("merge")
	if merge == nil || !merge.MergeRequest || !slices.Equal(merge.Approvers, []string{"alice", "bob"}) || merge.Reject != "dev:ready" {
		t.Errorf("merge gate = %+v", merge)
	}
	if l := w.Label("agentorg"); l == nil || l.Color != "#5843ad" || l.Description != "Opted in" {
		t.Errorf("label agentorg = %+v", l)
	}
	if want := (Check{Name: "test", Run: "go test ./...", Timeout: 10 * time.Minute}); len(w.Checks) != 1 || w.Checks[0] != want {
		t.Errorf("checks = %+v", w.Checks)
	}
	if w.E2E != (E2E{Run: "make e2e", Timeout: 20 * time.Minute, Recovery: RecoveryRevert}) {
		t.Errorf("e2e = %+v", w.E2E)
	}
	if got := w.Prompts["fix"]; got != "Fix attempt {{.Attempt}}: {{.Report}}\n" {
		t.Errorf("fix prompt = %q", got)
	}
}

func TestParseDefaults(t *testing.T) {
	src := `version: 1
opt_in: go
escalation: help
labels: [{name: go}, {name: done}, {name: help}]
agents:
  a: {kind: command, command: [x]}
stages:
  s: {role: developer, agent: a, on: go, success: done}
prompts: {developer: "d", fix: "f"}
`
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &Workflow{
		Path:       "wf.yaml",
		Version:    1,
		OptIn:      "go",
		Escalation: "help",
		Tracker:    Tracker{Kind: "embedded", Bot: "agentorg"},
		Repo:       Repo{URL: ".", TargetBranch: "main", BranchPrefix: "agentorg/issue-"},
		Budget:     Budget{Attempts: 3, StallAttempts: 2, ReviewRounds: 3},
		Hygiene: Hygiene{Deny: DefaultDeny, MaxDiffLines: 5000, MaxDiffBytes: 5_000_000, MaxFileBytes: 1_000_000, MaxFiles: 500,
			Symlinks: "inside", Modes: "refuse"},
		Labels:   []Label{{Name: "go"}, {Name: "done"}, {Name: "help"}},
		Agents:   []Agent{{Name: "a", Kind: "command", Command: []string{"x"}, Timeout: 30 * time.Minute, StallTimeout: 10 * time.Minute}},
		Stages:   []Stage{{Name: "s", Role: "developer", Agent: "a", On: "go", Success: "done", Failure: "help", Concurrency: 1}},
		E2E:      E2E{Timeout: 20 * time.Minute, Recovery: RecoveryRevert},
		Parallel: Parallel{Predict: true, Overlap: OverlapWarn},
		Prompts:  map[string]string{"developer": "d", "fix": "f"},
		// Agents are confined unless the workflow says off.
		Confinement: "required",
	}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("got  %+v\nwant %+v", w, want)
	}
}

func TestParseExplicitValues(t *testing.T) {
	src := `version: 1
opt_in: go
escalation: help
confinement: off
tracker:
  kind: gitlab
  bot: robot
  gitlab:
    url: https://gitlab.example.com
    project: ${GITLAB_PROJECT_LITERAL}x
    token: ${GITLAB_TOKEN}
repo: {url: ../origin.git, target_branch: trunk, branch_prefix: ai/, update: merge}
budget: {attempts: 5, stall_attempts: 3, wall_time: 2h, tokens: 1000, cost_usd: 2.5}
hygiene: {allow: ["**/*.go", docs/**], deny: ["*.pem"], max_diff_lines: 300, max_diff_bytes: 1.5 MiB, max_file_bytes: 20000, max_files: 40, symlinks: none, modes: report}
labels: [{name: go}, {name: done}, {name: help}]
agents:
  a:
    kind: command
    command: [x]
    timeout: 1h30m
    stall_timeout: 90s
    env: {PORT: 8080, PLAIN: a$B}
    writable: [~/.my-agent/, $XDG_DATA_HOME/my-agent, $MY_AGENT_HOME, /var/cache/my-agent]
stages:
  s: {role: developer, agent: a, on: go, success: done, timeout: 45m, concurrency: 4}
prompts: {developer: "d", fix: "f"}
`
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Tracker{Kind: "gitlab", Bot: "robot", GitLab: GitLab{
		URL: "https://gitlab.example.com", Project: "${GITLAB_PROJECT_LITERAL}x", Token: "glpat-secret",
	}}); w.Tracker != want {
		t.Errorf("tracker = %+v, want %+v (only whole values are references)", w.Tracker, want)
	}
	if want := (Repo{URL: "../origin.git", TargetBranch: "trunk", BranchPrefix: "ai/"}); w.Repo != want {
		t.Errorf("repo = %+v", w.Repo)
	}
	if want := (Budget{Attempts: 5, StallAttempts: 3, WallTime: 2 * time.Hour, Tokens: 1000, CostUSD: 2.5, ReviewRounds: 3}); w.Budget != want {
		t.Errorf("budget = %+v", w.Budget)
	}
	if want := (Hygiene{Allow: []string{"**/*.go", "docs/**"}, Deny: []string{"*.pem"}, MaxDiffLines: 300, MaxDiffBytes: 1_572_864, MaxFileBytes: 20000,
		MaxFiles: 40, Symlinks: "none", Modes: "report"}); !reflect.DeepEqual(w.Hygiene, want) {
		t.Errorf("hygiene = %+v", w.Hygiene)
	}
	a := w.Agents[0]
	if a.Timeout != 90*time.Minute || a.StallTimeout != 90*time.Second {
		t.Errorf("agent timeouts = %v, %v", a.Timeout, a.StallTimeout)
	}
	if want := map[string]string{"PORT": "8080", "PLAIN": "a$B"}; !reflect.DeepEqual(a.Env, want) {
		t.Errorf("env = %v, want %v", a.Env, want)
	}
	if want := []string{"~/.my-agent/", "$XDG_DATA_HOME/my-agent", "$MY_AGENT_HOME", "/var/cache/my-agent"}; !reflect.DeepEqual(a.Writable, want) {
		t.Errorf("writable = %q, want %q (as written: the agent's own environment expands them)", a.Writable, want)
	}
	if w.Confinement != ConfinementOff {
		t.Errorf("confinement = %q", w.Confinement)
	}
	if s := w.Stages[0]; s.Timeout != 45*time.Minute || s.Concurrency != 4 {
		t.Errorf("stage = %+v", s)
	}
}

// Anchors, aliases and merge keys are YAML, so they work.
func TestParseAnchorsAndMergeKeys(t *testing.T) {
	src := `version: 1
opt_in: go
escalation: help
labels: [{name: go}, {name: done}, {name: help}]
agents:
  base: &agent {kind: command, command: [x], timeout: 5m}
  other:
    <<: *agent
    timeout: 7m
stages:
  s: {role: developer, agent: other, on: go, success: done}
prompts: {developer: &p "d", fix: *p}
`
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	o := w.Agent("other")
	if o == nil || o.Kind != "command" || !slices.Equal(o.Command, []string{"x"}) || o.Timeout != 7*time.Minute {
		t.Errorf("merged agent = %+v", o)
	}
	if w.Prompts["fix"] != "d" {
		t.Errorf("aliased prompt = %q", w.Prompts["fix"])
	}
}

// TestParseProblems holds one broken workflow per kind of problem. Each
// expected problem is placed in the document by a marker, so the test checks
// file:line:col exactly, and that nothing else is reported.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name  string
		src   string // a whole document; "" means the base with edits
		edits []edit
		want  []string // messages, in marker order
	}{
		{
			name: "syntax error",
			src:  "version: 1\nstages: [a, b\n«opt_in: x\n",
			want: []string{"',' or ']' must be specified"},
		},
		{
			name: "top level is not a mapping",
			src:  "«- version: 1\n",
			want: []string{"the workflow must be a mapping, not a list"},
		},
		{
			name: "second document",
			src:  readBaseString() + "---\n«version: 1\n",
			want: []string{"a workflow file holds a single YAML document; this is a second one"},
		},
		{
			name:  "unknown key in a stage, and what it leaves missing",
			edits: []edit{{"    agent: coder\n    on: dev:ready", "    agnet: coder\n    on: dev:ready"}, {"  develop:\n", "  «develop:\n"}, {"    agnet", "    «agnet"}},
			want: []string{
				`stage "develop" has role developer, which needs an agent: add agent: <name of an agent>`,
				`unknown key "agnet" in stage "develop" (did you mean "agent"?)`,
			},
		},
		{
			name: "review triage keys",
			edits: []edit{
				{"    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n    changes_requested: ««mr:changes\n    reviewers: [carol, «agentorg]\n"},
				{"  plan: {waits: plan:review, approve: issue:approved, reject: agentorg, approvers: [alice]}",
					"  plan: {waits: plan:review, approve: issue:approved, reject: agentorg, approvers: [alice], reviewers: [«bob]}"},
				{"  e2e: {role: e2e,", "  triage: {role: ««triage, agent: coder, on: «««mr:approved2, success: mr:ready-for-review}\n  e2e: {role: e2e,"},
			},
			want: []string{
				`stage "triage" has role triage, which needs prompt "triage": add it under prompts`,
				`stage "triage" has role triage, which needs prompt "review": add it under prompts`,
				`label "mr:approved2" (on of stage "triage") is not defined in labels (did you mean "mr:approved"?)`,
				`stage "triage" has role triage, which runs on a merge request gate's changes_requested label; no gate names "mr:approved2" there`,
				`stage "triage" can never run: nothing sets label "mr:approved2"`,
				`gate "plan" names reviewers but no changes_requested label: nothing would act on their review threads`,
				`label "mr:changes" (changes_requested of gate "merge") is not defined in labels`,
				`gate "merge": no stage runs on changes_requested label "mr:changes": add a stage with role triage and on: mr:changes`,
				`the bot "agentorg" cannot be a reviewer of gate "merge": its own comments are never acted on`,
			},
		},
		{
			name:  "budget review rounds",
			edits: []edit{{"tracker:\n", "budget: {review_rounds: «0}\ntracker:\n"}},
			want:  []string{`budget.review_rounds must be at least 1, not 0`},
		},
		{
			name:  "unknown top-level key",
			edits: []edit{{"tracker:\n", "«budgt: {attempts: 2}\ntracker:\n"}},
			want:  []string{`unknown key "budgt" at the top level (did you mean "budget"?)`},
		},
		{
			name:  "confinement",
			edits: []edit{{"tracker:\n", "confinement: «requird\ntracker:\n"}},
			want:  []string{`confinement must be required or off, not "requird" (did you mean "required"?)`},
		},
		{
			name:  "agent writable",
			edits: []edit{{"    command: [my-agent, --print]\n", "    command: [my-agent, --print]\n    writable: [«.cache, «$, «~user/x, ~/ok]\n"}},
			want: []string{
				`writable in agent "coder": ".cache" must be an absolute path, a path under ~/ or under a $VARIABLE`,
				`writable in agent "coder": "$" must be an absolute path, a path under ~/ or under a $VARIABLE`,
				`writable in agent "coder": "~user/x" must be an absolute path, a path under ~/ or under a $VARIABLE`,
			},
		},
		{
			name:  "unknown key in a gate",
			edits: []edit{{"    merge_request: true", "    «merge_requests: true"}},
			want:  []string{`unknown key "merge_requests" in gate "merge" (did you mean "merge_request"?)`},
		},
		{
			name:  "duplicate key",
			edits: []edit{{"gates:\n", "  «pick: {role: pick, on: issue:approved, success: dev:ready}\ngates:\n"}},
			want:  []string{`duplicate key "pick" in stages (first at line 29)`},
		},
		{
			name:  "list where a mapping is expected",
			edits: []edit{{"tracker:\n  kind: embedded", "tracker: «[embedded]"}},
			want:  []string{"tracker must be a mapping, not a list"},
		},
		{
			name:  "mapping where a list is expected",
			edits: []edit{{"checks:\n  - name: test\n    run: go test ./...", "checks:\n  «test: go test ./..."}, {"role: validator", "role: «validator"}},
			want: []string{
				`stage "validate" has role validator but no checks are defined: add a checks list`,
				"checks must be a list, not a mapping",
			},
		},
		{
			name:  "string where an integer is expected",
			edits: []edit{{"concurrency: 2", `concurrency: «"2"`}},
			want:  []string{`concurrency in stage "develop" must be an integer, not the string "2"`},
		},
		{
			name:  "mapping where a string is expected",
			edits: []edit{{"escalation: needs:human", "escalation: «{label: needs:human}"}},
			want:  []string{"escalation must be a string, not a mapping"},
		},
		{
			name:  "string where a boolean is expected",
			edits: []edit{{"merge_request: true", "merge_request: «sure"}},
			want:  []string{`merge_request in gate "merge" must be true or false, not the string "sure"`},
		},
		{
			name:  "invalid duration",
			edits: []edit{{"    kind: command\n", "    kind: command\n    timeout: «30 minutes\n"}},
			want:  []string{`invalid duration "30 minutes" for timeout in agent "coder": use a Go duration such as "90s", "10m" or "1h30m"`},
		},
		{
			name:  "duration without unit",
			edits: []edit{{"    kind: command\n", "    kind: command\n    stall_timeout: «600\n"}},
			want:  []string{`stall_timeout in agent "coder" must be a duration such as "90s" or "10m", not the integer 600`},
		},
		{
			name:  "non-positive duration",
			edits: []edit{{"    run: go test ./...", "    run: go test ./...\n    timeout: «0s"}},
			want:  []string{`timeout in check "test" must be positive, not "0s"`},
		},
		{
			name:  "unknown parallel overlap",
			edits: []edit{{"  run: make e2e", "  run: make e2e\nparallel:\n  overlap: «pase"}},
			want:  []string{`parallel.overlap must be warn or pause, not "pase" (did you mean "pause"?)`},
		},
		{
			name:  "unknown e2e recovery",
			edits: []edit{{"  run: make e2e", "  run: make e2e\n  recovery: «revrt"}},
			want:  []string{`e2e.recovery must be revert, close, off, not "revrt" (did you mean "revert"?)`},
		},
		{
			name:  "negative e2e timeout",
			edits: []edit{{"  run: make e2e", "  run: make e2e\n  timeout: «-5m"}},
			want:  []string{`timeout in e2e must be positive, not "-5m"`},
		},
		{
			name:  "concurrency below 1",
			edits: []edit{{"concurrency: 2", "concurrency: «0"}},
			want:  []string{`concurrency in stage "develop" must be at least 1, not 0`},
		},
		{
			name:  "attempts below 1",
			edits: []edit{{"tracker:\n", "budget: {attempts: «0}\ntracker:\n"}},
			want:  []string{"budget.attempts must be at least 1, not 0"},
		},
		{
			name:  "bad colour",
			edits: []edit{{`color: "#5843ad"`, `color: «"5843ad"`}},
			want:  []string{`color in label "agentorg" must be a colour like "#5843ad", not "5843ad"`},
		},
		{
			name:  "unquoted colour is a comment",
			edits: []edit{{`  - {name: agentorg, color: "#5843ad", description: Opted in}`, "  - name: agentorg\n    color:« #5843ad"}},
			want:  []string{`color in label "agentorg" is empty: an unquoted # starts a YAML comment; quote the colour, as in color: "#5843ad"`},
		},
		{
			name:  "version missing",
			edits: []edit{{"version: 1\nopt_in", "«opt_in"}},
			want:  []string{`missing required key "version" at the top level`},
		},
		{
			name:  "version not 1",
			edits: []edit{{"version: 1", "version: «2"}},
			want:  []string{"unsupported version 2: this agentorg reads version 1"},
		},
		{
			name:  "opt_in missing",
			edits: []edit{{"version: 1\nopt_in: agentorg\n", "«version: 1\n"}},
			want:  []string{`missing required key "opt_in" at the top level`},
		},
		{
			name:  "escalation missing",
			edits: []edit{{"version: 1\n", "«version: 1\n"}, {"escalation: needs:human\n", ""}},
			want:  []string{`missing required key "escalation" at the top level`},
		},
		{
			name:  "escalation empty",
			edits: []edit{{"escalation: needs:human", `escalation: «""`}},
			want:  []string{"escalation is empty"},
		},
		{
			name:  "stage without success",
			edits: []edit{{"  e2e: {role: e2e, on: e2e:ready, running: e2e:running, success: e2e:done,", "  «e2e: {role: e2e, on: e2e:ready, running: e2e:running,"}},
			want:  []string{`missing required key "success" in stage "e2e"`},
		},
		{
			name:  "stage without role",
			edits: []edit{{"  merge: {role: merge, on: mr:approved", "  «merge: {on: mr:approved"}},
			want:  []string{`missing required key "role" in stage "merge"`},
		},
		{
			name:  "stage without on leaves the next stage unreachable",
			edits: []edit{{"  merge: {role: merge, on: mr:approved, success: e2e:ready}", "  «merge: {role: merge, success: e2e:ready}"}, {"on: e2e:ready", "on: «e2e:ready"}},
			want: []string{
				`missing required key "on" in stage "merge"`,
				`stage "e2e" can never run: nothing sets label "e2e:ready"`,
			},
		},
		{
			name:  "gate without waits",
			edits: []edit{{"    waits: mr:ready-for-review\n", ""}, {"  merge:\n    merge_request", "  «merge:\n    merge_request"}, {"on: mr:approved", "on: «mr:approved"}, {"on: e2e:ready", "on: «e2e:ready"}},
			want: []string{
				`stage "merge" can never run: nothing sets label "mr:approved"`,
				`stage "e2e" can never run: nothing sets label "e2e:ready"`,
				`missing required key "waits" in gate "merge"`,
			},
		},
		{
			name:  "gate without approve",
			edits: []edit{{"  plan: {waits: plan:review, approve: issue:approved,", "  «plan: {waits: plan:review,"}, {"on: issue:approved", "on: «issue:approved"}, {"on: dev:ready", "on: «dev:ready"}, {"on: dev:done", "on: «dev:done"}, {"waits: mr:ready-for-review", "waits: «mr:ready-for-review"}, {"on: mr:approved", "on: «mr:approved"}, {"on: e2e:ready", "on: «e2e:ready"}},
			want: []string{
				`stage "pick" can never run: nothing sets label "issue:approved"`,
				`stage "develop" can never run: nothing sets label "dev:ready"`,
				`stage "validate" can never run: nothing sets label "dev:done"`,
				`stage "merge" can never run: nothing sets label "mr:approved"`,
				`stage "e2e" can never run: nothing sets label "e2e:ready"`,
				`missing required key "approve" in gate "plan"`,
				`gate "merge" can never be reached: nothing sets label "mr:ready-for-review"`,
			},
		},
		{
			name:  "check without name",
			edits: []edit{{"  - name: test\n    run:", "  - «run:"}},
			want:  []string{`missing required key "name" in check #1`},
		},
		{
			name:  "check without run",
			edits: []edit{{"  - name: test\n    run: go test ./...", "  - «name: test"}},
			want:  []string{`missing required key "run" in check "test"`},
		},
		{
			name:  "agent without kind",
			edits: []edit{{"  coder:\n    kind: command\n", "  «coder:\n"}},
			want:  []string{`missing required key "kind" in agent "coder"`},
		},
		{
			name:  "agent without command",
			edits: []edit{{"  coder:\n", "  «coder:\n"}, {"    command: [my-agent, --print]\n", ""}},
			want:  []string{`agent "coder" of kind command needs command: the program and its arguments, as a list`},
		},
		{
			name:  "agent with an empty command",
			edits: []edit{{"command: [my-agent, --print]", "command: «[]"}},
			want:  []string{`command in agent "coder" must name a program: a list like ["my-agent", "--flag"]`},
		},
		{
			name:  "command given as a string",
			edits: []edit{{"command: [my-agent, --print]", "command: «my-agent --print"}},
			want:  []string{`command in agent "coder" must be a list, not the string "my-agent --print"`},
		},
		{
			name:  "undefined label in running",
			edits: []edit{{"running: pm:running", "running: «pm:runing"}},
			want:  []string{`label "pm:runing" (running of stage "plan") is not defined in labels (did you mean "pm:running"?)`},
		},
		{
			name:  "undefined escalation label",
			edits: []edit{{"escalation: needs:human", "escalation: «needs:humans"}},
			want:  []string{`label "needs:humans" (escalation) is not defined in labels (did you mean "needs:human"?)`},
		},
		{
			name:  "undefined label in a gate",
			edits: []edit{{"    reject: dev:ready", "    reject: «dev:redy"}},
			want:  []string{`label "dev:redy" (reject of gate "merge") is not defined in labels (did you mean "dev:ready"?)`},
		},
		{
			name: "undefined opt_in label",
			src:  "version: 1\nopt_in: «go\nescalation: help\nlabels: [{name: help}, {name: done}]\nstages:\n  s: {role: pick, on: «go, success: done}\n",
			want: []string{`label "go" (opt_in) is not defined in labels`, `label "go" (on of stage "s") is not defined in labels`},
		},
		{
			name:  "duplicate label",
			edits: []edit{{"  - {name: needs:human}", "  - {name: needs:human}\n  - {name: «dev:done}"}},
			want:  []string{`duplicate label "dev:done" (first at line 13)`},
		},
		{
			name:  "label name with a comma",
			edits: []edit{{"  - {name: needs:human}", "  - {name: needs:human}\n  - {name: «\"a,b\"}"}},
			want:  []string{`label name "a,b" must not contain commas, line breaks or surrounding spaces`},
		},
		{
			name:  "duplicate check name",
			edits: []edit{{"    run: go test ./...", "    run: go test ./...\n  - name: «test\n    run: go vet ./..."}},
			want:  []string{`duplicate check name "test" (first at line 49)`},
		},
		{
			name:  "two stages on one label",
			edits: []edit{{"gates:\n", "  again: {role: pick, on: «issue:approved, success: dev:ready}\ngates:\n"}},
			want:  []string{`stages "pick" and "again" both run on label "issue:approved": an issue there would go to both`},
		},
		{
			name:  "gate waiting on a stage's label",
			edits: []edit{{"gates:\n", "gates:\n  odd: {waits: «dev:done, approve: e2e:done, approvers: [alice]}\n"}},
			want:  []string{`gate "odd" waits on label "dev:done", which stage "validate" runs on: the issue would not wait for a human`},
		},
		{
			name:  "two gates approving with one label",
			edits: []edit{{"    approve: mr:approved", "    approve: «issue:approved"}, {"on: mr:approved", "on: «mr:approved"}, {"on: e2e:ready", "on: «e2e:ready"}},
			want: []string{
				`stage "merge" can never run: nothing sets label "mr:approved"`,
				`stage "e2e" can never run: nothing sets label "e2e:ready"`,
				`gates "plan" and "merge" both approve with label "issue:approved"`,
			},
		},
		{
			name:  "unknown role",
			edits: []edit{{"role: pick,", "role: «picker,"}},
			want:  []string{`unknown role "picker" for stage "pick" (known: pm, pick, developer, validator, merge, e2e, ci, triage) (did you mean "pick"?)`},
		},
		{
			name:  "unknown tracker kind",
			edits: []edit{{"  kind: embedded", "  kind: «jira"}},
			want:  []string{`unknown tracker kind "jira" (known: embedded, gitlab)`},
		},
		{
			name:  "unknown agent kind",
			edits: []edit{{"    kind: command", "    kind: «shell"}},
			want:  []string{`unknown kind "shell" for agent "coder" (known: command, codex, claude, gemini, opencode, aider, openai)`},
		},
		{
			name:  "agent key for another kind",
			edits: []edit{{"    kind: command", "    kind: command\n    «max_turns: 5"}},
			want:  []string{"max_turns is not used by agents of kind command (only by claude, openai)"},
		},
		{
			name:  "cli agent with command",
			edits: []edit{{"    kind: command", "    kind: codex"}, {"    command:", "    «command:"}},
			want:  []string{"command is not used by agents of kind codex (only by command)"},
		},
		{
			name:  "openai agent without base_url and model",
			edits: []edit{{"  coder:\n    kind: command", "  «coder:\n    kind: openai"}, {"    command:", "    «command:"}},
			want: []string{
				`agent "coder" of kind openai needs base_url: the OpenAI-compatible endpoint, such as http://127.0.0.1:11434/v1 for Ollama`,
				"command is not used by agents of kind openai (only by command)",
			},
		},
		{
			name:  "openai agent with a bad base_url and a key it does not pass",
			edits: []edit{{"    kind: command", "    kind: openai\n    model: m\n    base_url: «localhost:11434\n    «api_key_env: OPENAI_KEY"}, {"    command: ", "    #"}},
			want: []string{
				`base_url in agent "coder" must be an http or https URL such as http://127.0.0.1:11434/v1, not "localhost:11434"`,
				"api_key_env names OPENAI_KEY, which env does not pass to the agent: add it under env (e.g. OPENAI_KEY: $OPENAI_KEY)",
			},
		},
		{
			name:  "agent price and max_turns out of range",
			edits: []edit{{"    kind: command", "    kind: claude\n    max_turns: «0\n    price: {input: «-1, output: «lots}"}, {"    command: ", "    #"}},
			want: []string{
				`max_turns in agent "coder" must be at least 1, not 0`,
				`input in price in agent "coder" must not be negative`,
				`output in price in agent "coder" must be a number, not the string "lots"`,
			},
		},
		{
			name:  "gitlab without its section",
			edits: []edit{{"  kind: embedded", "  kind: «gitlab"}},
			want:  []string{"tracker kind gitlab needs a tracker.gitlab section with url, project and token"},
		},
		{
			name:  "gitlab without project and token",
			edits: []edit{{"  kind: embedded", "  kind: gitlab\n  ««gitlab: {url: https://gitlab.example.com}"}},
			want: []string{
				`missing required key "project" in tracker.gitlab`,
				`missing required key "token" in tracker.gitlab`,
			},
		},
		{
			name:  "unset environment variable for gitlab",
			edits: []edit{{"  kind: embedded", "  kind: gitlab\n  gitlab: {url: https://gitlab.example.com, project: g/p, token: «$NO_SUCH_TOKEN}"}},
			want:  []string{"environment variable NO_SUCH_TOKEN is not set (token in tracker.gitlab refers to it)"},
		},
		{
			name:  "gitlab variable set but empty",
			edits: []edit{{"  kind: embedded", "  kind: gitlab\n  gitlab: {url: https://gitlab.example.com, project: g/p, token: «\"${EMPTY}\"}"}},
			want:  []string{"token in tracker.gitlab is empty"},
		},
		{
			name:  "gitlab token written in the file",
			edits: []edit{{"  kind: embedded", "  kind: gitlab\n  gitlab: {url: https://gitlab.example.com, project: g/p, token: «glpat-leaked}"}},
			want:  []string{"tracker.gitlab.token must name an environment variable ($GITLAB_TOKEN), never hold the token itself"},
		},
		{
			name:  "invalid environment variable name",
			edits: []edit{{"MODE: fast}", "«MODE-X: fast}"}},
			want:  []string{`"MODE-X" is not a valid environment variable name`},
		},
		{
			name:  "stage naming an undefined agent",
			edits: []edit{{"role: pm, agent: coder,", "role: pm, agent: «codr,"}},
			want:  []string{`stage "plan" names agent "codr", which is not defined in agents (did you mean "coder"?)`},
		},
		{
			name:  "pm stage without an agent",
			edits: []edit{{"  plan: {role: pm, agent: coder,", "  «plan: {role: pm,"}},
			want:  []string{`stage "plan" has role pm, which needs an agent: add agent: <name of an agent>`},
		},
		{
			name:  "agent on a role that runs none",
			edits: []edit{{"role: merge,", "role: merge, agent: «coder,"}},
			want:  []string{`stage "merge" names agent "coder", but role merge runs no agent`},
		},
		{
			name:  "unreachable stage",
			edits: []edit{{"  - {name: needs:human}", "  - {name: needs:human}\n  - {name: later}"}, {"gates:\n", "  orphan: {role: pick, on: «later, success: dev:ready}\ngates:\n"}},
			want:  []string{`stage "orphan" can never run: nothing sets label "later"`},
		},
		{
			name:  "unreachable gate",
			edits: []edit{{"  - {name: needs:human}", "  - {name: needs:human}\n  - {name: later}\n  - {name: ok}"}, {"gates:\n", "gates:\n  side: {waits: «later, approve: ok, approvers: [alice]}\n"}},
			want:  []string{`gate "side" can never be reached: nothing sets label "later"`},
		},
		{
			name: "opt_in that nothing uses",
			src:  "version: 1\nopt_in: «go\nescalation: help\nlabels: [{name: go}, {name: help}, {name: c}]\nstages:\n  s: {role: pick, on: «c, success: go}\n",
			want: []string{
				`no stage runs on and no gate waits on opt_in label "go": opting an issue in would do nothing`,
				`stage "s" can never run: nothing sets label "c"`,
			},
		},
		{
			name:  "gate without approvers",
			edits: []edit{{", approvers: [alice]}", "}"}, {"  plan: {waits", "  «plan: {waits"}},
			want:  []string{`gate "plan" has no approvers and no min_access_level: nobody could approve`},
		},
		{
			name:  "min_access_level on the embedded tracker",
			edits: []edit{{"    approvers: [alice, bob]", "    min_access_level: «maintainer"}},
			want:  []string{`gate "merge" sets min_access_level, but the embedded tracker has no project roles: it needs tracker.kind gitlab (name the approvers instead)`},
		},
		{
			name: "unknown access level",
			edits: []edit{{"  kind: embedded\n", "  kind: gitlab\n  gitlab: {url: https://gitlab.example.com, project: team/app, token: $GITLAB_TOKEN}\n"},
				{"    approvers: [alice, bob]", "    approvers: [alice, bob]\n    min_access_level: «maintaner"}},
			want: []string{`unknown access level "maintaner" (known: guest, reporter, developer, maintainer, owner) (did you mean "maintainer"?)`},
		},
		{
			name:  "auto_merge on the embedded tracker",
			edits: []edit{{"role: merge, on: mr:approved,", "role: merge, auto_merge: «true, on: mr:approved,"}},
			want:  []string{`stage "merge" sets auto_merge, which hands the merge to GitLab's auto-merge: it needs tracker.kind gitlab`},
		},
		{
			name: "auto_merge on a stage that does not merge",
			edits: []edit{{"  kind: embedded\n", "  kind: gitlab\n  gitlab: {url: https://gitlab.example.com, project: team/app, token: $GITLAB_TOKEN}\n"},
				{"role: pick, on: issue:approved,", "role: pick, auto_merge: «true, on: issue:approved,"}},
			want: []string{`stage "pick" sets auto_merge, which only a merge stage can use (its role is pick)`},
		},
		{
			name:  "gate with an empty approver list",
			edits: []edit{{"approvers: [alice, bob]", "approvers: «[]"}},
			want:  []string{`gate "merge" has no approvers and no min_access_level: nobody could approve`},
		},
		{
			name:  "empty approver name",
			edits: []edit{{"approvers: [alice, bob]", `approvers: [alice, «""]`}},
			want:  []string{`empty approver name in gate "merge"`},
		},
		{
			name:  "bot as approver",
			edits: []edit{{"approvers: [alice, bob]", "approvers: [alice, «agentorg]"}},
			want:  []string{`the bot "agentorg" cannot approve gate "merge": its own label changes never count as approvals`},
		},
		{
			name:  "validator without checks",
			edits: []edit{{"checks:\n  - name: test\n    run: go test ./...\n", ""}, {"role: validator", "role: «validator"}},
			want:  []string{`stage "validate" has role validator but no checks are defined: add a checks list`},
		},
		{
			name:  "ci stage on the embedded tracker",
			edits: []edit{{"role: e2e", "role: «ci"}},
			want:  []string{`stage "e2e" has role ci, which watches the forge's pipelines: it needs tracker.kind gitlab`},
		},
		{
			name:  "e2e stage without e2e.run",
			edits: []edit{{"e2e:\n  run: make e2e\n", ""}, {"role: e2e", "role: «e2e"}},
			want:  []string{`stage "e2e" has role e2e but e2e.run is empty: set the end-to-end command`},
		},
		{
			name:  "bad budget values",
			edits: []edit{{"tracker:\n", "budget: {stall_attempts: «0, wall_time: «soon, cost_usd: «-1, tokens: «many, «attemps: 2}\ntracker:\n"}},
			want: []string{
				`budget.stall_attempts must be at least 1, not 0`,
				`invalid duration "soon" for wall_time in budget: use a Go duration such as "90s", "10m" or "1h30m"`,
				`budget.cost_usd must be positive, not -1`,
				`tokens in budget must be an integer, not the string "many"`,
				`unknown key "attemps" in budget (did you mean "attempts"?)`,
			},
		},
		{
			name:  "bad hygiene values",
			edits: []edit{{"tracker:\n", "hygiene: {deny: [\"*.pem\", «\"[abc\"], max_diff_lines: «0, «allowed: [x]}\ntracker:\n"}},
			want: []string{
				`hygiene.deny: glob "[abc": unclosed [`,
				`hygiene.max_diff_lines must be at least 1, not 0`,
				`unknown key "allowed" in hygiene (did you mean "allow"?)`,
			},
		},
		{
			name:  "bad hygiene sizes and policies",
			edits: []edit{{"tracker:\n", "hygiene: {max_diff_bytes: «-5, max_file_bytes: «lots, max_files: «0, symlinks: «outside, modes: «reprot}\ntracker:\n"}},
			want: []string{
				`hygiene.max_diff_bytes must be at least 1 byte, not -5`,
				`hygiene.max_file_bytes must be a size such as 5000000, 5MB or 512KiB, not "lots"`,
				`hygiene.max_files must be at least 1, not 0`,
				`hygiene.symlinks must be inside, none or any, not "outside"`,
				`hygiene.modes must be refuse or report, not "reprot" (did you mean "report"?)`,
			},
		},
		{
			name:  "hygiene sizes of the wrong type",
			edits: []edit{{"tracker:\n", "hygiene: {max_diff_bytes: «[5], max_file_bytes: «\"-1KB\", max_files: «many}\ntracker:\n"}},
			want: []string{
				`hygiene.max_diff_bytes must be a size such as 5000000, 5MB or 512KiB, not a list`,
				`hygiene.max_file_bytes must be at least 1 byte, not -1KB`,
				`max_files in hygiene must be an integer, not the string "many"`,
			},
		},
		{

			name:  "validator agent without the validate prompt",
			edits: []edit{{"validate: {role: validator,", "validate: {role: «validator, agent: coder,"}},
			want:  []string{`stage "validate" has role validator, which needs prompt "validate": add it under prompts`},
		},
		{
			name:  "unknown prompt name",
			edits: []edit{{"prompts:\n", "prompts:\n  «develop: x\n"}},
			want:  []string{`unknown prompt "develop" (known: pm, developer, fix, validate, triage, review) (did you mean "developer"?)`},
		},
		{
			name:  "missing prompt for a role",
			edits: []edit{{"  fix: |\n    Fix attempt {{.Attempt}}: {{.Report}}\n", ""}, {"role: developer", "role: «developer"}},
			want:  []string{`stage "develop" has role developer, which needs prompt "fix": add it under prompts`},
		},
		{
			name:  "template parse error",
			edits: []edit{{"    Plan: {{.Plan}}", "    «Plan: {{.Plan}"}},
			want:  []string{`prompt "developer": bad character U+007D '}'`},
		},
		{
			name:  "template naming an unknown field",
			edits: []edit{{"{{.Issue.Title}}", "{{.Issue«.Titel}}"}},
			want:  []string{`prompt "pm": at <.Issue.Titel>: can't evaluate field Titel in type workflow.PromptIssue`},
		},
		{
			name:  "unknown field on the second template line",
			edits: []edit{{"    Plan: {{.Plan}}", "    Plan: {{«.Plna}}"}},
			want:  []string{`prompt "developer": at <.Plna>: can't evaluate field Plna in type workflow.PromptData`},
		},
		{
			name:  "unknown field in a branch only empty data reaches",
			edits: []edit{{"    Fix attempt {{.Attempt}}: {{.Report}}", "    Fix attempt {{.Attempt}}: {{.Report}}\n    {{if not .Report}}{{«.Reprot}}{{end}}"}},
			want:  []string{`prompt "fix": at <.Reprot>: can't evaluate field Reprot in type workflow.PromptData`},
		},
		{
			name:  "template error in a quoted one-line prompt",
			edits: []edit{{"  fix: |\n    Fix attempt {{.Attempt}}: {{.Report}}", `  fix: "Fix {{«.Reprot}}"`}},
			want:  []string{`prompt "fix": at <.Reprot>: can't evaluate field Reprot in type workflow.PromptData`},
		},
		{
			name:  "template error under an indentation indicator",
			edits: []edit{{"  pm: |\n    Plan issue #{{.Issue.Number}}: {{.Issue.Title}}", "  pm: |4\n        Plan {{«.Nope}}"}},
			want:  []string{`prompt "pm": at <.Nope>: can't evaluate field Nope in type workflow.PromptData`},
		},
		{
			name:  "prompt that is not text",
			edits: []edit{{"  pm: |\n    Plan issue #{{.Issue.Number}}: {{.Issue.Title}}", "  pm: «[plan]"}},
			want:  []string{`prompt "pm" must be a string, not a list`},
		},
		{
			name:  "empty prompt",
			edits: []edit{{"  pm: |\n    Plan issue #{{.Issue.Number}}: {{.Issue.Title}}", "  pm: «\"\""}},
			want:  []string{`prompt "pm" is empty`},
		},
		{
			name:  "template error in a folded prompt points at the prompt",
			edits: []edit{{"  pm: |\n    Plan issue #{{.Issue.Number}}: {{.Issue.Title}}", "  pm: «>\n    Plan issue\n    {{.Issue.Titel}}"}},
			want:  []string{`prompt "pm": at <.Issue.Titel>: can't evaluate field Titel in type workflow.PromptIssue`},
		},
		{
			name:  "merge key from several anchors",
			edits: []edit{{"agents:\n", "x-kind: &k {kind: command}\nx-cmd: &c {command: [a]}\nagents:\n  other:\n    <<: [*k, *c]\n    «colour: red\n"}, {"x-kind", "«x-kind"}, {"x-cmd", "«x-cmd"}},
			want: []string{
				`unknown key "x-kind" at the top level`,
				`unknown key "x-cmd" at the top level`,
				`unknown key "colour" in agent "other"`,
			},
		},
		{
			name:  "integer too large",
			edits: []edit{{"concurrency: 2", "concurrency: «18446744073709551615"}},
			want:  []string{`concurrency in stage "develop" is too large`},
		},
		{
			name: "anchor merging itself",
			src:  "««version: 1\nrepo: &a {<<: «*a}\n",
			want: []string{
				`missing required key "opt_in" at the top level`,
				`missing required key "escalation" at the top level`,
				"merge keys (<<) nest too deeply; does an anchor merge itself?",
			},
		},
		{
			name:  "alias to no anchor",
			edits: []edit{{"escalation: needs:human", "escalation: ««*nowhere"}},
			want:  []string{"alias *nowhere refers to no anchor &nowhere", "escalation is empty"},
		},
		{
			name:  "invalid branch prefix",
			edits: []edit{{"tracker:\n", "repo: {branch_prefix: «\"ai work/\"}\ntracker:\n"}},
			want:  []string{`branch_prefix in repo "ai work/" is not a valid git branch name`},
		},
		{
			name:  "several problems at once",
			edits: []edit{{"version: 1", "version: «3"}, {"role: pick,", "role: «picker,"}, {"concurrency: 2", "concurrency: «none"}, {"approvers: [alice, bob]", "approvers: «[]"}},
			want: []string{
				"unsupported version 3: this agentorg reads version 1",
				`unknown role "picker" for stage "pick" (known: pm, pick, developer, validator, merge, e2e, ci, triage) (did you mean "pick"?)`,
				`concurrency in stage "develop" must be an integer, not the string "none"`,
				`gate "merge" has no approvers and no min_access_level: nobody could approve`,
			},
		},
	}
	base := readBase(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if src == "" {
				src = applyEdits(t, base, tc.edits)
			}
			text, marks := mark(src)
			if len(marks) != len(tc.want) {
				t.Fatalf("test has %d markers for %d expected problems", len(marks), len(tc.want))
			}
			w, err := Parse("wf.yaml", []byte(text), testEnv)
			if w != nil {
				t.Errorf("Parse returned a workflow along with problems")
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

// readBaseString is readBase for use in table literals.
func readBaseString() string {
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		panic(err)
	}
	return string(data)
}

// The template error test above relies on markers; this one spells out the
// file line, to pin down the block-scalar arithmetic: line 1 of a | block is
// the line after its key, and the column adds the block's indentation.
func TestTemplateErrorFilePosition(t *testing.T) {
	src := `version: 1
opt_in: go
escalation: help
labels: [{name: go}, {name: done}, {name: help}]
agents:
  a: {kind: command, command: [x]}
stages:
  s: {role: pm, agent: a, on: go, success: done}
prompts:
  pm: |

    Title: {{.Issue.Title}}
    Body:  {{.Issue.Bodyy}}
`
	_, err := Parse("wf.yaml", []byte(src), testEnv)
	want := `wf.yaml:13:20: prompt "pm": at <.Issue.Bodyy>: can't evaluate field Bodyy in type workflow.PromptIssue`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n"} {
		_, err := Parse("wf.yaml", []byte(src), testEnv)
		if err == nil || err.Error() != "wf.yaml: the workflow file is empty" {
			t.Errorf("Parse(%q) = %v", src, err)
		}
	}
}

func TestProblemFormat(t *testing.T) {
	ps := Problems{
		{File: "a.yaml", Pos: Position{Line: 3, Column: 7}, Message: "bad"},
		{File: "a.yaml", Message: "no position"},
	}
	if got, want := ps.Error(), "a.yaml:3:7: bad\na.yaml: no position"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := (Problem{Message: "m"}).String(); got != "m" {
		t.Errorf("String() without file = %q", got)
	}
}

// An agent's env naming an unset variable stops that agent only: the
// workflow loads, with a warning at the value and the variable recorded on
// the agent.
func TestUnsetAgentVariableIsAWarning(t *testing.T) {
	src, pos := mark(applyEdits(t, readBase(t), []edit{{"env: {TOKEN: $AGENT_TOKEN, MODE: fast}", "env: {TOKEN: «\"${NOPE}\", MODE: fast, OTHER: «$NOPE_TOO}"}}))
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatalf("an unset agent variable must not fail the workflow: %v", err)
	}
	a := w.Agent("coder")
	if !slices.Equal(a.MissingEnv, []string{"NOPE", "NOPE_TOO"}) {
		t.Errorf("MissingEnv = %v", a.MissingEnv)
	}
	if _, passed := a.Env["TOKEN"]; passed || a.Env["MODE"] != "fast" {
		t.Errorf("env = %v: an unset variable must not be passed (not even empty), the rest must", a.Env)
	}
	want := Problems{
		{File: "wf.yaml", Pos: pos[0], Message: `environment variable NOPE is not set (TOKEN in env in agent "coder" refers to it): agent "coder" cannot run until it is set`},
		{File: "wf.yaml", Pos: pos[1], Message: `environment variable NOPE_TOO is not set (OTHER in env in agent "coder" refers to it): agent "coder" cannot run until it is set`},
	}
	if !reflect.DeepEqual(w.Warnings, want) {
		t.Errorf("warnings =\n%v\nwant\n%v", w.Warnings, want)
	}
	problem, fix := a.Unready()
	if problem != `agent "coder" needs $NOPE and $NOPE_TOO, which are not set in agentorg's environment` || fix != "set them and restart agentorg serve" {
		t.Errorf("Unready() = %q, %q", problem, fix)
	}
	a.MissingEnv = a.MissingEnv[:1]
	if problem, fix := a.Unready(); problem != `agent "coder" needs $NOPE, which is not set in agentorg's environment` || fix != "set it and restart agentorg serve" {
		t.Errorf("Unready() = %q, %q", problem, fix)
	}
	if problem, _ := w.Agent("coder").Unready(); problem == "" {
		t.Error("Unready must report the missing variables")
	}
	ok, err := Parse("wf.yaml", []byte(readBase(t)), testEnv)
	if err != nil || len(ok.Warnings) != 0 || len(ok.Agent("coder").MissingEnv) != 0 {
		t.Fatalf("all variables set: %v, warnings %v", err, ok.Warnings)
	}
	if problem, fix := ok.Agent("coder").Unready(); problem != "" || fix != "" {
		t.Errorf("a ready agent: Unready() = %q, %q", problem, fix)
	}
}

// api_key_env must be passed through env; passing it as an unset variable
// counts as passing it (the warning says what to set).
func TestAPIKeyEnvUnset(t *testing.T) {
	data := string(Default(DefaultOptions{Approvers: []string{"a"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}))
	agents := "agents:\n  coder:\n    kind: command\n    command: [x]\n" +
		"  local:\n    kind: openai\n    base_url: http://127.0.0.1:11434/v1\n    model: m\n    api_key_env: LOCAL_KEY\n    env: {LOCAL_KEY: $UNSET_KEY}\n"
	i := strings.Index(data, "agents:\n")
	j := strings.Index(data, "\n# Automated steps.")
	w, err := Parse("wf.yaml", []byte(data[:i]+agents+data[j:]), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if l := w.Agent("local"); !slices.Equal(l.MissingEnv, []string{"UNSET_KEY"}) || len(w.Warnings) != 1 {
		t.Errorf("local: MissingEnv %v, warnings %v", l.MissingEnv, w.Warnings)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "workflow.yaml")
	if err := os.WriteFile(path, []byte(readBase(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AGENT_TOKEN", "from-env")
	w, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Path != path || w.Agent("coder").Env["TOKEN"] != "from-env" {
		t.Errorf("Load: path %q, env %v", w.Path, w.Agent("coder").Env)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	if err := os.WriteFile(path, []byte("version: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var ps Problems
	if !errors.As(err, &ps) || ps[0].File != path {
		t.Errorf("Load(bad) = %v, want Problems naming %s", err, path)
	}
}

func TestLookups(t *testing.T) {
	w, err := Parse("wf.yaml", []byte(readBase(t)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s := w.StageOn("dev:done"); s == nil || s.Name != "validate" {
		t.Errorf("StageOn(dev:done) = %+v", s)
	}
	if s := w.StageOn("plan:review"); s != nil {
		t.Errorf("StageOn(plan:review) = %+v, want nil (a gate waits there)", s)
	}
	if ss := w.StagesWithRole("developer"); len(ss) != 1 || ss[0].Name != "develop" {
		t.Errorf("StagesWithRole(developer) = %v", ss)
	}
	if ss := w.StagesWithRole("nope"); ss != nil {
		t.Errorf("StagesWithRole(nope) = %v", ss)
	}
	if g := w.GateWaiting("mr:ready-for-review"); g == nil || g.Name != "merge" {
		t.Errorf("GateWaiting = %+v", g)
	}
	if g := w.GateApproving("issue:approved"); g == nil || g.Name != "plan" {
		t.Errorf("GateApproving = %+v", g)
	}
	if w.Stage("nope") != nil || w.Gate("nope") != nil || w.Agent("nope") != nil || w.Label("nope") != nil ||
		w.GateWaiting("nope") != nil || w.GateApproving("nope") != nil {
		t.Error("lookups of unknown names must return nil")
	}
	// Pointers reach into the workflow, not copies.
	w.Stage("pick").Concurrency = 9
	if w.Stages[1].Concurrency != 9 {
		t.Error("Stage returned a copy")
	}
}

func TestStateLabels(t *testing.T) {
	w := &Workflow{
		OptIn:      "in",
		Escalation: "help",
		Labels:     []Label{{Name: "help"}, {Name: "bug"}, {Name: "done"}, {Name: "in"}, {Name: "review"}, {Name: "ok"}},
		Stages:     []Stage{{On: "in", Success: "review", Failure: "help"}},
		Gates:      []Gate{{Waits: "review", Approve: "ok", Reject: "in"}, {Waits: "ok", Approve: "extra"}},
	}
	got := w.StateLabels()
	want := []string{"help", "in", "review", "ok", "extra"} // label-list order; "bug" is not state; unlisted last
	if !slices.Equal(got, want) {
		t.Errorf("StateLabels() = %v, want %v", got, want)
	}
}

func TestStateLabelsOfBase(t *testing.T) {
	w, err := Parse("wf.yaml", []byte(readBase(t)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, l := range w.Labels {
		all = append(all, l.Name)
	}
	if got := w.StateLabels(); !slices.Equal(got, all) {
		t.Errorf("StateLabels() = %v, want every label %v", got, all)
	}
}

func TestRender(t *testing.T) {
	w, err := Parse("wf.yaml", []byte(readBase(t)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Render("pm", PromptData{Issue: PromptIssue{Number: 7, Title: "Add dark mode"}})
	if err != nil {
		t.Fatal(err)
	}
	if got != "Plan issue #7: Add dark mode\n" {
		t.Errorf("Render(pm) = %q", got)
	}
	if _, err := w.Render("review", PromptData{}); err == nil || !strings.Contains(err.Error(), `no prompt "review"`) {
		t.Errorf("Render(unknown) = %v", err)
	}
	// A workflow built without Parse can still hold a bad template; Render
	// must refuse rather than render "<no value>".
	bad := &Workflow{Prompts: map[string]string{"pm": "{{.Issue.Titel}}", "fix": "{{if}}"}}
	if _, err := bad.Render("pm", PromptData{}); err == nil || !strings.Contains(err.Error(), "can't evaluate field Titel") {
		t.Errorf("Render(bad field) = %v", err)
	}
	if _, err := bad.Render("fix", PromptData{}); err == nil {
		t.Error("Render(unparsable) succeeded")
	}
}

func TestDefault(t *testing.T) {
	opts := DefaultOptions{
		Approvers:    []string{"alice", "O'Brien", "true"},
		Check:        `go vet ./... && go test ./... # "all"`,
		E2E:          "make e2e: all",
		AgentCommand: []string{"claude", "-p", "--output-format", "stream-json"},
	}
	data := Default(opts)
	w, err := Parse(DefaultPath, data, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("Parse(Default) has problems:\n%v\n%s", err, data)
	}
	wantLabels := []string{"agentorg", "pm:running", "plan:review", "issue:approved", "dev:ready", "dev:running",
		"dev:done", "validate:running", "mr:ready-for-review", "mr:changes-requested", "triage:running", "mr:approved", "e2e:ready", "e2e:running",
		"e2e:done", "e2e:failed", "needs:human"}
	var labels []string
	for _, l := range w.Labels {
		labels = append(labels, l.Name)
		if !colorRE.MatchString(l.Color) || l.Description == "" || strings.Contains(l.Description, "\n") {
			t.Errorf("label %+v needs a colour and a one-line description", l)
		}
	}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("labels = %v, want %v", labels, wantLabels)
	}
	if !slices.Equal(w.StateLabels(), wantLabels) {
		t.Errorf("StateLabels = %v, want every label", w.StateLabels())
	}
	if w.OptIn != "agentorg" || w.Escalation != "needs:human" || w.Repo.TargetBranch != "main" {
		t.Errorf("opt_in %q, escalation %q, target %q", w.OptIn, w.Escalation, w.Repo.TargetBranch)
	}
	wantStages := []Stage{
		{Name: "plan", Role: "pm", Agent: "coder", On: "agentorg", Running: "pm:running", Success: "plan:review", Failure: "needs:human", Concurrency: 1},
		{Name: "pick", Role: "pick", On: "issue:approved", Success: "dev:ready", Failure: "needs:human", Concurrency: 1},
		{Name: "develop", Role: "developer", Agent: "coder", On: "dev:ready", Running: "dev:running", Success: "dev:done", Failure: "needs:human", Concurrency: 2},
		{Name: "validate", Role: "validator", Agent: "coder", On: "dev:done", Running: "validate:running", Success: "mr:ready-for-review", Failure: "dev:ready", Concurrency: 1},
		{Name: "triage", Role: "triage", Agent: "coder", On: "mr:changes-requested", Running: "triage:running", Success: "mr:ready-for-review", Failure: "dev:ready", Concurrency: 1},
		{Name: "merge", Role: "merge", On: "mr:approved", Success: "e2e:ready", Failure: "needs:human", Concurrency: 1},
		{Name: "e2e", Role: "e2e", On: "e2e:ready", Running: "e2e:running", Success: "e2e:done", Failure: "e2e:failed", Concurrency: 1},
	}
	if !reflect.DeepEqual(w.Stages, wantStages) {
		t.Errorf("stages = %+v\nwant %+v", w.Stages, wantStages)
	}
	wantGates := []Gate{
		{Name: "plan", Waits: "plan:review", Approve: "issue:approved", Reject: "agentorg", Approvers: opts.Approvers},
		{Name: "merge", Waits: "mr:ready-for-review", Approve: "mr:approved", Reject: "dev:ready", Approvers: opts.Approvers, MergeRequest: true,
			ChangesRequested: "mr:changes-requested", Reviewers: opts.Approvers},
	}
	if !reflect.DeepEqual(w.Gates, wantGates) {
		t.Errorf("gates = %+v\nwant %+v", w.Gates, wantGates)
	}
	if len(w.Checks) != 1 || w.Checks[0].Name != "test" || w.Checks[0].Run != opts.Check {
		t.Errorf("checks = %+v", w.Checks)
	}
	if w.E2E.Run != opts.E2E {
		t.Errorf("e2e = %+v", w.E2E)
	}
	if a := w.Agent("coder"); a == nil || a.Kind != "command" || !slices.Equal(a.Command, opts.AgentCommand) {
		t.Errorf("agent = %+v", a)
	}

	data2 := PromptData{
		Issue:    PromptIssue{Number: 12, Title: "Export CSV", Body: "Users want CSV export.", Labels: []string{"agentorg"}},
		Repo:     PromptRepo{TargetBranch: "main", Branch: "agentorg/issue-12"},
		Attempt:  2,
		Plan:     "PLAN-TEXT",
		Report:   "REPORT-TEXT",
		Feedback: "FEEDBACK-TEXT",
		Findings: "FINDINGS-TEXT",
		Criteria: "CRITERIA-TEXT",
		Diff:     "DIFF-TEXT",
		Checks:   "CHECKS-TEXT",
	}
	for name, wants := range map[string][]string{
		"validate":  {"#12", "Export CSV", "Users want CSV export.", "CRITERIA-TEXT", "DIFF-TEXT", "CHECKS-TEXT", "do not\nchange any file"},
		"pm":        {"#12", "Export CSV", "Users want CSV export.", "## Acceptance criteria", "- [ ]", "FEEDBACK-TEXT"},
		"developer": {"#12", "Export CSV", "Users want CSV export.", "PLAN-TEXT", "agentorg/issue-12", "main", "Change only what the issue", "Do not commit", "FEEDBACK-TEXT"},
		"fix":       {"#12", "sent back by a reviewer", "FEEDBACK-TEXT", "PLAN-TEXT", "targeted fixes", "attempt 2", "Do\nnot commit"},
	} {
		got, err := w.Render(name, data2)
		if err != nil {
			t.Errorf("Render(%s): %v", name, err)
			continue
		}
		for _, s := range wants {
			if !strings.Contains(got, s) {
				t.Errorf("Render(%s) lacks %q:\n%s", name, s, got)
			}
		}
		if strings.Contains(got, "<no value>") {
			t.Errorf("Render(%s) has a missing value:\n%s", name, got)
		}
	}
	// Without feedback, the feedback paragraph disappears.
	data2.Feedback = ""
	got, err := w.Render("pm", data2)
	if err != nil || strings.Contains(got, "rejected") {
		t.Errorf("Render(pm) without feedback = %q, %v", got, err)
	}
	// After a NO-GO, the fix prompt carries the findings instead.
	got, err = w.Render("fix", data2)
	if err != nil || !strings.Contains(got, "failed validation") || !strings.Contains(got, "FINDINGS-TEXT") || strings.Contains(got, "reviewer") {
		t.Errorf("Render(fix) without feedback = %q, %v", got, err)
	}
}

func TestDefaultTargetBranch(t *testing.T) {
	opts := DefaultOptions{Approvers: []string{"alice"}, TargetBranch: "release/2.x", Check: "true", E2E: "true", AgentCommand: []string{"agent"}}
	w, err := Parse("wf.yaml", Default(opts), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w.Repo.TargetBranch != "release/2.x" {
		t.Errorf("target branch = %q", w.Repo.TargetBranch)
	}
	if w.Repo.URL != "." {
		t.Errorf("repo url = %q, want the default \".\"", w.Repo.URL)
	}
	withURL := opts
	withURL.RepoURL = "../origin.git"
	if w, err := Parse("wf.yaml", Default(withURL), testEnv); err != nil || w.Repo.URL != "../origin.git" {
		t.Errorf("RepoURL: %v, %+v", err, w)
	}
	// A name YAML would read as a number must come back as written.
	opts.TargetBranch = "2.0"
	w, err = Parse("wf.yaml", Default(opts), testEnv)
	if err != nil || w.Repo.TargetBranch != "2.0" {
		t.Errorf("target branch 2.0: %v, %v", err, w)
	}
}

// The fix prompt after a conflict with another issue's merged change gives
// both intents: the other issue's plan, criteria and diff, and the hunks.
func TestDefaultFixPromptCrossAgentConflict(t *testing.T) {
	opts := DefaultOptions{Approvers: []string{"alice"}, Check: "true", E2E: "true", AgentCommand: []string{"agent"}}
	w, err := Parse("wf.yaml", Default(opts), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	data := PromptData{
		Issue: PromptIssue{Number: 13, Title: "Two"}, Repo: PromptRepo{TargetBranch: "main", Branch: "agentorg/issue-13"},
		Attempt: 3, Plan: "OWN-PLAN", Findings: "FINDINGS-TEXT",
		Conflicts: []PromptConflict{{Number: 12, Title: "One", Plan: "THEIR-PLAN", Criteria: "THEIR-CRITERIA", Diff: "THEIR-DIFF"}},
		Hunks:     "HUNKS-TEXT",
	}
	got, err := w.Render(PromptFix, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"FINDINGS-TEXT", "conflicts with #12's (One), merged on\nmain meanwhile", "THEIR-PLAN", "THEIR-CRITERIA", "THEIR-DIFF", "Keep both", "HUNKS-TEXT"} {
		if !strings.Contains(got, s) {
			t.Errorf("the fix prompt lacks %q:\n%s", s, got)
		}
	}
	data.Conflicts, data.Hunks = nil, ""
	if got, err := w.Render(PromptFix, data); err != nil || strings.Contains(got, "Keep both") || strings.Contains(got, "as the merge left them") {
		t.Errorf("without a conflict: %v\n%s", err, got)
	}
}

// Left empty, the required options make the file point at what to fill in.
func TestDefaultWithoutOptionsIsInvalid(t *testing.T) {
	_, err := Parse("wf.yaml", Default(DefaultOptions{}), testEnv)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v", err)
	}
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, p.Message)
	}
	for _, want := range []string{
		`command in agent "coder" must name a program: a list like ["my-agent", "--flag"]`,
		`gate "plan" has no approvers and no min_access_level: nobody could approve`,
		`gate "merge" has no approvers and no min_access_level: nobody could approve`,
		`run in check "test" is empty`,
		`stage "e2e" has role e2e but e2e.run is empty: set the end-to-end command`,
	} {
		if !slices.Contains(msgs, want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
	if len(ps) != 5 {
		t.Errorf("got %d problems, want 5:\n%v", len(ps), err)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"agnet", ` (did you mean "agent"?)`},
		{"sucess", ` (did you mean "success"?)`},
		{"om", ` (did you mean "on"?)`},
		{"zzz", ""},
		{"description", ""},
	} {
		if got := suggest(tc.in, stageKeys); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Parse must report, never panic, whatever the file holds.
// FuzzParse: Parse returns a workflow or problems, never both, never
// neither, and never panics. The seeds are small on purpose: the fuzzer
// minimises what it finds from them, and a large seed (the default
// workflow is 18 KB) spent its minute minimising instead of fuzzing.
// TestParseKnownGood and the other tests cover the whole default file.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"version: 1\n",
		"a: &a {<<: *a}\n",
		"labels:\n  - name: x\n    color: \"#ffffff\"\n",
		"stages:\n  s: {role: pm, agent: a, on: x, success: y}\ngates:\n  g: {waits: y, approve: z, approvers: [h]}\n",
		"agents:\n  a: {kind: command, command: [x], env: {K: $UNSET}}\n",
		"prompts:\n  pm: \"{{.Issue.Title}} {{range 3}}x{{end}}\"\n",
		"checks:\n  - {name: t, run: \"go test ./...\", timeout: 1m}\n",
		"[[[[[[[[[[]]]]]]]]]]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Parse("wf.yaml", data, testEnv)
		if (w == nil) == (err == nil) {
			t.Fatalf("Parse returned workflow %v with error %v", w != nil, err)
		}
	})
}

func TestAgentKindsParse(t *testing.T) {
	data := string(Default(DefaultOptions{Approvers: []string{"a"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}))
	agents := `agents:
  coder:
    kind: claude
    binary: /opt/bin/claude
    model: claude-sonnet-5
    args: ["--add-dir", "/tmp/x"]
    max_turns: 30
    env:
      ANTHROPIC_API_KEY: $KEY
    price: {input: 3, cached_input: 0.3, output: 15}
  local:
    kind: openai
    base_url: http://127.0.0.1:11434/v1
    model: qwen3-coder
    api_key_env: OLLAMA_KEY
    commands: [go, gofmt]
    env:
      OLLAMA_KEY: ollama
`
	i := strings.Index(data, "agents:\n")
	j := strings.Index(data, "\n# Automated steps.")
	data = data[:i] + agents + data[j:]
	w, err := Parse("wf.yaml", []byte(data), func(k string) (string, bool) { return "secret-" + k, true })
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := w.Agent("coder")
	want := Agent{Name: "coder", Kind: "claude", Binary: "/opt/bin/claude", Model: "claude-sonnet-5",
		Args: []string{"--add-dir", "/tmp/x"}, MaxTurns: 30, Env: map[string]string{"ANTHROPIC_API_KEY": "secret-KEY"},
		Price: Price{Input: 3, CachedInput: 0.3, Output: 15}, Timeout: DefaultAgentTimeout, StallTimeout: DefaultAgentStall}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("coder = %+v\nwant    %+v", *c, want)
	}
	l := w.Agent("local")
	if l.Kind != "openai" || l.BaseURL != "http://127.0.0.1:11434/v1" || l.APIKeyEnv != "OLLAMA_KEY" || !slices.Equal(l.Commands, []string{"go", "gofmt"}) {
		t.Errorf("local = %+v", *l)
	}
	// 1M input of which 200k cached, 100k output: 0.8*3 + 0.2*0.3 + 0.1*15.
	if got := c.Price.Cost(1_000_000, 200_000, 100_000); got < 3.9599 || got > 3.9601 {
		t.Errorf("Cost = %v, want 3.96", got)
	}
}

func TestDefaultWithCLIAgent(t *testing.T) {
	data := Default(DefaultOptions{Approvers: []string{"a"}, Check: "c", E2E: "e", Agent: AgentOptions{
		Kind: "codex", Binary: "/opt/codex", Model: "gpt-5.5", Args: []string{"-c", `model_provider="x"`},
		Env: map[string]string{"OPENAI_API_KEY": "scripted", "CODEX_HOME": "/tmp/h/.codex"},
	}})
	w, err := Parse(DefaultPath, data, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	a := w.Agent("coder")
	if a.Kind != "codex" || a.Binary != "/opt/codex" || a.Model != "gpt-5.5" || !slices.Equal(a.Args, []string{"-c", `model_provider="x"`}) ||
		a.Env["CODEX_HOME"] != "/tmp/h/.codex" || a.Env["OPENAI_API_KEY"] != "scripted" || len(a.Command) != 0 {
		t.Errorf("coder = %+v", *a)
	}
}

// Several agents, one per kind chosen, each role's stage naming its own;
// several checks, each with its name.
func TestDefaultWithAgentsPerRole(t *testing.T) {
	data := Default(DefaultOptions{Approvers: []string{"a"}, E2E: "make e2e",
		Checks: []CheckOptions{{Name: "go", Run: "go test ./..."}, {Name: "npm", Run: "npm test"}},
		Agents: []AgentOptions{
			{Name: "claude", Kind: AgentClaude},
			{Name: "openai", Kind: AgentOpenAI, BaseURL: "http://127.0.0.1:11434/v1", Model: "qwen3-coder"},
			{Name: "command", Kind: AgentCommand, Command: []string{"my-agent", "--fast"}},
		},
		RoleAgents: map[string]string{"validator": "openai", "triage": "command"},
	})
	w, err := Parse(DefaultPath, data, testEnv)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	for stage, want := range map[string]string{"plan": "claude", "develop": "claude", "validate": "openai", "triage": "command"} {
		if got := w.Stage(stage).Agent; got != want {
			t.Errorf("stage %s names agent %q, want %q", stage, got, want)
		}
	}
	if a := w.Agent("claude"); a == nil || a.Kind != AgentClaude || len(a.Env) != 0 {
		t.Errorf("claude = %+v", a)
	}
	if a := w.Agent("openai"); a == nil || a.BaseURL != "http://127.0.0.1:11434/v1" || a.Model != "qwen3-coder" {
		t.Errorf("openai = %+v", a)
	}
	if a := w.Agent("command"); a == nil || !slices.Equal(a.Command, []string{"my-agent", "--fast"}) {
		t.Errorf("command = %+v", a)
	}
	if len(w.Agents) != 3 || w.Agent("coder") != nil {
		t.Errorf("agents = %+v, want exactly the three given", w.Agents)
	}
	if len(w.Checks) != 2 || w.Checks[0] != (Check{Name: "go", Run: "go test ./...", Timeout: DefaultCheckTimeout}) || w.Checks[1].Name != "npm" {
		t.Errorf("checks = %+v", w.Checks)
	}
	// How to pass an API key is shown, commented out: a CLI logged in under
	// HOME needs none, and nothing reaches an agent unless env passes it.
	if !strings.Contains(string(data), "    # env: {ANTHROPIC_API_KEY: $ANTHROPIC_API_KEY}") {
		t.Errorf("the claude agent lacks the commented env line:\n%s", data)
	}
}

// Without a check or an E2E command, the written file says what to fill in
// right above the lines check reports.
func TestDefaultWithoutCheckSaysWhatToFillIn(t *testing.T) {
	data := string(Default(DefaultOptions{Approvers: []string{"a"}, AgentCommand: []string{"x"}}))
	_, err := Parse("wf.yaml", []byte(data), testEnv)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("want the empty check and the empty e2e reported, got %v", err)
	}
	lines := strings.Split(data, "\n")
	for _, p := range ps {
		if !strings.Contains(lines[p.Pos.Line-2], "# Fill in:") && !strings.Contains(lines[p.Pos.Line-3], "# Fill in:") {
			t.Errorf("%v: no fill-in comment just above:\n%s\n%s", p, lines[p.Pos.Line-3], lines[p.Pos.Line-2])
		}
	}
}

// The README's agent examples are real workflow text: each parses when put
// in place of the default workflow's agents.
func TestREADMEAgentExamplesParse(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	i := strings.Index(section, "\n## Agents\n")
	if i < 0 {
		t.Fatal("README has no Agents section")
	}
	section = section[i:]
	section = section[:strings.Index(section[1:], "\n## ")+1]
	blocks := regexp.MustCompile("(?s)```yaml\n(agents:\n.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 2 {
		t.Fatalf("want the README's agent examples, found %d", len(blocks))
	}
	base := string(Default(DefaultOptions{Approvers: []string{"a"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}))
	for _, b := range blocks {
		j := strings.Index(base, "agents:\n")
		k := strings.Index(base, "\n# Automated steps.")
		// Keep the default coder (the stages name it) after the examples.
		text := base[:j] + b[1] + "  coder:\n    kind: command\n    command: [x]\n" + base[k:]
		if _, err := Parse("README.md", []byte(text), func(k string) (string, bool) { return "from-env-" + k, true }); err != nil {
			t.Errorf("README example does not parse:\n%s\n%v", b[1], err)
		}
	}
}

// A gate on GitLab may allow by access level instead of (or besides) names.
func TestGateMinAccessLevel(t *testing.T) {
	src := applyEdits(t, readBase(t), []edit{
		{"  kind: embedded\n", "  kind: gitlab\n  gitlab: {url: https://gitlab.example.com, project: team/app, token: $GITLAB_TOKEN}\n"},
		{"    approvers: [alice, bob]", "    min_access_level: Maintainer"},
		{"approvers: [alice]}", "approvers: [alice], min_access_level: developer}"},
	})
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	merge, plan := w.Gate("merge"), w.Gate("plan")
	if merge.MinAccessLevel != 40 || len(merge.Approvers) != 0 {
		t.Fatalf("merge gate: %+v", merge)
	}
	if plan.MinAccessLevel != 30 || !slices.Equal(plan.Approvers, []string{"alice"}) {
		t.Fatalf("plan gate: %+v", plan)
	}
	if w.Stage("merge").AutoMerge {
		t.Fatal("auto_merge is off unless set")
	}
	if got, want := plan.Allowed(), "alice, or anyone with developer access or above in the project"; got != want {
		t.Fatalf("Allowed() = %q, want %q", got, want)
	}
}

func TestStageAutoMerge(t *testing.T) {
	src := applyEdits(t, readBase(t), []edit{
		{"  kind: embedded\n", "  kind: gitlab\n  gitlab: {url: https://gitlab.example.com, project: team/app, token: $GITLAB_TOKEN}\n"},
		{"role: merge, on: mr:approved,", "role: merge, auto_merge: true, on: mr:approved,"},
	})
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Stage("merge").AutoMerge {
		t.Fatalf("merge stage %+v", w.Stage("merge"))
	}
}

// A workflow that would make the parser or the template check take minutes
// or gigabytes is refused quickly, with what is wrong.
func TestParseBounds(t *testing.T) {
	base := readBaseString()
	for _, c := range []struct {
		name, text, want string
	}{
		{"deep flow nesting", "x: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n", "collections nested more than 64 deep"},
		{"huge file", "# " + strings.Repeat("x", 2<<20) + "\n", "over the limit of"},
		{"endless range", strings.Replace(base, "prompts:\n", "prompts:\n  pm: \"{{range 2000000000}}{{end}}\"\n", 1), "run 2000000000 times or more"},
		{"nested ranges", strings.Replace(base, "prompts:\n", "prompts:\n  pm: \"{{range 2000}}{{if .Plan}}{{range 2000}}x{{end}}{{end}}{{end}}\"\n", 1), "run 4000000 times or more"},
		{"huge output", strings.Replace(base, "prompts:\n", "prompts:\n  pm: \"{{range 900000}}{{$.Diff}}{{end}}\"\n", 1), "over 4194304 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("wf.yaml", []byte(c.text), testEnv)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse: %v, want an error with %q", err, c.want)
			}
		})
	}
}
