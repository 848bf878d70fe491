package workspace

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/agentorg/agentorg"
)

var merger = Identity{Name: "Merge Bot", Email: "merge@example.com"}

func parents(t *testing.T, dir, sha string) []string {
	t.Helper()
	return strings.Fields(g(t, dir, "rev-list", "--no-walk", "--parents", sha))[1:]
}

func TestMergeIntoCleanMergeAndIdempotence(t *testing.T) {
	f := newFixture(t)
	// main moved on since the branch started: a real two-parent merge.
	mainTip := f.commit(t, "main", f.base, map[string]string{"README": "hello, main\n"}, "main work")
	head := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"feature.txt": "f\n"}, "feature")

	sha, err := MergeInto(ctx, f.origin, "agentorg/issue-1", "main", head, "Merge issue 1", merger)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.originHead(t, "main"); got != sha {
		t.Fatalf("main is %s, merge returned %s", got, sha)
	}
	if p := parents(t, f.origin, sha); len(p) != 2 || p[0] != mainTip || p[1] != head {
		t.Fatalf("parents %q, want [%s %s]", p, mainTip, head)
	}
	if info := g(t, f.origin, "log", "-1", "--format=%an <%ae>|%cn|%B", sha); info != "Merge Bot <merge@example.com>|Merge Bot|Merge issue 1" {
		t.Fatalf("merge commit: %q", info)
	}
	files := strings.Fields(g(t, f.origin, "ls-tree", "-r", "--name-only", sha))
	if !strings.Contains(strings.Join(files, " "), "feature.txt") {
		t.Fatalf("merged tree lacks feature.txt: %q", files)
	}
	if got := g(t, f.origin, "show", sha+":README"); got != "hello, main" {
		t.Fatalf("README %q", got)
	}
	// The merged source branch is gone, as with a forge's "delete source branch".
	if _, err := git(ctx, f.origin, "rev-parse", "--verify", "--quiet", "refs/heads/agentorg/issue-1"); err == nil {
		t.Fatal("the merged source branch is still on the origin")
	}

	// A retry after a crash (the caller never learned of the success)
	// returns the same merge and commits nothing.
	count := g(t, f.origin, "rev-list", "--all", "--count")
	again, err := MergeInto(ctx, f.origin, "agentorg/issue-1", "main", head, "Merge issue 1", merger)
	if err != nil || again != sha {
		t.Fatalf("second merge = %s, %v; want %s", again, err, sha)
	}
	if g(t, f.origin, "rev-list", "--all", "--count") != count || f.originHead(t, "main") != sha {
		t.Fatal("the retry committed again")
	}
	// Still found once other merges landed on top.
	other := f.commit(t, "agentorg/issue-2", f.base, map[string]string{"other.txt": "o\n"}, "other")
	later, err := MergeInto(ctx, f.origin, "agentorg/issue-2", "main", other, "Merge issue 2", merger)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := MergeInto(ctx, f.origin, "agentorg/issue-1", "main", head, "Merge issue 1", merger); err != nil || again != sha {
		t.Fatalf("merge after later merges = %s, %v; want %s", again, err, sha)
	}
	if f.originHead(t, "main") != later {
		t.Fatal("an idempotent retry moved main")
	}
}

func TestMergeIntoFastForwardedIsIdempotent(t *testing.T) {
	f := newFixture(t)
	head := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"x": "x\n"}, "x")
	// Someone fast-forwarded main to the branch.
	g(t, f.origin, "update-ref", "refs/heads/main", head)
	sha, err := MergeInto(ctx, f.origin, "agentorg/issue-1", "main", head, "m", merger)
	if err != nil || sha != head {
		t.Fatalf("got %s, %v; want the tip %s", sha, err, head)
	}
	if f.originHead(t, "main") != head {
		t.Fatal("main moved")
	}
}

func TestMergeIntoHeadMoved(t *testing.T) {
	f := newFixture(t)
	validated := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"a": "1\n"}, "validated")
	newer := f.commit(t, "agentorg/issue-1", validated, map[string]string{"a": "2\n"}, "pushed later")
	before := f.originHead(t, "main")

	_, err := MergeInto(ctx, f.origin, "agentorg/issue-1", "main", validated, "m", merger)
	if !errors.Is(err, agentorg.ErrHeadMoved) {
		t.Fatalf("want ErrHeadMoved, got %v", err)
	}
	if !strings.Contains(err.Error(), validated) || !strings.Contains(err.Error(), newer) {
		t.Fatalf("error should name both SHAs: %v", err)
	}
	if f.originHead(t, "main") != before {
		t.Fatal("main moved")
	}
}

func TestMergeIntoConflict(t *testing.T) {
	f := newFixture(t)
	f.commit(t, "main", f.base, map[string]string{"shared.txt": "one\nMAIN\nthree\n"}, "main edit")
	head := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"shared.txt": "one\nBRANCH\nthree\n", "clean.txt": "c\n"}, "branch edit")
	before := f.originHead(t, "main")
	objectsBefore := g(t, f.origin, "rev-list", "--all", "--count")

	_, err := MergeInto(ctx, f.origin, "agentorg/issue-1", "main", head, "m", merger)
	if !errors.Is(err, agentorg.ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
	if !strings.Contains(err.Error(), "shared.txt") || strings.Contains(err.Error(), "clean.txt") {
		t.Fatalf("error should name exactly the conflicting file: %v", err)
	}
	if f.originHead(t, "main") != before {
		t.Fatal("main moved")
	}
	if g(t, f.origin, "rev-list", "--all", "--count") != objectsBefore {
		t.Fatal("a commit was created")
	}
}

