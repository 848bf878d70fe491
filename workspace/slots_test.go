package workspace

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// slotCommits makes two commits that exercise what a checkout holds: nested
// directories, an executable, a symlink, an ignored pattern, and between
// them a changed, a removed and an added file, a file that becomes a
// directory and a directory that becomes a file.
func slotCommits(t *testing.T, f *fixture) (a, b string) {
	t.Helper()
	a = f.commitEdit(t, "main", f.base, func(seed string) {
		writeFile(t, filepath.Join(seed, "sub", "a.txt"), "aaaa\n")
		writeFile(t, filepath.Join(seed, "sub", "deep", "b.txt"), "bbbb\n")
		writeFile(t, filepath.Join(seed, "gone.txt"), "soon gone\n")
		writeFile(t, filepath.Join(seed, "flip"), "a file, then a directory\n")
		writeFile(t, filepath.Join(seed, "flop", "x"), "a directory, then a file\n")
		writeFile(t, filepath.Join(seed, "dir2", "x.txt"), "x\n")
		writeFile(t, filepath.Join(seed, "run.sh"), "#!/bin/sh\n")
		if err := os.Chmod(filepath.Join(seed, "run.sh"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("README", filepath.Join(seed, "link")); err != nil {
			t.Fatal(err)
		}
	}, "a")
	b = f.commitEdit(t, "main", a, func(seed string) {
		writeFile(t, filepath.Join(seed, "README"), "changed\n")
		writeFile(t, filepath.Join(seed, "new.txt"), "new\n")
		os.Remove(filepath.Join(seed, "gone.txt"))
		os.Remove(filepath.Join(seed, "flip"))
		writeFile(t, filepath.Join(seed, "flip", "inner.txt"), "now a directory\n")
		os.RemoveAll(filepath.Join(seed, "flop"))
		writeFile(t, filepath.Join(seed, "flop"), "now a file\n")
	}, "b")
	return a, b
}

// snapshot describes every entry under dir but its .git file: type, mode,
// and content or link target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == ".git" && d.IsDir() {
			return fs.SkipDir
		}
		if rel == "." || rel == ".git" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gitView is what git says of a checkout: HEAD (detached or not), status
// with ignored files, and the index with its flags.
func gitView(t *testing.T, dir string) string {
	t.Helper()
	sym, _ := git(ctx, dir, "symbolic-ref", "-q", "HEAD")
	return strings.Join([]string{
		"HEAD " + g(t, dir, "rev-parse", "HEAD"),
		"symbolic " + strings.TrimSpace(sym),
		"status " + g(t, dir, "status", "--porcelain", "--ignored", "--untracked-files=all"),
		"index " + g(t, dir, "ls-files", "--stage", "--debug"),
		"flags " + g(t, dir, "ls-files", "-v"),
	}, "\n")
}

// indexWithoutStat drops the stat data ls-files --debug prints (it differs
// between any two checkouts) and keeps the flags.
func indexWithoutStat(view string) string {
	var keep []string
	for _, line := range strings.Split(view, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "ctime:") || strings.HasPrefix(l, "mtime:") || strings.HasPrefix(l, "dev:") || strings.HasPrefix(l, "uid:") || strings.HasPrefix(l, "size:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// fresh makes the reference: a detached worktree of sha made by git itself.
func fresh(t *testing.T, m *Mirror, sha string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fresh")
	g(t, m.Dir, "worktree", "add", "--quiet", "--detach", dir, sha)
	t.Cleanup(func() { git(ctx, m.Dir, "worktree", "remove", "--force", dir) })
	return dir
}

// sameAsFresh fails the test unless the leased dir is what a fresh
// checkout of sha is, to git and on disk.
func sameAsFresh(t *testing.T, m *Mirror, dir, sha string) {
	t.Helper()
	ref := fresh(t, m, sha)
	got, want := snapshot(t, dir), snapshot(t, ref)
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
	for p, v := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %q should not be there", p, v)
		}
	}
	if gv, wv := indexWithoutStat(gitView(t, dir)), indexWithoutStat(gitView(t, ref)); gv != wv {
		t.Errorf("git sees\n%s\nwant\n%s", gv, wv)
	}
	if !m.ownedTree(dir) {
		t.Errorf("%s/.git does not borrow the mirror's objects", dir)
	}
	admin, st := m.treeOf(dir)
	if st != treeSettled {
		t.Fatalf("%s has no git directory of the engine's (%v)", dir, st)
	}
	entries, _ := os.ReadDir(admin)
	for _, e := range entries {
		if !adminKeep[e.Name()] {
			t.Errorf("registration still holds %s", e.Name())
		}
	}
}

// Every kind of dirt a run can leave in its checkout is gone when the slot
// is leased again, for the same commit or another: the slot is then what a
// fresh checkout is, file for file and to git: the clean checkout a
// validation runs in (docs/lifecycle.md I2), and a read-only agent's
// repository whose planted config and hooks no later lease runs (I16).
func TestLeaseIsAsCleanAsAFreshCheckout(t *testing.T) {
	f := newFixture(t)
	a, b := slotCommits(t, f)
	m := f.mirror(t)
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "x.txt"), "outside\n")

	// Whether the slot itself is brought back, or given up for a new one.
	const (
		reused = iota
		replaced
		either // git notices the change or not, by the clock
	)
	type dirt struct {
		name string
		make func(t *testing.T, dir string)
		want int
	}
	dirts := []dirt{
		{"modified tracked files", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "README"), "dirty\n")
			writeFile(t, filepath.Join(dir, "sub", "a.txt"), "AAAA\n") // same size, same second
			writeFile(t, filepath.Join(dir, "gone.txt"), "modified, and not in b\n")
		}, reused},
		{"deleted tracked files", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "shared.txt"))
			os.RemoveAll(filepath.Join(dir, "sub"))
			os.Remove(filepath.Join(dir, "link"))
		}, reused},
		{"untracked files and directories", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "junk.txt"), "junk\n")
			writeFile(t, filepath.Join(dir, "newdir", "x", "y"), "y\n")
			writeFile(t, filepath.Join(dir, "new.txt"), "untracked here, tracked in b\n")
			writeFile(t, filepath.Join(dir, "flip.d", "z"), "z\n")
			os.MkdirAll(filepath.Join(dir, "empty", "dirs"), 0o755)
			os.Symlink(outside, filepath.Join(dir, "outlink"))
		}, reused},
		{"ignored files", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "ignored", "cache", "f"), "cached\n")
			writeFile(t, filepath.Join(dir, "build.log"), "log\n")
			writeFile(t, filepath.Join(dir, "sub", "deep", "x.log"), "log\n")
		}, reused},
		{"nested repositories", func(t *testing.T, dir string) {
			g(t, dir, "init", "--quiet", "nested")
			writeFile(t, filepath.Join(dir, "nested", "f"), "f\n")
			g(t, filepath.Join(dir, "nested"), "add", "f")
			if _, err := gitWith(ctx, filepath.Join(dir, "nested"), tester, nil, "commit", "--quiet", "-m", "n"); err != nil {
				t.Fatal(err)
			}
			g(t, dir, "init", "--quiet", filepath.Join("ignored", "repo"))
		}, reused},
		{"a file replaced by a directory and a directory by a file", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "shared.txt"))
			writeFile(t, filepath.Join(dir, "shared.txt", "inner"), "inner\n")
			os.RemoveAll(filepath.Join(dir, "sub"))
			writeFile(t, filepath.Join(dir, "sub"), "a file now\n")
			os.RemoveAll(filepath.Join(dir, "flop"))
			writeFile(t, filepath.Join(dir, "flop"), "a file\n")
		}, reused},
		{"a directory replaced by a symlink out of the slot", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "dir2"))
			if err := os.Symlink(outside, filepath.Join(dir, "dir2")); err != nil {
				t.Fatal(err)
			}
		}, reused},
		{"modes", func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, "run.sh"), 0o644)
			os.Chmod(filepath.Join(dir, "README"), 0o755)
		}, reused},
		{"a read-only directory", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "sub", "deep", "untracked"), "u\n")
			writeFile(t, filepath.Join(dir, "sub", "deep", "b.txt"), "modified\n")
			os.Chmod(filepath.Join(dir, "sub", "deep"), 0o500)
		}, replaced},
		{"a read-only directory with nothing to change in it", func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, "dir2"), 0o500)
		}, replaced},
		{"a read-only file", func(t *testing.T, dir string) {
			// git rewrites it if its ctime moved to another second.
			os.Chmod(filepath.Join(dir, "shared.txt"), 0o444)
		}, either},
		{"a changed HEAD", func(t *testing.T, dir string) {
			g(t, dir, "checkout", "--quiet", "--detach", f.base)
		}, reused},
		{"a new branch and a commit on it", func(t *testing.T, dir string) {
			g(t, dir, "checkout", "--quiet", "-B", "agent-branch")
			writeFile(t, filepath.Join(dir, "committed.txt"), "c\n")
			g(t, dir, "add", "committed.txt")
			if _, err := gitWith(ctx, dir, tester, nil, "commit", "--quiet", "-m", "agent"); err != nil {
				t.Fatal(err)
			}
		}, reused},
		{"staged changes", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "README"), "staged\n")
			writeFile(t, filepath.Join(dir, "staged-new.txt"), "new\n")
			g(t, dir, "add", "README", "staged-new.txt")
			g(t, dir, "rm", "--cached", "--quiet", "shared.txt")
			writeFile(t, filepath.Join(dir, "intent.txt"), "intent\n")
			g(t, dir, "add", "-N", "intent.txt")
		}, reused},
		{"index flags that hide changes", func(t *testing.T, dir string) {
			g(t, dir, "update-index", "--skip-worktree", "sub/a.txt")
			writeFile(t, filepath.Join(dir, "sub", "a.txt"), "hidden change\n")
			g(t, dir, "update-index", "--assume-unchanged", "shared.txt", "README")
			writeFile(t, filepath.Join(dir, "shared.txt"), "assumed unchanged\n")
		}, reused},
		{"an interrupted operation", func(t *testing.T, dir string) {
			for _, name := range []string{"MERGE_HEAD", "index.lock", "ORIG_HEAD"} {
				p := g(t, dir, "rev-parse", "--git-path", name)
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				writeFile(t, p, f.base+"\n")
			}
			g(t, dir, "update-ref", "refs/worktree/mine", f.base)
		}, reused},
		{"a corrupt index", func(t *testing.T, dir string) { // read-tree then writes every file
			p := g(t, dir, "rev-parse", "--git-path", "index")
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			writeFile(t, p, "DIRC\x00\x00\x00\x02garbage")
		}, reused},
		{"a .git file pointing elsewhere", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, ".git"))
			writeFile(t, filepath.Join(dir, ".git"), "gitdir: "+filepath.Join(outside, "nowhere")+"\n")
		}, reused},
		{"a .git symlink out of the slot", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, ".git"))
			if err := os.Symlink(outside, filepath.Join(dir, ".git")); err != nil {
				t.Fatal(err)
			}
		}, reused},
		{"config, a hook and refs planted in the slot's repository", func(t *testing.T, dir string) {
			g(t, dir, "config", "core.fsmonitor", "touch "+filepath.Join(outside, "fsmonitor-ran"))
			g(t, dir, "config", "core.worktree", outside)
			writeFile(t, filepath.Join(dir, ".git", "hooks", "post-checkout"), "#!/bin/sh\ntouch "+filepath.Join(outside, "hook-ran")+"\n")
			os.Chmod(filepath.Join(dir, ".git", "hooks", "post-checkout"), 0o755)
			writeFile(t, filepath.Join(dir, ".git", "refs", "heads", "planted"), f.base+"\n")
		}, reused},
		{"the whole slot deleted", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
		}, replaced},
	}
	for _, d := range dirts {
		for _, target := range []struct{ name, sha string }{{"same commit", a}, {"another commit", b}} {
			t.Run(d.name+"/"+target.name, func(t *testing.T) {
				pool := filepath.Join(t.TempDir(), "slots")
				dir, release, err := m.Lease(ctx, pool, a)
				if err != nil {
					t.Fatal(err)
				}
				sameAsFresh(t, m, dir, a)
				d.make(t, dir)
				if err := release(); err != nil {
					t.Fatal(err)
				}
				dir2, release2, err := m.Lease(ctx, pool, target.sha)
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					release2()
					if err := m.RemoveIdleSlots(ctx, pool); err != nil {
						t.Error(err)
					}
				}()
				if got := map[bool]int{true: reused, false: replaced}[dir2 == dir]; d.want != either && got != d.want {
					t.Errorf("slot reused: %v, want %v", dir2 == dir, d.want == reused)
				}
				if dir2 != dir {
					if _, err := os.Lstat(dir); !os.IsNotExist(err) {
						t.Errorf("the slot given up is still there: %v", err)
					}
					if _, ok := trees(t, m)[dir]; ok {
						t.Errorf("the slot given up still has its git directory")
					}
				}
				sameAsFresh(t, m, dir2, target.sha)
				if got := readFile(t, filepath.Join(outside, "x.txt")); got != "outside\n" {
					t.Errorf("a file outside the slot was changed: %q", got)
				}
				if entries, _ := os.ReadDir(outside); len(entries) != 1 {
					t.Errorf("something was written outside the slot: %v", entries)
				}
			})
		}
	}
}

