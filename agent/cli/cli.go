// Package cli runs coding CLIs as agents. Agent is the one runner of the
// coding-CLI adapters (agent/codex, claude, gemini, opencode, aider): each
// describes its tool in a Tool (command lines per access and resume,
// environment, output parser, probe, facts) and Agent does the rest the
// same way for all. Below it, and shared with agent/command: finding the
// executable in the task's own PATH, running it under proc with the task's
// bounds and classifying how the run ended (Run), and probing the installed
// version and its flags (Probe).
package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// LookPath finds name the way the agent's own environment would: in the PATH
// of env (the task's), falling back to agentorg's own PATH only when env has
// none. A name with a slash is a path and must be an executable file.
// Relative PATH entries are skipped: they would depend on the directory the
// agent runs in.
func LookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	path, ok := Getenv(env, "PATH")
	if !ok {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s not found in PATH", name)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH %q", name, path)
}

// executable says why p cannot be run, or nil.
func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return err // names p already
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", p)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// Getenv is key's value in env ("K=V" entries); the last one wins, as for
// exec.
func Getenv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// LastLines returns at most n trailing lines of s, at most max bytes, for
// error messages; surrounding space is trimmed.
func LastLines(s string, n, max int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s = strings.Join(lines, "\n")
	if len(s) > max {
		s = "..." + strings.ToValidUTF8(s[len(s)-max:], "")
	}
	return s
}
