package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/hygiene"
)

// defaultRules are the workflow's default limits and some of its denied
// paths; the fixture's commits are a tester's, so identities are checked
// only where a test says so (withIdentity).
var defaultRules = hygiene.Rules{
	Deny: []string{".agentorg/**", ".github/**"}, MaxDiffLines: 5000, MaxDiffBytes: 5_000_000, MaxFileBytes: 1_000_000, MaxFiles: 500,
}

// withIdentity is defaultRules where every commit must be agentorg's own.
func withIdentity() hygiene.Rules {
	r := defaultRules
	r.Identity = Identity{}.Person()
	return r
}

// findingKeys checks ch under r and lists the findings' keys.
func findingKeys(r hygiene.Rules, ch Changes) string {
	res := hygiene.Check(r, hygiene.Input{Files: ch.Files, Added: ch.Added, Commits: ch.Commits, Unread: ch.Unread})
	var ks []string
	for _, f := range res.Findings {
		ks = append(ks, f.Key())
	}
	return strings.Join(ks, " ")
}

// Each way a change can carry more than text, made with git for real and
// read back from one diff.
func TestChangesReadLinksSubmodulesAndModes(t *testing.T) {
	f := newFixture(t)
	base := f.commitEdit(t, "main", f.base, func(seed string) {
		writeFile(t, filepath.Join(seed, "tool.txt"), "echo\n")
		writeFile(t, filepath.Join(seed, "kept.sh"), "#!/bin/sh\n")
		os.Chmod(filepath.Join(seed, "kept.sh"), 0o755)
	}, "base")
	top := f.commitEdit(t, "topic", base, func(seed string) {
		for link, target := range map[string]string{"out": "/etc/passwd", "up": "../../secret", "in": "tool.txt", "docs/readme": "../README"} {
			os.MkdirAll(filepath.Dir(filepath.Join(seed, link)), 0o755)
			if err := os.Symlink(target, filepath.Join(seed, link)); err != nil {
				t.Fatal(err)
			}
		}
		// A gitlink with its (empty) directory, as `git submodule add`
		// leaves it, and the .gitmodules that declares it.
		g(t, seed, "update-index", "--add", "--cacheinfo", "160000,"+f.base+",sub")
		os.Mkdir(filepath.Join(seed, "sub"), 0o755)
		writeFile(t, filepath.Join(seed, ".gitmodules"), "[submodule \"sub\"]\n\tpath = sub\n\turl = https://example.com/x.git\n")
		os.Chmod(filepath.Join(seed, "tool.txt"), 0o755)
		writeFile(t, filepath.Join(seed, "new.sh"), "#!/bin/sh\n")
		os.Chmod(filepath.Join(seed, "new.sh"), 0o755)
		writeFile(t, filepath.Join(seed, "kept.sh"), "#!/bin/sh\necho kept\n")
		writeFile(t, filepath.Join(seed, ".github/workflows/x.yml"), "on: push\n")
	}, "everything but text")
	m := f.mirror(t)
	ch, err := m.Changes(ctx, base, top)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ old, new, link string }
	got := map[string]entry{}
	for _, c := range ch.Files {
		got[c.Path] = entry{c.OldMode, c.NewMode, c.Link}
	}
	want := map[string]entry{
		"out": {"", "120000", "/etc/passwd"}, "up": {"", "120000", "../../secret"}, "in": {"", "120000", "tool.txt"},
		"docs/readme": {"", "120000", "../README"},
		"sub":         {"", "160000", ""}, ".gitmodules": {"", "100644", ""},
		"tool.txt": {"100644", "100755", ""}, "new.sh": {"", "100755", ""}, "kept.sh": {"100755", "100755", ""},
		".github/workflows/x.yml": {"", "100644", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("files\n got %v\nwant %v", got, want)
	}
	keys := "hygiene:mode:new.sh hygiene:mode:tool.txt hygiene:path:.github/workflows/x.yml hygiene:submodule:.gitmodules hygiene:submodule:sub hygiene:symlink:out hygiene:symlink:up"
	if got := findingKeys(defaultRules, ch); got != keys {
		t.Errorf("findings\n got %s\nwant %s", got, keys)
	}

	// Removing the submodule and a link, and a file's executable bit.
	undo := f.commitEdit(t, "topic", top, func(seed string) {
		g(t, seed, "rm", "--quiet", "--cached", "sub")
		os.Remove(filepath.Join(seed, ".gitmodules"))
		os.Remove(filepath.Join(seed, "out"))
		os.Chmod(filepath.Join(seed, "kept.sh"), 0o644)
	}, "undo")
	g(t, m.Dir, "fetch", "--quiet", "origin", "+refs/heads/*:refs/heads/*")
	ch, err = m.Changes(ctx, top, undo)
	if err != nil {
		t.Fatal(err)
	}
	keys = "hygiene:mode:kept.sh hygiene:submodule:.gitmodules hygiene:submodule:sub"
	if got := findingKeys(defaultRules, ch); got != keys {
		t.Errorf("undo: findings\n got %s\nwant %s", got, keys)
	}
}

