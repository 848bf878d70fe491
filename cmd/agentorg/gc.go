package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/housekeep"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/transcript/capped"
	"github.com/agentorg/agentorg/workspace"
)

func newGCCmd(g *globals) *cobra.Command {
	var o housekeep.Options
	var olderThan, budget string
	c := &cobra.Command{
		Use:   "gc",
		Short: "Remove what is done with from the home, with figures before and after",
		Long: `Remove from the home what is done with, and print how much there was before
and after:

  - transcripts (runs/) older than --older-than, and the oldest beyond
    --transcripts-budget; a run the event log still names keeps a one-line
    note in place of its transcript. Open issues' transcripts are kept;
  - the worktrees and local branches of closed issues (merged, or closed by a
    person after an escalation);
  - event rows older than --older-than, except open issues' (attempts and
    review rounds are always kept), and check and judgement cache rows older
    than that, except those of an open issue's attempts and of the target;
    the claim log's claims that ended before that, and the workers silent
    since (a shared database's); then VACUUM gives the room back;
  - loose objects in the mirror, and in the origin when it is a bare
    repository agentorg made (the demo's): git gc. Your own repository is
    left alone.

While an engine runs on the home, gc does only what is safe beside it: the
rows and the transcripts. The worktrees, branches, git objects and the
database file wait for a gc when the engine is stopped; otherwise gc holds
the engine's lock while it works, so that none starts meanwhile.`,
		Example: `  agentorg gc --dry-run
  agentorg gc --older-than 90d --transcripts-budget 2GiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			age, err := parseAge(olderThan)
			if err != nil {
				return err
			}
			o.OlderThan, o.Now = age, time.Now()
			if budget != "" && budget != "0" {
				if o.TranscriptBudget, err = capped.ParseSize(budget); err != nil {
					return fmt.Errorf("--transcripts-budget: %w", err)
				}
			}
			org, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer org.Close()
			w := cmd.OutOrStdout()
			if pid := app.EnginePID(org.Home); pid != 0 {
				o.EngineRuns = true
				fmt.Fprintf(w, "an engine runs on this home (pid %d): gc does only what is safe beside it\n", pid)
			} else if !o.DryRun {
				if err := org.Lock(); err != nil {
					return err
				}
			}
			wf := org.Workflow
			s := housekeep.Sources{
				Home: org.Home, DB: org.DB, Tracker: org.Tracker, Log: org.Log,
				Owners: &homedir.Owners{DB: org.DB, Home: org.Home, ID: org.Identity},
				Target: wf.Repo.TargetBranch, WorktreeIssue: worktreeIssue,
				WorktreePath: func(n int64) string { return role.WorktreePath(org.Home, n) },
				BranchIssue: func(b string) (int64, bool) {
					s, ok := strings.CutPrefix(b, wf.Repo.BranchPrefix)
					n, err := strconv.ParseInt(s, 10, 64)
					return n, ok && err == nil && n > 0
				},
			}
			if _, err := os.Stat(homedir.Mirror(org.Home)); err == nil {
				s.Mirror = &workspace.Mirror{Dir: homedir.Mirror(org.Home), Origin: org.Origin}
			}
			if housekeep.MadeOrigin(ctx, org.Origin) {
				s.Origin = org.Origin
			}
			return housekeep.Run(ctx, s, o, w)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "say what would go, change nothing")
	f.StringVar(&olderThan, "older-than", "30d", "retention of transcripts, events and cache rows (30d, 12h, 2w)")
	f.StringVar(&budget, "transcripts-budget", "1GiB", "keep at most this much of transcripts, the newest (0: no budget)")
	return c
}

// parseAge reads a retention: a number of days (30d), weeks (2w), or a Go
// duration (12h, 90m).
func parseAge(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				break
			}
			return time.Duration(n) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--older-than %q: say 30d, 2w or 12h", s)
	}
	return d, nil
}
