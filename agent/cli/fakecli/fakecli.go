// Package fakecli lets an adapter's tests use the test binary itself as a
// fake coding CLI, so that the adapter drives a real subprocess through the
// real pipes, process group and timeouts. It is imported by tests only.
//
// A package's TestMain calls Main, which hands the process over to the fake
// when the test set the fake's variable in the task's environment: Canned,
// whose output the test chooses through FAKE_* variables. (The contract
// suite's fake, which plays turns in the tool's own format, is
// agenttest.ActAs.)
package fakecli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/sandbox"

	"github.com/agentorg/agentorg"
)

// Main is TestMain for a test binary that doubles as a fake CLI: when the
// variable env is set, the process is the fake, run with its value.
func Main(m *testing.M, env string, fake func(value string) int) {
	sandbox.Main() // confined runs re-execute the test binary as the helper
	if v := os.Getenv(env); v != "" {
		os.Exit(fake(v))
	}
	os.Exit(m.Run())
}

// Self is the test binary, the fake's executable.
func Self(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// Task is a developer's read-write task in a fresh directory, with env as
// its whole environment, and its transcript.
func Task(t testing.TB, env []string) (agentorg.Task, *bytes.Buffer) {
	var transcript bytes.Buffer
	return agentorg.Task{
		Role: "developer", Issue: 2, Attempt: 1,
		Dir:        t.TempDir(),
		Prompt:     "Issue #2: Add is wrong",
		Access:     agentorg.ReadWrite,
		Env:        env,
		Transcript: &transcript,
	}, &transcript
}

// WantAgentErr fails the test unless err wraps agentorg.ErrAgent and says
// every one of substrs.
func WantAgentErr(t testing.TB, err error, substrs ...string) {
	t.Helper()
	if !errors.Is(err, agentorg.ErrAgent) {
		t.Fatalf("error %v does not wrap ErrAgent", err)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

// JSONString is s as a JSON string literal, for a fake's output lines.
func JSONString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Counter is an io.Writer that only counts the bytes written to it.
type Counter struct{ N int64 }

func (c *Counter) Write(p []byte) (int, error) { c.N += int64(len(p)); return len(p), nil }
