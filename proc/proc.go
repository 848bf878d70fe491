// Package proc runs a child process the way agentorg runs every agent and
// check: in its own process group, with stdin closed (or fed from a reader),
// a hard timeout, a stall timeout on silence, and a bounded tail of its
// output kept in memory. On any limit the whole group is killed, so a check
// that forks a server leaves nothing behind.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/agentorg/agentorg/sandbox"
)

// Spec describes one run.
type Spec struct {
	Argv  []string
	Dir   string
	Env   []string  // the whole environment; nil means an empty one
	Stdin io.Reader // nil means closed (/dev/null)
	// Stdout receives stdout as it arrives, in addition to the tail
	// (used by agents to parse JSON lines). May be nil.
	Stdout io.Writer
	// Log receives stdout and stderr interleaved, as they arrive. May be nil.
	Log          io.Writer
	Timeout      time.Duration // 0: none
	StallTimeout time.Duration // 0: none; silence on stdout and stderr
	TailBytes    int           // size of the kept tail; 0 means 64 KiB
	// KillGrace is how long the group gets between SIGTERM and SIGKILL.
	// 0 means 2 s.
	KillGrace time.Duration
	// Started, if set, is called with the process group id once the process
	// runs, so that a caller can record it and kill an orphaned group after
	// its own crash.
	Started func(pgid int)
	// Confine, if set, has the kernel hold the process and everything it
	// starts to this policy (package sandbox), with a TMPDIR of its own;
	// nothing it starts outlives it, even what left its group.
	Confine *sandbox.Policy
}

// Result is how a run ended.
type Result struct {
	ExitCode int // -1 when killed or never started
	Duration time.Duration
	// Tail is the last TailBytes of combined stdout and stderr.
	Tail     string
	Stderr   string // last TailBytes of stderr alone
	TimedOut bool
	Stalled  bool
	Canceled bool // the context was cancelled
}

// Reason says in words why the run ended badly, or "" if it exited 0.
func (r Result) Reason() string {
	switch {
	case r.TimedOut:
		return "killed: hard timeout"
	case r.Stalled:
		return "killed: no output within the stall timeout"
	case r.Canceled:
		return "killed: cancelled"
	case r.ExitCode != 0:
		return fmt.Sprintf("exit status %d", r.ExitCode)
	}
	return ""
}

