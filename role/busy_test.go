package role_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// The target is checked out in a person's working tree that has an
// uncommitted change when the merge request is approved: the merge waits,
// before any validation (no merge train runs, though the target moved),
// says why, and the engine comes to rest. Once the tree is clean the next
// poll validates and merges, and the working tree follows.
// (docs/lifecycle.md F6, I12)
func TestABusyTargetHoldsTheMergeUntilItsTreeIsClean(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: "steps:" + writeFeature, Check: "test -f feature.txt", E2E: "true"})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	// A person's working tree of the origin, on main: their own commit
	// moves the target (so a merge would need a train's validation), and
	// an edit they have not committed yet makes the tree busy.
	user := filepath.Join(t.TempDir(), "user")
	orgtest.Git(t, org.Origin, "worktree", "add", "--quiet", user, "main")
	if err := os.WriteFile(filepath.Join(user, "teammate.txt"), []byte("theirs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	orgtest.Git(t, user, "add", "teammate.txt")
	orgtest.Git(t, user, "-c", "user.name=Teammate", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "Add teammate.txt")
	moved := orgtest.Git(t, user, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(user, "README.md"), []byte("my edit, not committed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng) // returns: the wait is a person's, the engine at rest

	if got := orgtest.Git(t, org.Origin, "rev-parse", "main"); got != moved {
		t.Fatalf("main moved to %s while the working tree holding it was busy", got)
	}
	if got := labels(t, org, n); got != "mr:approved" {
		t.Fatalf("labels %s, want the issue waiting at mr:approved", got)
	}
	var waits []string
	for _, ev := range eventsOf(t, org, n, eventlog.KindWait) {
		waits = append(waits, ev.Reason)
	}
	if len(waits) == 0 || !strings.Contains(waits[0], "the merge waits") || !strings.Contains(waits[0], user) || !strings.Contains(waits[0], "README.md") {
		t.Fatalf("wait events %q: want one saying the merge waits for %s (README.md)", waits, user)
	}
	cs, err := org.Tracker.Comments(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if strings.Contains(c.Body, "Validated in a merge train") {
			t.Fatal("a merge train was validated while the target was busy")
		}
	}
	if got := orgtest.Git(t, user, "status", "--porcelain", "--untracked-files=no"); got != "M README.md" {
		t.Fatalf("the person's working tree: %q", got)
	}

	// Clean: the next poll validates the combination and merges.
	orgtest.Git(t, user, "checkout", "--quiet", "--", "README.md")
	poll(t, eng)
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if mr.State != agentorg.MRMerged || labels(t, org, n) != "e2e:done" {
		t.Fatalf("after the tree was cleaned: merge request %s, labels %s", mr.State, labels(t, org, n))
	}
	comment(t, org, n, "Validated in a merge train")
	if got := orgtest.Git(t, user, "rev-parse", "HEAD"); got != mr.MergeSHA {
		t.Fatalf("the working tree is at %s, want the merge %s", got, mr.MergeSHA)
	}
	if b, err := os.ReadFile(filepath.Join(user, "feature.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("the working tree did not follow the merge: feature.txt %q, %v", b, err)
	}
}
