package workspace

import (
	"strings"
	"testing"
)

// ApplyChange picks a change onto another tip and reverts one from a tip
// that moved on since, with plumbing only; the same change on the same tip
// is the same commit, and lines both sides changed are a conflict.
func TestApplyChange(t *testing.T) {
	f := newFixture(t)
	change := f.commit(t, "main", f.base, map[string]string{"shared.txt": "ONE\ntwo\nthree\n"}, "change line one")
	later := f.commit(t, "main", change, map[string]string{"shared.txt": "ONE\ntwo\nTHREE\n", "new.txt": "n\n"}, "change line three")
	other := f.commit(t, "other", f.base, map[string]string{"shared.txt": "one\ntwo\n3\n"}, "elsewhere")
	m := f.mirror(t)
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	show := func(rev string) string { return g(t, m.Dir, "show", rev+":shared.txt") }

	// Revert the first change on top of the later one: line three stays.
	rev, conflicts, err := m.ApplyChange(ctx, later, change, f.base, "Revert", merger)
	if err != nil || len(conflicts) > 0 {
		t.Fatal(conflicts, err)
	}
	if got := show(rev); got != "one\ntwo\nTHREE" {
		t.Fatalf("after the revert shared.txt is %q", got)
	}
	if ps := parents(t, m.Dir, rev); len(ps) != 1 || ps[0] != later {
		t.Fatalf("parents %v, want only %s", ps, later)
	}
	if g(t, m.Dir, "show", rev+":new.txt") != "n" {
		t.Fatal("the revert lost the later commit's file")
	}
	if again, _, _ := m.ApplyChange(ctx, later, change, f.base, "Revert", merger); again != rev {
		t.Fatalf("the same revert gave %s, then %s", rev, again)
	}

	// Pick the first change onto a tip that never had it.
	pick, conflicts, err := m.ApplyChange(ctx, other, f.base, change, "Pick", merger)
	if err != nil || len(conflicts) > 0 {
		t.Fatal(conflicts, err)
	}
	if got := show(pick); got != "ONE\ntwo\n3" {
		t.Fatalf("after the pick shared.txt is %q", got)
	}

	// Picking the later change onto other: line three changed on both.
	if _, conflicts, err := m.ApplyChange(ctx, other, change, later, "Pick", merger); err != nil || strings.Join(conflicts, " ") != "shared.txt" {
		t.Fatalf("conflicts %v, %v", conflicts, err)
	}

	fp, err := m.FirstParents(ctx, later, 10)
	if err != nil || strings.Join(fp, " ") != later+" "+change+" "+f.base {
		t.Fatalf("first parents %v, %v", fp, err)
	}
	if ps, err := m.Parents(ctx, later); err != nil || len(ps) != 1 || ps[0] != change {
		t.Fatalf("parents %v, %v", ps, err)
	}
}
