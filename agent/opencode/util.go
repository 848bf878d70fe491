package opencode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentorg/agentorg/proc"
)

// lookPath finds name the way the agent's own environment would: in the
// PATH of env (the task's), falling back to agentorg's PATH only when env
// has none. A name with a slash is taken as a path.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("%s is not an executable file", name)
	}
	path, ok := getenv(env, "PATH")
	if !ok {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s not found in PATH", name)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in the agent's PATH (%s)", name, path)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func getenv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// quickRun runs a short informational command and returns its stdout, and
// stdout and stderr together (yargs may print help on either).
func quickRun(ctx context.Context, env []string, argv ...string) (stdout, all string, err error) {
	var out, both strings.Builder
	res, err := proc.Run(ctx, proc.Spec{Argv: argv, Dir: os.TempDir(), Env: env, Stdout: &out, Log: &both, Timeout: 30 * time.Second})
	if err != nil {
		return "", "", err
	}
	if res.Reason() != "" {
		msg := res.Reason()
		if s := lastLines(res.Stderr, 3, 500); s != "" {
			msg += ": " + s
		}
		return "", "", errors.New(msg)
	}
	return out.String(), both.String(), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// lastLines returns at most n trailing non-empty lines of s, at most max
// bytes, for error messages.
func lastLines(s string, n, max int) string {
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
