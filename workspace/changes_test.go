package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/hygiene"
)

// oddCommit makes, on top of base, a commit that has every kind of change
// a diff can show, and returns it.
func oddCommit(t *testing.T, f *fixture) string {
	t.Helper()
	var long strings.Builder
	for i := range 40 {
		fmt.Fprintf(&long, "line %d\n", i)
	}
	base := f.commit(t, "main", f.base, map[string]string{
		"long.txt": long.String(), "gone.txt": "bye\n", "tool.sh": "echo\n", "bin.dat": "\x00\x01old",
	}, "base")
	edited := strings.Replace(long.String(), "line 3\n", "line three\n", 1)
	edited = strings.Replace(edited, "line 30\n", "line thirty\n++ looks like a header\n-- also\ndiff --git a/x b/x\n", 1)
	return f.commit(t, "topic", base, map[string]string{
		"long.txt":            edited,
		"gone.txt":            "",
		"bin.dat":             "\x00\x02new",
		"new.txt":             "one\ntwo",
		"empty.txt":           "\n",
		"tab\there \"q\".txt": "odd name\n",
		"é/ünï.txt":           "accents\n",
		"a b/c b/d.txt":       "spaces\n",
	}, "everything")
}

func TestChangesAgreesWithNumstatAndLog(t *testing.T) {
	f := newFixture(t)
	top := oddCommit(t, f)
	g(t, f.seed, "checkout", "--quiet", "--detach", top)
	os.Chmod(filepath.Join(f.seed, "tool.sh"), 0o755)
	g(t, f.seed, "add", "-A")
	if _, err := gitWith(ctx, f.seed, tester, nil, "commit", "--quiet", "-m", "chmod"); err != nil {
		t.Fatal(err)
	}
	chmod := g(t, f.seed, "rev-parse", "HEAD")
	g(t, f.seed, "push", "--quiet", "--force", "origin", chmod+":refs/heads/topic")
	m := f.mirror(t)
	g(t, m.Dir, "fetch", "--quiet", "origin", "+refs/heads/*:refs/heads/*")

	for _, r := range []struct{ name, from, to string }{
		{"one commit", g(t, m.Dir, "rev-parse", top+"^"), top},
		{"mode only", top, chmod},
		{"two commits", g(t, m.Dir, "rev-parse", top+"^"), chmod},
		{"nothing", top, top},
	} {
		t.Run(r.name, func(t *testing.T) {
			got, err := m.Changes(ctx, r.from, r.to)
			if err != nil {
				t.Fatal(err)
			}
			files, err := m.numstat(ctx, r.from, r.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(counts(got.Files), files) {
				t.Errorf("files\n got %+v\nwant %+v", got.Files, files)
			}
			added, err := m.AddedLines(ctx, r.from, r.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(nonNil(got.Added), nonNil(added)) {
				t.Errorf("added\n got %+v\nwant %+v", got.Added, added)
			}
			diff, err := m.Diff(ctx, r.from, r.to)
			if err != nil || got.Diff != diff {
				t.Errorf("diff differs: %v", err)
			}
		})
	}

	// Read right: odd names, and added lines that look like headers.
	got, err := m.Changes(ctx, g(t, m.Dir, "rev-parse", top+"^"), top)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"tab\there \"q\".txt:1:odd name": false, "é/ünï.txt:1:accents": false, "a b/c b/d.txt:1:spaces": false,
		"long.txt:32:++ looks like a header": false, "long.txt:33:-- also": false, "long.txt:34:diff --git a/x b/x": false,
	}
	for _, a := range got.Added {
		k := fmt.Sprintf("%s:%d:%s", a.Path, a.Line, a.Text)
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if a.Commit != top {
			t.Errorf("added line %+v is not attributed to %s", a, top)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("added lines lack %q: %+v", k, got.Added)
		}
	}
}

// counts keeps what numstat says of each file: its path, lines, binary.
func counts(cs []hygiene.Change) []hygiene.Change {
	var out []hygiene.Change
	for _, c := range cs {
		out = append(out, hygiene.Change{Path: c.Path, Binary: c.Binary, Added: c.Added, Deleted: c.Deleted})
	}
	return out
}

func nonNil(a []hygiene.Added) []hygiene.Added {
	if a == nil {
		return []hygiene.Added{}
	}
	return a
}

func TestParseDiffReadsHunksByTheirCounts(t *testing.T) {
	diff := "diff --git a/x.txt b/x.txt\nindex 1..2 100644\n--- a/x.txt\n+++ b/x.txt\n" +
		"@@ -1,2 +1,3 @@\n keep\n-old\n+--- a/fake\n+@@ -9 +9 @@\n\\ No newline at end of file\n" +
		"diff --git \"a/q\\\"uote\" \"b/q\\\"uote\"\nnew file mode 100644\nindex 0..3\n--- /dev/null\n+++ \"b/q\\\"uote\"\n@@ -0,0 +1 @@\n+x\n" +
		"diff --git a/bin b/bin\nindex 4..5 100644\nBinary files a/bin and b/bin differ\n"
	files, added := parseDiff(diff, "c1")
	wantFiles := []hygiene.Change{
		{Path: "x.txt", Added: 2, Deleted: 1, OldMode: "100644", NewMode: "100644", Bytes: 23, LongestLine: 11},
		{Path: `q"uote`, Added: 1, NewMode: "100644", Bytes: 2, LongestLine: 1},
		{Path: "bin", Binary: true, OldMode: "100644", NewMode: "100644"},
	}
	if !reflect.DeepEqual(files, wantFiles) {
		t.Fatalf("files %+v, want %+v", files, wantFiles)
	}
	wantAdded := []hygiene.Added{
		{Commit: "c1", Path: "x.txt", Line: 2, Text: "--- a/fake"},
		{Commit: "c1", Path: "x.txt", Line: 3, Text: "@@ -9 +9 @@"},
		{Commit: "c1", Path: `q"uote`, Line: 1, Text: "x"},
	}
	if !reflect.DeepEqual(added, wantAdded) {
		t.Fatalf("added %+v, want %+v", added, wantAdded)
	}
}
