package main

import (
	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var o bench.Options
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the orchestrator: N issues through the whole lifecycle with a no-op agent",
		Long: `Drive N issues through the whole lifecycle on the embedded tracker, with a
no-op agent (it writes one file) and trivial checks ('true'), playing the human
at both gates. Prints issues per second and the orchestrator's own time per
issue (agent and checks excluded), median and p95.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			_, err := bench.Run(cmd.Context(), o)
			return err
		},
	}
	c.Flags().IntVarP(&o.Issues, "issues", "n", 1000, "number of issues")
	c.Flags().IntVar(&o.Concurrency, "concurrency", 4, "workers per stage")
	c.Flags().StringVar(&o.Keep, "keep", "", "keep the state in this directory")
	return c
}
