// Package termsafe makes text safe to print on a terminal: agents write
// titles, summaries and transcripts, and a terminal takes control
// characters as commands (an escape sequence can clear the screen and
// print a forged "GO, all checks passed"). Controls are shown, not obeyed.
package termsafe

import (
	"io"
	"strings"
	"unicode/utf8"
)

// String returns s with every control character but newline and tab made
// visible: C0 controls as ^X (ESC as ^[, DEL as ^?), C1 controls as <U+0080>.
func String(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		write(&b, r)
	}
	return b.String()
}

func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || c == 0xc2 {
			return false
		}
	}
	return true
}

func write(b *strings.Builder, r rune) {
	switch {
	case r == '\n' || r == '\t':
		b.WriteRune(r)
	case r < 0x20:
		b.WriteByte('^')
		b.WriteByte(byte(r) + 64)
	case r == 0x7f:
		b.WriteString("^?")
	case r >= 0x80 && r <= 0x9f:
		b.WriteString("<U+00")
		b.WriteByte("0123456789ABCDEF"[r>>4])
		b.WriteByte("0123456789ABCDEF"[r&0xf])
		b.WriteByte('>')
	default:
		b.WriteRune(r)
	}
}

// Writer passes what is written to W with controls made visible (String).
// A UTF-8 sequence split across writes is held until it is whole.
type Writer struct {
	W io.Writer
	// Raw, when it returns true, lets bytes through as they are: JSON
	// output escapes its own controls, and its strings must stay exact.
	Raw     func() bool
	pending []byte
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{W: w} }

func (t *Writer) Write(p []byte) (int, error) {
	if t.Raw != nil && t.Raw() && len(t.pending) == 0 {
		return t.W.Write(p)
	}
	data := p
	if len(t.pending) > 0 {
		data = append(t.pending, p...)
		t.pending = nil
	}
	// Keep an incomplete UTF-8 sequence at the end for the next write.
	cut := len(data)
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				cut = i
			}
			break
		}
	}
	t.pending = append(t.pending, data[cut:]...)
	if _, err := io.WriteString(t.W, String(string(data[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}
