package workspace

import (
	"strings"
	"testing"
)

// A release's CHANGELOG commit is made without a checkout, and its tag is
// pushed once: again on the same commit is a no-op, on another refused.
func TestCommitFileAndTag(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	old, ok, err := m.ReadFile(ctx, f.base, "CHANGELOG.md")
	if err != nil || ok || old != "" {
		t.Fatalf("a file the commit lacks: %q %v %v", old, ok, err)
	}
	c, err := m.CommitFile(ctx, f.base, "CHANGELOG.md", "# Changelog\n\n## v0.1.0\n", "Release v0.1.0", tester)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := m.ReadFile(ctx, c, "CHANGELOG.md")
	if err != nil || !ok || got != "# Changelog\n\n## v0.1.0\n" {
		t.Fatalf("the committed file: %q %v %v", got, ok, err)
	}
	if parents, err := m.Parents(ctx, c); err != nil || len(parents) != 1 || parents[0] != f.base {
		t.Fatalf("parents of the release commit: %v %v", parents, err)
	}
	if _, err := m.CommitFile(ctx, f.base, "../escape", "x", "m", tester); err == nil {
		t.Fatal("committed a path outside the repository")
	}

	if at, err := m.TagAt(ctx, "v0.1.0"); err != nil || at != "" {
		t.Fatalf("a tag not made yet: %q %v", at, err)
	}
	if err := m.Tag(ctx, "v0.1.0", f.base, "v0.1.0\n\nNotes.", tester); err != nil {
		t.Fatal(err)
	}
	if at, err := m.TagAt(ctx, "v0.1.0"); err != nil || at != f.base {
		t.Fatalf("the tag in the origin is on %q (%v), want %s", at, err, f.base)
	}
	if msg := mustGit(t, f.origin, "", "tag", "-l", "--format=%(contents)", "v0.1.0"); !strings.Contains(msg, "Notes.") {
		t.Fatalf("the tag's message: %q", msg)
	}
	if err := m.Tag(ctx, "v0.1.0", f.base, "again", tester); err != nil {
		t.Fatalf("tagging again on the same commit: %v", err)
	}
	if err := m.Tag(ctx, "v0.1.0", c, "moved", tester); err == nil || !strings.Contains(err.Error(), "never moves") {
		t.Fatalf("moving a released tag: %v", err)
	}
	if err := m.Tag(ctx, "-bad", f.base, "m", tester); err == nil {
		t.Fatal("took an option as a tag name")
	}
}
