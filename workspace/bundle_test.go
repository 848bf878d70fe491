package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A work commit made in one mirror travels to another mirror of the same
// origin as a bundle of what the target lacks: the other mirror then has
// the commit, and a worktree made there from it holds the work.
func TestBundleCarriesWorkToAnotherMirror(t *testing.T) {
	f := newFixture(t)
	a := f.mirror(t)
	b, err := OpenMirror(ctx, filepath.Join(f.root, "mirror-b.git"), f.origin)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := a.Worktree(ctx, filepath.Join(f.root, "a", "issue-3"), "agentorg/issue-3", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "work.txt"), "first\n")
	if _, _, err := w.CommitAll(ctx, "one", tester); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "work.txt"), "second\n")
	sha, _, err := w.CommitAll(ctx, "two", tester)
	if err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "work.bundle")
	ok, err := a.Bundle(ctx, file, sha, mainBase)
	if err != nil || !ok {
		t.Fatalf("Bundle = %v, %v", ok, err)
	}
	if refs := g(t, a.Dir, "for-each-ref", "refs/agentorg-bundle/"); refs != "" {
		t.Errorf("Bundle left its ref behind: %s", refs)
	}
	if _, err := b.Tree(ctx, sha); err == nil {
		t.Fatal("the other mirror has the work before the bundle")
	}
	if err := b.Unbundle(ctx, file, sha); err != nil {
		t.Fatal(err)
	}
	wb, _, err := b.Worktree(ctx, filepath.Join(f.root, "b", "issue-3"), "agentorg/issue-3", sha)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(wb.Path, "work.txt")); got != "second\n" {
		t.Errorf("the worktree made from the bundled commit holds %q", got)
	}
	// Both commits came: the work's history travels with it.
	if n := g(t, wb.Path, "rev-list", "--count", f.base+"..HEAD"); n != "2" {
		t.Errorf("%s commits past the target, want 2", n)
	}
	if refs := g(t, b.Dir, "for-each-ref", "--format=%(refname)"); strings.Contains(refs, "agentorg-bundle") {
		t.Errorf("Unbundle made refs: %s", refs)
	}

	// A bundle that does not hold the commit asked for is refused.
	missing := f.base[:39] + "0"
	if missing == f.base {
		missing = f.base[:39] + "1"
	}
	if err := b.Unbundle(ctx, file, missing); err == nil {
		t.Error("Unbundle accepted a commit the bundle does not hold")
	}
}

// Work the target holds already needs no bundle; a bundle whose
// prerequisites a mirror lacks is refused, saying so.
func TestBundleOfNothingAndBundleThatDoesNotFit(t *testing.T) {
	f := newFixture(t)
	a := f.mirror(t)
	file := filepath.Join(t.TempDir(), "work.bundle")
	ok, err := a.Bundle(ctx, file, f.base, mainBase)
	if err != nil || ok {
		t.Fatalf("Bundle of the target's own commit = %v, %v; want false, nil", ok, err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a bundle of nothing was written")
	}

	// A mirror made before the target moved: the bundle's base is not there.
	stale, err := OpenMirror(ctx, filepath.Join(f.root, "stale.git"), f.origin)
	if err != nil {
		t.Fatal(err)
	}
	moved := f.commit(t, "main", f.base, map[string]string{"README": "moved\n"}, "target moves")
	if err := a.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	w, _, err := a.Worktree(ctx, filepath.Join(f.root, "a", "issue-4"), "agentorg/issue-4", moved)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "work.txt"), "on the moved target\n")
	sha, _, err := w.CommitAll(ctx, "work", tester)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Bundle(ctx, file, sha, mainBase); err != nil || !ok {
		t.Fatalf("Bundle = %v, %v", ok, err)
	}
	err = stale.Unbundle(ctx, file, sha)
	if err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("Unbundle into a mirror without the bundle's base: %v", err)
	}
}
