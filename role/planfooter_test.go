package role_test

import (
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/orgtest"
)

// The plan comment's footer is for the humans at the plan gate (how to
// approve, the PM's session): the developer is given the plan, and the
// validator the plan's criteria, without it.
func TestThePlansFooterStaysOutOfTheAgentsPrompts(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: "## Goal\nfeature.txt greets.\n\n## Acceptance criteria\n- [ ] feature.txt says hello\n"
  - match: {role: developer}
    actions: [{write: {path: feature.txt, content: "hello\n"}}]
    summary: Wrote feature.txt.
  - match: {role: validator}
    summary: ` + yamlText(answer(map[int]string{1: "met"})) + `
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	n, _ := start(t, org, "Add the file.")
	if got := distances(attempts(t, org, n)); got != "GO:0" {
		t.Fatalf("distances %s", got)
	}
	if plan := comment(t, org, n, "## Plan for #"); !strings.Contains(plan, "Approve with `agentorg approve") {
		t.Fatalf("the plan comment lacks its footer for humans:\n%s", plan)
	}
	for _, roleName := range []string{agentorg.RoleDeveloper, agentorg.RoleValidator} {
		p := runOf(t, org, n, roleName).Prompt
		// The developer gets the whole plan, the validator its criteria.
		if !strings.Contains(p, "feature.txt says hello") || roleName == agentorg.RoleDeveloper && !strings.Contains(p, "feature.txt greets.") {
			t.Errorf("the %s's prompt lacks the plan:\n%s", roleName, p)
		}
		for _, footer := range []string{"Approve with", "_Session ", "reject with a reason"} {
			if strings.Contains(p, footer) {
				t.Errorf("the %s's prompt has the plan's footer (%q):\n%s", roleName, footer, p)
			}
		}
	}
}
