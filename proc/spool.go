package proc

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A spool is where a child's stdout or stderr goes: an anonymous
// in-memory file (memfd), read back as it grows, not a pipe. Node.js writes
// to a pipe asynchronously and to a file synchronously, so a Node tool (the
// Gemini CLI, Claude Code, jest) that calls process.exit while a pipe is
// full loses what it had queued: its last lines, the result line among
// them. A file takes every byte the moment it is written.
type spool struct {
	f    *os.File // the child appends; we read at our own offset (pread)
	read int64    // bytes read so far
	free int64    // bytes before this offset were given back
}

// punchEvery is how much read output a spool keeps before it gives the
// memory back, so that a tool printing without end does not fill it.
const punchEvery = 16 << 20

func newSpool(name string) (*spool, error) {
	fd, err := unix.MemfdCreate("agentorg-"+name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd for %s: %w", name, err)
	}
	// O_APPEND: the child's writes land at the end whatever the offset.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, unix.O_APPEND); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("memfd for %s: %w", name, err)
	}
	return &spool{f: os.NewFile(uintptr(fd), "agentorg-"+name)}, nil
}

// drain copies what was written since the last call to dst and says
// whether there was any.
func (s *spool) drain(dst io.Writer, buf []byte) bool {
	fd := int(s.f.Fd())
	got := false
	for {
		n, err := unix.Pread(fd, buf, s.read)
		if n <= 0 || err != nil {
			break
		}
		got = true
		s.read += int64(n)
		dst.Write(buf[:n])
	}
	if s.read-s.free >= punchEvery {
		if unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, s.free, s.read-s.free) == nil {
			s.free = s.read
		}
	}
	return got
}

func (s *spool) close() { s.f.Close() }

// spools are a run's stdout and stderr spools and the goroutine that
// follows them.
type spools struct {
	out, err *spool
	stop     chan struct{} // closed: read to the end once more and return
	done     chan struct{} // closed when the follower returned
}

func newSpools() (*spools, error) {
	out, err := newSpool("stdout")
	if err != nil {
		return nil, err
	}
	errs, err := newSpool("stderr")
	if err != nil {
		out.close()
		return nil, err
	}
	return &spools{out: out, err: errs, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// follow copies both spools to their writers until finish, polling: from
// a millisecond after output up to 50 ms in silence.
func (s *spools) follow(stdout, stderr io.Writer) {
	defer close(s.done)
	buf := make([]byte, 64<<10)
	wait := time.Millisecond
	for {
		got := s.out.drain(stdout, buf)
		got = s.err.drain(stderr, buf) || got
		if got {
			wait = time.Millisecond
			continue
		}
		select {
		case <-s.stop:
			// The process group is gone: one last read gets what it
			// wrote just before.
			s.out.drain(stdout, buf)
			s.err.drain(stderr, buf)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// finish has the follower read what is left and waits for it.
func (s *spools) finish() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *spools) close() {
	s.out.close()
	s.err.close()
}
