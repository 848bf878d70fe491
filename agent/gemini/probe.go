package gemini

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
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

// flagsUsed are the options of --help this adapter relies on.
var flagsUsed = []string{"--prompt", "--output-format", "stream-json", "--approval-mode", "yolo", "--resume", "--skip-trust"}

const installFix = "install the Gemini CLI: npm install -g @google/gemini-cli@0.61.0"

// Probe checks that the CLI is there and knows the flags used.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	bin, err := lookPath(a.cfg.Binary, env)
	if err != nil {
		return agentorg.Probe{Problem: err.Error(), Fix: installFix}
	}
	pr := agentorg.Probe{Path: bin}
	version, err := quickRun(ctx, env, bin, "--version")
	if err != nil {
		pr.Problem = "gemini --version failed: " + err.Error()
		pr.Fix = installFix
		return pr
	}
	pr.Version = firstLine(version)
	help, err := quickRun(ctx, env, bin, "--help")
	if err != nil {
		pr.Problem = "gemini --help failed: " + err.Error()
		pr.Fix = installFix
		return pr
	}
	var missing []string
	for _, f := range flagsUsed {
		if !strings.Contains(help, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		pr.Problem = fmt.Sprintf("gemini %s does not support %s", pr.Version, strings.Join(missing, ", "))
		pr.Fix = "upgrade the Gemini CLI: npm install -g @google/gemini-cli@0.61.0"
	}
	return pr
}

// quickRun runs a short informational command and returns its stdout.
func quickRun(ctx context.Context, env []string, argv ...string) (string, error) {
	var out strings.Builder
	res, err := proc.Run(ctx, proc.Spec{Argv: argv, Dir: os.TempDir(), Env: env, Stdout: &out, Timeout: 30 * time.Second})
	if err != nil {
		return "", err
	}
	if res.Reason() != "" {
		msg := res.Reason()
		if s := lastLines(res.Stderr, 3, 500); s != "" {
			msg += ": " + s
		}
		return "", errors.New(msg)
	}
	return out.String(), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
