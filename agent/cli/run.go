package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/lines"
	"github.com/agentorg/agentorg/proc"
)

// Spec is one run of a CLI for a task. Run takes the transcript, OnStart
// and the bounds from the task.
type Spec struct {
	Name  string // the adapter, in errors that are not the agent's: "codex" gives "codex agent: …"
	Tool  string // the tool, in ErrAgent messages: "codex" gives "…: codex: exit status 1"; "" names none
	Argv  []string
	Dir   string
	Env   []string
	Stdin io.Reader // nil: closed

	// Line gets each stdout line as lines.Splitter cuts it, longer lines
	// than MaxLine (0: lines.DefaultMax) dropped and counted. With a nil
	// Line stdout only reaches the transcript.
	Line    func([]byte)
	MaxLine int

	Timeout      time.Duration // when Task.Timeout is 0
	StallTimeout time.Duration // when Task.StallTimeout is 0

	// TailOfBoth quotes the tail of stdout and stderr together in errors,
	// for a tool that prints its errors on stdout; else stderr's.
	TailOfBoth bool

	// State is where the tool keeps its state (config, sessions, caches),
	// which a confined run (Task.Confine) may write besides the task's
	// own: see sandbox.Paths.
	State []string
}

// Outcome is how a run ended. The adapter checks Stopped first, then reads
// what the tool printed to tell success from the tool's own failures.
type Outcome struct {
	proc.Result
	Dropped int // stdout lines over MaxLine that Line never got

	timeout, stall time.Duration // the bounds that applied
	tail           string        // the last lines the tool printed, for errors
	cause          error         // why the context was cancelled
	spec           Spec
}

// Run runs s.Argv and waits for it, stdout line by line to s.Line. The error
// is non-nil only when the process could not be started; how it ended is in
// the Outcome.
func Run(ctx context.Context, t agentorg.Task, s Spec) (*Outcome, error) {
	o := &Outcome{timeout: t.Timeout, stall: t.StallTimeout, spec: s}
	if o.timeout == 0 {
		o.timeout = s.Timeout
	}
	if o.stall == 0 {
		o.stall = s.StallTimeout
	}
	var split *lines.Splitter
	var stdout io.Writer
	if s.Line != nil {
		split = &lines.Splitter{Max: s.MaxLine, Line: s.Line}
		stdout = split
	}
	res, err := proc.Run(ctx, proc.Spec{
		Argv:         s.Argv,
		Dir:          s.Dir,
		Env:          s.Env,
		Stdin:        s.Stdin,
		Stdout:       stdout,
		Log:          t.Transcript,
		Timeout:      o.timeout,
		StallTimeout: o.stall,
		Started:      t.OnStart,
		Confine:      confinement(t, s.State, s.Env),
	})
	if err != nil {
		return nil, fmt.Errorf("%s agent: %w", s.Name, err)
	}
	o.Result = res
	if res.Canceled {
		o.cause = context.Cause(ctx)
	}
	if split != nil {
		// Run has waited for the stdout copier, so the splitter is no
		// longer written to; a last line without a newline is pending.
		split.Flush()
		o.Dropped = split.Dropped
	}
	tail := res.Stderr
	if s.TailOfBoth {
		tail = res.Tail
	}
	o.tail = LastLines(tail, 20, 4096)
	return o, nil
}

// Stopped is the error of a run that agentorg ended: cancelled (not an
// agent failure: the error wraps the context's cause), timed out or stalled
// (ErrAgent). It is nil for a run that exited by itself.
func (o *Outcome) Stopped() error {
	switch {
	case o.Canceled:
		return fmt.Errorf("%s agent: cancelled: %w", o.spec.Name, o.cause)
	case o.TimedOut:
		return o.Fail(fmt.Sprintf("timed out after %s", o.timeout))
	case o.Stalled:
		return o.Fail(fmt.Sprintf("stalled: no output for %s", o.stall))
	}
	return nil
}

// ExitStatus says how a non-zero exit ended: "exit status N", or "killed by
// a signal".
func (o *Outcome) ExitStatus() string {
	if o.ExitCode < 0 {
		return "killed by a signal"
	}
	return fmt.Sprintf("exit status %d", o.ExitCode)
}

// DroppedNote tells, for an error about missing output, how many stdout
// lines were too long to read; "" when none were.
func (o *Outcome) DroppedNote() string {
	if o.Dropped == 0 {
		return ""
	}
	max := o.spec.MaxLine
	if max == 0 {
		max = lines.DefaultMax
	}
	return fmt.Sprintf(" (%d stdout lines over %d bytes were dropped)", o.Dropped, max)
}

// Fail is an ErrAgent saying msg, with the tail of what the tool printed.
func (o *Outcome) Fail(msg string) error {
	return agentError(o.spec.Tool, msg, o.tail)
}

// FailNoTail is an ErrAgent saying msg alone, for failures the tool's
// output does not explain.
func (o *Outcome) FailNoTail(msg string) error {
	return agentError(o.spec.Tool, msg, "")
}

// agentError wraps agentorg.ErrAgent: "…: tool: msg: tail", without the
// tool or the tail when they are "".
func agentError(tool, msg, tail string) error {
	if tool != "" {
		msg = tool + ": " + msg
	}
	if tail != "" {
		return fmt.Errorf("%w: %s: %s", agentorg.ErrAgent, msg, tail)
	}
	return fmt.Errorf("%w: %s", agentorg.ErrAgent, msg)
}
