package role_test

import (
	"strings"
	"testing"

	"github.com/agentorg/agentorg/orgtest"
)

// docs/lifecycle.md I13. A criterion that names a test by -run is not met
// by a commit without the
// test: go test exits 0 with "[no tests to run]", and the criterion's
// evidence says it ran no tests. Told so, the developer adds the test, and
// the same criterion is met.
func TestCriterionThatRanNoTestIsUnmet(t *testing.T) {
	const criterion = "`go test . -run TestSub` passes"
	script := `
steps:
  - match: {role: pm}
    summary: Add Sub and its test.
  - match: {role: developer, prompt: "ran no tests"}
    actions:
      - write: {path: sub_test.go, content: "package calc\n\nimport \"testing\"\n\nfunc TestSub(t *testing.T) {\n\tif Sub(3, 1) != 2 {\n\t\tt.Fatal(\"Sub(3, 1) != 2\")\n\t}\n}\n"}
    summary: Added TestSub.
  - match: {role: developer}
    actions: [{write: {path: sub.go, content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}}]
    summary: Wrote Sub.
`
	// The check is the sample's default, go vet and go test over the module:
	// TestAdd runs, so it passes on both attempts.
	org := orgtest.New(t, orgtest.Options{Script: script, E2E: "true"})
	n, _ := start(t, org, "Add Sub.\n\n## Acceptance criteria\n- [ ] "+criterion+"\n")
	as := attempts(t, org, n)
	if got := distances(as); got != "NO-GO:1 GO:0" {
		t.Fatalf("distances %s; first report:\n%s", got, as[0].Report)
	}
	if keys := strings.Join(as[0].FindingKeys(), " "); keys != "criterion:"+criterion {
		t.Fatalf("attempt 1 findings %s", keys)
	}
	unmet := "| 1 | " + criterion + " | **unmet** | command: `go test . -run TestSub` failed (ran no tests: go test ran no test in example.com/calc ([no tests to run])): ok example.com/calc "
	if !strings.Contains(as[0].Report, unmet) || !strings.Contains(as[0].Report, "| `test` | passed |") {
		t.Fatalf("attempt 1 report lacks %q or the check's pass:\n%s", unmet, as[0].Report)
	}
	met := "| 1 | " + criterion + " | met | command: `go test . -run TestSub` passed |"
	if !strings.Contains(as[1].Report, met) {
		t.Fatalf("attempt 2 report lacks %q:\n%s", met, as[1].Report)
	}
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
}
