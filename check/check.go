// Package check runs the workflow's checks: shell commands run with sh -c in
// a directory (a clean checkout of the commit under validation), through
// proc, so that timeouts kill the whole process group.
package check

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/sandbox"
)

// OutputMax is the most Result.Output holds: enough to show a failure in a
// report or a prompt, never megabytes.
const OutputMax = 8 << 10

// DefaultTimeout applies to a check whose Timeout is zero, so that a hung
// check cannot hold validation forever.
const DefaultTimeout = 10 * time.Minute

// keepRaw is how much raw output is kept before trimming to OutputMax.
const keepRaw = 64 << 10

// Check is one command to run.
type Check struct {
	Name string
	Run  string // shell command, run with sh -c
	// Timeout bounds the run (zero means DefaultTimeout); StallTimeout
	// bounds silence on its output (zero means none).
	Timeout, StallTimeout time.Duration
	// Started, if set, receives the check's process group, so that the
	// engine can kill it should the engine itself die mid-check.
	Started func(pgid int)
	// Confine, if set, holds the check and what it starts to this policy
	// (package sandbox): a check runs code an agent wrote.
	Confine *sandbox.Policy
}

// Result is how one check went.
type Result struct {
	Name     string
	Passed   bool
	ExitCode int    // -1 when killed or never started
	Reason   string // why it failed, e.g. "exit status 1", "killed: hard timeout", "ran no tests: ..."; "" when passed
	Output   string // tail of stdout and stderr, at most OutputMax bytes, whole lines
	Duration time.Duration
}

// Run runs c.Run with sh -c in dir. env is the whole environment of the
// command. Output goes to log as it arrives (log may be nil), framed by a
// line naming the check and one with its outcome. A run whose output shows
// a test runner that ran no test fails, its reason starting "ran no tests:"
// (see testScan).
func Run(ctx context.Context, dir string, env []string, c Check, log io.Writer) Result {
	name := c.Name
	if name == "" {
		name = c.Run
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if log != nil {
		fmt.Fprintf(log, "==> check %s: %s\n", name, c.Run)
	}
	tail := &tailWriter{log: log, max: keepRaw}
	tests := newTestScan()
	pr, err := proc.Run(ctx, proc.Spec{
		Argv:         []string{"sh", "-c", c.Run},
		Dir:          dir,
		Env:          env,
		Log:          io.MultiWriter(tail, tests),
		Timeout:      timeout,
		StallTimeout: c.StallTimeout,
		TailBytes:    1, // the tail we keep is ours, with a true count of what was cut
		Started:      c.Started,
		Confine:      c.Confine,
	})
	res := Result{
		Name:     name,
		ExitCode: pr.ExitCode,
		Reason:   pr.Reason(),
		Duration: pr.Duration,
		Output:   trim(string(tail.buf), tail.total-int64(len(tail.buf)), OutputMax),
	}
	if err != nil {
		res.ExitCode, res.Reason = -1, err.Error()
	}
	// A run that ended by itself and ran no test is no pass, whatever its
	// exit status; a non-zero one is named too.
	if none := tests.ranNoTests(); none != "" && err == nil && !pr.TimedOut && !pr.Stalled && !pr.Canceled {
		if res.Reason != "" {
			none += "; " + res.Reason
		}
		res.Reason = "ran no tests: " + none
	}
	res.Passed = err == nil && res.Reason == ""
	if log != nil {
		outcome := "passed"
		if !res.Passed {
			outcome = "failed: " + res.Reason
		}
		fmt.Fprintf(log, "\n<== check %s %s (%s)\n", name, outcome, res.Duration.Round(time.Millisecond))
	}
	return res
}

// RunAll runs every check in order; a failure does not skip the rest. Checks
// not started because ctx ended are reported failed with the reason.
func RunAll(ctx context.Context, dir string, env []string, checks []Check, log io.Writer) []Result {
	results := make([]Result, 0, len(checks))
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			name := c.Name
			if name == "" {
				name = c.Run
			}
			results = append(results, Result{Name: name, ExitCode: -1, Reason: "not run: " + err.Error()})
			continue
		}
		results = append(results, Run(ctx, dir, env, c, log))
	}
	return results
}

// Trim keeps the end of s in at most max bytes, starting at a line boundary,
// with a first line saying how much was cut.
func Trim(s string, max int) string { return trim(s, 0, max) }

// trim is Trim for a tail from which cut bytes were already dropped.
func trim(s string, cut int64, max int) string {
	if cut == 0 && len(s) <= max {
		return s
	}
	// Room for the note; its number has at most 20 digits.
	body := max - len("[... 99999999999999999999 bytes cut ...]\n")
	if body < 0 {
		body = 0
	}
	start := 0
	if len(s) > body {
		start = len(s) - body
	}
	// Start after a newline so the reader gets whole lines; a single line
	// longer than the room is kept in part rather than dropped.
	if start > 0 && s[start-1] != '\n' {
		if i := strings.IndexByte(s[start:], '\n'); i >= 0 && start+i+1 < len(s) {
			start += i + 1
		} else {
			for start < len(s) && !utf8.RuneStart(s[start]) {
				start++
			}
		}
	}
	cut += int64(start)
	if cut == 0 {
		return s
	}
	return fmt.Sprintf("[... %d bytes cut ...]\n%s", cut, s[start:])
}

// tailWriter forwards to log and keeps the last max bytes and a total count.
// proc serialises calls to it.
type tailWriter struct {
	log   io.Writer
	max   int
	buf   []byte
	total int64
}

func (t *tailWriter) Write(p []byte) (int, error) {
	if t.log != nil {
		t.log.Write(p)
	}
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	// Compact only once the buffer doubles, so copying stays linear.
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}
