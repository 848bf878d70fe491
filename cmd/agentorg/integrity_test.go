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
	"regexp"
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
		// The scripted agent keeps its sessions there, confined or not.
		Agent: workflow.AgentOptions{Writable: []string{filepath.Join(dir, "sessions") + "/"}},
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

// docs/lifecycle.md I18: a lost or damaged database is never silently made
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

// docs/lifecycle.md I17: a home never reuses a worktree or a branch it did
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
	// The origin holds the squashed commit agentorg wrote; the worktree
	// holds the attempt's own commits.
	oldWorkHead := gitOut(t, filepath.Join(o.home, "worktrees", "issue-1"), "rev-parse", "HEAD")

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
	if got := gitOut(t, aside[0], "rev-parse", "HEAD"); got != oldWorkHead {
		t.Errorf("the old worktree moved aside is at %s, want the old #1's %s", got, oldWorkHead)
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

// fsck finds each problem planted in a sound home, each with a fix, and
// exits 1: a worktree of a closed issue, one of no issue, one another home
// made, an agent run whose transcript is gone, an object missing from the
// mirror.
func TestFsckFindsEachPlantedProblem(t *testing.T) {
	o := usedCopy(t)
	if r := o.try(t, "fsck"); r.code != 0 || !strings.Contains(r.stdout, "ok: the home is sound") {
		t.Fatalf("fsck on a sound home: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mirror := filepath.Join(o.home, "mirror.git")
	o.must(t, "issue", "close", "1", "--as", "alice")
	gitOut(t, mirror, "worktree", "add", "--quiet", "--detach", filepath.Join(o.home, "worktrees", "issue-99"), "refs/remotes/origin/main")
	marker := filepath.Join(mirror, "agentorg-trees", "issue-2", "agentorg-home")
	if err := os.WriteFile(marker, []byte("0123456789abcdef01234567 feedface\n"), 0o644); err != nil {
		t.Fatalf("the worktree of #2 should carry this home's marker: %v", err)
	}
	var runs []struct {
		RunID string `json:"run_id"`
		Kind  string
	}
	if err := json.Unmarshal([]byte(o.must(t, "events", "--issue", "2", "--json").stdout), &runs); err != nil {
		t.Fatal(err)
	}
	gone := ""
	for _, e := range runs {
		if e.Kind == "agent" {
			gone = e.RunID
		}
	}
	if gone == "" || os.Remove(filepath.Join(o.home, "runs", gone+".log")) != nil {
		t.Fatalf("no transcript of an agent run of #2 to remove (run %q)", gone)
	}
	tree := gitOut(t, mirror, "rev-parse", "refs/remotes/origin/main^{tree}")
	if err := os.Remove(filepath.Join(mirror, "objects", tree[:2], tree[2:])); err != nil {
		t.Fatalf("the tree of main should be a loose object of the mirror: %v", err)
	}

	r := o.try(t, "fsck")
	if r.code != 1 {
		t.Fatalf("fsck with planted problems: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"problem: worktree issue-1 belongs to #1, which is closed\n    fix: agentorg gc removes it",
		"problem: worktree issue-99 belongs to issue #99, which the tracker does not have\n    fix: ",
		"problem: worktree issue-2 was not made by this home",
		"problem: 1 of ",
		"agent runs have no transcript in runs/: " + gone + " (#2)\n    fix: ",
		"problem: the mirror is not a sound git repository: ",
		"ok: the database passes SQLite's integrity_check",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("fsck does not say %q:\n%s", want, r.stdout)
		}
	}
}

// gc removes what is done with and keeps what open issues need, with
// figures: #2, escalated, is closed by a person; its worktree, branch,
// events and transcripts go; #1, open at its merge request, keeps its
// worktree, events, transcripts, attempts and cached checks. --dry-run
// says the same and changes nothing.
func TestGCRemovesWhatIsDoneWithAndKeepsWhatOpenIssuesNeed(t *testing.T) {
	o := usedCopy(t)
	o.must(t, "issue", "close", "2", "--as", "alice")
	attempts1 := o.must(t, "issue", "show", "1", "--json").stdout
	events1 := o.must(t, "events", "--issue", "1", "--json").stdout
	attempts2 := o.must(t, "issue", "show", "2", "--json").stdout
	cached := cacheRows(t, o.home)

	before := snapshot(t, o.home)
	dry := o.must(t, "gc", "--dry-run", "--older-than", "0d")
	sameFiles(t, "gc --dry-run", before, snapshot(t, o.home))
	r := o.must(t, "gc", "--older-than", "0d")
	for _, out := range []string{dry.stdout, r.stdout} {
		for _, want := range []string{"  worktrees               2 -> 1        (1 of closed issues)", "  issue branches          2 -> 1        (1 of closed issues)",
			"  transcripts ", "  events ", "  check cache ", "  judgement cache ", "  claim log ", "  workers ", "  database ", "  mirror ", "  origin "} {
			if !strings.Contains(out, want) {
				t.Errorf("gc's figures lack %q:\n%s", want, out)
			}
		}
		// Every claim of the engine, stopped, has ended: all go at 0d.
		if m := regexp.MustCompile(`claim log +(\d+) -> 0 `).FindStringSubmatch(out); m == nil || m[1] == "0" {
			t.Errorf("gc should prune every ended claim:\n%s", out)
		}
	}
	if !strings.Contains(r.stdout, "(git gc)") || !strings.Contains(r.stdout, "(VACUUM)") {
		t.Errorf("gc should pack the mirror and the origin agentorg made, and vacuum:\n%s", r.stdout)
	}

	if _, err := os.Stat(filepath.Join(o.home, "worktrees", "issue-2")); err == nil {
		t.Error("the worktree of #2, closed, is still there")
	}
	if _, err := os.Stat(filepath.Join(o.home, "worktrees", "issue-1", "twice.go")); err != nil {
		t.Errorf("the worktree of #1, open, is gone: %v", err)
	}
	branches := gitOut(t, filepath.Join(o.home, "mirror.git"), "for-each-ref", "--format=%(refname:strip=2)", "refs/heads/agentorg/")
	if branches != "agentorg/issue-1" {
		t.Errorf("the mirror's issue branches are %q, want only agentorg/issue-1", branches)
	}
	if got := o.must(t, "issue", "show", "1", "--json").stdout; got != attempts1 {
		t.Errorf("#1 changed under gc:\n%s\nwas\n%s", got, attempts1)
	}
	if got := o.must(t, "events", "--issue", "1", "--json").stdout; !strings.HasPrefix(got, strings.TrimSuffix(strings.TrimSpace(events1), "]")) {
		t.Errorf("#1's events were pruned")
	}
	if got := o.must(t, "events", "--issue", "2", "--json").stdout; strings.Contains(got, `"kind": "agent"`) {
		t.Errorf("#2's events older than 0d should be gone:\n%.400s", got)
	}
	var shown2 struct{ Attempts []struct{ N int } }
	json.Unmarshal([]byte(o.must(t, "issue", "show", "2", "--json").stdout), &shown2)
	var was2 struct{ Attempts []struct{ N int } }
	json.Unmarshal([]byte(attempts2), &was2)
	if len(was2.Attempts) == 0 || len(shown2.Attempts) != len(was2.Attempts) {
		t.Errorf("attempts are never removed: #2 had %d, has %d", len(was2.Attempts), len(shown2.Attempts))
	}
	after := cacheRows(t, o.home)
	if after["check"] == 0 || after["check"] >= cached["check"] {
		t.Errorf("check cache rows: %d before, %d after; want #1's and the target's kept and #2's removed", cached["check"], after["check"])
	}
	if r := o.must(t, "logs", "--issue", "1"); !strings.Contains(r.stdout, "=== ") {
		t.Errorf("#1's transcripts should stay:\n%s", r.stdout)
	}
	if r := o.try(t, "fsck"); r.code != 0 {
		t.Errorf("fsck after gc: exit %d\n%s", r.code, r.stdout)
	}
	// The cache #1 needs is there: validating #1 again runs no check.
	o.must(t, "label", "add", "1", "dev:done", "--as", "alice")
	o.must(t, "serve", "--once")
	if got := cacheRows(t, o.home); got["check"] != after["check"] {
		t.Errorf("validating #1 again ran checks (cache rows %d -> %d): its cache was pruned", after["check"], got["check"])
	}
}

// cacheRows counts the rows of the check and judgement caches.
func cacheRows(t *testing.T, home string) map[string]int {
	t.Helper()
	db, err := sqlitedb.OpenToRead(filepath.Join(home, "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int{}
	for k, table := range map[string]string{"check": "agentorg_check_cache", "judgement": "agentorg_judgement_cache"} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

// A run's transcript is capped (AGENTORG_TRANSCRIPT_MAX): a check that
// prints 1.2 MB leaves a transcript of at most the cap that keeps how it
// began and how it ended, with a line saying how much was cut between.
func TestTranscriptCapKeepsHeadAndTail(t *testing.T) {
	o := newHomeOrg(t, t.TempDir(), usedScript, "seq 1 200000")
	o.must(t, "issue", "new", "--title", "Add Twice", "--opt-in", "--as", "alice")
	o.env = append(o.env, "AGENTORG_TRANSCRIPT_MAX=64KiB")
	o.must(t, "serve", "--once") // the plan: the baseline runs the check
	logs, _ := filepath.Glob(filepath.Join(o.home, "runs", "*.log"))
	if len(logs) != 1 {
		t.Fatalf("want the plan's transcript, got %v", logs)
	}
	if fi, _ := os.Stat(logs[0]); fi.Size() > 64<<10+512 {
		t.Errorf("the transcript has %d bytes, over the cap of 64 KiB", fi.Size())
	}
	r := o.must(t, "logs", "--issue", "1")
	for _, want := range []string{"\n1\n2\n3\n", " bytes cut here; a transcript keeps its first 32 KiB and its last bytes, up to 64 KiB in all", "\n199999\n200000\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("logs --issue 1 lacks %q:\n%.300s\n...\n%s", want, r.stdout, r.stdout[max(0, len(r.stdout)-300):])
		}
	}
	o.env[len(o.env)-1] = "AGENTORG_TRANSCRIPT_MAX=lots"
	if r := o.try(t, "serve", "--once"); r.code == 0 || !strings.Contains(r.stderr, `AGENTORG_TRANSCRIPT_MAX: "lots" is not a size`) {
		t.Errorf("a bad AGENTORG_TRANSCRIPT_MAX: exit %d %s", r.code, r.stderr)
	}
}

// While an engine holds the home, gc does only what is safe beside it
// (rows, transcripts), says so, and leaves the worktrees and git objects.
func TestGCBesideARunningEngineLeavesWorktreesAndGit(t *testing.T) {
	o := usedCopy(t)
	o.must(t, "issue", "close", "2", "--as", "alice")
	// An engine's lock names a live process: this test's.
	if err := os.WriteFile(filepath.Join(o.home, "engine.lock"), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	r := o.must(t, "gc", "--older-than", "0d")
	for _, want := range []string{fmt.Sprintf("an engine runs on this home (pid %d): gc does only what is safe beside it", os.Getpid()),
		"  events ", "  transcripts ", "worktrees, branches, git objects and the database file: left alone while the engine runs"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("gc beside an engine does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "(git gc)") || strings.Contains(r.stdout, "(VACUUM)") {
		t.Errorf("gc beside an engine packed or vacuumed:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(o.home, "worktrees", "issue-2")); err != nil {
		t.Errorf("gc beside an engine removed a worktree: %v", err)
	}
	if got := o.must(t, "events", "--issue", "2", "--json").stdout; strings.Contains(got, `"kind": "agent"`) {
		t.Errorf("#2's old events should be pruned beside the engine too")
	}
}
