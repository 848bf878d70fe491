package sandbox

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// MinABI is the oldest Landlock ABI confinement accepts: before ABI 3
// (Linux 6.2) truncate(2) is not restricted, so a confined process could
// empty any file it can name, the database included.
const MinABI = 3

// Access rights. Network rights are not handled: the coding CLIs need
// their model APIs. Signals and abstract unix sockets are scoped (ABI 6),
// so that a confined process can neither signal agentorg or another run
// nor talk to a service listening on an abstract socket outside.
const (
	handledFS = ll.AccessFSExecute | ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSReadDir |
		ll.AccessFSRemoveDir | ll.AccessFSRemoveFile | ll.AccessFSMakeChar | ll.AccessFSMakeDir |
		ll.AccessFSMakeReg | ll.AccessFSMakeSock | ll.AccessFSMakeFifo | ll.AccessFSMakeBlock |
		ll.AccessFSMakeSym | ll.AccessFSRefer | ll.AccessFSTruncate | ll.AccessFSIoctlDev
	readFile  = ll.AccessFSExecute | ll.AccessFSReadFile
	readDir   = readFile | ll.AccessFSReadDir
	writeFile = readFile | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSIoctlDev
	writeDir  = handledFS
)

// ABI is the Landlock ABI version the kernel offers, or an error saying
// why there is none.
func ABI() (int, error) {
	v, err := ll.LandlockGetABIVersion()
	if err != nil {
		return 0, fmt.Errorf("the kernel offers no Landlock (%v): it needs Linux 5.13 or later with landlock in its lsm= list", err)
	}
	return v, nil
}

// restrict confines the calling thread, and every process it starts from
// now on, to r; the caller must hold the thread (runtime.LockOSThread) and
// start its child from it. One thread, not all: go-landlock's all-threads
// enforcement signals every thread, and before ABI 8 (TSYNC) a program
// built with cgo waits forever for PID 1's threads, which ignore those
// signals. The helper's other threads run only its own code.
func restrict(r resolved) error {
	v, err := ABI()
	if err != nil {
		return err
	}
	if v < MinABI {
		return fmt.Errorf("Landlock ABI %d is too old: confinement needs ABI %d (Linux 6.2) or later", v, MinABI)
	}
	pl, err := r.plan(os.ReadDir)
	if err != nil {
		return err
	}
	cfg := landlock.Config{HandledAccessFS: handledFS, Scoped: ll.ScopeSignal | ll.ScopeAbstractUnixSocket}.BestEffort()
	rule := func(access landlock.AccessFSSet, paths []string) landlock.Rule {
		// A path that went away since it was listed has nothing to allow.
		return landlock.PathAccess(access, paths...).IgnoreIfMissing()
	}
	fd, flags, err := cfg.NewRulesetFD(
		rule(readDir, pl.readDirs), rule(readFile, pl.readFiles),
		rule(writeDir, pl.writeDirs), rule(writeFile, pl.writeFiles),
	)
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	if fd < 0 {
		return errors.New("landlock: nothing to restrict") // ABI checked above: cannot happen
	}
	defer unix.Close(fd)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if err := ll.LandlockRestrictSelf(fd, flags); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	return nil
}
