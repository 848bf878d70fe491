package capped

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A transcript written far past its cap keeps its head and its tail, whole
// lines, with one line between saying how many bytes were cut; the bytes
// kept and cut add up to what was written.
func TestKeepsHeadAndTailAndSaysWhatWasCut(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run.log")
	const max = 64 << 10
	f, err := Open(p, max)
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for i := 1; i <= 50000; i++ {
		n, err := fmt.Fprintf(f, "line %d\n", i)
		if err != nil {
			t.Fatal(err)
		}
		written += n
		if fi, _ := os.Stat(p); fi.Size() > max+200 {
			t.Fatalf("after line %d the file has %d bytes, cap %d", i, fi.Size(), max)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	got := string(b)
	if !strings.HasPrefix(got, "line 1\nline 2\n") || !strings.HasSuffix(got, "line 49999\nline 50000\n") {
		t.Fatalf("head or tail lost:\n%.60s\n...\n%s", got, got[len(got)-60:])
	}
	cuts := regexp.MustCompile(`\n\[agentorg: (\d+) bytes cut here; [^\n]*\]\n`).FindAllStringSubmatchIndex(got, -1)
	if len(cuts) != 1 {
		t.Fatalf("want one cut line, got %d", len(cuts))
	}
	cut, _ := strconv.Atoi(got[cuts[0][2]:cuts[0][3]])
	kept := len(got) - (cuts[0][1] - cuts[0][0])
	if kept+cut != written {
		t.Errorf("kept %d + cut %d = %d bytes, written %d", kept, cut, kept+cut, written)
	}
	if tail := got[cuts[0][1]:]; !strings.HasPrefix(tail, "line ") {
		t.Errorf("the tail does not start at a line: %.20q", tail)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"32MiB": 32 << 20, "512 KiB": 512 << 10, "1GiB": 1 << 30, "4096": 4096, "100B": 100} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1MiB", "0"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) should fail", bad)
		}
	}
}
