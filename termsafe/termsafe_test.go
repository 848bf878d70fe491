package termsafe

import (
	"bytes"
	"testing"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, tabs\tand\nnewlines", "plain text, tabs\tand\nnewlines"},
		{"\x1b[2J\x1b[HGO, all checks passed", "^[[2J^[[HGO, all checks passed"},
		{"bell\a and cr\r and del\x7f", "bell^G and cr^M and del^?"},
		{"c1 \u009b31m csi", "c1 <U+009B>31m csi"},
		{"unicode: é, 日本, ✓", "unicode: é, 日本, ✓"},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Written in pieces that split escapes and UTF-8 sequences, the output is
// what String makes of the whole.
func TestWriterInPieces(t *testing.T) {
	in := "ok \x1b[31mred\x1b[0m, é and \u009b and 日本\n"
	for size := 1; size <= 4; size++ {
		var out bytes.Buffer
		w := NewWriter(&out)
		b := []byte(in)
		for len(b) > 0 {
			n := min(size, len(b))
			if k, err := w.Write(b[:n]); err != nil || k != n {
				t.Fatalf("Write = %d, %v", k, err)
			}
			b = b[n:]
		}
		if got, want := out.String(), String(in); got != want {
			t.Errorf("pieces of %d: %q, want %q", size, got, want)
		}
	}
}
