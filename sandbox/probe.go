package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// UnavailableEnv, when set, makes Available report confinement
// unavailable, its value as the reason: how tests play a machine without
// Landlock.
const UnavailableEnv = "AGENTORG_CONFINEMENT_UNAVAILABLE"

// Available says whether this program can confine processes here: the
// Landlock ABI in use, or why it cannot. The first call starts the helper
// once, in its namespaces, to find out for real.
func Available() (abi int, err error) {
	if why := os.Getenv(UnavailableEnv); why != "" {
		return 0, fmt.Errorf("%s (%s is set)", why, UnavailableEnv)
	}
	return probe()
}

var probe = sync.OnceValues(func() (int, error) {
	abi, err := ABI()
	if err != nil {
		return 0, err
	}
	if abi < MinABI {
		return abi, fmt.Errorf("Landlock ABI %d is too old: confinement needs ABI %d (Linux 6.2) or later", abi, MinABI)
	}
	if !hooked.Load() {
		return abi, errors.New("this program cannot act as the confine helper: its main (or TestMain) must call sandbox.Main first")
	}
	l := &Launch{Path: self}
	var err2 error
	if l.status, l.statusW, err2 = os.Pipe(); err2 != nil {
		return abi, err2
	}
	defer l.Close()
	cmd := exec.Command(self, HelperArg, "-check")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.ExtraFiles = l.ExtraFiles()
	cmd.SysProcAttr = l.SysProcAttr(&syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL})
	err = cmd.Start()
	l.Started()
	if err != nil {
		return abi, fmt.Errorf("the kernel refused new user and PID namespaces: %v", err)
	}
	err = cmd.Wait()
	if _, ok, herr := l.Ended(); herr != nil || !ok || err != nil {
		why := strings.TrimSpace(stderr.String())
		if herr != nil {
			why = herr.Error()
		}
		if why == "" && err != nil {
			why = err.Error()
		}
		return abi, fmt.Errorf("the confine helper failed its check: %s", why)
	}
	return abi, nil
})
