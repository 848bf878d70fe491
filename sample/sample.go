// Package sample makes the small Go repository that the demo, the benchmark
// and the lifecycle tests run the organization on: a bare origin and a clone
// holding the workflow, as a team's checkout would.
package sample

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The sample repository: a tiny Go module with one function and its test.
// Files are the sample repository's files.
var Files = map[string]string{
	"go.mod": "module example.com/calc\n\ngo 1.22\n",
	"calc.go": `// Package calc is the demo's sample project.
package calc

// Add returns a + b.
func Add(a, b int) int { return a + b }
`,
	"calc_test.go": `package calc

import "testing"

func TestAdd(t *testing.T) {
	if got := Add(2, 3); got != 5 {
		t.Fatalf("Add(2, 3) = %d, want 5", got)
	}
}
`,
	".gitignore": "/bin/\n*.out\n",
	"README.md":  "# calc\n\nThe agentorg demo's sample project.\n",
}

// Git runs git with an environment of its own, so that the user's config
// never changes what the demo does.
func Git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=alice", "GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_COMMITTER_NAME=alice", "GIT_COMMITTER_EMAIL=alice@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// MadeKey is the git config key set to true in a bare origin agentorg
// made (the demo's, the benchmark's), as opposed to a user's repository.
const MadeKey = "agentorg.made"

// Make creates <dir>/origin.git (the bare origin) and <dir>/repo (a
// clone holding the workflow file, as a team's checkout would), with extra
// files committed next to the sample's.
func Make(ctx context.Context, dir string, extra map[string]string) (repo, origin string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	origin = filepath.Join(dir, "origin.git")
	repo = filepath.Join(dir, "repo")
	if _, err := Git(ctx, dir, "init", "-q", "--bare", "-b", "main", origin); err != nil {
		return "", "", err
	}
	// agentorg made this origin, not the user: `agentorg gc` may pack it.
	if _, err := Git(ctx, origin, "config", MadeKey, "true"); err != nil {
		return "", "", err
	}
	if _, err := Git(ctx, dir, "init", "-q", "-b", "main", repo); err != nil {
		return "", "", err
	}
	for name, body := range Files {
		if err := WriteFile(filepath.Join(repo, name), body); err != nil {
			return "", "", err
		}
	}
	for name, body := range extra {
		if err := WriteFile(filepath.Join(repo, name), body); err != nil {
			return "", "", err
		}
	}
	for _, args := range [][]string{
		{"add", "-A"},
		{"commit", "-q", "-m", "Initial commit: calc with Add"},
		{"remote", "add", "origin", origin},
		{"push", "-q", "origin", "main"},
	} {
		if _, err := Git(ctx, repo, args...); err != nil {
			return "", "", err
		}
	}
	return repo, origin, nil
}

func WriteFile(path, body string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(body), 0o644)
}
