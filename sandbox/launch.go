package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// self is the program to re-execute as the helper: the running binary,
// even if it was replaced on disk since it started.
const self = "/proc/self/exe"

// Launch is a command prepared to start confined: the helper's command
// line and namespaces, a temporary directory of its own given as TMPDIR,
// and the pipe the helper reports through. Close it once the command
// ended.
type Launch struct {
	Path string   // the helper
	Args []string // the helper's argv, ending in "--" and the command
	Env  []string // the command's environment, TMPDIR replaced
	// TempDir is the command's own TMPDIR, writable, removed by Close.
	TempDir string

	status, statusW *os.File
}

// Prepare makes ready to start argv with env, confined to p and System.
// The command's TMPDIR is a new directory of its own, the only temporary
// directory it may write.
func Prepare(p Policy, argv, env []string) (*Launch, error) {
	if len(argv) == 0 {
		return nil, errors.New("confine: empty command")
	}
	if !hooked.Load() {
		return nil, errors.New("confine: this program cannot act as the confine helper: its main (or TestMain) must call sandbox.Main first")
	}
	// Found here as os/exec finds an unconfined command (in this
	// process's PATH), so that confining changes nothing about which
	// program runs, nor its argv[0].
	path := argv[0]
	if !strings.Contains(path, "/") {
		var err error
		if path, err = exec.LookPath(path); err != nil {
			return nil, err
		}
	}
	if p.TempRoot != "" {
		if err := os.MkdirAll(p.TempRoot, 0o755); err != nil {
			return nil, fmt.Errorf("confine: temporary directory: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(p.TempRoot, "agentorg-run-")
	if err != nil {
		return nil, fmt.Errorf("confine: temporary directory: %w", err)
	}
	l := &Launch{Path: self, TempDir: tmp}
	full := p.With(System).With(Policy{Writable: []string{tmp}})
	// Refused here, with the reason, rather than by the helper later.
	if _, err := full.resolve(); err != nil {
		l.Close()
		return nil, fmt.Errorf("confine: %w", err)
	}
	if l.status, l.statusW, err = os.Pipe(); err != nil {
		l.Close()
		return nil, fmt.Errorf("confine: %w", err)
	}
	l.Args = append(append([]string{self, HelperArg}, full.args()...), "-exec", path, "--")
	l.Args = append(l.Args, argv...)
	l.Env = append(withoutVar(env, "TMPDIR"), "TMPDIR="+tmp)
	return l, nil
}

// SysProcAttr adds to attr (nil: a new one) the namespaces the helper
// starts in: a PID namespace, whose end kills every process left in it,
// and a user namespace, so that the helper needs no privilege and root in
// it has no capability over the machine (loading a module, rebooting,
// raw I/O: what Landlock does not cover).
func (l *Launch) SysProcAttr(attr *syscall.SysProcAttr) *syscall.SysProcAttr {
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Cloneflags |= syscall.CLONE_NEWPID | syscall.CLONE_NEWUSER
	uid, gid := os.Getuid(), os.Getgid()
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	attr.GidMappingsEnableSetgroups = false
	return attr
}

// ExtraFiles are the files the helper gets from fd 3 on.
func (l *Launch) ExtraFiles() []*os.File { return []*os.File{l.statusW} }

// Started drops this process's end of the helper's status pipe, so that
// reading it ends when the helper does. Call it once the start returned,
// whether it worked or not.
func (l *Launch) Started() {
	if l.statusW != nil {
		l.statusW.Close()
		l.statusW = nil
	}
}

// Ended reads what the helper reported, once it exited: the command's
// wait status (ok false when the helper was killed before it could say),
// or the error that kept the command from running: ErrStart wraps a
// command that could not be started (not found), anything else a
// confinement that could not be applied.
func (l *Launch) Ended() (ws syscall.WaitStatus, ok bool, err error) {
	l.Started()
	b, _ := io.ReadAll(l.status)
	kind, msg, _ := strings.Cut(string(b), " ")
	switch kind {
	case "exit":
		n, err := strconv.ParseUint(msg, 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("confine: the helper reported %q", b)
		}
		return syscall.WaitStatus(n), true, nil
	case "start":
		return 0, false, fmt.Errorf("%w: %s", ErrStart, msg)
	case "confine":
		return 0, false, fmt.Errorf("confine: %s", msg)
	}
	return 0, false, nil
}

// ErrStart is the error of a confined command that could not be started.
var ErrStart = errors.New("could not start the command")

// Close removes the temporary directory and closes the pipe.
func (l *Launch) Close() {
	l.Started()
	if l.status != nil {
		l.status.Close()
	}
	if l.TempDir != "" {
		os.RemoveAll(l.TempDir)
	}
}

func withoutVar(env []string, key string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
