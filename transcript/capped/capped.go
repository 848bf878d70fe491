// Package capped writes a file that never grows much beyond a cap: once
// it would, the middle is cut out, keeping the head (how a run started)
// and the tail (how it ended), with a line between them saying how much
// was cut. Run transcripts are written through it: an agent that loops
// printing must not fill the disk.
package capped

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// DefaultMax is the cap when none is given: 32 MiB.
const DefaultMax = 32 << 20

// File appends to a file, cutting its middle when it reaches Max bytes.
// The file holds at most Max bytes plus the cut line at any time, and
// always reads as head, cut line, tail (even after a crash).
type File struct {
	mu   sync.Mutex
	f    *os.File
	max  int64
	head int64 // bytes kept at the start: max/2
	size int64 // the file's size now
	cut  int64 // bytes cut so far
	// tailStart is where the tail begins (after the cut line) once a cut
	// was made, else 0.
	tailStart int64
}

// Open opens path for appending, capped at max bytes (DefaultMax when
// max <= 0). A file that is there already is appended to, its size
// counted.
func Open(path string, max int64) (*File, error) {
	if max <= 0 {
		max = DefaultMax
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, max: max, head: max / 2, size: size}, nil
}

// Write appends p, cutting the middle of the file first when p would take
// it past the cap. It never fails for the cap's sake.
func (c *File) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.f.Write(p); err != nil {
		return 0, err
	}
	c.size += int64(len(p))
	if c.size > c.max {
		if err := c.cutMiddle(); err != nil {
			return len(p), fmt.Errorf("capped: %w", err)
		}
	}
	return len(p), nil
}

// cutMiddle keeps the head and the last quarter of the cap (from a line's
// start when one begins near there), and writes the cut line between.
// Cutting to a quarter, not to the cap, makes a cut once per quarter of
// the cap written, not once per write.
func (c *File) cutMiddle() error {
	keep := c.max / 4
	from := c.size - keep
	tail := make([]byte, keep)
	if _, err := c.f.ReadAt(tail, from); err != nil && err != io.EOF {
		return err
	}
	// Start the tail at a line when one starts within its first 4 KiB.
	if i := bytes.IndexByte(tail[:min(len(tail), 4096)], '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	// What was already cut, what the old tail held before the kept part,
	// and what followed the head.
	start := c.head
	if c.tailStart > 0 {
		start = c.tailStart
	}
	c.cut += c.size - int64(len(tail)) - start
	line := []byte(fmt.Sprintf("\n[agentorg: %d bytes cut here; a transcript keeps its first %s and its last bytes, up to %s in all (AGENTORG_TRANSCRIPT_MAX)]\n",
		c.cut, Size(c.head), Size(c.max)))
	if _, err := c.f.WriteAt(append(line, tail...), c.head); err != nil {
		return err
	}
	c.tailStart = c.head + int64(len(line))
	c.size = c.tailStart + int64(len(tail))
	if err := c.f.Truncate(c.size); err != nil {
		return err
	}
	_, err := c.f.Seek(c.size, io.SeekStart)
	return err
}

// Close closes the file.
func (c *File) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.Close()
}

// Size is n bytes for people: 32 MiB, 512 KiB, 100 B.
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.4g MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.4g KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ParseSize reads a size as people write it: 32MiB, 512KiB, 1GiB, or a
// number of bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(v), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (say 32MiB, 512KiB or a number of bytes)", s)
	}
	return n * mult, nil
}
