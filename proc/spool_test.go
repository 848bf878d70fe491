package proc

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowWriter counts what it gets, slowly, as a loaded machine reads.
type slowWriter struct{ n int }

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	w.n += len(p)
	return len(p), nil
}

// Node.js queues writes to a full pipe and drops the queue on
// process.exit: with a pipe, a slow reader got 64 KiB of these 4 MB.
func TestNodeOutputBeforeExitIsKeptWhole(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	const size = 4 << 20
	out := &slowWriter{}
	res, err := Run(context.Background(), Spec{
		Argv:   []string{node, "-e", `process.stdout.write("x".repeat(4194303) + "\n"); process.stderr.write("e".repeat(1000000) + "\n"); process.exit(0)`},
		Env:    BaseEnv(),
		Stdout: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || out.n != size {
		t.Fatalf("exit %d, stdout %d bytes of %d", res.ExitCode, out.n, size)
	}
	if strings.Count(res.Stderr, "e") < 60000 || !strings.HasSuffix(res.Stderr, "e\n") {
		t.Fatalf("stderr tail %d bytes, ends %q", len(res.Stderr), res.Stderr[max(0, len(res.Stderr)-10):])
	}
}

// A spool gives memory back as it is read: a tool printing without end
// does not fill the machine.
func TestSpoolGivesReadOutputBack(t *testing.T) {
	s, err := newSpool("test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	chunk := make([]byte, 1<<20)
	buf := make([]byte, 64<<10)
	for range 3 * punchEvery / len(chunk) {
		if _, err := s.f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		s.drain(io.Discard, buf)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(s.f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 3*punchEvery {
		t.Fatalf("size %d", st.Size)
	}
	if s.free == 0 {
		t.Fatal("no hole was punched")
	}
	if onDisk := st.Blocks * 512; onDisk >= punchEvery {
		t.Fatalf("%d bytes on disk after reading %d", onDisk, st.Size)
	}
}
