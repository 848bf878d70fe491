package workflow

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// withAutoApprove adds block (indented as a key of the merge gate) to the
// base document.
func withAutoApprove(t *testing.T, block string) string {
	t.Helper()
	return applyEdits(t, readBase(t), []edit{{"    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n" + block}})
}

func TestAutoApproveParses(t *testing.T) {
	src := withAutoApprove(t, `    auto_approve:
      grace: 5m
      max_per_day: 3
      rules:
        - name: docs-only
          all:
            - paths: ["docs/**", "*.md"]
            - max_lines: 200
            - no_open_threads: true
        - name: reverts
          all: [{revert: true}]
        - name: small-2
          any:
            - all: [{max_files: 2}, {first_attempt: true}]
            - criteria_by_command: true
            - no_paths: [secrets/**]
`)
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &AutoApprove{Grace: 5 * time.Minute, MaxPerDay: 3, Rules: []ApproveRule{
		{Name: "docs-only", Cond: Condition{All: []Condition{{Paths: []string{"docs/**", "*.md"}}, {MaxLines: 200}, {NoOpenThreads: true}}}},
		{Name: "reverts", Cond: Condition{All: []Condition{{Revert: true}}}},
		{Name: "small-2", Cond: Condition{Any: []Condition{
			{All: []Condition{{MaxFiles: 2}, {FirstAttempt: true}}},
			{CriteriaByCommand: true},
			{NoPaths: []string{"secrets/**"}},
		}}},
	}}
	if got := w.Gate("merge").AutoApprove; !reflect.DeepEqual(got, want) {
		t.Errorf("auto_approve\n got %+v\nwant %+v", got, want)
	}
	if w.Gate("plan").AutoApprove != nil {
		t.Error("a gate without auto_approve has one")
	}
}

// Grace and max_per_day have defaults; a grace of 0s is kept.
func TestAutoApproveDefaults(t *testing.T) {
	for block, want := range map[string]time.Duration{
		"    auto_approve: {rules: [{name: r, all: [{revert: true}]}]}\n":             DefaultGrace,
		"    auto_approve: {grace: 0s, rules: [{name: r, all: [{revert: true}]}]}\n":  0,
		"    auto_approve: {grace: 90s, rules: [{name: r, all: [{revert: true}]}]}\n": 90 * time.Second,
	} {
		w, err := Parse("wf.yaml", []byte(withAutoApprove(t, block)), testEnv)
		if err != nil {
			t.Fatalf("%s: %v", block, err)
		}
		a := w.Gate("merge").AutoApprove
		if a.Grace != want || a.MaxPerDay != DefaultMaxPerDay {
			t.Errorf("%s: grace %v, max_per_day %d; want %v, %d", block, a.Grace, a.MaxPerDay, want, DefaultMaxPerDay)
		}
	}
}

