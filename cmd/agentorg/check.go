package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/workflow"
)

func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a workflow file and report every problem with file:line:column",
		Long: `Validate a workflow file. Every problem is reported with file:line:column,
all at once, and fails the check (exit 1).

Warnings do not fail it: an agent whose executable is not found in its PATH,
and an agent env variable ($NAME) that is not set in this environment (that
agent's runs are refused until it is set; everything else works). Only the
PATH is searched, nothing is run: 'agentorg agents' also runs each CLI to
check its version and flags.`,
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
			n := printWarnings(cmd.ErrOrStderr(), checkWarnings(wf, home))
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d stages, %d gates, %d checks, %d agents%s)\n",
				p, len(wf.Stages), len(wf.Gates), len(wf.Checks), len(wf.Agents), plural(n, ", %d warning", ", %d warnings"))
			return nil
		},
	}
}

// checkWarnings are the workflow's own warnings (unset env variables, at
// their line) and, per agent, an executable not found in its PATH.
func checkWarnings(wf *workflow.Workflow, home string) workflow.Problems {
	ws := append(workflow.Problems(nil), wf.Warnings...)
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
