package role_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/orgtest"
)

// Issue 15: a NO-GO the merge queue finds (the target moved after the
// approval and the change no longer merges onto it) goes back to the
// developer's own session: the engine's re-validation ran no agent, so it
// does not break the chain of the session. The attempt records which stage
// found the failure apart from which agent ran.
func TestAMergeQueueNoGoResumesTheDevelopersSession(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions:
      - append: {path: README.md, content: "Mine.\n"}
    summary: Documented it.
  - match: {role: developer, prompt: "conflicts with your change in: README.md"}
    actions:
      - write: {path: README.md, content: "# calc\n\nThe agentorg demo's sample project.\nTheirs.\nMine.\n"}
    summary: Resolved the conflict.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("#%d is at %s, want its merge request", n, got)
	}
	// A teammate changes the same line after validation; then the human
	// approves the merge request, so the merge stage meets the conflict.
	pushToMain(t, org, map[string]string{"README.md": "# calc\n\nThe agentorg demo's sample project.\nTheirs.\n"})
	if _, err := org.Humans.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)

	as := attempts(t, org, n)
	if got := distances(as); got != "GO:0 NO-GO:1 GO:0" {
		t.Fatalf("distances %s, want the merge queue's NO-GO between two GOs", got)
	}
	if as[1].Agent != "engine" || as[1].FoundBy != "merge" || findingPaths(as[1]) != "conflict:README.md" {
		t.Fatalf("attempt 2: agent %q, found by %q, findings %v; want the engine's re-validation, found by the merge stage", as[1].Agent, as[1].FoundBy, as[1].FindingKeys())
	}
	if as[0].FoundBy != "validate" || as[2].FoundBy != "validate" {
		t.Errorf("attempts 1 and 3 found by %q and %q, want validate", as[0].FoundBy, as[2].FoundBy)
	}
	if as[2].Agent == "engine" || as[2].SessionID != as[0].SessionID {
		t.Fatalf("attempt 3 ran %q in session %q, want the developer in attempt 1's session %q", as[2].Agent, as[2].SessionID, as[0].SessionID)
	}
	runs := prompts(t, org, as[0].SessionID)
	if len(runs) != 2 || runs[0].Resumed || !runs[1].Resumed || !strings.Contains(runs[1].Prompt, "conflicts with your change in: README.md") {
		t.Fatalf("runs of the developer's session: %+v; want attempt 1, then the fix resuming it with the conflict", runs)
	}
}
