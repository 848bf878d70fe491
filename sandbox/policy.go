// Package sandbox confines a process and everything it starts, with the
// kernel: Landlock for what it may read and write, a PID namespace so that
// nothing it starts outlives it.
//
// Go cannot run code between fork and exec, so confinement is applied by a
// helper: this same program re-executed as `PROGRAM confine ...` (see Main),
// started as PID 1 of new user and PID namespaces. The helper restricts
// itself with Landlock, starts the real command as its child, forwards
// SIGTERM and SIGINT, reaps orphans, and exits with the child's status;
// when it exits the kernel kills whatever is left in the namespace, a
// `setsid` grandchild included. Launch prepares such a start for os/exec.
package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Policy says what a confined process may touch. Landlock is an
// allow-list, so "everything but Hidden is readable" is built by walking
// from / down to each hidden path and allowing read on every sibling on
// the way, never on the hidden path itself.
//
// Paths must be absolute; symbolic links in them are resolved first.
type Policy struct {
	// Hidden paths can be neither read nor written, nor anything beneath
	// them, except what Readable and Writable name inside them.
	Hidden []string
	// Readable paths may be read, not written: the exceptions inside
	// hidden paths (a read-only run's checkout, the mirror's objects).
	Readable []string
	// Writable paths may be read and written, inside hidden paths too
	// (the run's worktree lies in the home). None may hold a hidden path.
	Writable []string
	// TempRoot is where Prepare makes the run's own TMPDIR; "" means
	// os.TempDir(). (The fields match agentorg.Confinement's, so that one
	// converts to the other.)
	TempRoot string
}

// System is what every confined process gets on top of its policy: /dev
// is hidden (a raw disk would bypass the rest), except the devices
// programs expect to open.
var System = Policy{
	Hidden:   []string{"/dev"},
	Readable: []string{"/dev/random", "/dev/urandom"},
	Writable: []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx", "/dev/pts"},
}

// With returns p with q's paths added (and p's TempRoot).
func (p Policy) With(q Policy) Policy {
	return Policy{
		Hidden:   append(append([]string(nil), p.Hidden...), q.Hidden...),
		Readable: append(append([]string(nil), p.Readable...), q.Readable...),
		Writable: append(append([]string(nil), p.Writable...), q.Writable...),
		TempRoot: p.TempRoot,
	}
}

// resolved is a policy whose paths are clean, absolute, free of symbolic
// links and deduplicated; paths that do not exist are dropped from
// Readable and Writable (nothing to allow), kept in Hidden (nothing
// may create them).
type resolved Policy

// resolve checks p and resolves its paths. A writable or readable path
// that holds a hidden one is refused: allowing it would allow the hidden
// path too, as Landlock's rules cover whole hierarchies.
func (p Policy) resolve() (resolved, error) {
	var r resolved
	var err error
	if r.Hidden, err = resolveAll("hidden", p.Hidden, true); err != nil {
		return r, err
	}
	if r.Readable, err = resolveAll("readable", p.Readable, false); err != nil {
		return r, err
	}
	if r.Writable, err = resolveAll("writable", p.Writable, false); err != nil {
		return r, err
	}
	for _, h := range r.Hidden {
		for _, w := range r.Writable {
			if within(h, w) {
				return r, fmt.Errorf("writable path %s holds the hidden path %s", w, h)
			}
		}
		for _, rd := range r.Readable {
			if within(h, rd) {
				return r, fmt.Errorf("readable path %s holds the hidden path %s", rd, h)
			}
		}
	}
	return r, nil
}

func resolveAll(what string, paths []string, keepMissing bool) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%s path %q is not absolute", what, p)
		}
		real, exists, err := realPath(filepath.Clean(p))
		if err != nil {
			return nil, fmt.Errorf("%s path %s: %w", what, p, err)
		}
		if (exists || keepMissing) && !seen[real] {
			seen[real] = true
			out = append(out, real)
		}
	}
	sort.Strings(out)
	return out, nil
}

