package engine_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/jobstore"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// Routes of the fake, as fake.Requests counts them.
const (
	routeIssues    = "GET /api/v4/projects/{id}/issues"
	routeMRs       = "GET /api/v4/projects/{id}/merge_requests"
	routePipelines = "GET /api/v4/projects/{id}/pipelines"
)

// What one poll costs on GitLab once nothing changes, in a project with a
// history of 500 merged merge requests: one issue list when nothing waits
// on a merge request; one merge request list besides (updated_after) when
// any does, however many; and the pipeline of each run that waits for one
// (ci, auto-merge). No approvals, discussions, versions or label events
// are read, and the history is never paged through.
func TestGitLabPollCost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*testing.T) func(string) string
		waiting string // the label the seeded issues carry
		perMR   map[string]int
	}{
		{"at review", nil, "mr:ready-for-review", nil},
		// Rules that do not hold are looked at again only once the merge
		// request changed: they cost no request of their own.
		{"at review with approval rules", func(*testing.T) func(string) string { return docsOnlyRule }, "mr:ready-for-review", nil},
		{"in ci", func(*testing.T) func(string) string { return ciWorkflow }, "ci:pending", map[string]int{routePipelines: 1}},
		{"in auto-merge", func(t *testing.T) func(string) string { return autoMergeWorkflow(t, "") }, "mr:approved", map[string]int{routePipelines: 1}},
	} {
		for _, n := range []int{0, 1, 20} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, n), func(t *testing.T) {
				var edit func(string) string
				if tc.edit != nil {
					edit = tc.edit(t)
				}
				got := pollCost(t, edit, tc.waiting, n)
				want := map[string]int{routeIssues: 1}
				if n > 0 {
					want[routeMRs] = 1
					for route, k := range tc.perMR {
						want[route] = k * n
					}
				}
				if !maps.Equal(got, want) {
					t.Fatalf("a poll with %d merge request(s) %s cost %s; want %s", n, tc.name, routes(got), routes(want))
				}
			})
		}
	}
}

// pollCost seeds n issues whose merge requests wait at label (pipelines
// that run on), lets the engine settle, lets GitLab's clock pass the
// overlap, and returns the requests of one more poll by route.
func pollCost(t *testing.T, edit func(string) string, label string, n int) map[string]int {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	fake.AddMergedMRs(500, 24*time.Hour)
	fake.CI = func(string) *gitlabfake.PipelineSpec {
		return &gitlabfake.PipelineSpec{Status: "success", RunningReads: 1 << 30}
	}
	org, _ := onGitLabEdited(t, fake, goodScript, edit)
	eng := org.Engine(t, app.EngineOptions{})
	var seeded []int64
	for i := 0; i < n; i++ {
		seeded = append(seeded, seedWaiting(t, org, fake, label))
	}
	for range 3 {
		poll(t, org, eng)
	}
	// Every change falls out of the watermark's overlap.
	fake.Advance(2 * time.Minute)
	poll(t, org, eng)
	poll(t, org, eng)
	_, before := fake.Requests()
	fetches := len(fake.GitAuth())
	poll(t, org, eng)
	_, after := fake.Requests()
	if len(fake.GitAuth()) != fetches {
		t.Fatal("the poll fetched from GitLab's repository")
	}
	if paged := fake.Paged()[routeMRs]; paged != 0 {
		t.Fatalf("merge requests were paged through (%d pages after the first): the history was read", paged)
	}
	// Each still waits where it was (the ci stage runs, auto-merge is set):
	// the cost measured is of waiting, not of a run that gave up.
	for i, is := range seeded {
		switch want := map[string]string{"ci:pending": "ci:running"}[label]; {
		case want != "":
			wantLabels(t, org, is, want)
		default:
			wantLabels(t, org, is, label)
		}
		if label == "mr:approved" && !fake.AutoMergeSet(int64(500+i+1)) {
			t.Fatalf("auto-merge is not set on !%d of #%d", 500+i+1, is)
		}
	}
	out := map[string]int{}
	for route, k := range after {
		if d := k - before[route]; d > 0 {
			out[route] = d
		}
	}
	return out
}

// seedWaiting opens an issue whose merge request waits at label, as the
// organization would have left it: its branch one commit ahead of main, the
// merge request open from it, and for mr:approved alice's label and
// approval at the head and a GO on it.
func seedWaiting(t *testing.T, org *orgtest.Org, fake *gitlabfake.Server, label string) int64 {
	t.Helper()
	ctx := context.Background()
	people := org.People
	is, err := people.CreateIssue(ctx, agentorg.NewIssue{Title: "Waits", Author: "alice", Labels: []string{label}})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	branch := fmt.Sprintf("agentorg/issue-%d", n)
	sha := orgtest.Git(t, fake.Repo, "commit-tree", "main^{tree}", "-p", "main", "-m", fmt.Sprintf("change of #%d", n))
	orgtest.Git(t, fake.Repo, "update-ref", "refs/heads/"+branch, sha)
	mr, err := people.CreateMR(ctx, agentorg.NewMR{Issue: n, Title: fmt.Sprintf("#%d: Waits", n), SourceBranch: branch,
		TargetBranch: "main", HeadSHA: sha, Author: org.Workflow.Tracker.Bot})
	if err != nil {
		t.Fatal(err)
	}
	if label == "mr:approved" {
		// The developer made the commit: the mirror has it.
		orgtest.Git(t, filepath.Join(org.Home, "mirror.git"), "fetch", "--quiet", fake.Repo, "+refs/heads/"+branch+":refs/heads/"+branch)
		if _, err := people.ApproveMR(ctx, mr.Number, "alice"); err != nil {
			t.Fatal(err)
		}
		a, err := org.Log.StartAttempt(ctx, eventlog.Attempt{Issue: n, N: 1, RunID: "seed", Agent: "dev", SessionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if err := org.Log.SetCommit(ctx, n, a.N, sha); err != nil {
			t.Fatal(err)
		}
		if err := org.Log.SetVerdict(ctx, n, a.N, "validate", eventlog.GO, nil, "seeded"); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// poll reconciles once and waits until the jobs it started are done.
func poll(t *testing.T, org *orgtest.Org, eng *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	if _, err := eng.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	jobs := jobstore.New(org.DB)
	for {
		idle, err := jobs.Idle(ctx, engine.StageArgs{}.Kind())
		if err != nil {
			t.Fatal(err)
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("jobs still busy after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// routes lists a cost by route, for messages.
func routes(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

// docsOnlyRule gives the merge gate an auto_approve rule the seeded
// changes (Go files) do not meet.
func docsOnlyRule(s string) string {
	return strings.Replace(s, "    merge_request: true\n",
		"    merge_request: true\n    auto_approve:\n      rules:\n        - name: docs-only\n          all: [{paths: [\"docs/**\"]}]\n", 1)
}
