package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/workflow"
)

func newCheckCmd(g *globals) *cobra.Command {
	var runChecks bool
	c := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a workflow file and report every problem with file:line:column",
		Long: `Validate a workflow file. Every problem is reported with file:line:column,
all at once, and fails the check (exit 1).

Warnings do not fail it: an agent whose executable is not found in its PATH,
an agent env variable ($NAME) that is not set in this environment (that
agent's runs are refused until it is set; everything else works), and a
repository the engine would not start on (the target branch missing, or
checked out in a working tree with uncommitted changes), and a home inside
the repository (tools that read their parent directories fail there). Only
the PATH is searched, nothing is run: 'agentorg agents' also runs each CLI
to check its version and flags.

With --run, the workflow's checks also run on the head of the target
branch, as validation's baseline does, afresh: the results replace what
the home kept for that tree, so the first issue does not run them again,
and a check fixed outside the repository (a tool installed, the
environment) counts as fixed. A check that already fails there is not
counted against a change, but no change can merge while it fails. Exits 1
when one fails.`,
		Example: `  agentorg check
  agentorg check --run        # and run the checks on the target branch`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := g.workflow
			if len(args) == 1 {
				p = args[0]
			}
			home, wfPath, err := app.ResolvePaths(app.Options{Home: g.home, Workflow: p})
			if err != nil {
				return err
			}
			if p == "" {
				p = wfPath
			}
			wf, err := workflow.Load(p)
			if err != nil {
				return err
			}
			ws := checkWarnings(wf, home)
			if err := app.CheckRepository(cmd.Context(), wf, app.OriginOf(wf)); err != nil {
				ws = append(ws, workflow.Problem{File: wf.Path, Message: "the engine would not start: " + trimPath(err.Error(), wf.Path)})
			}
			n := printWarnings(cmd.ErrOrStderr(), ws)
			stages, rules := len(wf.Stages), 0
			for _, g := range wf.Gates {
				if g.AutoApprove != nil {
					stages-- // the stage the workflow adds for them
					rules += len(g.AutoApprove.Rules)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d stages, %d gates%s, %d checks, %d agents%s)\n",
				p, stages, len(wf.Gates), plural(rules, " with %d approval rule", " with %d approval rules"), len(wf.Checks), len(wf.Agents),
				plural(n, ", %d warning", ", %d warnings"))
			if !runChecks {
				return nil
			}
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				return runBaseline(ctx, cmd.OutOrStdout(), org)
			})
		},
	}
	c.Flags().BoolVar(&runChecks, "run", false, "also run the workflow's checks once on the target branch")
	return c
}

// runBaseline runs the checks on the target and says how they went; an
// error (exit 1) when one fails.
func runBaseline(ctx context.Context, w io.Writer, org *app.Org) error {
	target := org.Workflow.Repo.TargetBranch
	fmt.Fprintf(w, "running the checks on %s ...\n", target)
	head, results, err := org.Baseline(ctx, io.Discard)
	if err != nil {
		return err
	}
	var red []string
	for _, r := range results {
		status := "passed"
		if !r.Passed {
			status = "FAILED: " + r.Reason
			red = append(red, r.Name)
		}
		fmt.Fprintf(w, "  %s: %s (%s)\n", r.Name, status, r.Duration.Round(time.Millisecond))
		if !r.Passed {
			fmt.Fprintf(w, "%s\n", indentText(lastLinesOf(r.Output, 15), "      "))
		}
	}
	if len(red) == 0 {
		fmt.Fprintf(w, "%s at %.10s: every check passes\n", target, head)
		return nil
	}
	fmt.Fprintf(w, "the target is red: %s fail(s) on %s at %.10s before any change. They are not counted against a change, but no change can merge while they fail: fix %s first, or plan that work in an issue of its own.\n",
		strings.Join(red, ", "), target, head, target)
	return exitError{1}
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indentText(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// trimPath drops a leading "FILE: " from a message printed after FILE.
func trimPath(msg, file string) string { return strings.TrimPrefix(msg, file+": ") }

// checkWarnings are the workflow's own warnings (unset env variables, at
// their line), a home inside the repository and, per agent, an executable
// not found in its PATH.
func checkWarnings(wf *workflow.Workflow, home string) workflow.Problems {
	ws := append(workflow.Problems(nil), wf.Warnings...)
	if msg := app.HomeInsideRepository(home, wf.Path); msg != "" {
		ws = append(ws, workflow.Problem{File: wf.Path, Message: msg})
	}
	for _, a := range wf.Agents {
		if p := app.Locate(a, home); p.Problem != "" {
			ws = append(ws, workflow.Problem{File: wf.Path, Message: fmt.Sprintf("agent %q: %s (fix: %s)", a.Name, p.Problem, p.Fix)})
		}
	}
	return ws
}

// printWarnings prints one warning a line, as file:line:col: warning: ...,
// and returns how many.
func printWarnings(w io.Writer, ws workflow.Problems) int {
	for _, p := range ws {
		p.Message = "warning: " + p.Message
		fmt.Fprintln(w, p.String())
	}
	return len(ws)
}

// plural formats n with one or many, or "" for none.
func plural(n int, one, many string) string {
	switch n {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(one, n)
	}
	return fmt.Sprintf(many, n)
}
