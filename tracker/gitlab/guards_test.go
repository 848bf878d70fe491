package gitlab_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// Two processes (two trackers, no shared lock) upserting one key end with
// one comment: duplicates are folded into the oldest.
func TestUpsertCommentAcrossProcesses(t *testing.T) {
	e := newEnv(t, true)
	other, err := gitlab.New(t.Context(), gitlab.Options{BaseURL: e.fake.URL, Project: e.fake.ProjectPath, Token: gitlabfake.Token,
		Bot: "agentorg", Sudo: true, DB: e.db})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := e.tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "raced", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		tr := e.tr
		if i%2 == 1 {
			tr = other
		}
		wg.Go(func() {
			_, errs[i] = tr.UpsertComment(t.Context(), iss.Number, "status", fmt.Sprintf("body %d", i), "engine")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("upsert %d: %v", i, err)
		}
	}
	cs, err := e.tr.Comments(t.Context(), iss.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || !agentorg.HasMarker(cs[0].Body, "status") {
		t.Fatalf("%d comments after concurrent upserts from two trackers: %+v", len(cs), cs)
	}
}

// Branches that change the same file cannot both merge: the second is
// ErrConflict, and stays open.
func TestMergeConflict(t *testing.T) {
	e := newEnv(t, true)
	ctx := t.Context()
	main := gitOut(t, e.fake.Repo, "", "rev-parse", "refs/heads/main")
	commit := func(branch, content string) string {
		blob := gitOut(t, e.fake.Repo, content, "hash-object", "-w", "--stdin")
		tree := gitOut(t, e.fake.Repo, "100644 blob "+blob+"\tREADME\n", "mktree")
		c := gitOut(t, e.fake.Repo, "", "commit-tree", tree, "-p", main, "-m", branch)
		gitOut(t, e.fake.Repo, "", "update-ref", "refs/heads/"+branch, c)
		return c
	}
	sa, sb := commit("one", "one\n"), commit("two", "two\n")
	mk := func(src, sha string) agentorg.MergeRequest {
		m, err := e.tr.CreateMR(ctx, agentorg.NewMR{Title: src, SourceBranch: src, TargetBranch: "main", HeadSHA: sha, Author: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := mk("one", sa), mk("two", sb)
	if _, err := e.tr.MergeMR(ctx, a.Number, sa, "merger"); err != nil {
		t.Fatal(err)
	}
	_, err := e.tr.MergeMR(ctx, b.Number, sb, "merger")
	if !errors.Is(err, agentorg.ErrConflict) {
		t.Fatalf("merging a conflicting branch: %v, want ErrConflict", err)
	}
	if cur, _ := e.tr.MR(ctx, b.Number); cur.State != agentorg.MROpen {
		t.Fatalf("the conflicting merge request is %s", cur.State)
	}
}

// Without Sudo, the tracker acts only as the token's account: a write in
// someone else's name is refused before any request, with a clear error.
func TestNoSudoRefusesToActAsAPerson(t *testing.T) {
	e := newEnv(t, false)
	iss, err := e.tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "by the bot", Author: "agentorg"})
	if err != nil {
		t.Fatal(err)
	}
	if iss.Author != "agentorg" {
		t.Fatalf("an issue opened by the token's account is by %q, want the bot's name", iss.Author)
	}
	_, err = e.tr.UpdateLabels(t.Context(), iss.Number, []string{"issue:approved"}, nil, "alice")
	if err == nil || !strings.Contains(err.Error(), `cannot act as "alice"`) {
		t.Fatalf("acting as alice without sudo: %v", err)
	}
	evs, err := e.tr.LabelEvents(t.Context(), iss.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 {
		t.Fatalf("a refused write recorded %+v", evs)
	}
}
