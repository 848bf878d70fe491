package cli

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

// ProbeSpec says how to check that a CLI is installed and supports the flags
// an adapter puts on its command lines.
type ProbeSpec struct {
	Binary string   // name or path, found with LookPath
	Help   []string // the arguments that print the help listing Flags, e.g. {"exec", "--help"}
	// HelpOnStderr searches stderr too: some CLIs (yargs) print help on
	// either stream.
	HelpOnStderr bool
	Flags        []string // what the help must mention

	// Version turns the first line of `--version` into the version
	// reported; nil keeps the line.
	Version func(string) string

	// Lacks is the Problem when the help lacks flags: a format taking the
	// version and the missing flags, e.g. "claude %s lacks %s".
	Lacks string

	Install string // Fix when the CLI is missing
	Broken  string // Fix when `--version` fails; "" = Install
	Upgrade string // Fix when the help fails or lacks flags
}

// Probe runs the checks of s with the environment the agent will get: find
// the binary, run `--version`, search the help for every flag. The first
// that fails is the Problem, with its Fix.
func Probe(ctx context.Context, env []string, s ProbeSpec) agentorg.Probe {
	pr := Locate(env, s)
	if pr.Problem != "" {
		return pr
	}
	bin := pr.Path
	version, _, err := quiet(ctx, env, bin, "--version")
	if err != nil {
		pr.Problem = fmt.Sprintf("%s --version: %v", bin, err)
		pr.Fix = s.Broken
		if pr.Fix == "" {
			pr.Fix = s.Install
		}
		return pr
	}
	pr.Version = firstLine(version)
	if s.Version != nil {
		pr.Version = s.Version(pr.Version)
	}
	stdout, both, err := quiet(ctx, env, append([]string{bin}, s.Help...)...)
	if err != nil {
		pr.Problem = fmt.Sprintf("%s %s: %v", bin, strings.Join(s.Help, " "), err)
		pr.Fix = s.Upgrade
		return pr
	}
	help := stdout
	if s.HelpOnStderr {
		help = both
	}
	var missing []string
	for _, f := range s.Flags {
		if !strings.Contains(help, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		pr.Problem = fmt.Sprintf(s.Lacks, pr.Version, strings.Join(missing, ", "))
		pr.Fix = s.Upgrade
	}
	return pr
}

// Locate is the first check of Probe alone: find the binary in env's PATH,
// without running it, so that a command that must answer at once (agentorg
// check) can tell a missing CLI without waiting on a slow one's start-up.
func Locate(env []string, s ProbeSpec) agentorg.Probe {
	bin, err := LookPath(s.Binary, env)
	if err != nil {
		return agentorg.Probe{Problem: err.Error(), Fix: s.Install}
	}
	return agentorg.Probe{Path: bin}
}

// quiet runs a short informational command in an empty directory, where no
// project configuration can change what it prints, and returns its stdout,
// and its stdout and stderr together.
func quiet(ctx context.Context, env []string, argv ...string) (stdout, both string, err error) {
	dir, err := os.MkdirTemp("", "agentorg-probe-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(dir)
	var out, all strings.Builder
	res, err := proc.Run(ctx, proc.Spec{Argv: argv, Dir: dir, Env: env, Stdout: &out, Log: &all, Timeout: 30 * time.Second})
	if err != nil {
		return "", "", err
	}
	if reason := res.Reason(); reason != "" {
		if tail := LastLines(res.Stderr, 3, 500); tail != "" {
			reason += ": " + tail
		}
		return "", "", errors.New(reason)
	}
	return out.String(), all.String(), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
