package role_test

import (
	"strings"
	"testing"

	"github.com/agentorg/agentorg/orgtest"
)

// Issue 14: the junk an agent's tools leave (a test log, an OS file, a
// dependency directory) never enters a commit, so never the origin's
// history; the report lists it, and it is no NO-GO.
func TestJunkIsLeftOutAndListed(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: sub.go, content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}
      - write: {path: test-run.log, content: "=== RUN TestSub\n"}
      - write: {path: .DS_Store, content: "junk"}
      - write: {path: node_modules/x/index.js, content: "x\n"}
      - write: {path: node_modules/y/index.js, content: "y\n"}
    summary: Added Sub.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "go vet ./... && go test ./...", E2E: "true"})
	n, _ := start(t, org, "Add Sub.")
	as := attempts(t, org, n)
	if got := distances(as); got != "GO:0" {
		t.Fatalf("distances %s:\n%s", got, as[0].Report)
	}
	if got := strings.Join(as[0].LeftOut, "; "); got != ".DS_Store; node_modules/ (2 files); test-run.log" {
		t.Fatalf("left out %q", got)
	}
	if !strings.Contains(as[0].Report, "### Left out of the commit (junk, not counted)\n\n- .DS_Store\n- node_modules/ (2 files)\n- test-run.log") {
		t.Fatalf("report:\n%s", as[0].Report)
	}
	assertOriginLacks(t, org, []string{"test-run.log", ".DS_Store", "node_modules/x/index.js"}, []string{"=== RUN TestSub"})
}
