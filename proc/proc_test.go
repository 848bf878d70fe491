package proc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunExitCodeAndTail(t *testing.T) {
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, Env: BaseEnv()})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || !strings.Contains(res.Tail, "out") || !strings.Contains(res.Stderr, "err") {
		t.Fatalf("got %+v", res)
	}
	if res.Reason() != "exit status 3" {
		t.Fatalf("reason %q", res.Reason())
	}
}

func TestStdinIsClosedWhenNil(t *testing.T) {
	// cat would wait forever on an open stdin; with it closed it ends at once.
	res, err := Run(context.Background(), Spec{Argv: []string{"cat"}, Env: BaseEnv(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.TimedOut || res.ExitCode != 0 {
		t.Fatalf("cat did not see EOF: %+v", res)
	}
}

func TestEnvIsOnlyWhatIsGiven(t *testing.T) {
	t.Setenv("AGENTORG_SECRET_FOR_TEST", "leak")
	res, err := Run(context.Background(), Spec{Argv: []string{"/usr/bin/env"}, Env: []string{"ONLY=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Tail, "leak") || !strings.Contains(res.Tail, "ONLY=1") {
		t.Fatalf("environment leaked or missing: %q", res.Tail)
	}
}

func TestStallKillsWholeGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The child sleeps in the background; killing only the shell would leave it.
	script := "sleep 60 & echo $! > " + pidFile + "; echo started; wait"
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", script}, Env: BaseEnv(), StallTimeout: 300 * time.Millisecond, KillGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stalled || res.Reason() != "killed: no output within the stall timeout" {
		t.Fatalf("want stalled, got %+v", res)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d survived the group kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOutputResetsStall(t *testing.T) {
	// Prints every 100ms for ~1s with a 400ms stall limit: must not be killed.
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 0.1; done"}, Env: BaseEnv(), StallTimeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stalled || res.ExitCode != 0 {
		t.Fatalf("killed although it kept talking: %+v", res)
	}
}

func TestHardTimeoutAndCancel(t *testing.T) {
	res, _ := Run(context.Background(), Spec{Argv: []string{"sleep", "30"}, Env: BaseEnv(), Timeout: 200 * time.Millisecond, KillGrace: 50 * time.Millisecond})
	if !res.TimedOut || res.ExitCode != -1 {
		t.Fatalf("want timeout, got %+v", res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	res, _ = Run(ctx, Spec{Argv: []string{"sleep", "30"}, Env: BaseEnv(), KillGrace: 50 * time.Millisecond})
	if !res.Canceled {
		t.Fatalf("want cancelled, got %+v", res)
	}
}

func TestTailKeepsEndAndSaysWhatWasCut(t *testing.T) {
	tl := &Tail{Max: 16}
	tl.Write([]byte("line one\nline two\nline three\n"))
	got := tl.String()
	if !strings.HasSuffix(got, "line three\n") || !strings.Contains(got, "bytes cut") {
		t.Fatalf("tail %q", got)
	}
}

func TestStartFailure(t *testing.T) {
	_, err := Run(context.Background(), Spec{Argv: []string{"/nonexistent/agentorg-binary"}})
	if err == nil {
		t.Fatal("want a start error")
	}
}

func TestMarkReachesTheEnvironmentAndKillsOnlyItsOwn(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc")
	}
	ctx := context.Background()
	res, err := Run(WithMark(ctx, "job/1"), Spec{Argv: []string{"/usr/bin/env"}, Env: []string{"ONLY=1", MarkVar + "=forged"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(res.Tail); len(got) != 2 || got[0] != "ONLY=1" || got[1] != MarkVar+"=job/1" {
		t.Fatalf("environment under a mark: %q", got)
	}

	// Two sleeping processes under two marks: killing one mark leaves the other.
	ended := map[string]chan Result{"job/2": make(chan Result, 1), "job/3": make(chan Result, 1)}
	for mark, ch := range ended {
		go func() {
			res, _ := Run(WithMark(ctx, mark), Spec{Argv: []string{"sleep", "60"}, Env: BaseEnv()})
			ch <- res
		}()
	}
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n2, _ := marked(func(m string) bool { return m == "job/2" })
		n3, _ := marked(func(m string) bool { return m == "job/3" })
		if len(n2) == 1 && len(n3) == 1 {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("marked processes: %v %v", n2, n3)
		}
	}
	if n, ok := KillMarked(func(m string) bool { return m == "job/2" }); !ok || n != 1 {
		t.Fatalf("KillMarked(job/2) = %d, %v", n, ok)
	}
	select {
	case res := <-ended["job/2"]:
		if res.ExitCode != -1 {
			t.Fatalf("job/2 ended %+v, want killed", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("job/2 still runs")
	}
	select {
	case res := <-ended["job/3"]:
		t.Fatalf("job/3 ended too: %+v", res)
	case <-time.After(100 * time.Millisecond):
	}
	KillMarked(func(m string) bool { return m == "job/3" })
	<-ended["job/3"]
}
