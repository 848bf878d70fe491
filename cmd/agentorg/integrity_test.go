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