func TestAutoApproveProblems(t *testing.T) {
	const one = "    auto_approve:\n      rules:\n"
	tests := []struct {
		name  string
		block string // added to the merge gate; markers as in TestParseProblems
		edits []edit // applied to the base instead, when block is ""
		want  []string
	}{
		{
			name:  "missing name",
			block: one + "        - «all: [{revert: true}]\n",
			want:  []string{`missing required key "name" in rule #1`},
		},
		{
			name:  "bad name",
			block: one + "        - {name: «Docs_Only, all: [{revert: true}]}\n",
			want:  []string{`rule name "Docs_Only" must be lower-case letters, digits and dashes, like docs-only (it is recorded as the approver policy:<name>)`},
		},
		{
			name:  "duplicate name",
			block: one + "        - {name: r, all: [{revert: true}]}\n        - {name: «r, any: [{revert: true}]}\n",
			want:  []string{`duplicate rule name "r" (first at line 50)`},
		},
		{
			name:  "both all and any",
			block: one + "        - name: r\n          all: [{revert: true}]\n          «any: [{first_attempt: true}]\n",
			want:  []string{`rule "r" has both all and any: keep one, and nest the other inside it`},
		},
		{
			name:  "neither all nor any",
			block: one + "        - «name: r\n",
			want:  []string{`rule "r" needs all or any: the list of conditions a change must meet`},
		},
		{
			name:  "empty list",
			block: one + "        - {name: r, all: «[]}\n",
			want:  []string{`all in rule "r" is empty: list at least one condition`},
		},
		{
			name:  "empty nested list",
			block: one + "        - name: r\n          any:\n            - all:«\n",
			want:  []string{`all in condition 1 of any in rule "r" is empty: list at least one condition`},
		},
		{
			name:  "no rules",
			block: "    auto_approve:\n      rules: «[]\n",
			want:  []string{`rules in auto_approve in gate "merge" is empty: list at least one rule, or remove auto_approve`},
		},
		{
			name:  "rules left out",
			block: "    «auto_approve:\n      grace: 1m\n",
			want:  []string{`missing required key "rules" in auto_approve in gate "merge"`},
		},
		{
			name:  "unknown leaf key, with a suggestion",
			block: one + "        - name: r\n          all:\n            - «max_line: 20\n",
			want: []string{
				`unknown key "max_line" in condition 1 of all in rule "r" (did you mean "max_lines"?)`,
			},
		},
		{
			name:  "unknown key in auto_approve and in a rule",
			block: "    auto_approve:\n      «max_per_dya: 2\n      rules:\n        - {name: r, «alll: [{revert: true}], all: [{revert: true}]}\n",
			want: []string{
				`unknown key "max_per_dya" in auto_approve in gate "merge" (did you mean "max_per_day"?)`,
				`unknown key "alll" in rule "r" (did you mean "all"?)`,
			},
		},
		{
			name:  "false leaf",
			block: one + "        - name: r\n          all:\n            - no_open_threads: «false\n",
			want:  []string{`condition 1 of all in rule "r": no_open_threads: false would hold for every change; write the condition as true, or leave it out`},
		},
		{
			name:  "two keys in one condition",
			block: one + "        - name: r\n          all:\n            - «paths: [docs/**]\n              max_lines: 20\n",
			want:  []string{`condition 1 of all in rule "r" has 2 keys (paths, max_lines): a condition is one key; list each as its own item`},
		},
		{
			name:  "empty condition",
			block: one + "        - {name: r, all: [«{}]}\n",
			want:  []string{`condition 1 of all in rule "r" is empty: a condition is one key, such as paths: ["docs/**"]`},
		},
		{
			name:  "bad glob and empty globs",
			block: one + "        - name: r\n          any:\n            - paths: [docs/**, «\"src/[a\"]\n            - no_paths: «[]\n",
			want: []string{
				`paths in condition 1 of any in rule "r": glob "src/[a": unclosed [`,
				`no_paths in condition 2 of any in rule "r" is empty: list at least one glob`,
			},
		},
		{
			name:  "limits",
			block: "    auto_approve:\n      max_per_day: «0\n      grace: «-1m\n      rules:\n        - {name: r, all: [{max_lines: «0}, {max_files: «x}]}\n",
			want: []string{
				`max_per_day in auto_approve in gate "merge" must be at least 1, not 0`,
				`grace in auto_approve in gate "merge" must not be negative, not "-1m"`,
				`max_lines in condition 1 of all in rule "r" must be at least 1, not 0`,
				`max_files in condition 2 of all in rule "r" must be an integer, not the string "x"`,
			},
		},
		{
			name:  "on a gate that is not a merge request gate",
			edits: []edit{{"approvers: [alice]}", "approvers: [alice], «auto_approve: {rules: [{name: r, all: [{revert: true}]}]}}"}},
			want:  []string{`gate "plan" sets auto_approve, which approves merge requests by rule: it needs merge_request: true`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := readBase(t)
			if tc.block != "" {
				src = withAutoApprove(t, tc.block)
			}
			src = applyEdits(t, src, tc.edits)
			text, marks := mark(src)
			if len(marks) != len(tc.want) {
				t.Fatalf("%d markers for %d messages", len(marks), len(tc.want))
			}
			_, err := Parse("wf.yaml", []byte(text), testEnv)
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
// stands once uncommented.
func TestDefaultAutoApproveExample(t *testing.T) {
	text := string(Default(DefaultOptions{Approvers: []string{"alice"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}))
	i := strings.Index(text, "    # auto_approve:\n")
	if i < 0 {
		t.Fatal("the default workflow has no auto_approve example")
	}
	lines := strings.Split(text[i:], "\n")
	var n int
	for n = 0; n < len(lines) && strings.HasPrefix(lines[n], "    # "); n++ {
		lines[n] = "    " + strings.TrimPrefix(lines[n], "    # ")
	}
	text = text[:i] + strings.Join(lines, "\n")
	w, err := Parse("wf.yaml", []byte(text), testEnv)
	if err != nil {
		t.Fatalf("uncommented (%d lines): %v", n, err)
	}
	a := w.Gate("merge").AutoApprove
	if a == nil || a.Grace != 10*time.Minute || a.MaxPerDay != 10 || len(a.Rules) != 2 || a.Rules[0].Name != "docs-only" || a.Rules[1].Name != "reverts" {
		t.Errorf("auto_approve = %+v", a)
	}
}

// The README's auto_approve example is real workflow text.
func TestREADMEAutoApproveExampleParses(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n( *)auto_approve:\n(.*?)\n *```").FindStringSubmatch(string(readme))
	if m == nil {
		t.Fatal("README has no auto_approve example")
	}
	var block strings.Builder
	block.WriteString("    auto_approve:\n")
	for _, l := range strings.Split(m[2], "\n") {
		block.WriteString("    " + strings.TrimPrefix(l, m[1]) + "\n")
	}
	w, err := Parse("README.md", []byte(withAutoApprove(t, block.String())), testEnv)
	if err != nil {
		t.Fatalf("README example does not parse:\n%s\n%v", block.String(), err)
	}
	if a := w.Gate("merge").AutoApprove; a == nil || len(a.Rules) != 2 {
		t.Errorf("auto_approve = %+v", a)
	}
}
