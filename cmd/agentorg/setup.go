package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/survey"
	"github.com/agentorg/agentorg/workflow"
)

// initFlags are init's options.
type initFlags struct {
	dir, target, check, e2e string
	approvers               []string
	agents                  survey.AgentFlags
	roleAgent               map[string]*string // role → its --ROLE-agent flag
	force, yes              bool
}

func newInitCmd(g *globals) *cobra.Command {
	f := initFlags{roleAgent: map[string]*string{}}
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a workflow for this repository to .agentorg/workflow.yaml",
		Long: `Read the repository and write a workflow for it: the article's lifecycle and
label names (agentorg opt-in, plan:review, issue:approved, dev:ready,
dev:running, dev:done, mr:ready-for-review, mr:approved, e2e:ready, e2e:done,
needs:human), with what init finds filled in:

  target_branch  what origin calls its default branch (when it exists here),
                 else the branch checked out, else main or master
  checks         from go.mod, package.json's test script (npm, pnpm or yarn
                 by lockfile), Cargo.toml, pyproject.toml/setup.py/pytest.ini,
                 a Makefile test target (preferred: it usually runs the
                 rest); without one, one check per ecosystem found (a Go
                 module without a _test.go file: vet and build)
  agents         the coding CLIs on PATH (claude, codex, gemini, opencode,
                 aider; the first found in that order serves every role)
  approver       git config user.name

Each flag overrides what init would find. init prints what it found and where
from; on a terminal it asks before writing (--yes does not ask). Then review
the file, run 'agentorg check', and commit .agentorg.

The state (the home: the database, the mirror, worktrees, transcripts) is
made by the first command that needs it, outside the repository, in
$XDG_STATE_HOME/agentorg/homes (~/.local/state/...), with .agentorg/state a
link to it, which the .gitignore init writes keeps out of git.`,
		Example: `  agentorg init
  agentorg init --target develop --check "make ci" --approver alice --approver bob
  agentorg init --agent codex --validator-agent claude
  agentorg init --agent-command my-agent,--fast          # docs/agent-protocol.md
  agentorg init --agent openai --openai-model qwen2.5-coder:7b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.agents.Roles = map[string]string{}
			for r, v := range f.roleAgent {
				f.agents.Roles[r] = *v
			}
			return runInit(cmd, g, f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.dir, "dir", ".", "the repository's root")
	fl.StringSliceVar(&f.approvers, "approver", nil, "user allowed to approve plans and merge requests (repeatable; default: git config user.name)")
	fl.StringVar(&f.target, "target", "", "target branch (default: the repository's default branch)")
	fl.StringVar(&f.check, "check", "", "validation command (default: found in the repository)")
	fl.StringVar(&f.e2e, "e2e", "", "end-to-end command run after merge (default: the checks)")
	fl.StringVar(&f.agents.Default, "agent", "", "agent of every role: claude, codex, gemini, opencode, aider, openai, or command (default: the first CLI found on PATH)")
	for _, r := range survey.Roles {
		f.roleAgent[r] = fl.String(r+"-agent", "", fmt.Sprintf("agent of the %s role (as --agent)", r))
	}
	fl.StringSliceVar(&f.agents.Command, "agent-command", nil, "a program speaking docs/agent-protocol.md (PROG,ARG...): the agent of the roles given no other")
	fl.StringVar(&f.agents.OpenAIURL, "openai-url", survey.DefaultOpenAIURL, "the built-in agent's OpenAI-compatible endpoint (with --agent openai)")
	fl.StringVar(&f.agents.OpenAIModel, "openai-model", "", "the model the built-in agent asks for (required with --agent openai)")
	fl.BoolVar(&f.force, "force", false, "overwrite an existing workflow")
	fl.BoolVar(&f.yes, "yes", false, "write without asking, even on a terminal")
	g.addAs(c)
	return c
}

func runInit(cmd *cobra.Command, g *globals, f initFlags) error {
	p := filepath.Join(f.dir, workflow.DefaultPath)
	if _, err := os.Stat(p); err == nil && !f.force {
		return fmt.Errorf("%s exists; pass --force to overwrite it", p)
	}
	o, found, err := surveyInit(cmd.Context(), g, f)
	if err != nil {
		return err
	}
	if err := validateInit(p, o); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, l := range found {
		fmt.Fprintln(out, l)
	}
	if interactive() && !f.yes {
		if ok, err := confirm(cmd.InOrStdin(), out, fmt.Sprintf("Write %s? [Y/n] ", p)); err != nil || !ok {
			fmt.Fprintln(out, "nothing written")
			return err
		}
	}
	ignore, err := writeWorkflow(p, workflow.Default(o))
	if err != nil {
		return err
	}
	if ignore != "" {
		fmt.Fprintf(out, "wrote %s, and %s to keep agentorg's state out of git\n", p, ignore)
	} else {
		fmt.Fprintf(out, "wrote %s\n", p)
	}
	fmt.Fprintln(out, nextStep(p, o))
	return nil
}

// surveyInit works out the workflow's options from the flags and the
// repository, with a line for each finding saying where it came from.
func surveyInit(ctx context.Context, g *globals, f initFlags) (o workflow.DefaultOptions, found []string, err error) {
	if err := survey.Repo(ctx, f.dir); err != nil {
		return o, nil, err
	}
	target, from, err := initTarget(ctx, f)
	if err != nil {
		return o, nil, err
	}
	o.TargetBranch = target
	found = append(found, fmt.Sprintf("target_branch: %s (%s)", target, from))

	checks, lines := initChecks(f)
	found = append(found, lines...)
	for _, c := range checks {
		o.Checks = append(o.Checks, workflow.CheckOptions{Name: c.Name, Run: c.Run})
	}
	var line string
	o.E2E, line = initE2E(f, checks)
	found = append(found, line)

	plan, err := survey.PlanAgents(f.agents, survey.Installed(os.Getenv("PATH")))
	if err != nil {
		return o, nil, err
	}
	o.Agents, o.RoleAgents = plan.Agents, plan.Roles
	for _, l := range plan.Lines {
		found = append(found, "agents: "+l)
	}

	if o.Approvers, from, err = initApprovers(ctx, g, f); err != nil {
		return o, nil, err
	}
	found = append(found, fmt.Sprintf("approver: %s (%s)", strings.Join(o.Approvers, ", "), from))
	return o, found, nil
}

// nextStep says what to do with the file just written.
func nextStep(p string, o workflow.DefaultOptions) string {
	var missing []string
	if len(o.Checks) == 0 {
		missing = append(missing, "the check")
	}
	if o.E2E == "" {
		missing = append(missing, "the e2e command")
	}
	if len(missing) > 0 {
		return fmt.Sprintf("next: fill in %s in %s (agentorg check fails until you do), run `agentorg check`, then commit .agentorg", strings.Join(missing, " and "), p)
	}
	return fmt.Sprintf("next: review %s, run `agentorg check`, then commit .agentorg (git add .agentorg && git commit -m \"Add the agentorg workflow\")", p)
}

// initTarget is --target, which must name a branch of the repository, or
// the repository's default branch.
func initTarget(ctx context.Context, f initFlags) (branch, from string, err error) {
	if f.target == "" {
		return survey.DefaultBranch(ctx, f.dir)
	}
	if !survey.BranchExists(ctx, f.dir, f.target) {
		return "", "", fmt.Errorf("--target %s: the repository in %s has no branch %s: name an existing branch (git branch --list)", f.target, f.dir, f.target)
	}
	return f.target, "--target", nil
}

// initChecks are --check, or the checks found in the repository, with a
// line each saying where from (and what was passed over).
func initChecks(f initFlags) ([]survey.Check, []string) {
	if f.check != "" {
		return []survey.Check{{Name: "test", Run: f.check, From: "--check"}}, []string{fmt.Sprintf("check: %s (--check)", f.check)}
	}
	checks, notes := survey.Checks(f.dir)
	if len(checks) == 0 {
		return nil, []string{fmt.Sprintf("check: none found (%s): fill it in; agentorg check fails until you do", strings.Join(notes, "; "))}
	}
	var lines []string
	for _, c := range checks {
		label := "check"
		if len(checks) > 1 {
			label += " " + c.Name
		}
		lines = append(lines, fmt.Sprintf("%s: %s (%s)", label, c.Run, c.From))
	}
	if len(notes) > 0 {
		lines = append(lines, "passed over: "+strings.Join(notes, "; "))
	}
	return checks, lines
}

// initE2E is --e2e, else the checks one after the other ("" with none: the
// user fills it in).
func initE2E(f initFlags, checks []survey.Check) (run, line string) {
	if f.e2e != "" {
		return f.e2e, fmt.Sprintf("e2e: %s (--e2e)", f.e2e)
	}
	if len(checks) == 0 {
		return "", "e2e: none (fill it in, or pass --e2e)"
	}
	runs := make([]string, len(checks))
	for i, c := range checks {
		runs[i] = c.Run
	}
	run = strings.Join(runs, " && ")
	what := "the check"
	if len(checks) > 1 {
		what = "the checks, one after the other"
	}
	return run, fmt.Sprintf("e2e: %s (%s, run on the target branch after each merge; --e2e to change)", run, what)
}

// initApprovers are --approver, else --as, else git's user.name in the
// repository, else $USER.
func initApprovers(ctx context.Context, g *globals, f initFlags) (names []string, from string, err error) {
	switch {
	case len(f.approvers) > 0:
		return f.approvers, "--approver", nil
	case g.as != "":
		return []string{g.as}, "--as", nil
	}
	if u := survey.UserName(ctx, f.dir); u != "" {
		return []string{u}, "git config user.name", nil
	}
	if u := os.Getenv("USER"); u != "" {
		return []string{u}, "$USER", nil
	}
	return nil, "", errors.New("no approver: pass --approver NAME, or set git config user.name")
}

// validateInit checks the workflow init is about to write. Commands it
// found none of are written empty for the user to fill in, so they are
// stood in for here: everything else must be valid.
func validateInit(p string, o workflow.DefaultOptions) error {
	if len(o.Checks) == 0 {
		o.Check = "true"
	}
	if o.E2E == "" {
		o.E2E = "true"
	}
	if _, err := workflow.Parse(p, workflow.Default(o), os.LookupEnv); err != nil {
		return fmt.Errorf("the workflow init would write does not validate with these options:\n%w", err)
	}
	return nil
}

// writeWorkflow writes the workflow, and a .gitignore for the state next
// to it unless there is one; ignore is the .gitignore written, if any.
func writeWorkflow(p string, text []byte) (ignore string, err error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, text, 0o644); err != nil {
		return "", err
	}
	ignore = filepath.Join(filepath.Dir(p), ".gitignore")
	if _, err := os.Stat(ignore); !os.IsNotExist(err) {
		return "", nil
	}
	return ignore, os.WriteFile(ignore, []byte("# agentorg's state (database, worktrees, transcripts): a link to the home, or the home\n/state\n"), 0o644)
}

// interactive reports whether a human is at a terminal to answer.
func interactive() bool {
	return isatty.IsTerminal(os.Stdin.Fd()) && isatty.IsTerminal(os.Stdout.Fd())
}

// confirm asks a yes/no question; an empty answer is yes.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && answer == "" {
		return false, fmt.Errorf("no answer: %w (pass --yes to write without asking)", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "", "y", "yes":
		return true, nil
	}
	return false, nil
}
