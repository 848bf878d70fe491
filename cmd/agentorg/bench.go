package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var o bench.Options
	var cpuProfile string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the orchestrator: N issues through the whole lifecycle with a no-op agent",
		Long: `Drive N issues through the whole lifecycle on the embedded tracker, with a
no-op agent (it writes one file) and trivial checks ('true'), playing the human
at both gates. Prints issues per second and the orchestrator's own time per
issue (agent and checks excluded), median and p95.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Issues < 1 || o.Issues > 100000 {
				return fmt.Errorf("-n %d is out of bounds: between 1 and 100000 issues", o.Issues)
			}
			if o.Concurrency < 1 || o.Concurrency > 64 {
				return fmt.Errorf("--concurrency %d is out of bounds: between 1 and 64 workers per stage", o.Concurrency)
			}
			o.Out = cmd.OutOrStdout()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			_, err := bench.Run(cmd.Context(), o)
			return err
		},
	}
	c.Flags().IntVarP(&o.Issues, "issues", "n", 1000, "number of issues")
	c.Flags().IntVar(&o.Concurrency, "concurrency", 4, "workers per stage")
	c.Flags().StringVar(&o.Keep, "keep", "", "keep the state in this directory")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the orchestrator to this file")
	return c
}
