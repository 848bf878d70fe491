package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// On a forge without a target guard (GitLab) merges go through the merge
// queue: a merge request approved before main moved is brought up to date
// and validated again, and since that adds commits, its approval is void
// (DESIGN rule 5): it goes back to review, and merges only when a human
// approves the new head.
func TestRebasedMergeRequestNeedsANewApproval(t *testing.T) {
	const script = `
steps:
  - match: {role: pm}
    summary: "Plan.\n\n## Acceptance criteria\n- [ ] it builds"
  - match: {role: developer, issue: 1}
    actions: [{write: {path: one.go, content: "package calc\n\n// One is 1.\nfunc One() int { return 1 }\n"}}]
    summary: Added One.
  - match: {role: developer, issue: 2}
    actions: [{write: {path: two.go, content: "package calc\n\n// Two is 2.\nfunc Two() int { return 2 }\n"}}]
    summary: Added Two.
  - match: {role: validator}
    summary: "` + "```json" + `\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"it builds\"}]}\n` + "```" + `"
`
	org, _, desk := onGitLabScript(t, gitlabfake.New(t), script)
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	var ns []int64
	for _, title := range []string{"One", "Two"} {
		is, err := desk.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: title, Author: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if err := desk.OptIn(ctx, is.Number, "alice"); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, is.Number)
	}
	orgtest.RunUntilIdle(t, eng)
	for _, n := range ns {
		if _, err := desk.Approve(ctx, n, "alice"); err != nil { // the plans
			t.Fatal(err)
		}
	}
	orgtest.RunUntilIdle(t, eng)
	one, two := ns[0], ns[1]
	wantLabels(t, org, one, "mr:ready-for-review")
	wantLabels(t, org, two, "mr:ready-for-review")
	before, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, two)
	if err != nil {
		t.Fatal(err)
	}

	// #1 merges; #2 was approved on the main before that.
	if _, err := desk.Approve(ctx, one, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, one, "e2e:done")
	if _, err := desk.Approve(ctx, two, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, two, "mr:ready-for-review")
	after, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, two)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != agentorg.MROpen || after.HeadSHA == before.HeadSHA {
		t.Fatalf("#2's merge request should be open at a new head, is %s at %s (was %s)", after.State, after.HeadSHA, before.HeadSHA)
	}
	found := false
	for _, e := range events(t, org, two, eventlog.KindTransition) {
		found = found || (e.To == "mr:ready-for-review" && strings.Contains(e.Reason, "new commits void that approval"))
	}
	if !found {
		t.Fatal("no transition back to review saying the approval is void")
	}

	// A new approval at the new head merges it.
	if _, err := desk.Approve(ctx, two, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, two, "e2e:done")
	merged, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, two)
	if err != nil {
		t.Fatal(err)
	}
	if merged.State != agentorg.MRMerged || merged.HeadSHA != after.HeadSHA {
		t.Fatalf("#2 should merge at the re-approved head %s, is %s at %s", after.HeadSHA, merged.State, merged.HeadSHA)
	}
}
