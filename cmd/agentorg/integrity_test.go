package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/workflow"
)

// homeOrg is an organization driven through the agentorg binary: a sample
// origin and repository holding the workflow, a home, a scripted agent.
type homeOrg struct {
	dir, home, wf, origin string
	env                   []string
}

// newHomeOrg lays out an organization in dir with the scripted agent
// playing script and check as the workflow's check.
func newHomeOrg(t *testing.T, dir, script, check string) *homeOrg {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "script.yaml"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "sessions"), 0o755)
	text := string(workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git", Check: check, E2E: "true",
		AgentCommand: []string{bin, "scripted-agent", "--script", filepath.Join(dir, "script.yaml"), "--state", filepath.Join(dir, "sessions")},
	}))
	repo, origin, err := sample.Make(context.Background(), filepath.Join(dir, "sample"), map[string]string{workflow.DefaultPath: text})
	if err != nil {
		t.Fatal(err)
	}
	return orgAt(dir, filepath.Join(dir, "home"), filepath.Join(repo, workflow.DefaultPath), origin)
}

func orgAt(dir, home, wf, origin string) *homeOrg {
	return &homeOrg{dir: dir, home: home, wf: wf, origin: origin,
		env: []string{"AGENTORG_HOME=" + home, "AGENTORG_WORKFLOW=" + wf}}
}

func (o *homeOrg) try(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, o.dir, o.env, args...)
}