// Sizes are counted in files and bytes, not only lines: ten thousand empty
// files change no line, one 20 MB line is a single one.
func TestChangesCountFilesAndBytes(t *testing.T) {
	f := newFixture(t)
	empty := f.commitEdit(t, "empty", f.base, func(seed string) {
		for i := range 10_000 {
			writeFile(t, filepath.Join(seed, "e", fmt.Sprintf("%02d", i%100), fmt.Sprintf("%05d", i)), "")
		}
	}, "ten thousand empty files")
	huge := f.commit(t, "huge", f.base, map[string]string{"big.txt": strings.Repeat("x", 20<<20) + "\n"}, "one 20 MB line")
	m := f.mirror(t)

	ch, err := m.Changes(ctx, f.base, empty)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 10_000 || ch.Files[0].NewMode != "100644" || ch.Files[0].Added != 0 {
		t.Fatalf("%d files, first %+v", len(ch.Files), ch.Files[0])
	}
	if got := findingKeys(defaultRules, ch); got != "hygiene:files:" {
		t.Errorf("empty files: %q", got)
	}

	ch, err = m.Changes(ctx, f.base, huge)
	if err != nil {
		t.Fatal(err)
	}
	if c := ch.Files[0]; c.Added != 1 || c.Bytes != 20<<20+1 || c.LongestLine != 20<<20 {
		t.Fatalf("huge line read as %+v", ch.Files[0])
	}
	if got := findingKeys(defaultRules, ch); got != "hygiene:bytes: hygiene:bytes:big.txt" {
		t.Errorf("huge line: %q", got)
	}
}

