package check

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/proc"
)

var ctx = context.Background()

func TestRunPasses(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "input"), []byte("from the dir\n"), 0o644)
	var log bytes.Buffer
	r := Run(ctx, dir, append(proc.BaseEnv(), "GREETING=hi"), Check{Name: "ok", Run: `cat input; echo "$GREETING"`}, &log)
	if !r.Passed || r.ExitCode != 0 || r.Reason != "" || r.Name != "ok" {
		t.Fatalf("got %+v", r)
	}
	if r.Output != "from the dir\nhi\n" {
		t.Fatalf("output %q", r.Output)
	}
	if !strings.Contains(log.String(), "from the dir") || !strings.Contains(log.String(), "check ok passed") {
		t.Fatalf("log %q", log.String())
	}
}

func TestRunEnvIsTheWholeEnvironment(t *testing.T) {
	t.Setenv("AGENTORG_TEST_SECRET", "leak")
	r := Run(ctx, t.TempDir(), proc.BaseEnv(), Check{Name: "env", Run: "env"}, nil)
	if !r.Passed || strings.Contains(r.Output, "leak") {
		t.Fatalf("environment leaked: %+v", r)
	}
}

func TestRunFails(t *testing.T) {
	r := Run(ctx, t.TempDir(), proc.BaseEnv(), Check{Name: "bad", Run: "echo compiling; echo 'main.go:3: undefined: x' >&2; exit 2"}, nil)
	if r.Passed || r.ExitCode != 2 || r.Reason != "exit status 2" {
		t.Fatalf("got %+v", r)
	}
	if !strings.Contains(r.Output, "compiling") || !strings.Contains(r.Output, "main.go:3: undefined: x") {
		t.Fatalf("output %q", r.Output)
	}
}

func TestRunTimeoutKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	// The check forks a child that would outlive a kill of sh alone.
	start := time.Now()
	r := Run(ctx, dir, proc.BaseEnv(), Check{
		Name:    "hang",
		Run:     `(sleep 30; touch survived) & echo started; sleep 30`,
		Timeout: 300 * time.Millisecond,
	}, nil)
	if r.Passed || r.Reason != "killed: hard timeout" || r.ExitCode != -1 {
		t.Fatalf("got %+v", r)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	if !strings.Contains(r.Output, "started") {
		t.Fatalf("output before the kill is lost: %q", r.Output)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "survived")); err == nil {
		t.Fatal("child survived")
	}
}

func TestRunStallTimeout(t *testing.T) {
	r := Run(ctx, t.TempDir(), proc.BaseEnv(), Check{Name: "quiet", Run: "echo hi; sleep 30", StallTimeout: 300 * time.Millisecond}, nil)
	if r.Passed || !strings.Contains(r.Reason, "stall") {
		t.Fatalf("got %+v", r)
	}
}

func TestRunCannotStart(t *testing.T) {
	r := Run(ctx, filepath.Join(t.TempDir(), "missing"), proc.BaseEnv(), Check{Name: "x", Run: "true"}, nil)
	if r.Passed || r.ExitCode != -1 || r.Reason == "" {
		t.Fatalf("got %+v", r)
	}
}

func TestRunTrimsHugeOutput(t *testing.T) {
	// About 1 MB of numbered lines, then a last line.
	r := Run(ctx, t.TempDir(), proc.BaseEnv(), Check{
		Name: "loud",
		Run:  `i=0; while [ $i -lt 20000 ]; do echo "line $i of the noisy check output....................."; i=$((i+1)); done; echo THE END; exit 1`,
	}, nil)
	if r.Passed || r.ExitCode != 1 {
		t.Fatalf("got %+v", r.Reason)
	}
	if len(r.Output) > OutputMax {
		t.Fatalf("output is %d bytes, limit %d", len(r.Output), OutputMax)
	}
	if len(r.Output) < OutputMax/2 {
		t.Fatalf("output is only %d bytes", len(r.Output))
	}
	if !strings.HasSuffix(r.Output, "THE END\n") {
		t.Fatalf("does not end with the last line: %q", r.Output[len(r.Output)-100:])
	}
	first, rest, _ := strings.Cut(r.Output, "\n")
	var cut int
	if _, err := fmt.Sscanf(first, "[... %d bytes cut ...]", &cut); err != nil {
		t.Fatalf("no cut note: %q", first)
	}
	// The note counts everything dropped: what is kept plus what was cut is
	// everything printed.
	total := len("THE END\n")
	for i := range 20000 {
		total += len(fmt.Sprintf("line %d of the noisy check output.....................\n", i))
	}
	if cut+len(rest) != total {
		t.Fatalf("cut %d + kept %d != printed %d", cut, len(rest), total)
	}
	if !strings.HasPrefix(rest, "line ") {
		t.Fatalf("does not start with a whole line: %q", rest[:60])
	}
}

func TestRunAllRunsEveryCheck(t *testing.T) {
	dir := t.TempDir()
	checks := []Check{
		{Name: "first", Run: "echo 1 >> order"},
		{Name: "failing", Run: "echo 2 >> order; exit 1"},
		{Name: "last", Run: "echo 3 >> order"},
	}
	rs := RunAll(ctx, dir, proc.BaseEnv(), checks, nil)
	if len(rs) != 3 {
		t.Fatalf("%d results", len(rs))
	}
	want := []struct {
		name   string
		passed bool
	}{{"first", true}, {"failing", false}, {"last", true}}
	for i, w := range want {
		if rs[i].Name != w.name || rs[i].Passed != w.passed {
			t.Fatalf("result %d: %+v", i, rs[i])
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "order")); string(b) != "1\n2\n3\n" {
		t.Fatalf("ran %q", b)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	rs = RunAll(cancelled, dir, proc.BaseEnv(), checks, nil)
	if len(rs) != 3 || rs[0].Passed || !strings.Contains(rs[2].Reason, "not run") {
		t.Fatalf("after cancel: %+v", rs)
	}
}

func TestTrim(t *testing.T) {
	if got := Trim("short\n", 100); got != "short\n" {
		t.Fatalf("%q", got)
	}
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %02d\n", i)
	}
	s := b.String() // 800 bytes
	got := Trim(s, 200)
	if len(got) > 200 {
		t.Fatalf("%d bytes", len(got))
	}
	note, rest, _ := strings.Cut(got, "\n")
	if !strings.HasSuffix(got, "line 99\n") || !strings.HasPrefix(rest, "line ") {
		t.Fatalf("%q", got)
	}
	if note != fmt.Sprintf("[... %d bytes cut ...]", len(s)-len(rest)) {
		t.Fatalf("note %q", note)
	}
	// One line longer than the limit: its end is kept.
	long := strings.Repeat("x", 1000) + "END"
	if got := Trim(long, 200); len(got) > 200 || !strings.HasSuffix(got, "END") {
		t.Fatalf("%q", got)
	}
}
