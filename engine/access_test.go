package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// onGitLabEdited is onGitLab with a further edit of the workflow.
func onGitLabEdited(t *testing.T, fake *gitlabfake.Server, script string, edit func(string) string) (*orgtest.Org, *human.Desk) {
	t.Helper()
	org := orgtest.New(t, orgtest.Options{Script: script, GitLab: fake, Edit: edit})
	return org, org.Humans
}

// Gates that allow maintainers, not named people: a developer's label and
// merge request approval are refused with a comment saying their level, the
// bot is refused at owner level, and a maintainer's approvals count.
func TestApprovalByAccessLevelOnGitLab(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	fake.AddUser("devon", "", false)
	fake.SetAccessLevel("alice", 40)
	fake.SetAccessLevel("devon", 30)
	fake.SetAccessLevel("agentorg-bot", 50)
	org, desk := onGitLabEdited(t, fake, goodScript, func(s string) string {
		if strings.Count(s, `    approvers: ["alice"]`+"\n") != 2 {
			t.Fatalf("the default workflow no longer lists alice as both gates' approver:\n%s", s)
		}
		return strings.ReplaceAll(s, `    approvers: ["alice"]`+"\n", "    min_access_level: maintainer\n")
	})
	if g := org.Workflow.Gate("plan"); len(g.Approvers) != 0 || g.MinAccessLevel != agentorg.AccessMaintainer {
		t.Fatalf("plan gate %+v", g)
	}
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	people := desk.Tracker

	is, err := people.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	if err := desk.OptIn(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")

	// The desk refuses a developer at once, naming their level.
	var na *human.NotAllowedError
	if _, err := desk.Approve(ctx, n, "devon"); !errors.As(err, &na) || !strings.Contains(err.Error(), "developer access") {
		t.Fatalf("desk approval by a developer: %v", err)
	}
	// In GitLab, a developer and the bot (an owner) add the label: refused.
	for _, forger := range []string{"devon", "agentorg-bot"} {
		if _, err := people.UpdateLabels(ctx, n, []string{"issue:approved"}, []string{"plan:review"}, forger); err != nil {
			t.Fatal(err)
		}
		orgtest.RunUntilIdle(t, eng)
		wantLabels(t, org, n, "plan:review")
	}
	if commentsWith(t, org, n, "devon has developer access in the project; gate \"plan\" needs maintainer or above") != 1 {
		t.Fatal("no refusal comment names the developer's level")
	}
	if commentsWith(t, org, n, "only a human may approve") != 1 {
		t.Fatal("the bot's approval at owner level was not refused as the bot's")
	}

	// A maintainer adds the label in GitLab: it counts.
	if _, err := people.UpdateLabels(ctx, n, []string{"issue:approved"}, []string{"plan:review"}, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}

	// The merge request approved by a developer only; a maintainer adds
	// the label: refused, the approval does not count.
	if _, err := people.ApproveMR(ctx, mr.Number, "devon"); err != nil {
		t.Fatal(err)
	}
	if _, err := people.UpdateLabels(ctx, n, []string{"mr:approved"}, []string{"mr:ready-for-review"}, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	// The refusal names who added the label and who approved, with roles.
	if commentsWith(t, org, n, "mr:approved was added by alice (maintainer access), who may approve; but at its head "+mr.HeadSHA[:10]+
		", merge request !1 is approved only by someone who may not: devon has developer access in the project; gate \"merge\" needs maintainer or above") != 1 {
		cs, _ := org.Tracker.Comments(ctx, n)
		t.Fatalf("no refusal comment names the developer's merge request approval and the label's author: %+v", cs[len(cs)-1].Body)
	}
	if cur, _ := org.Tracker.MR(ctx, mr.Number); cur.State != agentorg.MROpen {
		t.Fatalf("a developer's approval merged: %+v", cur)
	}

	// The maintainer approves the merge request too: it merges.
	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	done, err := org.Tracker.MR(ctx, mr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != agentorg.MRMerged {
		t.Fatalf("merge request after the maintainer's approval: %+v", done)
	}
}
