package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/board"
)

func newStatusCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the board: issues by state, what runs, what waits for whom, budgets, escalations",
		Long: `Show where the work stands: the open issues in each state (in the order of
the workflow's lifecycle), which stage runs on which issue now and for how
long, which issues wait at a human gate and who may approve them, each
issue's developer attempts and the budget they spent, and the escalated and
failed issues with the reason. On a PostgreSQL database many workers share,
it also lists the workers: when each last beat, what it runs now (issue,
stage, for how long) and the open issues it holds (their worktree and agent
session are on its disk).

status only reads, so it works while 'agentorg serve' runs and when no engine
runs. The text fits 100 columns; --json gives the same as data.`,
		Example: `  agentorg status
  agentorg status --json
  watch -n 5 agentorg status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				b, err := board.Read(ctx, board.Sources{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB})
				if err != nil {
					return err
				}
				b.EnginePID = app.EnginePID(org.Home)
				if g.json {
					return printJSON(cmd.OutOrStdout(), b)
				}
				return b.WriteText(cmd.OutOrStdout())
			})
		},
	}
	g.addJSON(c)
	return c
}
