package app

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Checks keep their own Go caches: agents may write the user's, and the go
// command trusts what it finds there. A check's modules come from the
// user's download cache through the go command's proxy protocol, checked
// against go.sum: a module there works offline, and one an agent tampered
// with fails the check instead of passing it.
func TestChecksFetchModulesFromTheUsersCacheVerified(t *testing.T) {
	userMods, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	// agentorg's own dependency: in the download cache wherever agentorg
	// was built from source.
	download := filepath.Join(strings.TrimSpace(string(userMods)), "cache", "download", "github.com", "google", "uuid", "@v")
	if _, err := os.Stat(filepath.Join(download, "v1.6.0.zip")); err != nil {
		t.Skipf("github.com/google/uuid v1.6.0 is not in the download cache: %v", err)
	}
	sums, err := os.ReadFile(filepath.Join("..", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	var goSum strings.Builder
	for _, line := range strings.Split(string(sums), "\n") {
		if strings.HasPrefix(line, "github.com/google/uuid v1.6.0") {
			goSum.WriteString(line + "\n")
		}
	}
	mod := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module example.com/usesuuid\n\ngo 1.22\n\nrequire github.com/google/uuid v1.6.0\n",
		"go.sum":  goSum.String(),
		"main.go": "package main\n\nimport \"github.com/google/uuid\"\n\nfunc main() { println(uuid.NewString()) }\n",
	} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func(t *testing.T) (string, error) {
		t.Helper()
		// No network: only the user's download cache can serve.
		t.Setenv("GOPROXY", "off")
		t.Setenv("XDG_STATE_HOME", t.TempDir())
		env := CheckEnv()
		cmd := exec.Command("go", "list", "-deps", "./...")
		cmd.Dir, cmd.Env = mod, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("offline from the user's cache", func(t *testing.T) {
		out, err := load(t)
		if err != nil || !strings.Contains(out, "github.com/google/uuid") {
			t.Fatalf("go list in the checks' environment: %v\n%s", err, out)
		}
		own := filepath.Join(os.Getenv("XDG_STATE_HOME"), "agentorg", "checks", "go-mod", "github.com", "google", "uuid@v1.6.0", "version4.go")
		if _, err := os.Stat(own); err != nil {
			t.Fatalf("the module was not extracted into the checks' own cache: %v", err)
		}
	})

	t.Run("tampered in the user's cache", func(t *testing.T) {
		// The user's module cache as an agent left it: the zip altered.
		tampered := t.TempDir()
		dst := filepath.Join(tampered, "cache", "download", "github.com", "google", "uuid", "@v")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"list", "v1.6.0.info", "v1.6.0.mod", "v1.6.0.zip"} {
			b, err := os.ReadFile(filepath.Join(download, f))
			if err != nil {
				t.Fatal(err)
			}
			if f == "v1.6.0.zip" {
				b = tamper(t, b, "version4.go")
			}
			if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("GOMODCACHE", tampered)
		out, err := load(t)
		if err == nil || !strings.Contains(out, "checksum mismatch") {
			t.Fatalf("a tampered module should fail the check with a checksum mismatch: %v\n%s", err, out)
		}
	})
}

// tamper rewrites a module zip with one file's code changed.
func tamper(t *testing.T, b []byte, file string) []byte {
	t.Helper()
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := zip.NewWriter(&out)
	changed := false
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f.Name, "/"+file) {
			content = append(content, "\n// an agent was here\n"...)
			changed = true
		}
		fw, err := w.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	if err := w.Close(); err != nil || !changed {
		t.Fatalf("tamper: %v, changed %v", err, changed)
	}
	return out.Bytes()
}
