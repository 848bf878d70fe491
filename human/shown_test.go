package human_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/orgtest"
)

func TestMain(m *testing.M) { orgtest.Main(m) }

const script = `
steps:
  - match: {role: pm}
    summary: "Add hello.txt.\n\n## Acceptance criteria\n- [ ] ` + "`test -f hello.txt`" + ` passes"
  - match: {role: developer}
    actions: [{write: {path: hello.txt, content: "hello\n"}}]
    summary: Wrote hello.txt.
`

// pushDuringApproval moves a merge request's head just before the
// approval lands: a push between the page's check and the approval.
type pushDuringApproval struct {
	agentorg.Tracker
	to string
}

func (p pushDuringApproval) ApproveMR(ctx context.Context, number int64, user string) (agentorg.MergeRequest, error) {
	if _, err := p.Tracker.SetMRHead(ctx, number, p.to); err != nil {
		return agentorg.MergeRequest{}, err
	}
	return p.Tracker.ApproveMR(ctx, number, user)
}

// An approval is bound to the head shown: one the tracker records at a
// head that moved meanwhile is taken back, and the issue stays at its gate.
func TestApproveShownTakesBackAnApprovalAtAMovedHead(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: "Say hello", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if _, err := org.Humans.ApproveShown(ctx, is.Number, "alice", human.Shown{Gate: "merge"}); err == nil {
		t.Fatal("approved at the merge gate an issue that waits at the plan's")
	}
	if _, err := org.Humans.ApproveShown(ctx, is.Number, "alice", human.Shown{Gate: "plan"}); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	mrs, err := org.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: is.Number})
	if err != nil || len(mrs) != 1 {
		t.Fatalf("merge requests: %v %v", mrs, err)
	}
	mr := mrs[0]
	moved := orgtest.Git(t, org.Origin, "commit-tree", mr.HeadSHA+"^{tree}", "-p", mr.HeadSHA, "-m", "pushed meanwhile")
	desk := &human.Desk{Workflow: org.Workflow, Tracker: pushDuringApproval{org.Tracker, moved}, Log: org.Log}
	_, err = desk.ApproveShown(ctx, is.Number, "alice", human.Shown{Gate: "merge", Head: mr.HeadSHA})
	var me *human.MovedError
	if !errors.As(err, &me) {
		t.Fatalf("approving a head that moved meanwhile: %v", err)
	}
	got, err := org.Tracker.MR(ctx, mr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ApprovedAtHead()) != 0 {
		t.Fatalf("approvals at the new head: %+v", got.Approvals)
	}
	now, err := org.Tracker.Issue(ctx, is.Number)
	if err != nil || !now.HasLabel("mr:ready-for-review") {
		t.Fatalf("#%d: %v %v", is.Number, now.Labels, err)
	}
}
