package role_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/scripted"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// runOf returns the first recorded run of a role on issue n (the scripted
// agent keeps each run with its prompt and its structured input).
func runOf(t *testing.T, org *orgtest.Org, n int64, roleName string) scripted.Run {
	t.Helper()
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{Issue: n, Kind: eventlog.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Data["role"] == roleName {
			return prompts(t, org, e.Data["session"])[0]
		}
	}
	t.Fatalf("no %s run on #%d", roleName, n)
	return scripted.Run{}
}

// The validator agent is given its task as JSON too (AGENTORG_INPUT): the
// criteria with the ids to judge, how the checks went, and the diff. The
// developer and the PM get no input file.
func TestValidatorGetsItsInputsAsJSON(t *testing.T) {
	script := "steps:" + writeFeature + `
  - match: {role: validator}
    summary: ` + yamlText(answer(map[int]string{1: "met"})) + `
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	n, _ := start(t, org, "Add the file.\n\n## Acceptance criteria\n- [ ] feature.txt says hello\n- [ ] `test -f feature.txt` passes\n")
	if got := distances(attempts(t, org, n)); got != "GO:0" {
		t.Fatalf("distances %s", got)
	}
	var in struct {
		Role     string `json:"role"`
		Issue    struct{ Number int64 }
		Criteria []struct {
			ID       int
			Text     string
			Command  string
			Verdict  string
			Evidence string
		}
		Judge  []int
		Checks []struct {
			Name   string
			Passed bool
		}
		Diff string
	}
	run := runOf(t, org, n, agentorg.RoleValidator)
	if err := json.Unmarshal(run.Input, &in); err != nil {
		t.Fatalf("the validator's input %q: %v", run.Input, err)
	}
	if in.Role != "validator" || in.Issue.Number != n || len(in.Criteria) != 2 || len(in.Judge) != 1 || in.Judge[0] != 1 {
		t.Fatalf("input %+v: want both criteria, criterion 1 to judge", in)
	}
	if c := in.Criteria[1]; c.Command != "test -f feature.txt" || c.Verdict != "met" || in.Criteria[0].Verdict != "" {
		t.Fatalf("criteria %+v: the command one checked already, the other to judge", in.Criteria)
	}
	if len(in.Checks) != 1 || in.Checks[0].Name != "test" || !in.Checks[0].Passed || !strings.Contains(in.Diff, "+hello") {
		t.Fatalf("checks %+v, diff %q", in.Checks, in.Diff)
	}
	for _, roleName := range []string{agentorg.RolePM, agentorg.RoleDeveloper} {
		if r := runOf(t, org, n, roleName); r.Input != nil {
			t.Fatalf("the %s got an input file: %s", roleName, r.Input)
		}
	}
}
