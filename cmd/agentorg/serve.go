package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
)

func newServeCmd(g *globals) *cobra.Command {
	var once bool
	var poll time.Duration
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the engine: reconcile the tracker and run every stage that is due",
		Long: `Run the engine as a daemon: read the tracker every --poll, enqueue one job per
(issue, stage) that the labels call for, and work them. With --once, drive
everything currently actionable, then exit (issues waiting for a human stay
where they are).

One engine runs per home. After a crash (even kill -9) a restart releases the
dead claims and finishes every issue exactly once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			org, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer org.Close()
			eng, err := org.Engine(ctx, app.EngineOptions{PollInterval: poll})
			if err != nil {
				return err
			}
			if err := eng.Start(ctx); err != nil {
				return err
			}
			defer func() {
				stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				eng.Stop(stopCtx)
			}()
			if once {
				if err := eng.RunUntilIdle(ctx); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "nothing left to do; see `agentorg issue list` and `agentorg events`")
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: serving %s (home %s), polling every %s\n", org.Workflow.Path, org.Home, poll)
			return eng.Serve(ctx, nil)
		},
	}
	c.Flags().BoolVar(&once, "once", false, "drive everything currently actionable, then exit")
	c.Flags().DurationVar(&poll, "poll", 10*time.Second, "how often to read the tracker")
	return c
}
