package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
)

// HelperArg is the first argument that makes a program the confine helper.
const HelperArg = "confine"

// statusFD is the helper's fd 3: one line for its parent, "exit STATUS"
// (the child's wait status) or "start ERROR" / "confine ERROR" when the
// command never ran. The child does not inherit it.
const statusFD = 3

// hooked says that this program calls Main, so that it can serve as the
// helper; without it a confined start would run the program itself
// (a test binary would run its tests).
var hooked atomic.Bool

// Main runs the confine helper, and exits, when the program was started
// as one (`PROGRAM confine ...`); otherwise it returns at once. Call it
// first in main, and in the TestMain of every test binary that starts
// confined processes (orgtest.Main does).
func Main() {
	if len(os.Args) > 1 && os.Args[1] == HelperArg {
		os.Exit(helper(os.Args[2:]))
	}
	hooked.Store(true)
}

// helper confines itself to the policy in args and runs the command that
// follows "--" as its child. It must be PID 1 of a PID namespace of its
// own: its exit is what ends everything the command started.
func helper(args []string) int {
	// Landlock holds this thread (see restrict), and the child is forked
	// from it.
	runtime.LockOSThread()
	status := os.NewFile(statusFD, "status")
	syscall.CloseOnExec(statusFD)
	fail := func(kind, msg string) int {
		fmt.Fprintf(os.Stderr, "agentorg confine: %s\n", msg)
		fmt.Fprintf(status, "%s %s", kind, msg)
		return 125
	}
	if os.Getpid() != 1 {
		return fail("confine", "not PID 1 of a PID namespace of its own: only agentorg starts this helper")
	}
	if len(args) == 1 && args[0] == "-check" {
		// The probe: namespaces made, Landlock applies; nothing to run.
		r, err := System.resolve()
		if err == nil {
			err = restrict(r)
		}
		if err != nil {
			return fail("confine", err.Error())
		}
		fmt.Fprint(status, "exit 0")
		return 0
	}
	p, path, argv, err := parseArgs(args)
	if err != nil {
		return fail("confine", err.Error())
	}
	r, err := p.resolve()
	if err == nil {
		err = restrict(r)
	}
	if err != nil {
		return fail("confine", err.Error())
	}
	if path == "" {
		if path, err = exec.LookPath(argv[0]); err != nil {
			return fail("start", err.Error())
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	child, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return fail("start", err.Error())
	}
	go func() {
		// To every process of the namespace, so that what left the
		// child's group is asked to stop too before the kernel kills it.
		for s := range sigs {
			syscall.Kill(-1, s.(syscall.Signal))
		}
	}()
	// As PID 1, the helper inherits every orphan of the namespace: reap
	// them all until the child itself ends.
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail("confine", "wait: "+err.Error())
		}
		if pid != child.Pid {
			continue
		}
		fmt.Fprintf(status, "exit %d", uint32(ws))
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
