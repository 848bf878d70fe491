package gitlab_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

const listRoute = "GET /api/v4/projects/{id}/issues"

// An idle poll costs one request however many issues are open, also for a
// new process over the same home (the watermark is persisted), and a change
// made meanwhile is seen.
func TestIdlePollCostsAtMostTwoRequests(t *testing.T) { eachDialect(t, idlePollCostsAtMostTwoRequests) }

func idlePollCostsAtMostTwoRequests(t *testing.T, d store.Dialect) {
	e := newEnvOn(t, true, d)
	ctx := t.Context()
	const n = 230 // three pages of 100
	for i := range n {
		labels := []string{"dev:ready"}
		if i%2 == 1 {
			labels = []string{"other"}
		}
		if _, err := e.tr.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("issue %d", i), Labels: labels, Author: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	e.fake.Advance(10 * time.Minute) // they were opened a while ago
	poll := func(tr *gitlab.Tracker) ([]agentorg.Issue, int, int) {
		t.Helper()
		before, routes := e.fake.Requests()
		got, err := tr.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: []string{"dev:ready"}})
		if err != nil {
			t.Fatal(err)
		}
		after, routes2 := e.fake.Requests()
		return got, after - before, routes2[listRoute] - routes[listRoute]
	}
	got, _, pages := poll(e.tr)
	if len(got) != n/2 || pages != 3 {
		t.Fatalf("first poll: %d issues in %d pages, want %d in 3", len(got), pages, n/2)
	}
	for range 3 {
		got, reqs, _ := poll(e.tr)
		if len(got) != n/2 || reqs > 2 {
			t.Fatalf("idle poll: %d issues for %d requests, want %d for at most 2", len(got), reqs, n/2)
		}
	}

	// A new process over the same database starts from the stored watermark.
	fresh, err := gitlab.New(ctx, gitlab.Options{BaseURL: e.fake.URL, Project: e.fake.ProjectPath, Token: gitlabfake.Token,
		Bot: "agentorg", Sudo: true, DB: e.db})
	if err != nil {
		t.Fatal(err)
	}
	if got, reqs, _ := poll(fresh); len(got) != n/2 || reqs > 2 {
		t.Fatalf("restarted poll: %d issues for %d requests", len(got), reqs)
	}

	// Someone else moves an issue: the next poll sees it, still cheaply.
	if _, err := e.tr.UpdateLabels(ctx, 2, []string{"dev:ready"}, []string{"other"}, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.tr.CloseIssue(ctx, 1, "bob"); err != nil {
		t.Fatal(err)
	}
	got, reqs, _ := poll(fresh)
	if reqs > 2 || len(got) != n/2 {
		t.Fatalf("after a change: %d issues for %d requests, want %d", len(got), reqs, n/2)
	}
	if got[0].Number != 2 || !got[0].HasLabel("dev:ready") {
		t.Fatalf("first listed %+v, want #2 with dev:ready (and #1 closed)", got[0])
	}
}

const mrListRoute = "GET /api/v4/projects/{id}/merge_requests"

// ChangedMRs costs one request, never pages through a project's merged
// history, lists nothing once the overlap has passed with no change, and
// reports a reply even when GitLab did not move the merge request's
// updated_at for it (a note touches it at most once a minute).
func TestChangedMRsWatermark(t *testing.T) { eachDialect(t, changedMRsWatermark) }

func changedMRsWatermark(t *testing.T, d store.Dialect) {
	e := newEnvOn(t, true, d)
	ctx := t.Context()
	e.fake.AddMergedMRs(250, 24*time.Hour)
	mr, err := e.tr.CreateMR(ctx, agentorg.NewMR{Title: "open", SourceBranch: "feature/w", TargetBranch: "main",
		HeadSHA: e.push(t, "feature/w"), Author: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	changed := func(what string, want bool) {
		t.Helper()
		_, before := e.fake.Requests()
		mrs, err := e.tr.ChangedMRs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, after := e.fake.Requests()
		if n := after[mrListRoute] - before[mrListRoute]; n != 1 {
			t.Fatalf("%s: %d requests, want 1", what, n)
		}
		got := len(mrs) == 1 && mrs[0].Number == mr.Number
		if got != want || (!want && len(mrs) != 0) {
			t.Fatalf("%s: listed %+v, want !%d listed: %v", what, mrs, mr.Number, want)
		}
	}
	changed("the first call (open ones only)", true)
	e.fake.Advance(2 * time.Minute)
	changed("within the overlap", true)
	changed("idle", false)

	th, err := e.tr.StartThread(ctx, mr.Number, agentorg.NewReviewThread{Body: "Why?", Author: "reviewer"})
	if err != nil {
		t.Fatal(err)
	}
	changed("a thread", true)
	e.fake.Advance(30 * time.Second)
	touched, _ := e.tr.MR(ctx, mr.Number)
	if _, err := e.tr.Reply(ctx, mr.Number, th.ID, "Still why?", "reviewer"); err != nil {
		t.Fatal(err)
	}
	if now, _ := e.tr.MR(ctx, mr.Number); !now.UpdatedAt.Equal(touched.UpdatedAt) {
		t.Fatalf("the reply moved updated_at %v -> %v: the fake no longer throttles touches as GitLab", touched.UpdatedAt, now.UpdatedAt)
	}
	changed("a reply that did not move updated_at", true)
	e.fake.Advance(2 * time.Minute)
	changed("the overlap after the reply", true)
	changed("idle again", false)
}
