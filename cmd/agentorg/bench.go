package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var o bench.Options
	var cpuProfile string
	var overlap bool
	var pairs int
	var predict string
	var workers int
	var worker, chaos bool
	var killEvery, timeout time.Duration
	var restartDB string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the orchestrator: N issues through the whole lifecycle with a no-op agent",
		Long: `Drive N issues through the whole lifecycle on the embedded tracker, with a
no-op agent (it writes one file) and trivial checks ('true'), playing the human
at both gates. Prints issues per second and the orchestrator's own time per
issue (agent and checks excluded), median and p95.

With --overlap: 20 issues (-n) on a sample repository where 8 pairs (--pairs)
change the same line of the same file, the others a file of their own; the
scripted agent (this binary) does the work for real, and a developer told of
a conflict writes both issues' lines. The human approves whatever waits at a
gate, round after round. It runs with the workflow's parallel.predict off,
then on (--predict), and prints for each: conflicts met (validations that
found one, merge requests that left the merge train), developer attempts
spent on conflicts and in all, wall time, and whether every issue merged.

With --workers K and --database postgres://…: K worker processes (each this
binary, a serve with the no-op agent and a home of its own) share one empty
PostgreSQL database while this process plays the humans. Prints issues per
second, claims (stage runs started) per second, the time from the label
change that calls for a stage to its start (p50, p95), and double claims
(runs of one stage on one issue that overlapped: must be 0). --chaos kills a
random worker with SIGKILL every --kill-every and starts it again, and runs
--restart-db once halfway; it fails unless every issue ends exactly once.`,
		Example: `  agentorg bench -n 1000
  agentorg bench --overlap
  agentorg bench --overlap --predict off --keep /tmp/overlap
  agentorg bench --database postgres://postgres@127.0.0.1/bench --workers 4 -n 500
  agentorg bench --database postgres://postgres@127.0.0.1/bench --workers 4 -n 2000 --chaos \
      --restart-db "pg_ctlcluster 15 main restart"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if overlap && !cmd.Flags().Changed("issues") {
				o.Issues = 20
			}
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
			if worker {
				return bench.Worker(cmd.Context(), g.home, g.workflow, g.database, o.Concurrency)
			}
			if overlap {
				return runOverlapBench(cmd, o, pairs, predict)
			}
			if workers > 0 || g.database != "" {
				return runWorkersBench(cmd, g, o, workers, chaos, killEvery, timeout, restartDB)
			}
			if chaos {
				return fmt.Errorf("--chaos goes with --workers and --database")
			}
			if cmd.Flags().Changed("pairs") || cmd.Flags().Changed("predict") {
				return fmt.Errorf("--pairs and --predict go with --overlap")
			}
			_, err := bench.Run(cmd.Context(), o)
			return err
		},
	}
	c.Flags().IntVarP(&o.Issues, "issues", "n", 1000, "number of issues (20 with --overlap)")
	c.Flags().IntVar(&o.Concurrency, "concurrency", 4, "workers per stage")
	c.Flags().StringVar(&o.Keep, "keep", "", "keep the state in this directory")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the orchestrator to this file")
	c.Flags().BoolVar(&overlap, "overlap", false, "run overlapping issues with conflict prediction off and on instead")
	c.Flags().IntVar(&pairs, "pairs", 8, "with --overlap: pairs of issues that change the same line")
	c.Flags().StringVar(&predict, "predict", "both", "with --overlap: parallel.predict off, on, or both (off, then on)")
	c.Flags().IntVar(&workers, "workers", 0, "with --database: worker processes sharing the PostgreSQL database")
	c.Flags().BoolVar(&chaos, "chaos", false, "with --workers: kill a random worker every --kill-every and restart the database once")
	c.Flags().DurationVar(&killEvery, "kill-every", 3*time.Second, "with --chaos: how often a worker is killed")
	c.Flags().DurationVar(&timeout, "timeout", time.Hour, "with --workers: give up when the issues have not all finished by then")
	c.Flags().StringVar(&restartDB, "restart-db", "", "with --chaos: the command that restarts PostgreSQL, run once halfway")
	c.Flags().BoolVar(&worker, "worker", false, "run as one of --workers' worker processes")
	c.Flags().MarkHidden("worker")
	return c
}

func runWorkersBench(cmd *cobra.Command, g *globals, o bench.Options, workers int, chaos bool, killEvery, timeout time.Duration, restartDB string) error {
	if g.database == "" {
		g.database = os.Getenv("AGENTORG_DATABASE")
	}
	if workers < 1 || workers > 64 {
		return fmt.Errorf("--workers %d is out of bounds: between 1 and 64 worker processes", workers)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	wo := bench.WorkersOptions{Issues: o.Issues, Workers: workers, Concurrency: o.Concurrency, Database: g.database,
		Binary: bin, Out: cmd.OutOrStdout(), Keep: o.Keep, Chaos: chaos, KillEvery: killEvery, RestartDB: strings.Fields(restartDB), Timeout: timeout}
	r, err := bench.RunWorkers(cmd.Context(), wo)
	if err != nil {
		return err
	}
	if r.DoubleClaims > 0 {
		return exitError{1}
	}
	return nil
}

// runOverlapBench runs bench --overlap once per value of parallel.predict
// asked for and prints the table.
func runOverlapBench(cmd *cobra.Command, o bench.Options, pairs int, predict string) error {
	var values []bool
	switch predict {
	case "off":
		values = []bool{false}
	case "on":
		values = []bool{true}
	case "both":
		values = []bool{false, true}
	default:
		return fmt.Errorf("--predict %q: want off, on or both", predict)
	}
	if pairs < 0 || 2*pairs > o.Issues {
		return fmt.Errorf("--pairs %d: %d pairs do not fit in %d issues (-n)", pairs, pairs, o.Issues)
	}
	var rs []bench.OverlapResult
	for _, p := range values {
		oo := bench.OverlapOptions{Issues: o.Issues, Pairs: pairs, Concurrency: o.Concurrency, Predict: p, Out: o.Out}
		if o.Keep != "" {
			name := "predict-off"
			if p {
				name = "predict-on"
			}
			oo.Keep = filepath.Join(o.Keep, name)
		}
		r, err := bench.RunOverlap(cmd.Context(), oo)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	fmt.Fprintln(o.Out)
	return bench.WriteOverlapTable(o.Out, rs)
}
