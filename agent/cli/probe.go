package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
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

	// Name, Package and Tested describe a CLI installed with npm: its
	// name for people ("Claude Code"), its npm package and the version
	// agentorg is tested with (pinned in .ci/install-clis). With them the
	// fixes name that version, and a CLI that fails the checks is told to
	// upgrade, or, when it is newer than the tested one, to install the
	// tested one (see fix).
	Name    string
	Package string
	Tested  string

	Install string // Fix when the CLI is missing; "" = npm install of Tested
	Broken  string // Fix when `--version` fails; "" = Install
	Upgrade string // Fix when the help fails or lacks flags, when no Package
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
			pr.Fix = s.install()
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
		pr.Fix = s.fix(pr.Version, nil)
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
		pr.Fix = s.fix(pr.Version, missing)
	}
	return pr
}

// install is the Fix for a missing CLI.
func (s ProbeSpec) install() string {
	if s.Install != "" || s.Package == "" {
		return s.Install
	}
	return fmt.Sprintf("install %s: npm install -g %s@%s (or set the agent's binary to its path)", s.Name, s.Package, s.Tested)
}

// fix is the Fix for a CLI of the given reported version whose help fails
// (missing nil) or lacks the missing flags. The version reported is
// compared with Tested: an older one, or one that cannot be read, is to be
// upgraded to Tested; a newer one is said to be newer, since installing
// Tested then goes back, and the same one to be reinstalled.
func (s ProbeSpec) fix(reported string, missing []string) string {
	if s.Package == "" {
		return s.Upgrade
	}
	npm := fmt.Sprintf("npm install -g %s@%s", s.Package, s.Tested)
	v := versionIn(reported)
	c, ok := compareVersions(v, s.Tested)
	switch {
	case !ok || c < 0:
		return fmt.Sprintf("upgrade %s to the version agentorg is tested with: %s", s.Name, npm)
	case c > 0 && missing != nil:
		return fmt.Sprintf("%s %s is newer than the version agentorg is tested with (%s) and no longer lists %s: install the tested one: %s",
			s.Name, v, s.Tested, strings.Join(missing, ", "), npm)
	case c > 0:
		return fmt.Sprintf("%s %s is newer than the version agentorg is tested with (%s): install the tested one: %s", s.Name, v, s.Tested, npm)
	default:
		return fmt.Sprintf("%s %s is the version agentorg is tested with: reinstall it: %s", s.Name, v, npm)
	}
}

// versionIn is the first dotted number in a reported version, e.g. "2.1.332"
// in "2.1.332 (Claude Code)" or "0.169.0" in "codex-cli 0.169.0"; "" when
// there is none.
func versionIn(s string) string {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || (i > 0 && (isDigit(s[i-1]) || s[i-1] == '.')) {
			continue
		}
		j := i
		dots := 0
		for j < len(s) && (isDigit(s[j]) || (s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]))) {
			if s[j] == '.' {
				dots++
			}
			j++
		}
		if dots > 0 {
			return s[i:j]
		}
		i = j
	}
	return ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// compareVersions compares two dotted numbers component by component, a
// missing component counting as 0: -1, 0 or +1, and ok false when either is
// not a dotted number.
func compareVersions(a, b string) (c int, ok bool) {
	pa, okA := numbers(a)
	pb, okB := numbers(b)
	if !okA || !okB {
		return 0, false
	}
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return cmp.Compare(x, y), true
		}
	}
	return 0, true
}

func numbers(v string) ([]int, bool) {
	if v == "" {
		return nil, false
	}
	var ns []int
	for _, f := range strings.Split(v, ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, false
		}
		ns = append(ns, n)
	}
	return ns, true
}

// Locate is the first check of Probe alone: find the binary in env's PATH,
// without running it, so that a command that must answer at once (agentorg
// check) can tell a missing CLI without waiting on a slow one's start-up.
func Locate(env []string, s ProbeSpec) agentorg.Probe {
	bin, err := LookPath(s.Binary, env)
	if err != nil {
		return agentorg.Probe{Problem: err.Error(), Fix: s.install()}
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
		// The Problem is one line: `agents` and doctor print it after
		// a name, events keep it in a column.
		if tail := LastLines(nonBlank(res.Stderr), 3, 500); tail != "" {
			reason += ": " + strings.ReplaceAll(tail, "\n", " / ")
		}
		return "", "", errors.New(reason)
	}
	return out.String(), all.String(), nil
}

// nonBlank is s without its blank lines, each line trimmed.
func nonBlank(s string) string {
	var b strings.Builder
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
