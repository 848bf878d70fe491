package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
)

// The tests of this file hold docs/lifecycle.md I12.

// userRepo is a user's own repository as the embedded forge's origin: not
// bare, with main checked out, and an issue branch to merge.
func userRepo(t *testing.T) (f *fixture, work, head string) {
	t.Helper()
	f = newFixture(t)
	head = f.commit(t, "agentorg/issue-1", f.base, map[string]string{"feature.txt": "f\n"}, "feature")
	work = filepath.Join(f.root, "work")
	g(t, f.root, "clone", "--quiet", f.origin, work)
	g(t, work, "branch", "agentorg/issue-1", "origin/agentorg/issue-1")
	return f, work, head
}

func TestMergeIntoCheckedOutTargetCarriesTheWorkingTree(t *testing.T) {
	_, work, head := userRepo(t)
	if p, err := TargetCheckout(ctx, work, "main"); err != nil || p != work {
		t.Fatalf("TargetCheckout = %q, %v; want %s", p, err, work)
	}
	// An untracked file does not make the working tree dirty.
	os.WriteFile(filepath.Join(work, "notes.txt"), []byte("mine\n"), 0o644)
	sha, err := MergeInto(ctx, work, "agentorg/issue-1", "main", head, "m", merger)
	if err != nil {
		t.Fatal(err)
	}
	if got := g(t, work, "rev-parse", "HEAD"); got != sha {
		t.Fatalf("HEAD %s, want the merge %s", got, sha)
	}
	if got := readFile(t, filepath.Join(work, "feature.txt")); got != "f\n" {
		t.Fatalf("feature.txt = %q: the working tree did not follow", got)
	}
	if st := g(t, work, "status", "--porcelain", "--untracked-files=no"); st != "" {
		t.Fatalf("the working tree is not clean after the merge:\n%s", st)
	}
	if got := readFile(t, filepath.Join(work, "notes.txt")); got != "mine\n" {
		t.Fatal("the untracked file was touched")
	}
}

// A dirty working tree holding the target refuses the merge as busy, and
// takes it once clean (docs/lifecycle.md F6).
func TestMergeIntoCheckedOutTargetWaitsForADirtyWorkingTree(t *testing.T) {
	_, work, head := userRepo(t)
	before := g(t, work, "rev-parse", "main")
	os.WriteFile(filepath.Join(work, "README"), []byte("my edit\n"), 0o644)

	_, err := MergeInto(ctx, work, "agentorg/issue-1", "main", head, "m", merger)
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, agentorg.ErrTargetBusy) {
		t.Fatalf("merge into a dirty checked-out target: %v, want a BusyError wrapping ErrTargetBusy", err)
	}
	if busy.Path != work || strings.Join(busy.Files, ",") != "README" || !strings.Contains(err.Error(), "uncommitted changes") {
		t.Fatalf("the refusal does not say where and what: %v (%+v)", err, busy)
	}
	if g(t, work, "rev-parse", "main") != before || readFile(t, filepath.Join(work, "README")) != "my edit\n" {
		t.Fatal("a refused merge moved main or touched the user's change")
	}
	if _, err := os.Stat(filepath.Join(work, "feature.txt")); err == nil {
		t.Fatal("a refused merge wrote the change's files")
	}
	// A staged change is as dirty as an unstaged one.
	g(t, work, "add", "README")
	if _, err := TargetCheckout(ctx, work, "main"); !errors.Is(err, agentorg.ErrTargetBusy) {
		t.Fatalf("a staged change: %v, want ErrTargetBusy", err)
	}
	// Once clean, the merge lands.
	g(t, work, "reset", "--quiet", "--hard")
	if _, err := MergeInto(ctx, work, "agentorg/issue-1", "main", head, "m", merger); err != nil {
		t.Fatal(err)
	}
}

func TestMergeIntoCheckedOutTargetRefusesToOverwriteAnUntrackedFile(t *testing.T) {
	_, work, head := userRepo(t)
	before := g(t, work, "rev-parse", "main")
	os.WriteFile(filepath.Join(work, "feature.txt"), []byte("not yours\n"), 0o644)

	_, err := MergeInto(ctx, work, "agentorg/issue-1", "main", head, "m", merger)
	if !errors.Is(err, agentorg.ErrTargetBusy) || !strings.Contains(err.Error(), "feature.txt") {
		t.Fatalf("merge over an untracked file: %v, want ErrTargetBusy naming feature.txt", err)
	}
	if g(t, work, "rev-parse", "main") != before || readFile(t, filepath.Join(work, "feature.txt")) != "not yours\n" {
		t.Fatal("a refused merge moved main or overwrote the untracked file")
	}
}

