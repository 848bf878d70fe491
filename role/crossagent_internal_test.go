package role

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/criteria"
)

// The other issue's merged diff is cut down to the conflicting files.
func TestCrossAgentDiffOfPaths(t *testing.T) {
	diff := "diff --git a/a.go b/a.go\n--- a/a.go\n+++ b/a.go\n@@ -1 +1 @@\n-x\n+y\n" +
		"diff --git a/shared.txt b/shared.txt\n--- a/shared.txt\n+++ b/shared.txt\n@@ -1 +1 @@\n-x\n+one\n" +
		"diff --git a/shared.txt.orig b/shared.txt.orig\n--- a/shared.txt.orig\n+++ b/shared.txt.orig\n@@ -1 +1 @@\n-x\n+z\n"
	got := diffOfPaths(diff, []string{"shared.txt"})
	if want := "diff --git a/shared.txt b/shared.txt\n--- a/shared.txt\n+++ b/shared.txt\n@@ -1 +1 @@\n-x\n+one\n"; got != want {
		t.Fatalf("diffOfPaths = %q, want %q", got, want)
	}
}

// The hunks are the marked regions with their lines, of regular files
// only: a symbolic link an agent left is not followed.
func TestCrossAgentConflictHunks(t *testing.T) {
	dir := t.TempDir()
	text := "a\nb\n<<<<<<< HEAD\ntwo\n=======\none\n>>>>>>> main\nc\n<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> main\n"
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("<<<<<<< token\n>>>>>>>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	got := conflictHunks(dir, []string{"f.txt", "link.txt", "../escape"})
	for _, want := range []string{"`f.txt`:", "(lines 3-7)\n<<<<<<< HEAD\ntwo\n=======\none\n>>>>>>> main", "(lines 9-13)", "`link.txt`: not a regular file"} {
		if !strings.Contains(got, want) {
			t.Fatalf("hunks lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "token") || strings.Contains(got, "\nc\n") || strings.Contains(got, "escape") {
		t.Fatalf("hunks show more than the regions:\n%s", got)
	}
}

// Another issue's criterion has a finding key of its own: the same text as
// one of the criteria is another finding.
func TestCrossAgentCriterionFindingKey(t *testing.T) {
	own := criteria.Result{Criterion: criteria.Criterion{ID: 1, Text: "`make test` passes"}, Verdict: criteria.Unmet}
	theirs := own
	theirs.From = 12
	if a, b := criterionFinding(own).Key, criterionFinding(theirs).Key; a == b || b != "criterion:#12:`make test` passes" {
		t.Fatalf("keys %q and %q", a, b)
	}
	if !strings.Contains(criterionFinding(theirs).Text, "of #12") {
		t.Fatalf("text %q", criterionFinding(theirs).Text)
	}
}

// A code block's fence is longer than any run of backticks inside it.
func TestCrossAgentCodeBlock(t *testing.T) {
	if got := codeBlock("", "a ``` b"); !strings.HasPrefix(got, "````\n") || !strings.HasSuffix(got, "\n````") {
		t.Fatalf("codeBlock = %q", got)
	}
}
