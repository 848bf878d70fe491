package workspace

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
)

// maxIdleSlots bounds the clean checkouts a pool keeps between leases: as
// many as runs usually overlap; a burst beyond it is deleted on release.
const maxIdleSlots = 8

// A pool of slots: detached work trees of the mirror (see tree.go) that runs
// lease one at a time, each brought to the commit asked for. The agents and
// checks that run there see a repository of the slot's own in .git, made
// anew at every lease: nothing one run writes there reaches the mirror or
// the next run. Reusing them instead of
// creating and deleting a checkout per run matters on ext4, where the cost
// of every new inode grows with the inodes freed in the last minutes.
type slotPool struct {
	mu     sync.Mutex
	free   []*slot
	leased map[string]bool // dirs of the slots out on lease or being made
}

type slot struct {
	dir   string
	admin string      // the engine's git directory for it, <mirror>/agentorg-trees/<id>
	mode  fs.FileMode // of the directories git makes in it: 0777 less the umask, and a setgid bit they inherit
}

// pool returns the pool of the slots under dir (absolute).
func (m *Mirror) pool(dir string) *slotPool {
	m.poolsMu.Lock()
	defer m.poolsMu.Unlock()
	if m.pools == nil {
		m.pools = map[string]*slotPool{}
	}
	p := m.pools[dir]
	if p == nil {
		p = &slotPool{leased: map[string]bool{}}
		m.pools[dir] = p
	}
	return p
}

// Lease returns dir, a detached worktree of exactly sha under poolDir, as
// clean as a fresh checkout, for the caller's use alone until it calls
// release (which may be called more than once). An idle slot from an earlier
// lease is reused when it can be brought to sha; otherwise, or if that
// fails in any way, a new slot is made. A pool knows only the slots it made:
// what another process or a crash left under poolDir is never leased (see
// RemoveIdleSlots).
func (m *Mirror) Lease(ctx context.Context, poolDir, sha string) (dir string, release func() error, err error) {
	poolDir, err = filepath.Abs(poolDir)
	if err != nil {
		return "", nil, err
	}
	commit, err := m.exactCommit(ctx, sha)
	if err != nil {
		return "", nil, err
	}
	p := m.pool(poolDir)
	if s := p.take(); s != nil {
		m.mu.RLock()
		err := m.refresh(ctx, s, commit)
		m.mu.RUnlock()
		if err == nil {
			return s.dir, p.releaser(m, s), nil
		}
		if ctx.Err() != nil {
			// Cut short, not broken: it is only dirty, as every idle slot is.
			p.put(m, s)
			return "", nil, ctx.Err()
		}
		// Something the refresh could not undo: start over in a new slot.
		p.drop(m, s)
	}
	s, err := m.newSlot(ctx, p, poolDir, commit)
	if err != nil {
		return "", nil, err
	}
	return s.dir, p.releaser(m, s), nil
}

// take hands out an idle slot, the most recently used, or nil.
func (p *slotPool) take() *slot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return nil
	}
	s := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.leased[s.dir] = true
	return s
}

// releaser returns the release function of a lease of s; only its first
// call returns s, so that a slot never goes to two leases.
func (p *slotPool) releaser(m *Mirror, s *slot) func() error {
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { err = p.put(m, s) })
		return err
	}
}

// put returns a leased slot to the idle ones, or deletes it when enough
// are idle.
func (p *slotPool) put(m *Mirror, s *slot) error {
	p.mu.Lock()
	if len(p.free) < maxIdleSlots {
		delete(p.leased, s.dir)
		p.free = append(p.free, s)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return p.drop(m, s)
}

// drop deletes a leased slot. It stays marked leased until it is gone, so
// that RemoveIdleSlots does not delete it at the same time.
func (p *slotPool) drop(m *Mirror, s *slot) error {
	err := m.removeTree(context.Background(), s.dir, s.admin)
	p.mu.Lock()
	delete(p.leased, s.dir)
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("remove checkout slot %s: %w", s.dir, err)
	}
	return nil
}

// newSlot makes a new slot at commit under poolDir, leased to the caller.
// Its name is random and its directory made exclusively, so that it never
// lands on a slot another process or a crash left there.
func (m *Mirror) newSlot(ctx context.Context, p *slotPool, poolDir, commit string) (*slot, error) {
	dir, err := p.reserve(poolDir)
	if err != nil {
		return nil, err
	}
	s, err := m.fillSlot(ctx, dir, commit)
	if err != nil {
		p.drop(m, &slot{dir: dir})
		return nil, err
	}
	return s, nil
}

