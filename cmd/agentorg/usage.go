package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
)

func newUsageCmd(g *globals) *cobra.Command {
	var issue int64
	c := &cobra.Command{
		Use:   "usage",
		Short: "Tokens and cost of the agents' runs: per run, per issue and in total",
		Long: `Add up what the agents consumed, from the event log: every agent run (PM,
developer, validator) with its tokens and cost, per issue, and in total. Costs
are what the tool reported or, for tools that report only tokens, what the
agent's price in the workflow makes of them.`,
		Example: "  agentorg usage\n  agentorg usage --issue 2 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if issue < 0 {
				return fmt.Errorf("--issue %d is not an issue number: numbers start at 1", issue)
			}
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				rep, err := org.Log.Usage(ctx, issue, time.Local)
				if err != nil {
					return err
				}
				runs := rep.Runs
				out := cmd.OutOrStdout()
				if g.json {
					return printJSON(out, rep)
				}
				var rows [][]string
				for _, r := range runs {
					rows = append(rows, append([]string{"#" + strconv.FormatInt(r.Issue, 10), r.Role, r.Agent, ago(r.At)}, usageCells(r.Usage)...))
				}
				table(out, "ISSUE\tROLE\tAGENT\tAT\tINPUT\tCACHED\tOUTPUT\tCOST", rows)
				fmt.Fprintln(out)
				rows = nil
				for _, iu := range rep.Issues {
					rows = append(rows, append([]string{"#" + strconv.FormatInt(iu.Issue, 10), strconv.Itoa(iu.Runs)}, usageCells(iu.Usage)...))
				}
				rows = append(rows, append([]string{"total", strconv.Itoa(len(runs))}, usageCells(rep.Total)...))
				table(out, "ISSUE\tRUNS\tINPUT\tCACHED\tOUTPUT\tCOST", rows)
				return nil
			})
		},
	}
	c.Flags().Int64Var(&issue, "issue", 0, "only this issue's runs")
	g.addJSON(c)
	return c
}

func usageCells(u agentorg.Usage) []string {
	return []string{strconv.FormatInt(u.InputTokens, 10), strconv.FormatInt(u.CachedTokens, 10),
		strconv.FormatInt(u.OutputTokens, 10), fmt.Sprintf("$%.4f", u.CostUSD)}
}
