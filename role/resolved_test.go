package role_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/orgtest"
)

// Issue 15: a conflict the developer resolved (by merging the target in)
// stays resolved: validated again after the target moved twice more, the
// change merges onto it without the conflict coming back, and what is
// pushed is still one commit on the current target.
func TestAResolvedConflictStaysResolved(t *testing.T) {
	dir := t.TempDir()
	mover := moveMainScript(t, dir)
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions:
      - append: {path: README.md, content: "Mine.\n"}
      - shell: "sh ` + mover + `"
    summary: Documented it.
  - match: {role: developer, attempt: 2, prompt: "conflicts with your change in: README.md"}
    actions:
      - write: {path: README.md, content: "# calc\n\nThe agentorg demo's sample project.\nTheirs.\nMine.\n"}
    summary: Resolved the conflict.
`
	// Unconfined: the developer agent plays the teammate moving the target.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "grep -q Theirs README.md && grep -q Mine README.md && ! grep -q '<<<<' README.md", E2E: "true", Unconfined: true})
	writeMoveMain(t, mover, org.Origin, "README.md", "Theirs.\n")
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	if got := distances(attempts(t, org, n)); got != "NO-GO:1 GO:0" {
		t.Fatalf("distances %s", got)
	}
	// The target moves twice more, elsewhere; the change is validated again.
	pushToMain(t, org, map[string]string{"other.txt": "one\n"})
	head := pushToMain(t, org, map[string]string{"other.txt": "two\n"})
	if _, err := org.People.UpdateLabels(ctx, n, []string{"dev:done"}, []string{"mr:ready-for-review"}, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	as := attempts(t, org, n)
	if got := distances(as); got != "NO-GO:1 GO:0 GO:0" {
		t.Fatalf("distances %s: the resolved conflict came back", got)
	}
	last := as[2]
	if got := orgtest.Git(t, org.Origin, "rev-parse", last.CommitSHA+"^"); got != head {
		t.Fatalf("the pushed commit's parent is %s, want the target %s", got, head)
	}
	if got := orgtest.Git(t, org.Origin, "rev-list", "--count", head+".."+last.CommitSHA); strings.TrimSpace(got) != "1" {
		t.Fatalf("%s commits pushed on the target, want one", got)
	}
}