// realPath resolves the symbolic links of p. For a path that does not
// exist, the longest existing prefix is resolved and the rest appended,
// so that a hidden path created later is still the one named.
func realPath(p string) (string, bool, error) {
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		return real, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p, false, nil
	}
	rp, _, err := realPath(parent)
	if err != nil {
		return "", false, err
	}
	return filepath.Join(rp, filepath.Base(p)), false, nil
}

// within says whether p is dir or beneath it.
func within(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// plan is the Landlock rules a policy comes to, one list per kind of
// access: directories get directory rights, other files file rights only
// (the kernel refuses directory rights on a file).
type plan struct {
	readDirs, readFiles   []string
	writeDirs, writeFiles []string
}

// dirReader lists a directory (os.ReadDir; tests pass their own).
type dirReader func(string) ([]fs.DirEntry, error)

// plan computes the rules of r. Read is allowed on every entry of every
// ancestor of a hidden path that is neither hidden nor itself such an
// ancestor; ancestors that lie inside a hidden path are not opened up.
// Symbolic links get no rule: the kernel checks the path they lead to.
// The ancestors themselves cannot be listed: a rule on a directory covers
// everything beneath it.
func (r resolved) plan(readDir dirReader) (plan, error) {
	var pl plan
	hidden := map[string]bool{}
	for _, h := range r.Hidden {
		hidden[h] = true
	}
	insideHidden := func(p string) bool {
		for _, h := range r.Hidden {
			if within(p, h) {
				return true
			}
		}
		return false
	}
	ancestors := map[string]bool{}
	for _, h := range r.Hidden {
		for p := h; p != "/"; {
			p = filepath.Dir(p)
			if !insideHidden(p) {
				ancestors[p] = true
			}
		}
	}
	if len(r.Hidden) == 0 {
		pl.readDirs = append(pl.readDirs, "/")
	}
	for _, a := range sortedKeys(ancestors) {
		entries, err := readDir(a)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // the hidden path's parent is missing: nothing below to allow
			}
			return plan{}, fmt.Errorf("list %s: %w", a, err)
		}
		for _, e := range entries {
			p := filepath.Join(a, e.Name())
			switch {
			case ancestors[p] || hidden[p] || e.Type()&fs.ModeSymlink != 0:
			case e.IsDir():
				pl.readDirs = append(pl.readDirs, p)
			default:
				pl.readFiles = append(pl.readFiles, p)
			}
		}
	}
	split := func(paths []string, dirs, files *[]string) error {
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			if fi.IsDir() {
				*dirs = append(*dirs, p)
			} else {
				*files = append(*files, p)
			}
		}
		return nil
	}
	if err := split(r.Readable, &pl.readDirs, &pl.readFiles); err != nil {
		return plan{}, err
	}
	if err := split(r.Writable, &pl.writeDirs, &pl.writeFiles); err != nil {
		return plan{}, err
	}
	return pl, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// args is the policy as the helper's arguments, in the order resolve
// gives (so `ps` shows what a run may touch).
func (p Policy) args() []string {
	var a []string
	for _, kv := range []struct {
		flag  string
		paths []string
	}{{"-hide", p.Hidden}, {"-read", p.Readable}, {"-write", p.Writable}} {
		for _, path := range kv.paths {
			a = append(a, kv.flag, path)
		}
	}
	return a
}

// parseArgs reads the helper's arguments: the policy's flags, the
// program to run (-exec; "" when not given), "--", then the command.
func parseArgs(args []string) (p Policy, path string, argv []string, err error) {
	for len(args) > 0 {
		flag := args[0]
		if flag == "--" {
			if len(args) == 1 {
				return p, "", nil, errors.New("no command after --")
			}
			return p, path, args[1:], nil
		}
		if len(args) < 2 {
			return p, "", nil, fmt.Errorf("%s needs a path", flag)
		}
		switch flag {
		case "-exec":
			path = args[1]
		case "-hide":
			p.Hidden = append(p.Hidden, args[1])
		case "-read":
			p.Readable = append(p.Readable, args[1])
		case "-write":
			p.Writable = append(p.Writable, args[1])
		default:
			return p, "", nil, fmt.Errorf("unknown flag %q", flag)
		}
		args = args[2:]
	}
	return p, "", nil, errors.New("no command: want FLAGS -- COMMAND [ARG...]")
}
