package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
	"github.com/agentorg/agentorg/workflow"
)

// onGitLab builds an organization whose tracker is a (fake) GitLab project
// holding the sample repository, and a desk for the humans, who act in
// GitLab itself (here: through an administrator's token and Sudo).
func onGitLab(t *testing.T) (*orgtest.Org, *gitlabfake.Server, *human.Desk) {
	t.Helper()
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	fake.AddUser("mallory", "", false)
	t.Setenv("AGENTORG_TEST_FAKE_GITLAB_TOKEN", gitlabfake.Token)
	org := orgtest.New(t, orgtest.Options{Script: goodScript, Edit: func(s string) string {
		return strings.Replace(s, "  kind: embedded\n", "  kind: gitlab\n  gitlab:\n    url: "+fake.URL+
			"\n    project: "+fake.ProjectPath+"\n    token: $AGENTORG_TEST_FAKE_GITLAB_TOKEN\n", 1)
	}})
	orgtest.Git(t, org.Origin, "push", "--quiet", "--force", fake.Repo, "main:main")
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "humans.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	people, err := gitlab.New(context.Background(), gitlab.Options{BaseURL: fake.URL, Project: fake.ProjectPath,
		Token: gitlabfake.Token, Bot: org.Workflow.Tracker.Bot, Sudo: true, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	return org, fake, &human.Desk{Workflow: org.Workflow, Tracker: people, Log: org.Log}
}

// The whole lifecycle on GitLab, with forged and stale approvals refused in
// comments on the way.
func TestLifecycleOnGitLab(t *testing.T) {
	org, fake, desk := onGitLab(t)
	if _, ok := org.Tracker.(*gitlab.Tracker); !ok {
		t.Fatalf("the workflow's tracker.kind gitlab opened a %T", org.Tracker)
	}
	eng := org.Engine(t, app.EngineOptions{})
	ctx := context.Background()

	is, err := desk.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Add Feature", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	n := is.Number
	if err := desk.OptIn(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "plan:review")
	if commentsWith(t, org, n, "Acceptance criteria") != 1 {
		t.Fatal("the plan is not posted on the GitLab issue")
	}

	// A non-approver and the bot's own account add the approval label in
	// GitLab: both refused, each with a comment saying why.
	for _, forger := range []string{"mallory", "agentorg-bot"} {
		if _, err := desk.Tracker.UpdateLabels(ctx, n, []string{"issue:approved"}, []string{"plan:review"}, forger); err != nil {
			t.Fatal(err)
		}
		orgtest.RunUntilIdle(t, eng)
		wantLabels(t, org, n, "plan:review")
	}
	if got := commentsWith(t, org, n, "## Approval refused"); got != 2 {
		t.Fatalf("%d refusal comments, want 2 (mallory, the bot)", got)
	}
	if commentsWith(t, org, n, "only a human may approve") != 1 {
		t.Fatal("the bot's own label event was not recognised as the bot's")
	}

	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if got := labels(t, org, n); len(got) != 1 || got[0] != "mr:ready-for-review" {
		cs, _ := org.Tracker.Comments(ctx, n)
		for _, c := range cs {
			t.Logf("comment by %s:\n%s", c.Author, c.Body)
		}
		t.Fatalf("#%d labels = %v, want mr:ready-for-review", n, got)
	}
	mr, err := role.IssueMR(ctx, org.Tracker, n)
	if err != nil {
		t.Fatal(err)
	}
	if mr.SourceBranch != "agentorg/issue-1" || mr.HeadSHA == "" {
		t.Fatalf("merge request %+v", mr)
	}

	// alice approves, then a commit lands on the branch: the approval is void.
	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	stale := mr.HeadSHA
	moved := orgtest.Git(t, fake.Repo, "commit-tree", stale+"^{tree}", "-p", stale, "-m", "pushed after the approval")
	orgtest.Git(t, fake.Repo, "update-ref", "refs/heads/"+mr.SourceBranch, moved)
	orgtest.RunUntilIdle(t, eng)
	wantLabels(t, org, n, "mr:ready-for-review")
	if commentsWith(t, org, n, "void once new commits land") != 1 {
		t.Fatal("want a comment saying the approval is void after the push")
	}
	if cur, _ := org.Tracker.MR(ctx, mr.Number); cur.State != agentorg.MROpen {
		t.Fatalf("a stale approval merged: %+v", cur)
	}

	// Put the validated head back; alice approves at it; it merges.
	orgtest.Git(t, fake.Repo, "update-ref", "refs/heads/"+mr.SourceBranch, stale)
	if _, err := desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	done, err := org.Tracker.MR(ctx, mr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != agentorg.MRMerged || done.MergedBy != org.Workflow.Tracker.Bot {
		t.Fatalf("merge request after approval: %+v", done)
	}
	if main := orgtest.Git(t, fake.Repo, "rev-parse", "main"); main != done.MergeSHA {
		t.Fatalf("GitLab's main is %s, the merge commit %s", main, done.MergeSHA)
	}
	closed, err := org.Tracker.Issue(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != agentorg.IssueClosed || !closed.HasLabel("e2e:done") {
		t.Fatalf("issue after merge: %+v", closed)
	}
	// The validator's results, kept while GitLab lacked the commit, are
	// commit statuses once it has it.
	checks, err := org.Tracker.Checks(ctx, stale)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) == 0 || checks[0].Status != agentorg.CheckPassed {
		t.Fatalf("checks of the validated head: %+v", checks)
	}
	if _, routes := fake.Requests(); routes["POST /api/v4/projects/{id}/statuses/{sha}"] == 0 {
		t.Fatal("no commit status reached GitLab")
	}

	// The token is nowhere in the home: not in the mirror's config, the
	// engine's log, the agents' transcripts or the database.
	filepath.WalkDir(org.Home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), gitlabfake.Token) {
			t.Errorf("the GitLab token is in %s", p)
		}
		return nil
	})
}

// An agent's environment is built from scratch: the tracker's token is not
// in it even when agentorg's own environment holds it.
func TestAgentEnvHasNoTrackerToken(t *testing.T) {
	t.Setenv("GITLAB_TOKEN", "glpat-must-not-leak")
	env := app.AgentEnv(&workflow.Agent{Name: "a", Env: map[string]string{"PORT": "8080"}})
	for _, kv := range env {
		if strings.Contains(kv, "glpat-must-not-leak") || strings.HasPrefix(kv, "GITLAB_TOKEN=") {
			t.Fatalf("agent environment holds the token: %v", env)
		}
	}
	if !slices.Contains(env, "PORT=8080") {
		t.Fatalf("agent environment %v lacks what the workflow passes", env)
	}
}