func (o *homeOrg) must(t *testing.T, args ...string) result {
	t.Helper()
	r := o.try(t, args...)
	if r.code != 0 {
		t.Fatalf("agentorg %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (o *homeOrg) labels(t *testing.T, n int64) string {
	t.Helper()
	var issues []struct {
		Number int64
		State  string
		Labels []string
	}
	r := o.must(t, "issue", "list", "--state", "all", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &issues); err != nil {
		t.Fatalf("issue list --json: %v\n%s", err, r.stdout)
	}
	for _, is := range issues {
		if is.Number == n {
			return is.State + " " + strings.Join(is.Labels, ",")
		}
	}
	return "missing"
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// usedScript plans every issue; #1's developer writes a working Twice, #2's
// a Neg whose test keeps failing, so #2 is escalated.
const usedScript = onceScript

// The used home, built once: #1 waits at the merge request gate (its
// worktree, a GO attempt, cached checks), #2 was escalated (its worktree,
// NO-GO attempts). Tests take a copy of the whole directory (usedCopy).
var usedHome struct {
	once sync.Once
	dir  string
	err  string
}

func usedCopy(t *testing.T) *homeOrg {
	t.Helper()
	usedHome.once.Do(func() {
		dir := filepath.Join(filepath.Dir(bin), "used")
		os.MkdirAll(dir, 0o755)
		o := newHomeOrg(t, dir, usedScript, "go test ./...")
		steps := [][]string{
			{"issue", "new", "--title", "Add Twice", "--opt-in", "--as", "alice"},
			{"issue", "new", "--title", "Add Neg", "--opt-in", "--as", "alice"},
			{"serve", "--once"},
			{"approve", "1", "--as", "alice"},
			{"approve", "2", "--as", "alice"},
			{"serve", "--once"},
		}
		for _, args := range steps {
			if r := o.try(t, args...); r.code != 0 && args[0] != "serve" {
				usedHome.err = fmt.Sprintf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
				return
			}
		}
		usedHome.dir = dir
	})
	if usedHome.err != "" {
		t.Fatalf("building the used home: %s", usedHome.err)
	}
	dst := filepath.Join(t.TempDir(), "org")
	if out, err := exec.Command("cp", "-a", usedHome.dir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy the used home: %v\n%s", err, out)
	}
	return orgAt(dst, filepath.Join(dst, "home"), filepath.Join(dst, "sample", "repo", workflow.DefaultPath), filepath.Join(dst, "sample", "origin.git"))
}

// snapshot is every file under dir with a digest of its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			files[rel+"/"] = "dir"
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			files[rel] = "-> " + target
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameFiles(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, h := range after {
		if before[p] != h {
			t.Errorf("%s: %s was written", what, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s was removed", what, p)
		}
	}
}

// plantGarbagePage overwrites one page in the middle of the database with
// bytes that are no b-tree page, trying the pages from the middle on until
// SQLite's integrity_check sees the damage (a free page would not show).
func plantGarbagePage(t *testing.T, dbPath string) {
	t.Helper()
	orig, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	pages := len(orig) / page
	garbage := []byte(strings.Repeat("agentorg garbage ", page/17+1))[:page]
	// Tried on a copy: SQLite leaves its -wal and -shm files beside a
	// database it read, and the home must hold only what agentorg left.
	try := filepath.Join(t.TempDir(), "try.db")
	for p := pages / 2; p < pages; p++ {
		damaged := append([]byte(nil), orig...)
		copy(damaged[p*page:], garbage)
		if err := os.WriteFile(try, damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := sqlitedb.OpenToRead(try)
		if err != nil {
			t.Fatal(err)
		}
		problems, err := sqlitedb.IntegrityCheck(context.Background(), db, 5)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) > 0 {
			if err := os.WriteFile(dbPath, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no page from the middle of %s on shows as damage when overwritten", dbPath)
}

// docs/lifecycle.md: a lost or damaged database is never silently made
// new. An empty (0-byte) agentorg.db in a used home, a missing one, and
// one with a page of garbage in the middle: every command refuses with a
// message that says what is wrong and what to do, and writes nothing.
func TestDamagedDatabaseIsRefusedByEveryCommand(t *testing.T) {
	for _, c := range []struct {
		name, want string
		damage     func(t *testing.T, db string)
	}{
		{"empty", "agentorg.db is empty (0 bytes), but this home has been used", func(t *testing.T, db string) {
			if err := os.Truncate(db, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing", "agentorg.db is missing, but this home has been used", func(t *testing.T, db string) {
			if err := os.Remove(db); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage page", "agentorg.db is damaged: SQLite's quick_check found a problem", plantGarbagePage},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := usedCopy(t)
			o.must(t, "status") // the copy is repaired for its new place first
			c.damage(t, filepath.Join(o.home, "agentorg.db"))
			before := snapshot(t, o.home)
			for _, args := range [][]string{
				{"issue", "list"},
				{"issue", "new", "--title", "Written anyway?", "--as", "alice"},
				{"serve", "--once"},
				{"status"},
				{"events"},
			} {
				r := o.try(t, args...)
				what := "agentorg " + strings.Join(args, " ")
				if r.code != 1 {
					t.Errorf("%s: exit %d, want 1\n%s%s", what, r.code, r.stdout, r.stderr)
				}
				for _, want := range []string{c.want, "Nothing was changed.", "restore " + filepath.Join(o.home, "agentorg.db") + " from a backup",
					"mv " + o.home + " " + o.home + ".damaged", "agentorg fsck"} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("%s does not say %q:\n%s", what, want, r.stderr)
					}
				}
				sameFiles(t, what, before, snapshot(t, o.home))
			}
			// fsck reads the damaged home, says the same, and exits 1.
			r := o.try(t, "fsck")
			if r.code != 1 || !strings.Contains(r.stdout, "problem: the database") || !strings.Contains(r.stdout, "fix: restore ") {
				t.Errorf("fsck on a damaged home: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			sameFiles(t, "agentorg fsck", before, snapshot(t, o.home))
		})
	}
}

// A new home is not a used one: nothing there yet, the first command makes
// it.
func TestANewHomeIsMadeNotRefused(t *testing.T) {
	o := newHomeOrg(t, t.TempDir(), usedScript, "true")
	r := o.must(t, "issue", "new", "--title", "First", "--as", "alice")
	if !strings.Contains(r.stdout, "#1 First") {
		t.Fatalf("issue new in a new home: %s", r.stdout)
	}
	var hf struct{ Workflow, ID, Path string }
	b, _ := os.ReadFile(filepath.Join(o.home, "home.json"))
	if err := json.Unmarshal(b, &hf); err != nil || hf.ID == "" || hf.Path != o.home || hf.Workflow != o.wf {
		t.Fatalf("home.json should name the workflow, the home's identity and its place: %s (%v)", b, err)
	}
}

// twiceThenNeg: the first #1 adds Twice; the #1 of the home restored from
// a backup adds Neg. Attempt 2 (after a rejection) adds Thrice.
const twiceThenNeg = `
steps:
  - match: {role: pm}
    summary: "Add the function.\n\n## Acceptance criteria\n- [ ] ` + "`go test ./...`" + ` passes"
  - match: {role: developer, title: "Add Neg"}
    actions:
      - write: {path: neg.go, content: "package calc\n\n// Neg returns -n.\nfunc Neg(n int) int { return -n }\n"}
    summary: Added Neg.
  - match: {role: developer, attempt: 2}
    actions:
      - write: {path: thrice.go, content: "package calc\n\n// Thrice returns 3n.\nfunc Thrice(n int) int { return 3 * n }\n"}
    summary: Added Thrice.
  - match: {role: developer}
    actions:
      - write: {path: twice.go, content: "package calc\n\n// Twice returns 2n.\nfunc Twice(n int) int { return Add(n, n) }\n"}
    summary: Added Twice.
`

// toMergeGate opens an issue and drives it to its merge request.
func (o *homeOrg) toMergeGate(t *testing.T, title string) {
	t.Helper()
	o.must(t, "issue", "new", "--title", title, "--opt-in", "--as", "alice")
	o.must(t, "serve", "--once")
	o.must(t, "approve", "1", "--as", "alice")
	o.must(t, "serve", "--once")
	if got := o.labels(t, 1); got != "open mr:ready-for-review" {
		t.Fatalf("#1 is %s, want open mr:ready-for-review", got)
	}
}

// docs/lifecycle.md I14: a home never reuses a worktree or a branch it did
// not make. The database is restored from a backup taken before #1 was
// opened, so the next issue is #1 again, over the old #1's worktree, its
// branch in the mirror and its branch on the origin. The old worktree and
// mirror branch are moved aside (kept whole), the new #1 gets its own, and
// the push that would overwrite the old #1's branch on the origin is
// refused with a message, the branch left alone.
func TestARestoredHomeDoesNotReuseWorktreesOrBranchesItDidNotMake(t *testing.T) {
	o := newHomeOrg(t, t.TempDir(), twiceThenNeg, "go test ./...")
	o.must(t, "issue", "list") // makes the home
	backup, err := os.ReadFile(filepath.Join(o.home, "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	o.toMergeGate(t, "Add Twice")
	oldHead := gitOut(t, o.origin, "rev-parse", "refs/heads/agentorg/issue-1")

	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(o.home, "agentorg.db"+suffix))
	}
	if err := os.WriteFile(filepath.Join(o.home, "agentorg.db"), backup, 0o644); err != nil {
		t.Fatal(err)
	}
	r := o.must(t, "issue", "new", "--title", "Add Neg", "--opt-in", "--as", "alice")
	if !strings.HasPrefix(r.stdout, "#1 Add Neg") {
		t.Fatalf("the restored tracker should number the issue 1 again: %s", r.stdout)
	}
	o.must(t, "serve", "--once")
	o.must(t, "approve", "1", "--as", "alice")
	r = o.try(t, "serve", "--once")
	if r.code != 1 || o.labels(t, 1) != "open needs:human" {
		t.Fatalf("the push over the old #1's branch should hand #1 to a human: exit %d, %s\n%s%s", r.code, o.labels(t, 1), r.stdout, r.stderr)
	}

	// The new #1 worked in a worktree of its own, from main.
	wt := filepath.Join(o.home, "worktrees", "issue-1")
	if _, err := os.Stat(filepath.Join(wt, "neg.go")); err != nil {
		t.Errorf("the new #1's worktree lacks its neg.go: %v", err)
	}
	if _, err := os.Stat(filepath.Join(wt, "twice.go")); err == nil {
		t.Error("the new #1's worktree holds the old #1's twice.go: the old worktree was reused")
	}
	// The old one is kept aside, whole, on its branch renamed aside.
	aside, _ := filepath.Glob(filepath.Join(o.home, "aside", "issue-1-*"))
	if len(aside) != 1 {
		t.Fatalf("want the old worktree in aside/, got %v", aside)
	}
	if _, err := os.Stat(filepath.Join(aside[0], "twice.go")); err != nil {
		t.Errorf("the old worktree moved aside lost its twice.go: %v", err)
	}
	if got := gitOut(t, aside[0], "rev-parse", "HEAD"); got != oldHead {
		t.Errorf("the old worktree moved aside is at %s, want the old #1's %s", got, oldHead)
	}
	if refs := gitOut(t, filepath.Join(o.home, "mirror.git"), "for-each-ref", "--format=%(refname)", "refs/heads/agentorg-aside/"); !strings.HasSuffix(refs, "/agentorg/issue-1") {
		t.Errorf("the old #1's mirror branch should be renamed aside, got %q", refs)
	}
	// The origin's branch is the old #1's still.
	if got := gitOut(t, o.origin, "rev-parse", "refs/heads/agentorg/issue-1"); got != oldHead {
		t.Errorf("the origin's agentorg/issue-1 moved from the old #1's %s to %s", oldHead, got)
	}
	r = o.must(t, "events", "--issue", "1", "--json")
	for _, want := range []string{"was not made by this home", "moved aside to " + aside[0], "renamed agentorg-aside/",
		"already has branch agentorg/issue-1", "which this home did not push", "leaves it alone"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the events of #1 do not say %q:\n%s", want, r.stdout)
		}
	}
}

// A home can be moved: with #1 at its merge request, the home is moved
// (mv home home2); the first command there says once what it repaired, and
// #1 goes on in its worktree (a rejection sends it back to the developer,
// whose second attempt adds to the first) to its merge.
func TestAMovedHomeGoesOn(t *testing.T) {
	o := newHomeOrg(t, t.TempDir(), twiceThenNeg, "go test ./...")
	o.toMergeGate(t, "Add Twice")
	home2 := filepath.Join(o.dir, "home2")
	if err := os.Rename(o.home, home2); err != nil {
		t.Fatal(err)
	}
	old := o.home
	o = orgAt(o.dir, home2, o.wf, o.origin)

	r := o.must(t, "status")
	if want := fmt.Sprintf("agentorg: the home moved from %s to %s: repaired 1 worktree link(s)", old, home2); !strings.Contains(r.stderr, want) {
		t.Errorf("the first command in the moved home should say %q:\n%s", want, r.stderr)
	}
	if r = o.must(t, "status"); strings.Contains(r.stderr, "moved") {
		t.Errorf("the move is said once, not again:\n%s", r.stderr)
	}
	o.must(t, "reject", "1", "--as", "alice", "--reason", "Add Thrice too.")
	o.must(t, "serve", "--once")
	o.must(t, "approve", "1", "--as", "alice")
	o.must(t, "serve", "--once")
	if got := o.labels(t, 1); got != "closed e2e:done" {
		t.Fatalf("#1 is %s after the move, want closed e2e:done", got)
	}
	files := gitOut(t, o.origin, "ls-tree", "--name-only", "main")
	for _, f := range []string{"twice.go", "thrice.go"} {
		if !strings.Contains(files, f) {
			t.Errorf("main lacks %s, from attempt 1 and 2 in the moved worktree:\n%s", f, files)
		}
	}
	if list := gitOut(t, filepath.Join(home2, "mirror.git"), "worktree", "list"); strings.Contains(list, old+"/") {
		t.Errorf("the mirror still names the old home:\n%s", list)
	}
	if r := o.try(t, "fsck"); r.code != 0 {
		t.Errorf("fsck after the move: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
