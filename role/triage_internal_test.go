package role

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
)

// A diff note's path is a reviewer's text: the context read for it never
// leaves the checkout, by ".." or through a symlink the change added.
func TestFileContextStaysInTheCheckout(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "checkout")
	if err := os.MkdirAll(filepath.Join(dir, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret.txt")
	for path, text := range map[string]string{secret: "TOKEN=hunter2\n", filepath.Join(dir, "pkg", "a.go"): "one\ntwo\nthree\n"} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if got := fileContext(dir, agentorg.ReviewThread{Path: "pkg/a.go", Line: 2}); !strings.Contains(got, ">    2 | two") {
		t.Fatalf("context of pkg/a.go:2 = %q", got)
	}
	for _, p := range []string{"../secret.txt", "link.txt", "/etc/passwd", "pkg/../../secret.txt"} {
		if got := fileContext(dir, agentorg.ReviewThread{Path: p, Line: 1}); got != "" {
			t.Errorf("path %q gave context %q", p, got)
		}
	}
}
