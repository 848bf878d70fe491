package engine_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// Issue 15: a failed try says when it is tried again, in the event log and
// on the board (`agentorg status`): an issue that waits for its retry does
// not look lost. (docs/lifecycle.md F4)
func TestARetryIsVisibleWithItsTime(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    error: "model overloaded"
    exit: 3
`
	org := orgtest.New(t, orgtest.Options{Script: script})
	eng := org.Engine(t, app.EngineOptions{MaxAttempts: 3, RetryDelay: time.Hour})
	n := newIssue(t, org, "Anything")
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = eng.RunUntilIdle(ctx) // the retry is an hour away: it times out

	errs := events(t, org, n, eventlog.KindError)
	if len(errs) != 1 || !strings.Contains(errs[0].Reason, "try 1 of 3 failed, retries at ") {
		t.Fatalf("want one failed try that says when it retries, got %+v", errs)
	}
	b, err := board.Read(context.Background(), board.Sources{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Retrying) != 1 || b.Retrying[0].Issue != n || b.Retrying[0].Stage != "plan" {
		t.Fatalf("the board's retries: %+v", b.Retrying)
	}
	if at := b.Retrying[0].At; at.Before(began.Add(59*time.Minute)) || at.After(time.Now().Add(time.Hour)) {
		t.Fatalf("the retry is at %s, want an hour after the failure", at)
	}
	var out bytes.Buffer
	if err := b.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := "(plan, retries at " + b.Retrying[0].At.Local().Format("15:04:05") + ")"
	if !strings.Contains(out.String(), "RETRYING") || !strings.Contains(out.String(), want) {
		t.Fatalf("status does not say %q:\n%s", want, out.String())
	}
}
