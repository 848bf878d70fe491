package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventfmt"
	"github.com/agentorg/agentorg/workflow"
)

// agentReport is one line of `agentorg agents`.
type agentReport struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	OK   bool   `json:"ok"`
	agentorg.Probe
}

func newAgentsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "agents",
		Short: "Check the workflow's agents: installed, version, and flags supported",
		Long: `List the agents the workflow defines and check each one as it would run:
whether its executable is found in the agent's PATH, its version, and whether
that version supports the flags agentorg uses (or, for the built-in openai
agent, whether its endpoint answers and serves the model). A problem comes with
a one-line fix. Then whether the kernel can confine the agents (Landlock), as
the workflow requires unless it says confinement: off. Exits 1 when any agent
cannot run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			home, wfPath, err := resolve(g)
			if err != nil {
				return err
			}
			wf, err := workflow.Load(wfPath)
			if err != nil {
				return err
			}
			var reports []agentReport
			bad := 0
			for _, a := range wf.Agents {
				p := app.Probe(cmd.Context(), a, home)
				r := agentReport{Name: a.Name, Kind: a.Kind, OK: p.Problem == "", Probe: p}
				if !r.OK {
					bad++
				}
				reports = append(reports, r)
			}
			// Confinement applies to every agent: where the workflow
			// requires it and the kernel cannot, none can run.
			conf := app.ConfinementOf(wf)
			if conf.Err() != nil {
				bad++
			}
			out := cmd.OutOrStdout()
			if g.json {
				if err := conf.Err(); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "agentorg:", err)
				}
				if err := printJSON(out, reports); err != nil {
					return err
				}
			} else {
				var rows [][]string
				for _, r := range reports {
					status := "ok"
					if !r.OK {
						status = "PROBLEM"
					}
					rows = append(rows, []string{r.Name, r.Kind, status, dash(eventfmt.OneLine(r.Version)), dash(eventfmt.OneLine(r.Path))})
				}
				table(out, "AGENT\tKIND\tSTATUS\tVERSION\tPATH", rows)
				// A problem may quote a CLI's stderr: one line each,
				// under the agent's name.
				for _, r := range reports {
					if !r.OK {
						fmt.Fprintf(out, "\n%s: %s\n  fix: %s\n", r.Name, eventfmt.OneLine(r.Problem), eventfmt.OneLine(r.Fix))
					}
				}
				fmt.Fprintf(out, "\n%s\n", conf)
				if conf.Err() != nil {
					fmt.Fprintf(out, "  fix: %s\n", conf.Fix())
				}
			}
			if bad > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	g.addJSON(c)
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