// Every commit to be pushed is read for who made it and what its message
// says: one loose commit from its file, a range with one `git log`.
func TestChangesReadCommits(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	mallory := Identity{Name: "Mallory", Email: "m@example.com"}
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
	tree := g(t, m.Dir, "rev-parse", f.base+"^{tree}")
	commitTree := func(who Identity, parent, msg string) string {
		t.Helper()
		out, err := gitWith(ctx, m.Dir, who, strings.NewReader(msg), "commit-tree", tree, "-p", parent)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	ours := commitTree(Identity{}, f.base, "#1: Feature (attempt 1)\n")
	theirs := commitTree(mallory, ours, "wip\n\n"+key)

	// A single commit is read from its object file, without git.
	ch, err := m.Changes(ctx, ours, theirs)
	if err != nil {
		t.Fatal(err)
	}
	want := []hygiene.Commit{{SHA: theirs, Author: mallory.Person(), Committer: mallory.Person(), Message: "wip\n\n" + key}}
	if !reflect.DeepEqual(ch.Commits, want) {
		t.Fatalf("commits\n got %+v\nwant %+v", ch.Commits, want)
	}
	keys := fmt.Sprintf("hygiene:identity:%.12s hygiene:message:%.12s", theirs, theirs)
	if got := findingKeys(withIdentity(), ch); got != keys {
		t.Errorf("findings\n got %s\nwant %s", got, keys)
	}

	// A range: git log lists both, newest first; agentorg's own is fine.
	commits, err := m.Commits(ctx, f.base, theirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 2 || commits[0].SHA != theirs || commits[1].SHA != ours || commits[1].Author != (Identity{}).Person() {
		t.Fatalf("commits %+v", commits)
	}
	ch, err = m.Changes(ctx, f.base, theirs)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(withIdentity(), ch); got != keys {
		t.Errorf("range: findings\n got %s\nwant %s", got, keys)
	}
	if ch, err := m.Changes(ctx, f.base, ours); err != nil || findingKeys(withIdentity(), ch) != "" {
		t.Errorf("agentorg's own commit: %v %q", err, findingKeys(withIdentity(), ch))
	}
}

// git prints a message only up to a NUL byte; a commit made with plumbing
// can carry more after it. Its object file has it all.
func TestChangesSeeAMessagePastANul(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	token := "ghp_" + strings.Repeat("a1B2", 9)
	tree := g(t, m.Dir, "rev-parse", f.base+"^{tree}")
	who := Identity{}.Person()
	raw := fmt.Sprintf("tree %s\nparent %s\nauthor %s 1700000000 +0000\ncommitter %s 1700000000 +0000\n\nfine\x00%s\n", tree, f.base, who, who, token)
	sha := strings.TrimSpace(mustGit(t, m.Dir, raw, "hash-object", "-t", "commit", "-w", "--stdin", "--literally"))
	ch, err := m.Changes(ctx, f.base, sha)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(withIdentity(), ch); got != "hygiene:message:"+sha[:12] {
		t.Errorf("findings %q", got)
	}
	commits, err := m.Commits(ctx, f.base, sha) // git log, then the object file
	if err != nil || len(commits) != 1 || !strings.Contains(commits[0].Message, token) {
		t.Fatalf("Commits read %+v, %v", commits, err)
	}
}

// A replace ref or a graft in the mirror does not change what validation
// reads: git is told to ignore both.
func TestChangesIgnoreReplaceRefsAndGrafts(t *testing.T) {
	f := newFixture(t)
	key := "AKIAIOSFODNN7EXAMPLE"
	clean := f.commit(t, "clean", f.base, map[string]string{"a.txt": "clean\n"}, "clean")
	mid := f.commit(t, "topic", f.base, map[string]string{"a.txt": key + "\n"}, "the key")
	top := f.commit(t, "topic", mid, map[string]string{"a.txt": "clean\n"}, "the key gone")
	m := f.mirror(t)
	g(t, m.Dir, "replace", mid, clean)
	if err := os.WriteFile(filepath.Join(m.Dir, "info", "grafts"), []byte(top+" "+f.base+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err := m.Changes(ctx, f.base, top)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(defaultRules, ch); got != "hygiene:secret:a.txt" || len(ch.Commits) != 2 {
		t.Fatalf("findings %q, %d commits", got, len(ch.Commits))
	}
}

// A diff git will not print in full is a change too large to read: a
// finding, not an error.
func TestUnreadIsAFinding(t *testing.T) {
	ch, err := unread(Changes{Commits: []hygiene.Commit{{SHA: "c"}}}, &gitError{err: fmt.Errorf("%w: over %d bytes", errTooLarge, maxStdout)}, "its diff")
	if err != nil || ch.Unread != "its diff is over 67.1 MB" || len(ch.Commits) != 1 {
		t.Fatalf("%+v %v", ch, err)
	}
	if got := findingKeys(hygiene.Rules{}, ch); got != "hygiene:bytes:" {
		t.Fatalf("findings %q", got)
	}
	other := errors.New("boom")
	if _, err := unread(Changes{}, other, "its diff"); err != other {
		t.Fatalf("another error became %v", err)
	}
}

// mustGit runs git in dir with stdin and fails the test on error.
func mustGit(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	out, err := gitWith(ctx, dir, Identity{}, strings.NewReader(stdin), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
