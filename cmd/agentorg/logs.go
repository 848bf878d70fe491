package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/transcript"
)

func newLogsCmd(g *globals) *cobra.Command {
	var issue string
	var attempt int
	c := &cobra.Command{
		Use:   "logs [RUN | --issue N [--attempt K]]",
		Short: "Print the transcripts of runs: one run by its id, or an issue's runs in order",
		Long: `Print what a stage run's agents and checks wrote (its transcript, kept in
<home>/runs/<run id>.log).

With RUN, the transcript of that run; a unique prefix of the id is enough, as
with git commits. Escalation comments and 'agentorg events --wide' name run ids.

With --issue N, the transcripts of every run of the issue in the order they
started, each under a header naming the stage, the attempt, the run id and the
time; --attempt K keeps only the runs of developer attempt K (its developer run
and its validation).`,
		Example: `  agentorg logs 3f2a9c1e
  agentorg logs --issue 3
  agentorg logs --issue 3 --attempt 2`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && issue != "":
				return errors.New("give a run id or --issue N, not both")
			case len(args) == 0 && issue == "":
				return errors.New("give a run id (agentorg logs RUN) or an issue (agentorg logs --issue N)")
			case attempt != 0 && issue == "":
				return errors.New("--attempt needs --issue")
			case attempt < 0:
				return fmt.Errorf("--attempt must be a positive attempt number, not %d", attempt)
			}
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				w := cmd.OutOrStdout()
				if len(args) == 1 {
					r, err := transcript.Find(ctx, org.Log, org.Home, args[0])
					if err != nil {
						return err
					}
					return transcript.Write(w, r)
				}
				n, err := issueArg(issue)
				if err != nil {
					return err
				}
				runs, err := transcript.OfIssue(ctx, org.Log, org.Home, n, attempt)
				if err != nil {
					return err
				}
				if len(runs) == 0 {
					fmt.Fprintf(w, "#%d has no runs yet\n", n)
					return nil
				}
				for i, r := range runs {
					if i > 0 {
						fmt.Fprintln(w)
					}
					if err := transcript.Write(w, r); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&issue, "issue", "", "print the transcripts of this issue's runs")
	c.Flags().IntVar(&attempt, "attempt", 0, "with --issue: only the runs of this developer attempt")
	return c
}
