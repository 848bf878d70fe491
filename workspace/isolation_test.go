package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// agent runs git in the worktree as an agent would: the repository its
// .git holds, the machine's git, none of agentorg's safety settings.
func agent(t *testing.T, dir string, who Identity, args ...string) string {
	t.Helper()
	out, err := gitRun(ctx, dir, who, nil, nil, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

var intruder = Identity{Name: "Mallory Agent", Email: "mallory@evil.example"}

// fileDigests describes every file under dir (path, mode, content
// digest): equal digests mean nothing in dir was written.
func fileDigests(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDigests(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, d := range after {
		if before[p] != d {
			t.Errorf("%s: %s changed or appeared", what, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s disappeared", what, p)
		}
	}
}

// onlyObjects leaves of the mirror what a confined agent may read, its
// objects/, until restore puts the rest back.
func onlyObjects(t *testing.T, m *Mirror) (restore func()) {
	t.Helper()
	hidden := m.Dir + ".hidden"
	if err := os.Rename(m.Dir, hidden); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(m.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(hidden, "objects"), filepath.Join(m.Dir, "objects")); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := errors.Join(os.Remove(filepath.Join(m.Dir, "objects")), os.Remove(m.Dir), os.Rename(hidden, m.Dir)); err != nil {
			t.Fatal(err)
		}
	}
}

// An issue's worktree is a repository of its own: what the agent does to
// its config, hooks and refs, and the commits it makes, leave the mirror
// as it was and change nothing of what agentorg commits and pushes
// (docs/lifecycle.md I16).
func TestAgentRepositoryIsItsOwn(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-12")
	w, _, err := m.Worktree(ctx, path, "agentorg/issue-12", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(path, ".git")); err != nil || !fi.IsDir() {
		t.Fatalf(".git is not a directory: %v", err)
	}
	if got := agent(t, path, intruder, "rev-parse", "--absolute-git-dir"); got != filepath.Join(path, ".git") {
		t.Fatalf("git in the worktree uses %s", got)
	}
	if got := readFile(t, filepath.Join(path, ".git", "objects", "info", "alternates")); got != filepath.Join(m.Dir, "objects")+"\n" {
		t.Fatalf("alternates %q", got)
	}
	if got := agent(t, path, intruder, "rev-parse", "HEAD"); got != f.base {
		t.Fatalf("the agent's HEAD is %s, want %s", got, f.base)
	}
	if st := agent(t, path, intruder, "status", "--porcelain"); st != "" {
		t.Fatalf("the agent's repository is not clean: %q", st)
	}
	mirrorBefore := fileDigests(t, m.Dir)

	// Everything an agent could plant in a repository shared with the mirror.
	marker := filepath.Join(f.root, "ran")
	attacker := filepath.Join(f.root, "attacker.git")
	g(t, f.root, "init", "--quiet", "--bare", attacker)
	agent(t, path, intruder, "config", "url."+attacker+".insteadOf", f.origin)
	agent(t, path, intruder, "config", "core.fsmonitor", "touch "+marker+"-fsmonitor; true")
	agent(t, path, intruder, "config", "filter.evil.clean", "touch "+marker+"-filter; cat")
	agent(t, path, intruder, "config", "core.worktree", f.root)
	agent(t, path, intruder, "config", "core.worktree", path) // and back, for its own git to work
	agent(t, path, intruder, "config", "include.path", filepath.Join(f.root, "nowhere"))
	writeFile(t, filepath.Join(path, ".git", "hooks", "pre-commit"), "#!/bin/sh\ntouch "+marker+"-hook\n")
	os.Chmod(filepath.Join(path, ".git", "hooks", "pre-commit"), 0o755)
	writeFile(t, filepath.Join(path, ".gitattributes"), "*.txt filter=evil\n")
	sub := filepath.Join(f.root, "subrepo")
	g(t, f.root, "init", "--quiet", "-b", "main", sub)
	writeFile(t, filepath.Join(sub, "s"), "s\n")
	g(t, sub, "add", "s")
	if _, err := gitWith(ctx, sub, tester, nil, "commit", "--quiet", "-m", "s"); err != nil {
		t.Fatal(err)
	}
	agent(t, path, intruder, "-c", "protocol.file.allow=always", "submodule", "add", "--quiet", sub, "vendored")
	// Its own commits: a foreign author, a secret in the message.
	writeFile(t, filepath.Join(path, "work.txt"), "work\n")
	agent(t, path, intruder, "add", "-A")
	agent(t, path, intruder, "commit", "--quiet", "--no-verify", "-m", "leak AKIAIOSFODNN7EXAMPLE")
	writeFile(t, filepath.Join(path, "more.txt"), "more\n")
	agent(t, path, intruder, "add", "more.txt")
	agent(t, path, intruder, "commit", "--quiet", "--no-verify", "-m", "second")
	writeFile(t, filepath.Join(path, "uncommitted.txt"), "wip\n")
	// And the branch moved to another commit.
	agent(t, path, intruder, "update-ref", "refs/heads/agentorg/issue-12", f.base)
	agent(t, path, intruder, "checkout", "--quiet", "-b", "elsewhere")

	sameDigests(t, "the mirror, after the agent's git", mirrorBefore, fileDigests(t, m.Dir))
	// What the agent's own git ran is the agent's business; from here on,
	// nothing of it may run.
	for _, s := range []string{"-fsmonitor", "-filter", "-hook"} {
		os.Remove(marker + s)
	}

	sha, changed, err := w.CommitAll(ctx, "#12: the engine's message (attempt 1)", tester)
	if err != nil || !changed {
		t.Fatalf("CommitAll: %v changed=%v", err, changed)
	}
	for _, s := range []string{"-fsmonitor", "-filter", "-hook"} {
		if _, err := os.Stat(marker + s); err == nil {
			t.Errorf("agentorg ran the agent's %s", s[1:])
		}
	}
	// One commit, agentorg's, on the commit before, with the tree the agent left.
	if got := g(t, m.Dir, "rev-list", "--format=%P|%an <%ae>|%cn <%ce>|%B", "--no-commit-header", f.base+".."+sha); got != f.base+"|Test Dev <dev@example.com>|Test Dev <dev@example.com>|#12: the engine's message (attempt 1)" {
		t.Fatalf("history since the base:\n%s", got)
	}
	files := strings.Fields(g(t, m.Dir, "ls-tree", "-r", "--name-only", sha))
	for _, want := range []string{".gitattributes", ".gitmodules", "more.txt", "uncommitted.txt", "vendored", "work.txt"} {
		if !slices.Contains(files, want) {
			t.Errorf("the commit lacks %s: %v", want, files)
		}
	}
	// The mirror: nothing but the engine's objects, its branch and its git
	// directory changed.
	for p, d := range fileDigests(t, m.Dir) {
		if mirrorBefore[p] == d || strings.HasPrefix(p, "objects") || strings.HasPrefix(p, treesDir) || p == filepath.Join("refs", "heads", "agentorg", "issue-12") || strings.HasPrefix(p, "logs") {
			continue
		}
		t.Errorf("the mirror's %s changed", p)
	}
	if got := g(t, m.Dir, "config", "--file", filepath.Join(m.Dir, "config"), "--list"); strings.Contains(got, attacker) || strings.Contains(got, "submodule") || strings.Contains(got, "fsmonitor") {
		t.Fatalf("the mirror's config took the agent's:\n%s", got)
	}
	// The branch pushed holds only agentorg's commit.
	if err := m.Push(ctx, sha, "agentorg/issue-12"); err != nil {
		t.Fatal(err)
	}
	if got := g(t, f.origin, "log", "--format=%an|%s", "main..agentorg/issue-12"); got != "Test Dev|#12: the engine's message (attempt 1)" {
		t.Fatalf("pushed history:\n%s", got)
	}
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.RemoteHead(ctx, "main"); got != f.base {
		t.Fatalf("the mirror fetched %s from somewhere", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(attacker, "objects")); len(entries) > 2 {
		t.Fatalf("something reached the attacker's repository: %v", entries)
	}
	// The agent's repository is back on the branch, at agentorg's commit.
	if got := agent(t, path, intruder, "symbolic-ref", "HEAD"); got != "refs/heads/agentorg/issue-12" {
		t.Fatalf("the agent's repository is on %s", got)
	}
	if got := agent(t, path, intruder, "rev-parse", "HEAD"); got != sha {
		t.Fatalf("the agent's HEAD is %s, want %s", got, sha)
	}
	if got := readFile(t, filepath.Join(path, "uncommitted.txt")); got != "wip\n" {
		t.Fatalf("the agent's file is %q", got)
	}
}

// git in the worktree needs nothing of the mirror but its objects, read:
// with the rest of the mirror out of sight, the agent's everyday git
// works, and nothing under objects/ is written (docs/lifecycle.md I16).
func TestAgentGitNeedsOnlyTheMirrorsObjects(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-13")
	if _, _, err := m.Worktree(ctx, path, "agentorg/issue-13", mainBase); err != nil {
		t.Fatal(err)
	}
	objects := fileDigests(t, filepath.Join(m.Dir, "objects"))
	restore := onlyObjects(t, m)
	writeFile(t, filepath.Join(path, "README"), "edited\n")
	writeFile(t, filepath.Join(path, "new.txt"), "new\n")
	agent(t, path, intruder, "status", "--porcelain")
	agent(t, path, intruder, "diff")
	agent(t, path, intruder, "log", "--oneline")
	agent(t, path, intruder, "add", "-A")
	agent(t, path, intruder, "commit", "--quiet", "-m", "mine")
	agent(t, path, intruder, "checkout", "--quiet", "-b", "try")
	agent(t, path, intruder, "reset", "--quiet", "--hard", "HEAD~1")
	agent(t, path, intruder, "checkout", "--quiet", "agentorg/issue-13")
	agent(t, path, intruder, "show", "--stat", "HEAD")
	restore()
	sameDigests(t, "the mirror's objects", objects, fileDigests(t, filepath.Join(m.Dir, "objects")))
}

// A read-only agent's checkout (a slot) is a repository of its own too
// (docs/lifecycle.md I16).
func TestSlotGitNeedsOnlyTheMirrorsObjects(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	dir, release, err := m.Lease(ctx, filepath.Join(f.root, "slots"), f.base)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	before := fileDigests(t, m.Dir)
	restore := onlyObjects(t, m)
	for _, args := range [][]string{{"status", "--porcelain"}, {"log", "--oneline"}, {"diff", "HEAD"}, {"ls-files"}, {"show", "HEAD:README"}} {
		agent(t, dir, intruder, args...)
	}
	restore()
	sameDigests(t, "the mirror", before, fileDigests(t, m.Dir))
}

// A conflict left for the agent to resolve is recorded as a merge with the
// target as second parent, whatever commits the agent made meanwhile; a
// merge the agent gave up is not recorded (docs/lifecycle.md I16).
func TestConflictResolutionIsAMergeOfTheTarget(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-14")
	w, _, err := m.Worktree(ctx, path, "agentorg/issue-14", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(path, "shared.txt"), "one\nmine\nthree\n")
	mine, _, err := w.CommitAll(ctx, "mine", tester)
	if err != nil {
		t.Fatal(err)
	}
	target := f.commit(t, "main", f.base, map[string]string{"shared.txt": "one\ntheirs\nthree\n", "other.txt": "o\n"}, "theirs")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	// The agent gives the merge up: nothing is recorded.
	if _, err := w.StartMerge(ctx, mainBase, mine, tester); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(path, ".git", "MERGE_HEAD")); err != nil {
		t.Fatalf("the agent is not shown the merge: %v", err)
	}
	if got := agent(t, path, intruder, "diff", "--name-only", "--diff-filter=U"); got != "shared.txt" {
		t.Fatalf("the agent's repository shows unmerged %q", got)
	}
	agent(t, path, intruder, "merge", "--abort")
	sha, changed, err := w.CommitAll(ctx, "resolve", tester)
	if err != nil || changed || sha != mine {
		t.Fatalf("CommitAll after the agent's abort = %s, %v, %v", sha, changed, err)
	}

	// Resolved, and committed by the agent itself: one merge, agentorg's.
	// A git merge killed midway (files written, no MERGE_HEAD, the index
	// not yet written) leaves what the next merge would refuse to
	// overwrite: the merge starts again from the recorded commit.
	writeFile(t, filepath.Join(path, "shared.txt"), "one\nhalf-merged\nthree\n")
	writeFile(t, filepath.Join(path, "other.txt"), "o\n")
	conflicts, err := w.StartMerge(ctx, mainBase, mine, tester)
	if err != nil || !slices.Equal(conflicts, []string{"shared.txt"}) {
		t.Fatalf("StartMerge after a merge killed midway = %v, %v", conflicts, err)
	}
	writeFile(t, filepath.Join(path, "shared.txt"), "one\nboth\nthree\n")
	agent(t, path, intruder, "commit", "--quiet", "-am", "agent's merge with a secret AKIAIOSFODNN7EXAMPLE")
	sha, changed, err = w.CommitAll(ctx, "#14: resolve (attempt 2)", tester)
	if err != nil || !changed {
		t.Fatalf("CommitAll: %v changed=%v", err, changed)
	}
	if got := g(t, m.Dir, "log", "-1", "--format=%P|%an|%s", sha); got != mine+" "+target+"|Test Dev|#14: resolve (attempt 2)" {
		t.Fatalf("the resolution: %s", got)
	}
	if got := g(t, m.Dir, "show", sha+":shared.txt"); got != "one\nboth\nthree" {
		t.Fatalf("resolved shared.txt %q", got)
	}
	if got := g(t, m.Dir, "log", "--format=%an", f.base+".."+sha); strings.Contains(got, intruder.Name) {
		t.Fatalf("the agent's commit reached the branch:\n%s", got)
	}
	if ok, _ := m.IsAncestor(ctx, target, sha); !ok {
		t.Fatal("the branch does not contain the target")
	}
}

// A home made by the legacy layout keeps working: its worktree is migrated
// when opened, uncommitted files and a merge under way kept, and the
// registrations whose worktree is gone are removed.
func TestLegacyWorktreeIsMigrated(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-15")
	// What the earlier layout made: a linked worktree of the mirror.
	g(t, m.Dir, "worktree", "add", "--quiet", "-b", "agentorg/issue-15", path, f.base)
	writeFile(t, filepath.Join(path, "shared.txt"), "one\nmine\nthree\n")
	if _, err := gitWith(ctx, path, tester, nil, "commit", "--quiet", "-am", "mine"); err != nil {
		t.Fatal(err)
	}
	mine := g(t, path, "rev-parse", "HEAD")
	target := f.commit(t, "main", f.base, map[string]string{"shared.txt": "one\ntheirs\nthree\n"}, "theirs")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := gitWith(ctx, path, tester, nil, "merge", "--quiet", "--no-ff", "--no-commit", mainBase); err == nil {
		t.Fatal("the merge did not conflict")
	}
	writeFile(t, filepath.Join(path, "shared.txt"), "one\nboth\nthree\n")
	writeFile(t, filepath.Join(path, "untracked.txt"), "wip\n")
	gone := filepath.Join(f.root, "wt", "issue-16")
	g(t, m.Dir, "worktree", "add", "--quiet", "-b", "agentorg/issue-16", gone, f.base)
	os.RemoveAll(gone)

	w, created, err := m.Worktree(ctx, path, "agentorg/issue-15", mainBase)
	if err != nil || created {
		t.Fatalf("Worktree: created=%v %v", created, err)
	}
	if fi, err := os.Lstat(filepath.Join(path, ".git")); err != nil || !fi.IsDir() {
		t.Fatalf(".git is not a directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "worktrees", "issue-15")); !os.IsNotExist(err) {
		t.Fatalf("the legacy registration is still there: %v", err)
	}
	for p, want := range map[string]string{"shared.txt": "one\nboth\nthree\n", "untracked.txt": "wip\n"} {
		if got := readFile(t, filepath.Join(path, p)); got != want {
			t.Errorf("%s is %q after the migration", p, got)
		}
	}
	if got := agent(t, path, intruder, "rev-parse", "HEAD", "MERGE_HEAD"); got != mine+"\n"+target {
		t.Fatalf("the agent's repository shows %q", got)
	}
	sha, changed, err := w.CommitAll(ctx, "resolve", tester)
	if err != nil || !changed {
		t.Fatalf("CommitAll: %v changed=%v", err, changed)
	}
	if got := g(t, m.Dir, "log", "-1", "--format=%P", sha); got != mine+" "+target {
		t.Fatalf("the merge's parents: %s", got)
	}
	if err := m.RemoveLeftovers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "worktrees")); !os.IsNotExist(err) {
		t.Fatalf("legacy registrations left: %v", err)
	}
	if got := trees(t, m); len(got) != 1 || got[path] != "ref: refs/heads/agentorg/issue-15" {
		t.Fatalf("git directories: %v", got)
	}
}

// A crash in the middle of a migration (the registration moved, the .git
// file still there) is finished by the next open.
func TestInterruptedMigrationIsFinished(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-17")
	g(t, m.Dir, "worktree", "add", "--quiet", "-b", "agentorg/issue-17", path, f.base)
	writeFile(t, filepath.Join(path, "wip.txt"), "wip\n")
	if err := os.MkdirAll(filepath.Join(m.Dir, treesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(m.Dir, "worktrees", "issue-17"), m.adminDir(path)); err != nil {
		t.Fatal(err)
	}
	w, _, err := m.Worktree(ctx, path, "agentorg/issue-17", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(path, ".git")); err != nil || !fi.IsDir() {
		t.Fatalf(".git is not a directory: %v", err)
	}
	if st, err := w.Status(ctx); err != nil || !slices.Equal(st, []string{"wip.txt"}) {
		t.Fatalf("status %q, %v", st, err)
	}
	if got := agent(t, path, intruder, "status", "--porcelain"); got != "?? wip.txt" {
		t.Fatalf("the agent's status %q", got)
	}
}

// A crash between a git step of the engine's and showing it to the agent
// (its repository still at the commit before, or gone) is repaired when
// the worktree is next opened, the agent's files untouched.
func TestAgentRepositoryIsShownAgainAfterACrash(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	path := filepath.Join(f.root, "wt", "issue-18")
	w, _, err := m.Worktree(ctx, path, "agentorg/issue-18", mainBase)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(path, "a.txt"), "a\n")
	sha, _, err := w.CommitAll(ctx, "a", tester)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(path, "wip.txt"), "wip\n")
	for _, crash := range []func(){
		func() { agent(t, path, intruder, "update-ref", "refs/heads/agentorg/issue-18", f.base) },
		func() { os.RemoveAll(filepath.Join(path, ".git")) },
	} {
		crash()
		if _, _, err := m.Worktree(ctx, path, "agentorg/issue-18", mainBase); err != nil {
			t.Fatal(err)
		}
		if got := agent(t, path, intruder, "rev-parse", "HEAD"); got != sha {
			t.Fatalf("the agent's HEAD is %s, want %s", got, sha)
		}
		if got := agent(t, path, intruder, "status", "--porcelain"); got != "?? wip.txt" {
			t.Fatalf("the agent's status %q", got)
		}
	}
}
