// Package lines splits a process's output into lines as it arrives, for
// agents that speak JSON lines. A line longer than the limit is dropped and
// counted rather than buffered, so a runaway tool cannot make agentorg hold
// its whole output in memory.
package lines

import "bytes"

// DefaultMax is the longest line kept when Splitter.Max is zero.
const DefaultMax = 8 << 20

// Splitter is an io.Writer that calls Line once per complete line, without
// the newline and trimmed of surrounding space. It is written to by one
// goroutine (proc's stdout copier); call Flush after the writer is done.
type Splitter struct {
	Max  int          // longest line kept; 0 means DefaultMax
	Line func([]byte) // called with each line; the slice is reused after it returns

	// Dropped counts lines skipped because they were longer than Max.
	Dropped int

	buf  []byte
	over bool // the current line passed Max; the rest of it is skipped
}

func (s *Splitter) max() int {
	if s.Max > 0 {
		return s.Max
	}
	return DefaultMax
}

// Write never fails: output is never refused, only long lines are skipped.
func (s *Splitter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if !s.over {
			if len(s.buf)+len(chunk) > s.max() {
				s.over = true
				s.buf = nil
			} else {
				s.buf = append(s.buf, chunk...)
			}
		}
		if i < 0 {
			break
		}
		s.end()
		b = b[i+1:]
	}
	return n, nil
}

// Flush ends a last line that had no newline.
func (s *Splitter) Flush() {
	if len(s.buf) > 0 || s.over {
		s.end()
	}
}

func (s *Splitter) end() {
	if s.over {
		s.Dropped++
	} else if s.Line != nil {
		s.Line(bytes.TrimSpace(s.buf))
	}
	s.over = false
	// Do not keep a huge buffer alive after one long line.
	if cap(s.buf) > 64<<10 {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
}