// reserve makes the empty directory of a new slot, marked leased. Under
// the pool's lock, so that RemoveIdleSlots neither deletes it nor the pool
// directory meanwhile.
func (p *slotPool) reserve(poolDir string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := os.MkdirAll(poolDir, 0o755); err != nil {
		return "", err
	}
	for {
		dir := filepath.Join(poolDir, "slot-"+strconv.FormatUint(rand.Uint64(), 36))
		if p.leased[dir] {
			continue
		}
		// 0777 as git makes directories: the umask decides, as in the rest of
		// the checkout (see tidy).
		err := os.Mkdir(dir, 0o777)
		if err == nil {
			p.leased[dir] = true
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}

// fillSlot checks commit out in the empty directory dir (a git directory
// made by hand, one read-tree).
func (m *Mirror) fillSlot(ctx context.Context, dir, commit string) (*slot, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	admin, err := m.newTree(ctx, dir, commit, commit)
	m.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return &slot{dir: dir, admin: admin, mode: fi.Mode() &^ fs.ModeType}, nil
}

// adminKeep is what a detached tree's git directory holds when it is
// fresh. Anything else there (a lock, MERGE_HEAD, a rebase, reflogs,
// per-worktree refs or config, sparse-checkout patterns) is the last
// lease's and goes.
var adminKeep = map[string]bool{"gitdir": true, "commondir": true, "HEAD": true, "index": true}

// refresh brings an idle slot to exactly commit, as clean as a fresh
// checkout: HEAD detached at commit, tracked files as in commit, nothing
// untracked or ignored, modes as git makes them. Whatever it cannot make so
// is an error, and the caller gives up the slot.
func (m *Mirror) refresh(ctx context.Context, s *slot, commit string) error {
	entries, err := os.ReadDir(s.admin)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !adminKeep[e.Name()] {
			if err := forceRemoveAll(filepath.Join(s.admin, e.Name())); err != nil {
				return err
			}
		}
	}
	// read-tree keeps the flags of the entries it finds unchanged (assume
	// unchanged, skip-worktree, intent-to-add), and a file so marked is not
	// compared with the tree. An index with any flag, or one tidy cannot
	// read, goes: read-tree then writes every file afresh.
	index := filepath.Join(s.admin, "index")
	hashLen := len(commit) / 2
	if _, err := readIndex(index, hashLen); err != nil {
		if err := os.Remove(index); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := writeHead(s.admin, commit); err != nil {
		return err
	}
	// --reset -u rewrites the tracked files that differ from commit by their
	// stat data (modified, deleted, replaced by a directory) and deletes
	// those commit no longer tracks. core.splitIndex off: the index must be
	// one file for tidy to read.
	if _, err := treeGit(ctx, s.admin, s.dir, defaultIdentity, "-c", "index.version=2", "-c", "core.splitIndex=false", "read-tree", "--reset", "-u", commit); err != nil {
		return err
	}
	tracked, err := readIndex(index, hashLen)
	if err != nil {
		return fmt.Errorf("checkout slot %s: %w", s.dir, err)
	}
	if err := tidy(s, tracked); err != nil {
		return err
	}
	// The last run's repository goes whole: the next run's git must not
	// read its config, hooks or refs.
	return m.publish(s.dir, s.admin, true)
}

// writeHead detaches the registration's HEAD at commit, written aside and
// renamed into place as git does (fetches read every worktree's HEAD).
func writeHead(admin, commit string) error {
	head := filepath.Join(admin, "HEAD")
	if b, err := os.ReadFile(head); err == nil && string(b) == commit+"\n" {
		return nil
	}
	lock := head + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(commit + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(lock, head)
	}
	if err != nil {
		os.Remove(lock)
	}
	return err
}

// Index entry modes (gitformat-index(5)).
const (
	modeFile    = 0o100644
	modeExec    = 0o100755
	modeSymlink = 0o120000
	modeGitlink = 0o160000
)

// readIndex returns the paths a version 2 index holds, with their modes.
// hashLen is the object ID's length in bytes. Anything unexpected (another
// version, a flag or a conflict stage, an entry of a sparse index) is an
// error.
func readIndex(path string, hashLen int) (map[string]uint32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[:8]) != "DIRC\x00\x00\x00\x02" {
		return nil, fmt.Errorf("index %s is not of version 2", path)
	}
	n := binary.BigEndian.Uint32(b[8:12])
	// Each entry: 40 bytes of stat data and mode, the object ID, 2 bytes
	// of flags, the path, then 1 to 8 NULs to a multiple of 8 bytes.
	fixed := 40 + hashLen + 2
	if uint64(n)*uint64((fixed+2+7)&^7) > uint64(len(b)) { // a corrupt count
		return nil, fmt.Errorf("index %s is cut short", path)
	}
	entries := make(map[string]uint32, n)
	off := 12
	for range n {
		if off+fixed > len(b) {
			return nil, fmt.Errorf("index %s is cut short", path)
		}
		mode := binary.BigEndian.Uint32(b[off+24 : off+28])
		flags := binary.BigEndian.Uint16(b[off+40+hashLen : off+fixed])
		end := bytes.IndexByte(b[off+fixed:], 0)
		if end < 0 {
			return nil, fmt.Errorf("index %s is cut short", path)
		}
		name := string(b[off+fixed : off+fixed+end])
		// The top bits: assume-valid, extended (none in version 2), stage.
		if flags&0xf000 != 0 {
			return nil, fmt.Errorf("index %s: %s is not a plain entry (flags %#x)", path, name, flags)
		}
		switch mode {
		case modeFile, modeExec, modeSymlink, modeGitlink:
		default:
			return nil, fmt.Errorf("index %s: %s has mode %o", path, name, mode)
		}
		entries[name] = mode
		off += (fixed + end + 8) &^ 7
	}
	return entries, nil
}

// tidy finishes what read-tree began, from the paths the index tracks:
// it deletes everything else in the slot (untracked and ignored files,
// nested repositories: what `git clean -ffdx` would, without a process),
// and checks that every tracked path is there with the mode a fresh
// checkout gives it. git compares only a file's executable bit, so a file
// or directory made read-only, or opened to others, would survive
// read-tree unnoticed; and read-tree only warns about a path it could not
// write. Such a slot is an error: it is given up.
func tidy(s *slot, tracked map[string]uint32) error {
	dirs := map[string]bool{}
	for p := range tracked {
		for d := path.Dir(p); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	// Files inherit no setgid bit; executable ones get 0777 less the umask.
	exec := s.mode.Perm()
	plain := exec &^ 0o111
	found := 0
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := os.ReadDir(filepath.Join(s.dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := path.Join(rel, e.Name())
			abs := filepath.Join(s.dir, filepath.FromSlash(name))
			if name == ".git" {
				continue
			}
			mode, isTracked := tracked[name]
			if !isTracked && !(dirs[name] && e.IsDir()) {
				if err := forceRemoveAll(abs); err != nil {
					return err
				}
				continue
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			m := fi.Mode() &^ fs.ModeType
			var ok bool
			switch mode {
			case modeFile:
				ok = fi.Mode().IsRegular() && m == plain
			case modeExec:
				ok = fi.Mode().IsRegular() && m == exec
			case modeSymlink:
				ok = fi.Mode()&fs.ModeSymlink != 0
			default: // a directory of tracked paths, or a submodule's
				ok = fi.IsDir() && m == s.mode
			}
			if !ok {
				return fmt.Errorf("checkout slot %s: %s is %s, not as checked out", s.dir, name, fi.Mode())
			}
			if isTracked {
				found++
			} else if err := walk(name); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return err
	}
	if found != len(tracked) {
		return fmt.Errorf("checkout slot %s: %d of %d tracked paths are missing", s.dir, len(tracked)-found, len(tracked))
	}
	return nil
}

// RemoveIdleSlots deletes every slot under poolDir that no lease of this
// Mirror holds: the idle ones, and whatever a crash left there (a slot is
// only ever dirty, but a pool leases only the slots it made itself). Call
// it when no other process uses poolDir: at engine start, to sweep a
// crash's slots, and at engine stop, so that an engine at rest leaves no
// checkouts behind.
func (m *Mirror) RemoveIdleSlots(ctx context.Context, poolDir string) error {
	poolDir, err := filepath.Abs(poolDir)
	if err != nil {
		return err
	}
	p := m.pool(poolDir)
	// Held throughout, so that no lease takes or makes a slot meanwhile.
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, s := range p.free {
		if err := m.removeTree(ctx, s.dir, s.admin); err != nil {
			errs = append(errs, fmt.Errorf("remove checkout slot %s: %w", s.dir, err))
		}
	}
	p.free = nil
	entries, err := os.ReadDir(poolDir)
	if errors.Is(err, fs.ErrNotExist) {
		return errors.Join(errs...)
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		dir := filepath.Join(poolDir, e.Name())
		if p.leased[dir] {
			continue
		}
		if err := m.RemoveWorktree(ctx, dir); err != nil {
			errs = append(errs, fmt.Errorf("remove leftover checkout slot %s: %w", e.Name(), err))
		}
	}
	if len(p.leased) == 0 && len(errs) == 0 {
		// Nothing left in it: an engine at rest leaves no trace.
		if err := os.Remove(poolDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return errors.Join(errs...)
}
