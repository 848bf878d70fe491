package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/proc"
)

// sh runs script under Run with the task's bounds, collecting stdout lines.
func sh(t *testing.T, ctx context.Context, task agentorg.Task, s Spec, script string) (*Outcome, []string) {
	t.Helper()
	var got []string
	s.Argv = []string{"/bin/sh", "-c", script}
	s.Dir = t.TempDir()
	s.Env = proc.BaseEnv()
	s.Line = func(l []byte) { got = append(got, string(l)) }
	o, err := Run(ctx, task, s)
	if err != nil {
		t.Fatal(err)
	}
	return o, got
}

func TestRunSplitsLinesAndQuotesTheTail(t *testing.T) {
	var tr bytes.Buffer
	task := agentorg.Task{Transcript: &tr}
	o, got := sh(t, context.Background(), task, Spec{Name: "x", Tool: "tool", MaxLine: 8},
		`echo one; echo 0123456789; printf 'last'; echo 'oops' >&2; exit 3`)
	if strings.Join(got, ",") != "one,last" || o.Dropped != 1 {
		t.Fatalf("lines %q, dropped %d", got, o.Dropped)
	}
	if err := o.Stopped(); err != nil {
		t.Fatalf("a run that exited is not stopped: %v", err)
	}
	err := o.Fail(o.ExitStatus() + o.DroppedNote())
	if !errors.Is(err, agentorg.ErrAgent) || !strings.HasSuffix(err.Error(), ": tool: exit status 3 (1 stdout lines over 8 bytes were dropped): oops") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(tr.String(), "0123456789") {
		t.Errorf("a dropped line did not reach the transcript: %q", tr.String())
	}
	// Without a tool name or a tail, the message is alone.
	if err := (&Outcome{}).FailNoTail("bad"); err.Error() != agentorg.ErrAgent.Error()+": bad" {
		t.Errorf("got %v", err)
	}
}

func TestRunTailOfBothAndSignals(t *testing.T) {
	o, _ := sh(t, context.Background(), agentorg.Task{}, Spec{Tool: "aider", TailOfBoth: true},
		`echo 'error on stdout'; kill -9 $$`)
	if o.ExitStatus() != "killed by a signal" || o.tail != "error on stdout" {
		t.Fatalf("status %q, tail %q", o.ExitStatus(), o.tail)
	}
	if o.DroppedNote() != "" {
		t.Errorf("dropped note %q", o.DroppedNote())
	}
}

func TestRunStopped(t *testing.T) {
	// The task's bound wins over the spec's default.
	task := agentorg.Task{StallTimeout: 200 * time.Millisecond}
	o, _ := sh(t, context.Background(), task, Spec{Tool: "t", StallTimeout: time.Hour}, `echo 'last words' >&2; sleep 30`)
	if err := o.Stopped(); !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "t: stalled: no output for 200ms: last words") {
		t.Fatalf("stall: %v", err)
	}
	o, _ = sh(t, context.Background(), agentorg.Task{}, Spec{Tool: "t", Timeout: 200 * time.Millisecond}, `sleep 30`)
	if err := o.Stopped(); !errors.Is(err, agentorg.ErrAgent) || !strings.Contains(err.Error(), "t: timed out after 200ms") {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("shutting down")
	time.AfterFunc(200*time.Millisecond, func() { cancel(cause) })
	o, _ = sh(t, ctx, agentorg.Task{}, Spec{Name: "t", Tool: "t"}, `sleep 30`)
	if err := o.Stopped(); !errors.Is(err, cause) || errors.Is(err, agentorg.ErrAgent) || !strings.HasPrefix(err.Error(), "t agent: cancelled: ") {
		t.Fatalf("cancel: %v", err)
	}
}

func TestRunThatCannotStart(t *testing.T) {
	_, err := Run(context.Background(), agentorg.Task{}, Spec{Name: "codex", Argv: []string{"/nonexistent/codex"}, Dir: t.TempDir()})
	if err == nil || errors.Is(err, agentorg.ErrAgent) || !strings.HasPrefix(err.Error(), "codex agent: ") {
		t.Fatalf("got %v", err)
	}
}
