package gate

import (
	"reflect"
	"slices"
	"testing"

	"github.com/agentorg/agentorg/workflow"
)

// policyRule is a one-rule AutoApprove.
func policyRule(name string, c workflow.Condition) *workflow.AutoApprove {
	return &workflow.AutoApprove{Grace: workflow.DefaultGrace, MaxPerDay: workflow.DefaultMaxPerDay,
		Rules: []workflow.ApproveRule{{Name: name, Cond: c}}}
}

func allOf(cs ...workflow.Condition) workflow.Condition { return workflow.Condition{All: cs} }
func anyOf(cs ...workflow.Condition) workflow.Condition {
	return workflow.Condition{Any: cs}
}

// docsChange is a change of two documentation files, validated on the
// first attempt with every criterion met by a command.
var docsChange = Change{Paths: []string{"docs/guide.md", "README.md"}, Lines: 12, CriteriaByCommand: 2, Attempt: 1}

// Each leaf, alone in a rule, holding and failing, with its words.
func TestPolicyRuleLeaves(t *testing.T) {
	with := func(f func(*Change)) Change {
		c := docsChange
		c.Paths = slices.Clone(docsChange.Paths)
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cond workflow.Condition
		c    Change
		why  string // when it holds
		miss string // when it does not
	}{
		{"paths", workflow.Condition{Paths: []string{"docs/**", "*.md"}}, docsChange,
			"every changed path matches docs/** or *.md", ""},
		{"paths, one outside", workflow.Condition{Paths: []string{"docs/**", "*.md"}}, with(func(c *Change) { c.Paths = append(c.Paths, "src/a.go") }),
			"", "src/a.go matches none of docs/**, *.md"},
		{"paths, base name at any depth", workflow.Condition{Paths: []string{"*_test.go"}}, Change{Paths: []string{"a_test.go", "x/y/b_test.go"}},
			"every changed path matches *_test.go", ""},
		{"paths, empty change", workflow.Condition{Paths: []string{"**"}}, Change{},
			"", "no changed path"},
		{"no_paths", workflow.Condition{NoPaths: []string{"secrets/**", "*.sql"}}, docsChange,
			"no changed path matches secrets/** or *.sql", ""},
		{"no_paths, one inside", workflow.Condition{NoPaths: []string{"secrets/**", "*.sql"}}, with(func(c *Change) { c.Paths = append(c.Paths, "db/m/001.sql") }),
			"", "db/m/001.sql matches *.sql"},
		{"no_paths, empty change", workflow.Condition{NoPaths: []string{"secrets/**"}}, Change{},
			"no changed path matches secrets/**", ""},
		{"max_lines", workflow.Condition{MaxLines: 12}, docsChange,
			"12 lines changed (at most 12)", ""},
		{"max_lines, one line", workflow.Condition{MaxLines: 200}, with(func(c *Change) { c.Lines = 1 }),
			"1 line changed (at most 200)", ""},
		{"max_lines, over", workflow.Condition{MaxLines: 200}, with(func(c *Change) { c.Lines = 340 }),
			"", "340 lines changed (more than 200)"},
		{"max_files", workflow.Condition{MaxFiles: 2}, with(func(c *Change) { c.Paths = append(c.Paths, "README.md") }),
			"2 files changed (at most 2)", ""},
		{"max_files, over", workflow.Condition{MaxFiles: 1}, docsChange,
			"", "2 files changed (more than 1)"},
		{"criteria_by_command", workflow.Condition{CriteriaByCommand: true}, docsChange,
			"all 2 acceptance criteria met by a command", ""},
		{"criteria_by_command, one", workflow.Condition{CriteriaByCommand: true}, with(func(c *Change) { c.CriteriaByCommand = 1 }),
			"the acceptance criterion met by a command", ""},
		{"criteria_by_command, one judged", workflow.Condition{CriteriaByCommand: true}, with(func(c *Change) { c.CriteriaJudged = 1 }),
			"", "1 of 3 acceptance criteria only judged by the agent"},
		{"criteria_by_command, none", workflow.Condition{CriteriaByCommand: true}, with(func(c *Change) { c.CriteriaByCommand = 0 }),
			"", "no acceptance criterion to meet by a command"},
		{"first_attempt", workflow.Condition{FirstAttempt: true}, docsChange,
			"validated on the first attempt", ""},
		{"first_attempt, third", workflow.Condition{FirstAttempt: true}, with(func(c *Change) { c.Attempt = 3 }),
			"", "validated on attempt 3, not the first"},
		{"first_attempt, unknown", workflow.Condition{FirstAttempt: true}, with(func(c *Change) { c.Attempt = 0 }),
			"", "the attempt that got the GO is not known"},
		{"no_open_threads", workflow.Condition{NoOpenThreads: true}, docsChange,
			"no open review thread", ""},
		{"no_open_threads, two open", workflow.Condition{NoOpenThreads: true}, with(func(c *Change) { c.OpenThreads = 2 }),
			"", "2 open review threads"},
		{"revert", workflow.Condition{Revert: true}, with(func(c *Change) { c.Revert = true }),
			"a revert agentorg opened after an E2E failure", ""},
		{"revert, not one", workflow.Condition{Revert: true}, docsChange,
			"", "not a revert agentorg opened after an E2E failure"},
		{"nothing to check", workflow.Condition{}, docsChange,
			"", "a condition with nothing to check"},
		{"empty all", workflow.Condition{All: []workflow.Condition{}}, docsChange,
			"", "a condition with nothing to check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := MatchRules(policyRule("r", tc.cond), nil, tc.c)
			want := RuleMatch{Rule: "r", Why: tc.why}
			if tc.miss != "" {
				want = RuleMatch{Misses: []string{"r: " + tc.miss}}
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("MatchRules\n got %+v\nwant %+v", m, want)
			}
		})
	}
}

