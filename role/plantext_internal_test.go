package role

import (
	"testing"

	"github.com/agentorg/agentorg"
)

// planText keeps the plan and drops the heading and the footer for humans:
// the embedded tracker's, GitLab's, and one posted before the footer had
// its marker.
func TestPlanTextDropsTheFooter(t *testing.T) {
	const plan = "## Goal\nSub.\n\n## Acceptance criteria\n- [ ] `go test ./calc -run TestSub` passes"
	for name, footer := range map[string]string{
		"embedded": agentorg.Marker(planFooterKey) + "\n_Session s1. Approve with `agentorg approve 7`, or reject with a reason._",
		"gitlab":   agentorg.Marker(planFooterKey) + "\n_Session s1. To approve, an approver adds the `issue:approved` label; to send it back, a comment with the reason and the `plan:rejected` label._",
		"older":    "_Session s1. Approve with `agentorg approve 7`, or reject with a reason._",
	} {
		body := agentorg.Marker(PlanKey(7)) + "\n" + planHeading(7) + plan + "\n\n" + footer
		if got := planText(body, 7); got != plan {
			t.Errorf("%s: got\n%s\nwant\n%s", name, got, plan)
		}
	}
}