// Leases running at once each get a slot of their own, and every one is
// at its commit.
func TestConcurrentLeasesNeverShareASlot(t *testing.T) {
	f := newFixture(t)
	a, b := slotCommits(t, f)
	m := f.mirror(t)
	pool := filepath.Join(f.root, "slots")
	var mu sync.Mutex
	held := map[string]bool{}
	seen := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 12 {
		wg.Go(func() {
			for j := range 5 {
				sha, want := a, "hello\n"
				if (i+j)%2 == 1 {
					sha, want = b, "changed\n"
				}
				dir, release, err := m.Lease(ctx, pool, sha)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if held[dir] {
					errs <- fmt.Errorf("%s leased twice at once", dir)
				}
				held[dir], seen[dir] = true, true
				mu.Unlock()
				if got, err := os.ReadFile(filepath.Join(dir, "README")); err != nil || string(got) != want {
					errs <- fmt.Errorf("%s: README %q, %v; want %q", dir, got, err, want)
				}
				writeFile(t, filepath.Join(dir, fmt.Sprintf("dirt-%d-%d", i, j)), "x\n")
				mu.Lock()
				delete(held, dir)
				mu.Unlock()
				if err := release(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	entries, _ := os.ReadDir(pool)
	if len(entries) > maxIdleSlots {
		t.Errorf("%d slots kept idle, at most %d wanted", len(entries), maxIdleSlots)
	}
	if len(seen) >= 60 {
		t.Errorf("no slot was reused: %d slots for 60 leases", len(seen))
	}
	t.Logf("%d slots for 60 leases, %d kept", len(seen), len(entries))
	if err := m.RemoveIdleSlots(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(pool); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(pool)
		t.Errorf("the pool directory is still there, with %v", entries)
	}
	if left := trees(t, m); len(left) != 0 {
		t.Errorf("slots still have git directories: %v", left)
	}
}

// At most maxIdleSlots slots stay idle; a burst beyond is deleted on release.
func TestIdleSlotsAreBounded(t *testing.T) {
	f := newFixture(t)
	m := f.mirror(t)
	pool := filepath.Join(f.root, "slots")
	var releases []func() error
	for range maxIdleSlots + 3 {
		_, release, err := m.Lease(ctx, pool, f.base)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	if entries, _ := os.ReadDir(pool); len(entries) != maxIdleSlots+3 {
		t.Fatalf("%d slots for %d leases", len(entries), maxIdleSlots+3)
	}
	for _, r := range releases {
		if err := r(); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(pool); len(entries) != maxIdleSlots {
		t.Fatalf("%d slots idle, want %d", len(entries), maxIdleSlots)
	}
	if wts := len(trees(t, m)); wts != maxIdleSlots {
		t.Fatalf("%d slots registered, want %d", wts, maxIdleSlots)
	}
}

// What a crashed process left under the pool directory (idle slots, a slot
// still leased, a slot half made) is never leased by a new pool, and
// RemoveIdleSlots sweeps it while sparing what is leased now.
func TestSlotsOfACrashAreNeverLeasedAndAreSwept(t *testing.T) {
	f := newFixture(t)
	pool := filepath.Join(f.root, "slots")
	crashed := f.mirror(t)
	var old []string
	for range 3 {
		dir, release, err := crashed.Lease(ctx, pool, f.base)
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, dir)
		if len(old) < 3 {
			defer release() // never called before the "crash"
		}
	}
	// The third is idle; the crash also interrupted a slot being made.
	half := filepath.Join(pool, "slot-half")
	if err := os.Mkdir(half, 0o777); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(pool, "slot-locked", "README"), "half\n")
	admin := filepath.Join(crashed.Dir, "worktrees", "slot-locked")
	writeFile(t, filepath.Join(admin, "locked"), "initializing")
	writeFile(t, filepath.Join(admin, "gitdir"), filepath.Join(pool, "slot-locked", ".git")+"\n")
	writeFile(t, filepath.Join(admin, "commondir"), "../..\n")
	writeFile(t, filepath.Join(admin, "HEAD"), f.base+"\n")
	writeFile(t, filepath.Join(pool, "slot-locked", ".git"), "gitdir: "+admin+"\n")
	// The same, of the current layout: the engine's git directory locked.
	writeFile(t, filepath.Join(pool, "slot-new", "README"), "half\n")
	admin = filepath.Join(crashed.Dir, treesDir, "slot-new")
	writeFile(t, filepath.Join(admin, "locked"), "initializing")
	writeFile(t, filepath.Join(admin, "gitdir"), filepath.Join(pool, "slot-new", ".git")+"\n")
	writeFile(t, filepath.Join(admin, "commondir"), "../..\n")
	writeFile(t, filepath.Join(admin, "HEAD"), f.base+"\n")

	m := f.mirror(t) // the restarted process
	dir, release, err := m.Lease(ctx, pool, f.base)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(old, dir) || dir == half {
		t.Fatalf("leased %s, a slot the crashed process made", dir)
	}
	if err := m.RemoveIdleSlots(ctx, pool); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(pool)
	if len(entries) != 1 || filepath.Join(pool, entries[0].Name()) != dir {
		t.Fatalf("left %v, want only the live lease %s", entries, dir)
	}
	if got := readFile(t, filepath.Join(dir, "README")); got != "hello\n" {
		t.Fatalf("the live lease was disturbed: README %q", got)
	}
	if list := g(t, m.Dir, "worktree", "list", "--porcelain"); strings.Contains(list, pool) {
		t.Fatalf("legacy registrations left:\n%s", list)
	}
	if left := trees(t, m); len(left) != 1 || left[dir] == "" {
		t.Fatalf("git directories left for %v, want only the live lease's", left)
	}
	// The live lease goes back to the pool and is leased again.
	if err := release(); err != nil {
		t.Fatal(err)
	}
	again, release, err := m.Lease(ctx, pool, f.base)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if again != dir {
		t.Fatalf("leased %s, want the idle %s", again, dir)
	}
}

// readIndex reads what git writes: short names, a long path, executables,
// symlinks; and refuses an index with flags.
func TestReadIndexReadsWhatGitWrites(t *testing.T) {
	dir := t.TempDir()
	g(t, dir, "init", "--quiet")
	want := map[string]uint32{}
	for i := range 40 {
		name := string(rune('a' + i%26))
		if i >= 26 {
			name = "dir/" + name
		}
		writeFile(t, filepath.Join(dir, name), name)
		want[name] = modeFile
	}
	long := strings.Repeat(strings.Repeat("l", 200)+"/", 14) + "f"
	writeFile(t, filepath.Join(dir, long), "long\n")
	want[long] = modeFile
	writeFile(t, filepath.Join(dir, "x.sh"), "#!/bin/sh\n")
	os.Chmod(filepath.Join(dir, "x.sh"), 0o755)
	want["x.sh"] = modeExec
	os.Symlink("a", filepath.Join(dir, "ln"))
	want["ln"] = modeSymlink
	g(t, dir, "-c", "index.version=2", "add", "-A")
	index := filepath.Join(dir, ".git", "index")
	got, err := readIndex(index, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d", len(got), len(want))
	}
	for p, m := range want {
		if got[p] != m {
			t.Errorf("%s: mode %o, want %o", p, got[p], m)
		}
	}
	g(t, dir, "update-index", "--assume-unchanged", "a")
	if _, err := readIndex(index, 20); err == nil {
		t.Error("an entry marked assume-unchanged was read as plain")
	}
	g(t, dir, "update-index", "--no-assume-unchanged", "a")
	g(t, dir, "update-index", "--skip-worktree", "a")
	if _, err := readIndex(index, 20); err == nil {
		t.Error("an index of version 3 was read")
	}
}