func TestTargetCheckoutSeesOperationsUnderWay(t *testing.T) {
	f, work, _ := userRepo(t)
	// Not checked out anywhere: nothing to follow.
	if p, err := TargetCheckout(ctx, f.origin, "main"); err != nil || p != "" {
		t.Fatalf("bare origin: %q, %v", p, err)
	}
	if p, err := TargetCheckout(ctx, work, "agentorg/issue-1"); err != nil || p != "" {
		t.Fatalf("a branch checked out nowhere: %q, %v", p, err)
	}

	// A conflicted merge under way in the working tree that holds main.
	g(t, work, "config", "user.name", "Test Dev")
	g(t, work, "config", "user.email", "dev@example.com")
	other := f.commit(t, "side", f.base, map[string]string{"README": "theirs\n"}, "side")
	g(t, work, "fetch", "--quiet", "origin", "side")
	os.WriteFile(filepath.Join(work, "README"), []byte("ours\n"), 0o644)
	g(t, work, "commit", "--quiet", "-am", "ours")
	if _, err := git(ctx, work, "merge", "--quiet", other); err == nil {
		t.Fatal("the fixture's merge did not conflict")
	}
	_, err := TargetCheckout(ctx, work, "main")
	if !errors.Is(err, agentorg.ErrTargetBusy) || !strings.Contains(err.Error(), "middle of a merge") {
		t.Fatalf("merge under way: %v", err)
	}
	g(t, work, "merge", "--abort")

	// A rebase of main detaches HEAD: main is written when it ends.
	if _, err := git(ctx, work, "rebase", other); err == nil {
		t.Fatal("the fixture's rebase did not stop")
	}
	_, err = TargetCheckout(ctx, work, "main")
	if !errors.Is(err, agentorg.ErrTargetBusy) || !strings.Contains(err.Error(), "rebasing") {
		t.Fatalf("rebase under way: %v", err)
	}
	g(t, work, "rebase", "--abort")
	if p, err := TargetCheckout(ctx, work, "main"); err != nil || p != work {
		t.Fatalf("after the abort: %q, %v", p, err)
	}
}

func TestMergeIntoAtTakesTheWorkingTreeBackWhenTheTargetMoved(t *testing.T) {
	f, work, head := userRepo(t)
	tip := g(t, work, "rev-parse", "main")
	// Someone moves main between the working tree's move and the ref's.
	other := f.commit(t, "other", f.base, map[string]string{"other.txt": "o\n"}, "other")
	g(t, work, "fetch", "--quiet", "origin", "other")
	followed := false
	beforeUpdateRef = func() {
		beforeUpdateRef = nil
		_, err := os.Stat(filepath.Join(work, "feature.txt"))
		followed = err == nil
		g(t, work, "update-ref", "refs/heads/main", other, tip)
	}
	defer func() { beforeUpdateRef = nil }()
	_, err := MergeIntoAt(ctx, work, "agentorg/issue-1", "main", head, tip, "m", merger)
	if !errors.Is(err, agentorg.ErrTargetMoved) {
		t.Fatalf("lost race: %v, want ErrTargetMoved", err)
	}
	if !followed {
		t.Fatal("the working tree had not followed the merge before the ref moved")
	}
	if got := g(t, work, "rev-parse", "main"); got != other {
		t.Fatalf("main %s, want the other writer's %s", got, other)
	}
	// The working tree was taken back to what it held: tip's files.
	if _, err := os.Stat(filepath.Join(work, "feature.txt")); err == nil {
		t.Fatal("the working tree kept the refused merge's files")
	}
	if got := g(t, work, "diff", "--cached", "--name-only", tip); got != "" {
		t.Fatalf("the index is not back at the old tip: %s", got)
	}
}

func TestLandMergeCarriesACheckedOutTarget(t *testing.T) {
	_, work, head := userRepo(t)
	tip := g(t, work, "rev-parse", "main")
	m := &Mirror{Dir: work}
	commit, conflicts, err := m.MergeCommit(ctx, tip, head, "train", merger)
	if err != nil || len(conflicts) > 0 {
		t.Fatal(conflicts, err)
	}
	got, err := LandMerge(ctx, work, "agentorg/issue-1", "main", head, tip, commit, "train", merger)
	if err != nil || got != commit {
		t.Fatalf("LandMerge = %s, %v; want %s", got, err, commit)
	}
	if readFile(t, filepath.Join(work, "feature.txt")) != "f\n" || g(t, work, "status", "--porcelain", "--untracked-files=no") != "" {
		t.Fatal("the working tree did not follow the landed merge")
	}
}