func TestMergeIntoConcurrentMergesAllLand(t *testing.T) {
	f := newFixture(t)
	const n = 6
	heads := make([]string, n)
	for i := range heads {
		heads[i] = f.commit(t, fmt.Sprintf("agentorg/issue-%d", i), f.base,
			map[string]string{fmt.Sprintf("file-%d.txt", i): "x\n"}, fmt.Sprintf("issue %d", i))
	}
	var wg sync.WaitGroup
	shas := make([]string, n)
	errs := make([]error, n)
	for i := range heads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shas[i], errs[i] = MergeInto(ctx, f.origin, fmt.Sprintf("agentorg/issue-%d", i), "main", heads[i], fmt.Sprintf("Merge %d", i), merger)
		}()
	}
	wg.Wait()
	tip := f.originHead(t, "main")
	firstParents := g(t, f.origin, "rev-list", "--first-parent", "main")
	for i := range heads {
		if errs[i] != nil {
			t.Fatalf("merge %d: %v", i, errs[i])
		}
		if _, err := git(ctx, f.origin, "merge-base", "--is-ancestor", heads[i], tip); err != nil {
			t.Fatalf("branch %d did not land: %v", i, err)
		}
		if !strings.Contains(firstParents, shas[i]) {
			t.Fatalf("merge %d (%s) is not on main's first-parent history", i, shas[i])
		}
	}
	if files := g(t, f.origin, "ls-tree", "--name-only", tip); strings.Count(files, "file-") != n {
		t.Fatalf("tree lacks some files:\n%s", files)
	}
}

func TestMergeIntoRetriesWhenTargetMoves(t *testing.T) {
	f := newFixture(t)
	head := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"mine.txt": "m\n"}, "mine")
	other := f.commit(t, "agentorg/issue-2", f.base, map[string]string{"theirs.txt": "t\n"}, "theirs")

	// Another merge lands between our merge-tree and our update-ref.
	var theirs string
	beforeUpdateRef = func() {
		beforeUpdateRef = nil
		var err error
		theirs, err = MergeInto(ctx, f.origin, "agentorg/issue-2", "main", other, "theirs", merger)
		if err != nil {
			t.Error(err)
		}
	}
	defer func() { beforeUpdateRef = nil }()

	sha, err := MergeInto(ctx, f.origin, "agentorg/issue-1", "main", head, "mine", merger)
	if err != nil {
		t.Fatal(err)
	}
	if f.originHead(t, "main") != sha {
		t.Fatal("main is not our merge")
	}
	if p := parents(t, f.origin, sha); len(p) != 2 || p[0] != theirs || p[1] != head {
		t.Fatalf("parents %q, want [%s %s]: the retry must build on the moved target", p, theirs, head)
	}
}

// MergeIntoAt merges only onto the target that was validated: a moved target
// is refused and left alone, and a merge done already is found whatever the
// target. The mirror's MergeCommit builds the same tree as the forge.
func TestMergeIntoAtGuardsTheTarget(t *testing.T) {
	f := newFixture(t)
	head := f.commit(t, "agentorg/issue-1", f.base, map[string]string{"feature.txt": "f\n"}, "feature")
	moved := f.commit(t, "main", f.base, map[string]string{"README": "moved\n"}, "someone else's work")

	if _, err := MergeIntoAt(ctx, f.origin, "agentorg/issue-1", "main", head, f.base, "m", merger); !errors.Is(err, agentorg.ErrTargetMoved) {
		t.Fatalf("merge onto a moved target: %v, want ErrTargetMoved", err)
	}
	if f.originHead(t, "main") != moved {
		t.Fatal("a refused merge moved main")
	}
	if _, err := MergeIntoAt(ctx, f.origin, "agentorg/issue-1", "main", head, "main", "m", merger); err == nil {
		t.Fatal("an expected target that is not a SHA was accepted")
	}
	sha, err := MergeIntoAt(ctx, f.origin, "agentorg/issue-1", "main", head, moved, "m", merger)
	if err != nil {
		t.Fatal(err)
	}
	if p := parents(t, f.origin, sha); len(p) != 2 || p[0] != moved || p[1] != head {
		t.Fatalf("parents %q", p)
	}
	if again, err := MergeIntoAt(ctx, f.origin, "agentorg/issue-1", "main", head, f.base, "m", merger); err != nil || again != sha {
		t.Fatalf("retry of a done merge = %s, %v; want %s", again, err, sha)
	}
	// Merged, but the branch is back where it was (as after a crash before
	// it was deleted): a guarded retry onto the very target finds the merge
	// and commits nothing.
	g(t, f.origin, "update-ref", "refs/heads/agentorg/issue-1", head)
	if again, err := MergeIntoAt(ctx, f.origin, "agentorg/issue-1", "main", head, sha, "m", merger); err != nil || again != sha || f.originHead(t, "main") != sha {
		t.Fatalf("guarded retry of a done merge = %s, %v, main %s; want %s", again, err, f.originHead(t, "main"), sha)
	}

	// The same merge built in another repository with plumbing has the
	// same tree.
	m := &Mirror{Dir: f.origin}
	commit, conflicts, err := m.MergeCommit(ctx, moved, head, "train", merger)
	if err != nil || len(conflicts) != 0 {
		t.Fatalf("MergeCommit: %v %v", conflicts, err)
	}
	if g(t, f.origin, "rev-parse", commit+"^{tree}") != g(t, f.origin, "rev-parse", sha+"^{tree}") {
		t.Fatal("MergeCommit and the forge's merge differ")
	}
	clash := f.commit(t, "agentorg/issue-2", f.base, map[string]string{"README": "clash\n"}, "clash")
	if _, conflicts, err := m.MergeCommit(ctx, sha, clash, "train", merger); err != nil || strings.Join(conflicts, " ") != "README" {
		t.Fatalf("a conflicting MergeCommit: %v %v, want README", conflicts, err)
	}
}
