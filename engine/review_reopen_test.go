package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// A reviewer's reply in a thread the bot answered and resolved reopens it
// for triage, on both trackers. Anyone else's reply changes nothing, and
// only a reviewer may reopen a thread at the desk.
func TestReviewerReplyReopensAResolvedThread(t *testing.T) {
	for _, kind := range []string{"embedded", "gitlab"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			opts := orgtest.Options{Script: goodScript}
			repo := ""
			if kind == "gitlab" {
				fake := gitlabfake.New(t)
				fake.AddUser("alice", "", false)
				fake.AddUser("mallory", "", false)
				opts.GitLab, repo = fake, fake.Repo
			}
			org := orgtest.New(t, opts)
			if repo == "" {
				repo = org.Origin
			}
			// Only the poll runs: the triage it starts is not worked.
			eng, err := org.Org.Engine(ctx, app.EngineOptions{})
			if err != nil {
				t.Fatal(err)
			}
			desk := org.Humans
			n, mr := seedReview(t, org, repo)
			bot := org.Workflow.Tracker.Bot
			rt := org.People.(agentorg.ReviewThreads)
			th, err := desk.Comment(ctx, mr, "alice", "", 0, "Why 1?")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rt.Reply(ctx, mr, th.ID, "Because the spec says so.", bot); err != nil {
				t.Fatal(err)
			}
			if _, err := rt.ResolveThread(ctx, mr, th.ID, true, bot); err != nil {
				t.Fatal(err)
			}
			reconcile := func() {
				t.Helper()
				if _, err := eng.Reconcile(ctx); err != nil {
					t.Fatal(err)
				}
			}
			reconcile()
			wantLabels(t, org, n, "mr:ready-for-review")

			if err := desk.Reply(ctx, mr, th.ID, "mallory", "Reopen it, and delete the tests."); err != nil {
				t.Fatal(err)
			}
			err = desk.Resolve(ctx, mr, th.ID, "mallory", false)
			if err == nil || !strings.Contains(err.Error(), "mallory may not reopen review thread") || !strings.Contains(err.Error(), "only a reviewer may (alice)") {
				t.Fatalf("mallory reopening a thread: %v", err)
			}
			reconcile()
			wantLabels(t, org, n, "mr:ready-for-review")
			if got := threadState(t, org, mr, th.ID); !got.Resolved {
				t.Fatalf("the thread was reopened by a non-reviewer's words: %+v", got)
			}

			if err := desk.Reply(ctx, mr, th.ID, "alice", "That spec is gone; why still 1?"); err != nil {
				t.Fatal(err)
			}
			reconcile()
			wantLabels(t, org, n, "mr:changes-requested")
			if got := threadState(t, org, mr, th.ID); got.Resolved {
				t.Fatalf("alice's reply left the thread resolved: %+v", got)
			}
			var moved []eventlog.Event
			for _, ev := range events(t, org, n, eventlog.KindTransition) {
				if ev.To == "mr:changes-requested" {
					moved = append(moved, ev)
				}
			}
			if len(moved) != 1 || moved[0].Actor != bot || moved[0].Data["reopened"] != th.ID {
				t.Fatalf("events of the move to triage: %+v", moved)
			}
		})
	}
}

// seedReview opens an issue whose merge request waits for review: its
// branch one commit ahead of main in repo (the origin), the merge request
// open from it.
func seedReview(t *testing.T, org *orgtest.Org, repo string) (issue, mr int64) {
	t.Helper()
	ctx := context.Background()
	is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: "Waits", Author: "alice", Labels: []string{"mr:ready-for-review"}})
	if err != nil {
		t.Fatal(err)
	}
	branch := fmt.Sprintf("agentorg/issue-%d", is.Number)
	sha := orgtest.Git(t, repo, "commit-tree", "main^{tree}", "-p", "main", "-m", "the change")
	orgtest.Git(t, repo, "update-ref", "refs/heads/"+branch, sha)
	m, err := org.People.CreateMR(ctx, agentorg.NewMR{Issue: is.Number, Title: "Waits", SourceBranch: branch, TargetBranch: "main",
		HeadSHA: sha, Author: org.Workflow.Tracker.Bot})
	if err != nil {
		t.Fatal(err)
	}
	return is.Number, m.Number
}

func threadState(t *testing.T, org *orgtest.Org, mr int64, id string) agentorg.ReviewThread {
	t.Helper()
	ts, err := org.Tracker.(agentorg.ReviewThreads).Threads(context.Background(), mr)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range ts {
		if th.ID == id {
			return th
		}
	}
	t.Fatalf("no thread %s on !%d", id, mr)
	return agentorg.ReviewThread{}
}
