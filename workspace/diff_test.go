package workspace

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/hygiene"
)

func TestNumstatAndAddedLinesSeeHistory(t *testing.T) {
	f := newFixture(t)
	c1 := f.commit(t, "topic", f.base, map[string]string{"key.txt": "AKIAIOSFODNN7EXAMPLE\n", "logo.png": "\x89PNG\x00\x01\x02"}, "add key")
	c2 := f.commit(t, "topic", c1, map[string]string{"key.txt": "", "a.go": "package a\n\nvar x = 1\n"}, "drop key")
	m := f.mirror(t)
	cs, err := m.numstat(ctx, f.base, c2)
	if err != nil {
		t.Fatal(err)
	}
	want := "a.go:false:3 logo.png:true:0"
	var got []string
	for _, c := range cs {
		got = append(got, c.Path+":"+map[bool]string{true: "true", false: "false"}[c.Binary]+":"+string(rune('0'+c.Added)))
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("numstat %v, want %s", got, want)
	}
	added, err := m.AddedLines(ctx, f.base, c2)
	if err != nil {
		t.Fatal(err)
	}
	// The key is gone from the net diff but still in the history to be pushed.
	found := false
	for _, a := range added {
		if a.Path == "key.txt" && a.Commit == c1 && a.Line == 1 && a.Text == "AKIAIOSFODNN7EXAMPLE" {
			found = true
		}
	}
	if !found {
		t.Fatalf("added lines %+v lack the key of commit %s", added, c1)
	}
	diff, err := m.Diff(ctx, f.base, c2)
	if err != nil || !strings.Contains(diff, "+var x = 1") {
		t.Fatalf("diff %q %v", diff, err)
	}
}

// MergeBase finds where a branch left a target that moved on since.
func TestMergeBase(t *testing.T) {
	f := newFixture(t)
	topic := f.commit(t, "topic", f.base, map[string]string{"t.txt": "t\n"}, "topic")
	moved := f.commit(t, "main", f.base, map[string]string{"m.txt": "m\n"}, "moved")
	m := f.mirror(t)
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := m.MergeBase(ctx, moved, topic)
	if err != nil || got != f.base {
		t.Fatalf("merge base %q %v, want %s", got, err, f.base)
	}
	if _, err := m.MergeBase(ctx, "--all", topic); err == nil {
		t.Fatal("an option was taken for a revision")
	}
}

func TestTreeLooseAndPacked(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	w, _, err := m.Worktree(ctx, filepath.Join(f.root, "wt", "issue-9"), "agentorg/issue-9", "refs/remotes/origin/main")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Path, "new.txt"), "new\n")
	loose, _, err := w.CommitAll(ctx, "new", tester)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := looseCommitTree(m.Dir, loose); !ok {
		t.Fatal("setup: the new commit is not a loose object")
	}
	// The base came with the clone, packed.
	for _, c := range []string{loose, f.base, strings.ToUpper(loose)} {
		got, err := m.Tree(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if want := g(t, m.Dir, "rev-parse", strings.ToLower(c)+"^{tree}"); got != want {
			t.Fatalf("Tree(%s) = %s, want %s", c, got, want)
		}
	}
	if _, err := m.Tree(ctx, strings.Repeat("ab", 20)); err == nil {
		t.Fatal("Tree of a missing commit succeeded")
	}
}

// numstat is git's own count of what Changes reads from the diff: the
// files that differ with their added and deleted lines, binary marked.
func (m *Mirror) numstat(ctx context.Context, from, to string) ([]hygiene.Change, error) {
	if err := revArgs(from, to); err != nil {
		return nil, err
	}
	out, err := git(ctx, m.Dir, "diff", "--numstat", "-z", "--no-renames", "--no-color", from, to, "--")
	if err != nil {
		return nil, err
	}
	var cs []hygiene.Change
	for _, rec := range splitZ(out) {
		f := strings.SplitN(rec, "\t", 3)
		if len(f) != 3 {
			continue
		}
		c := hygiene.Change{Path: f[2]}
		if f[0] == "-" && f[1] == "-" {
			c.Binary = true
		} else {
			c.Added, _ = strconv.Atoi(f[0])
			c.Deleted, _ = strconv.Atoi(f[1])
		}
		cs = append(cs, c)
	}
	return cs, nil
}
