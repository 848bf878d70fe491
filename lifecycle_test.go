package agentorg_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLifecycleDocAndTestsAgree holds docs/lifecycle.md and the tests to
// each other: every invariant (I1, I2, ...) or failure class (F1, F4a,
// ...) a test names after "docs/lifecycle.md" exists in the doc, and
// every test file the doc cites exists. It lists, without failing, the
// rules no test names yet.
func TestLifecycleDocAndTestsAgree(t *testing.T) {
	doc, err := os.ReadFile("docs/lifecycle.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`\*\*(I\d+)\.|\*\*(F\d+a?)\*\*`).FindAllStringSubmatch(string(doc), -1) {
		defined[m[1]+m[2]] = true
	}
	if !defined["I1"] || !defined["F1"] {
		t.Fatalf("docs/lifecycle.md defines no I1 or F1: %v", defined)
	}
	// The introduction says which failure classes there are.
	last := 0
	for id := range defined {
		if n, err := strconv.Atoi(strings.TrimPrefix(id, "F")); err == nil {
			last = max(last, n)
		}
	}
	if m := regexp.MustCompile("failure classes\\*\\*, `F1` to `F(\\d+)`").FindStringSubmatch(string(doc)); m == nil || m[1] != strconv.Itoa(last) {
		t.Errorf("docs/lifecycle.md's introduction should say the failure classes run from F1 to F%d: %q", last, m)
	}

	ref := regexp.MustCompile(`\b[IF]\d+a?\b`)
	named := map[string][]string{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") || path == "lifecycle_test.go" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if !strings.Contains(l, "docs/lifecycle.md") {
				continue
			}
			// A reference may wrap onto the comment's next line.
			_, after, _ := strings.Cut(l, "docs/lifecycle.md")
			if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "//") {
				after += " " + lines[i+1]
			}
			for _, id := range ref.FindAllString(after, -1) {
				if !defined[id] {
					t.Errorf("%s:%d names docs/lifecycle.md %s, which the doc does not define", path, i+1, id)
				}
				named[id] = append(named[id], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`[a-z0-9_/]+_test\.go`).FindAllString(string(doc), -1) {
		if _, err := os.Stat(m); err != nil {
			t.Errorf("docs/lifecycle.md cites %s: %v", m, err)
		}
	}
	var unnamed []string
	for id := range defined {
		if len(named[id]) == 0 {
			unnamed = append(unnamed, id)
		}
	}
	slices.Sort(unnamed)
	t.Logf("rules of docs/lifecycle.md no test names yet: %v", unnamed)
}
