package intent

import (
	"slices"
	"strings"
	"testing"
)

func TestIntentParse(t *testing.T) {
	for _, tc := range []struct {
		name, plan, body string
		want             Intent
	}{
		{"a full block", "## Goal\nx\n\n## Intent\n- files: calc.go, `calc/calc_test.go`\n- packages: calc\n- depends on: #12 and #3\n\n## Acceptance criteria\n- [ ] files: not.go\n",
			"", Intent{Files: []string{"calc.go", "calc/calc_test.go"}, Packages: []string{"calc"}, DependsOn: []int64{3, 12}}},
		{"no block", "## Approach\nChange calc.go.\n", "", Intent{}},
		{"heading case and level, one file", "### INTENT\n* File: ./a/b.go.\n", "", Intent{Files: []string{"a/b.go"}}},
		{"paths that are not the repository's", "## Intent\n- files: /etc/passwd, ../up.go, none, ok.go\n", "", Intent{Files: []string{"ok.go"}}},
		{"depends on in the issue", "", "This depends on #7, #8.\nAlso depends on: #2", Intent{DependsOn: []int64{2, 7, 8}}},
		{"the block ends at the next heading", "## Intent\n- files: a.go\n## Out of scope\n- files: b.go\n", "", Intent{Files: []string{"a.go"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.plan, tc.body)
			if !slices.Equal(got.Files, tc.want.Files) || !slices.Equal(got.Packages, tc.want.Packages) || !slices.Equal(got.DependsOn, tc.want.DependsOn) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestIntentOverlap(t *testing.T) {
	a := Intent{Files: []string{"calc/calc.go", "calc/calc_test.go"}}
	for _, tc := range []struct {
		name      string
		b         Intent
		byPackage bool
		want      string
	}{
		{"same file", Intent{Files: []string{"calc/calc.go", "x.go"}}, false, "calc/calc.go"},
		{"different files, same package", Intent{Files: []string{"calc/abs.go"}}, false, ""},
		{"different files, same package, by package", Intent{Files: []string{"calc/abs.go"}}, true, "calc/"},
		{"a package named as a whole", Intent{Packages: []string{"calc"}}, false, "calc/calc.go calc/calc_test.go"},
		{"nothing in common", Intent{Files: []string{"README.md"}}, true, ""},
		{"an empty intent", Intent{}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(Overlap(a, tc.b, tc.byPackage), " "); got != tc.want {
				t.Fatalf("overlap %q, want %q", got, tc.want)
			}
			if got := strings.Join(Overlap(tc.b, a, tc.byPackage), " "); got != tc.want {
				t.Fatalf("overlap is not symmetric: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIntentWithChangedFiles(t *testing.T) {
	in := Intent{Files: []string{"b.go"}, DependsOn: []int64{4}}.With([]string{"a.go", "b.go", "../x", "./c/d.go"})
	if got := strings.Join(in.Files, " "); got != "a.go b.go c/d.go" || !slices.Equal(in.DependsOn, []int64{4}) {
		t.Fatalf("got %+v", in)
	}
}
