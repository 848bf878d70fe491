package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookPathUsesTheTasksPATH(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gemini")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := LookPath("gemini", []string{"PATH=/nonexistent:" + dir})
	if err != nil || got != bin {
		t.Fatalf("got %q, %v", got, err)
	}
	// The last PATH wins, as for exec.
	if got, err := LookPath("gemini", []string{"PATH=/nonexistent", "PATH=" + dir}); err != nil || got != bin {
		t.Fatalf("last PATH: got %q, %v", got, err)
	}
	if _, err := LookPath("gemini", []string{"PATH=/nonexistent"}); err == nil || !strings.Contains(err.Error(), `gemini not found in PATH "/nonexistent"`) {
		t.Fatalf("got %v", err)
	}
}

func TestLookPathSkipsRelativeEntries(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got, err := LookPath("tool", []string{"PATH=.:bin"}); err == nil {
		t.Fatalf("found %q through a relative PATH entry", got)
	}
}

func TestLookPathChecksAPath(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		plain:                         plain + " is not executable",
		dir:                           dir + " is a directory",
		filepath.Join(dir, "missing"): "no such file or directory",
	} {
		if _, err := LookPath(p, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", p, err, want)
		}
	}
	if got, err := LookPath("/bin/sh", []string{"PATH=/nonexistent"}); err != nil || got != "/bin/sh" {
		t.Errorf("a path is not looked up in PATH: %q, %v", got, err)
	}
}

func TestLastLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		max  int
		want string
	}{
		{"", 3, 100, ""},
		{"  \n\n", 3, 100, ""},
		{"a\nb\nc\nd\n", 2, 100, "c\nd"},
		{"one\ntwo", 5, 100, "one\ntwo"},
		{"abcdef", 5, 3, "...def"},
		{"x\u00e9y", 5, 2, "...y"}, // a cut rune is dropped, not kept half
	} {
		if got := LastLines(c.in, c.n, c.max); got != c.want {
			t.Errorf("LastLines(%q, %d, %d) = %q, want %q", c.in, c.n, c.max, got, c.want)
		}
	}
}
