package role_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/orgtest"
)

// Issue 14: the target retitled README.md while the agent changed the same
// line; after the conflict went back to it, the agent changed nothing, and
// the engine committed the merge with its markers. No check reads README:
// the markers themselves are a finding, so they never reach a GO.
func TestConflictMarkersLeftInATextFileAreANoGo(t *testing.T) {
	dir := t.TempDir()
	mover := moveMainScript(t, dir)
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions:
      - edit: {path: README.md, old: "# calc", new: "# calc, by me"}
      - shell: "sh ` + mover + `"
    summary: Retitled it.
  - match: {role: developer}
    summary: I looked at the conflict and changed nothing.
`
	// Unconfined: the developer agent plays the teammate moving the target.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: setBudget(3, ""), Unconfined: true})
	retitle := fmt.Sprintf(`set -e
d=$(mktemp -d)
git clone -q %q "$d/c"
cd "$d/c"
sed -i 's/^# calc$/# Calc, the calculator/' README.md
git -c user.name=Teammate -c user.email=t@example.com commit -qam "retitle"
git push -q origin HEAD:main
`, org.Origin)
	if err := os.WriteFile(mover, []byte(retitle), 0o755); err != nil {
		t.Fatal(err)
	}
	n, _ := start(t, org, "No criteria.")
	as := attempts(t, org, n)
	if len(as) < 2 || findingPaths(as[0]) != "conflict:README.md" {
		t.Fatalf("attempts %s; first findings %v", distances(as), as[0].FindingKeys())
	}
	if keys := strings.Join(as[1].FindingKeys(), " "); keys != "hygiene:conflict-marker:README.md" {
		t.Fatalf("attempt 2 findings %q: want the markers it left", keys)
	}
	if got := labels(t, org, n); got == "mr:ready-for-review" {
		t.Fatal("markers reached review")
	}
	assertOriginLacks(t, org, nil, []string{"<<<<<<< "})
}