// all and any, nested: all needs each, any the first that holds; the
// words say what held, or the first thing that did not.
func TestPolicyRuleNesting(t *testing.T) {
	docsOnly := workflow.Condition{Paths: []string{"docs/**", "*.md"}}
	small := workflow.Condition{MaxLines: 200}
	first := workflow.Condition{FirstAttempt: true}
	threads := workflow.Condition{NoOpenThreads: true}
	big := docsChange
	big.Lines = 900
	late := docsChange
	late.Attempt = 2
	tests := []struct {
		name string
		cond workflow.Condition
		c    Change
		want RuleMatch
	}{
		{"all holds", allOf(docsOnly, small, threads), docsChange, RuleMatch{Rule: "r",
			Why: "every changed path matches docs/** or *.md; 12 lines changed (at most 200); no open review thread"}},
		{"all, second fails", allOf(docsOnly, small, threads), big, RuleMatch{
			Misses: []string{"r: 900 lines changed (more than 200)"}}},
		{"any, second holds", anyOf(first, docsOnly), late, RuleMatch{Rule: "r",
			Why: "every changed path matches docs/** or *.md"}},
		{"any, none holds", anyOf(first, small), func() Change { c := late; c.Lines = 900; return c }(), RuleMatch{
			Misses: []string{"r: none holds: validated on attempt 2, not the first; 900 lines changed (more than 200)"}}},
		{"all of any", allOf(docsOnly, anyOf(first, small)), late, RuleMatch{Rule: "r",
			Why: "every changed path matches docs/** or *.md; 12 lines changed (at most 200)"}},
		{"any of all", anyOf(allOf(first, small), allOf(docsOnly, threads)), late, RuleMatch{Rule: "r",
			Why: "every changed path matches docs/** or *.md; no open review thread"}},
		{"any of all, none", anyOf(allOf(docsOnly, first), allOf(small, workflow.Condition{Revert: true})), late, RuleMatch{
			Misses: []string{"r: none holds: validated on attempt 2, not the first; not a revert agentorg opened after an E2E failure"}}},
		{"any of one", anyOf(first), late, RuleMatch{Misses: []string{"r: validated on attempt 2, not the first"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if m := MatchRules(policyRule("r", tc.cond), nil, tc.c); !reflect.DeepEqual(m, tc.want) {
				t.Errorf("MatchRules\n got %+v\nwant %+v", m, tc.want)
			}
		})
	}
}

// Rules are tried in order: the first that holds approves, and the misses
// of those before it say why they did not.
func TestPolicyRuleFirstMatchWins(t *testing.T) {
	a := &workflow.AutoApprove{Rules: []workflow.ApproveRule{
		{Name: "reverts", Cond: allOf(workflow.Condition{Revert: true})},
		{Name: "docs-only", Cond: allOf(workflow.Condition{Paths: []string{"docs/**", "*.md"}}, workflow.Condition{MaxLines: 200})},
		{Name: "small", Cond: allOf(workflow.Condition{MaxLines: 50})},
	}}
	m := MatchRules(a, nil, docsChange)
	want := RuleMatch{Rule: "docs-only", Why: "every changed path matches docs/** or *.md; 12 lines changed (at most 200)",
		Misses: []string{"reverts: not a revert agentorg opened after an E2E failure"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("MatchRules\n got %+v\nwant %+v", m, want)
	}

	code := Change{Paths: []string{"src/a.go"}, Lines: 340, Attempt: 1}
	m = MatchRules(a, nil, code)
	want = RuleMatch{Misses: []string{
		"reverts: not a revert agentorg opened after an E2E failure",
		"docs-only: src/a.go matches none of docs/**, *.md",
		"small: 340 lines changed (more than 50)",
	}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("MatchRules\n got %+v\nwant %+v", m, want)
	}

	if m := MatchRules(nil, nil, docsChange); !reflect.DeepEqual(m, RuleMatch{}) {
		t.Errorf("no auto_approve: %+v", m)
	}
}

// A path never approved automatically beats every rule, even one that
// holds for any change.
func TestPolicyNeverBeatsEveryRule(t *testing.T) {
	w := &workflow.Workflow{Hygiene: workflow.Hygiene{Deny: []string{"*.pem", "vendor/**", workflow.OwnGlob}}}
	never := NeverGlobs(w)
	everything := &workflow.AutoApprove{Rules: []workflow.ApproveRule{
		{Name: "anything", Cond: allOf(workflow.Condition{Paths: []string{"**"}})},
		{Name: "reverts", Cond: allOf(workflow.Condition{Revert: true})},
	}}
	for _, tc := range []struct {
		path, never string
	}{
		{".agentorg/workflow.yaml", "never automatic: .agentorg/workflow.yaml is agentorg's own configuration (.agentorg/**)"},
		{".github/workflows/ci.yml", "never automatic: .github/workflows/ci.yml is CI configuration (.github/**)"},
		{".gitlab-ci.yml", "never automatic: .gitlab-ci.yml is CI configuration (.gitlab-ci.yml)"},
		{"sub/Jenkinsfile", "never automatic: sub/Jenkinsfile is CI configuration (Jenkinsfile)"},
		{"certs/server.pem", "never automatic: certs/server.pem matches *.pem, one of hygiene's denied paths"},
		{"vendor/x/y.go", "never automatic: vendor/x/y.go matches vendor/**, one of hygiene's denied paths"},
	} {
		c := Change{Paths: []string{"docs/a.md", tc.path}, Lines: 3, Revert: true, Attempt: 1}
		if m := MatchRules(everything, never, c); !reflect.DeepEqual(m, RuleMatch{Never: tc.never}) {
			t.Errorf("%s: %+v, want Never %q", tc.path, m, tc.never)
		}
	}
	c := Change{Paths: []string{"docs/a.md", "src/github.go", "ci/notes.txt"}, Lines: 3}
	if m := MatchRules(everything, never, c); m.Rule != "anything" || m.Never != "" {
		t.Errorf("an ordinary change: %+v", m)
	}
}

// NeverGlobs holds agentorg's own files and CI configuration whatever the
// workflow's deny list says, and that list besides.
func TestPolicyNeverGlobs(t *testing.T) {
	fixed := append([]string{workflow.OwnGlob}, workflow.CIConfigGlobs...)
	for _, tc := range []struct {
		name string
		w    *workflow.Workflow
		want []string
	}{
		{"no workflow: the default deny list", nil, append(slices.Clone(fixed), "*.pem", "*.key", ".env")},
		{"deny unset: the default", &workflow.Workflow{}, append(slices.Clone(fixed), "*.pem", "*.key", ".env")},
		{"an empty deny list", &workflow.Workflow{Hygiene: workflow.Hygiene{Deny: []string{}}}, fixed},
		{"a deny list of its own", &workflow.Workflow{Hygiene: workflow.Hygiene{Deny: []string{"secrets/**", ".github/**"}}},
			append(slices.Clone(fixed), "secrets/**")},
	} {
		if got := NeverGlobs(tc.w); !slices.Equal(got, tc.want) {
			t.Errorf("%s: NeverGlobs = %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
