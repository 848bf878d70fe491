package workflow

import (
	"strings"
	"testing"
)

func TestLifecycleFollowsTheMainRoadFirst(t *testing.T) {
	w, err := Parse("workflow.yaml", Default(DefaultOptions{
		Approvers: []string{"alice"}, AgentCommand: []string{"agent"}, Check: "true", E2E: "true",
	}), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	want := "agentorg pm:running plan:review issue:approved dev:ready dev:running dev:done validate:running " +
		"mr:ready-for-review mr:approved e2e:ready e2e:running e2e:done e2e:failed mr:changes-requested triage:running needs:human"
	if got := strings.Join(w.Lifecycle(), " "); got != want {
		t.Fatalf("lifecycle\n  %s\nwant\n  %s", got, want)
	}
	if len(w.Lifecycle()) != len(w.StateLabels()) {
		t.Fatalf("the lifecycle has %d states, the workflow %d", len(w.Lifecycle()), len(w.StateLabels()))
	}
}
