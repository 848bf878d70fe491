package codex

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/proc"
)

const installFix = "install Codex: npm install -g @openai/codex (or set the agent's binary to its path)"

// requiredFlags are what `codex exec --help` must mention for the command
// lines this package builds; older versions lack some of them.
var requiredFlags = []string{"--json", "--skip-git-repo-check", "--disable", "--config", "resume"}

// Probe checks that Codex is installed and that its `exec` supports the
// flags used here.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	bin, err := lookPath(a.cfg.Binary, env)
	if err == nil {
		err = isExecutable(bin)
	}
	if err != nil {
		return agentorg.Probe{Problem: err.Error(), Fix: installFix}
	}
	pr := agentorg.Probe{Path: bin}
	version, err := runQuiet(ctx, env, bin, "--version")
	if err != nil {
		pr.Problem = fmt.Sprintf("%s --version: %v", bin, err)
		pr.Fix = "check that node is in the agent's PATH and that " + bin + " runs, or reinstall Codex"
		return pr
	}
	pr.Version = firstLine(version)
	help, err := runQuiet(ctx, env, bin, "exec", "--help")
	if err != nil {
		pr.Problem = fmt.Sprintf("%s exec --help: %v", bin, err)
		pr.Fix = "upgrade Codex: npm install -g @openai/codex@latest"
		return pr
	}
	var missing []string
	for _, f := range requiredFlags {
		if !strings.Contains(help, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		pr.Problem = fmt.Sprintf("codex exec of %s lacks %s", pr.Version, strings.Join(missing, ", "))
		pr.Fix = "upgrade Codex: npm install -g @openai/codex@latest"
	}
	return pr
}

// runQuiet runs a short informational command and returns its stdout.
func runQuiet(ctx context.Context, env []string, argv ...string) (string, error) {
	var out strings.Builder
	dir, err := os.MkdirTemp("", "agentorg-probe-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	res, err := proc.Run(ctx, proc.Spec{Argv: argv, Dir: dir, Env: env, Stdout: &out, Timeout: 30 * time.Second})
	if err != nil {
		return "", err
	}
	if reason := res.Reason(); reason != "" {
		if tail := lastLines(res.Stderr, 3, 500); tail != "" {
			reason += ": " + tail
		}
		return out.String(), errors.New(reason)
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

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", p, err)
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", p)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}