// Run starts the process and waits for it. The error is non-nil only when the
// process could not be started; how it ended is in Result.
func Run(ctx context.Context, s Spec) (Result, error) {
	if len(s.Argv) == 0 {
		return Result{ExitCode: -1}, errors.New("proc: empty command")
	}
	tailSize := s.TailBytes
	if tailSize <= 0 {
		tailSize = 64 << 10
	}
	grace := s.KillGrace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	combined := &Tail{Max: tailSize}
	stderrTail := &Tail{Max: tailSize}
	activity := make(chan struct{}, 1)
	touch := func() {
		select {
		case activity <- struct{}{}:
		default:
		}
	}
	var mu sync.Mutex // serialises writes to Log and combined
	out := writerFunc(func(p []byte) (int, error) {
		touch()
		mu.Lock()
		combined.Write(p)
		if s.Log != nil {
			s.Log.Write(p)
		}
		mu.Unlock()
		if s.Stdout != nil {
			s.Stdout.Write(p)
		}
		return len(p), nil
	})
	errw := writerFunc(func(p []byte) (int, error) {
		touch()
		mu.Lock()
		combined.Write(p)
		stderrTail.Write(p)
		if s.Log != nil {
			s.Log.Write(p)
		}
		mu.Unlock()
		return len(p), nil
	})

	env := s.Env
	if env == nil {
		env = []string{}
	}
	if m := markOf(ctx); m != "" {
		env = withMark(env, m)
	}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	// Pdeathsig: if agentorg itself dies (kill -9), the leader dies with it
	// instead of editing a worktree that a restarted engine now owns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var confined *sandbox.Launch
	if s.Confine != nil {
		l, err := sandbox.Prepare(*s.Confine, s.Argv, env)
		if err != nil {
			return Result{ExitCode: -1}, fmt.Errorf("start %s: %w", s.Argv[0], err)
		}
		defer l.Close()
		confined = l
		// The helper leads the group: a kill of the group ends it, and
		// its end ends everything the command started.
		cmd = exec.Command(l.Path, l.Args[1:]...)
		cmd.Args = l.Args
		cmd.ExtraFiles = l.ExtraFiles()
		cmd.SysProcAttr = l.SysProcAttr(&syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL})
		env = l.Env
	}
	sp, err := newSpools()
	if err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	defer sp.close()
	cmd.Dir = s.Dir
	cmd.Env = env
	cmd.Stdin = s.Stdin // nil reads from /dev/null
	cmd.Stdout = sp.out.f
	cmd.Stderr = sp.err.f
	// A child that left the group and holds a stdin pipe would keep Wait
	// from returning once the leader is gone (unconfined: confined, the
	// namespace ends with the helper and closes it).
	cmd.WaitDelay = grace

	start := time.Now()
	err = cmd.Start()
	if confined != nil {
		confined.Started()
	}
	if err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	go sp.follow(out, errw)
	if s.Started != nil {
		s.Started(cmd.Process.Pid)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()

	var hard <-chan time.Time
	if s.Timeout > 0 {
		t := time.NewTimer(s.Timeout)
		defer t.Stop()
		hard = t.C
	}
	var stall *time.Timer
	var stallC <-chan time.Time
	if s.StallTimeout > 0 {
		stall = time.NewTimer(s.StallTimeout)
		defer stall.Stop()
		stallC = stall.C
	}

	var res Result
	killed := false
	kill := func() {
		if killed {
			return
		}
		killed = true
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		go func() {
			select {
			case <-time.After(grace):
				syscall.Kill(-pgid, syscall.SIGKILL)
			case <-exited:
			}
		}()
	}
loop:
	for {
		select {
		case <-exited:
			break loop
		case <-activity:
			if stall != nil && !killed {
				if !stall.Stop() {
					select {
					case <-stall.C:
					default:
					}
				}
				stall.Reset(s.StallTimeout)
			}
		case <-hard:
			res.TimedOut = true
			kill()
		case <-stallC:
			res.Stalled = true
			kill()
		case <-ctx.Done():
			res.Canceled = true
			kill()
			ctx = context.Background() // stop selecting on it
		}
	}
	// The leader exited; make sure no child of the group outlives it,
	// then read what the group wrote.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	sp.finish()

	res.Duration = time.Since(start)
	res.ExitCode = 0
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			res.ExitCode = ee.ExitCode()
		} else {
			res.ExitCode = -1
		}
	}
	if confined != nil {
		// The helper's own exit is not the command's: it reports that.
		ws, ok, err := confined.Ended()
		if err != nil {
			return Result{ExitCode: -1, Duration: res.Duration}, fmt.Errorf("start %s: %w", s.Argv[0], err)
		}
		if ok {
			res.ExitCode = ws.ExitStatus() // -1 when a signal ended it
		}
	}
	if killed && res.ExitCode == 0 {
		res.ExitCode = -1
	}
	mu.Lock()
	res.Tail = combined.String()
	res.Stderr = stderrTail.String()
	mu.Unlock()
	return res, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Tail keeps the last Max bytes written to it.
type Tail struct {
	Max     int
	buf     []byte
	dropped int64
}

func (t *Tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.Max {
		t.dropped += int64(len(t.buf) + len(p) - t.Max)
		t.buf = append(t.buf[:0], p[len(p)-t.Max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.Max; over > 0 {
		t.dropped += int64(over)
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the tail, prefixed with a note of how much was cut.
func (t *Tail) String() string {
	if t.dropped == 0 {
		return string(t.buf)
	}
	b := t.buf
	// Start at a line boundary so the reader does not get half a line.
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return fmt.Sprintf("[... %d bytes cut ...]\n%s", t.dropped+int64(len(t.buf)-len(b)), b)
}

// BaseEnv is the minimal environment every child gets unless the caller
// passes more on purpose: PATH, HOME, LANG, TMPDIR, taken from this process.
func BaseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
