package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/fsck"
	"github.com/agentorg/agentorg/homedir"
)

func newFsckCmd(g *globals) *cobra.Command {
	var gitLimit time.Duration
	c := &cobra.Command{
		Use:   "fsck",
		Short: "Check the home: the database, the worktrees, the mirror and the transcripts",
		Long: `Check the whole home (the state directory) and say what to fix:

  - the database: SQLite's integrity_check, every page and index (every other
    command checks only the file's header and, on a large database, a sample);
  - the worktrees: each belongs to an open issue, was made by this home, and
    links to its git directory;
  - the mirror: git fsck --connectivity-only, for at most --git-limit;
  - the transcripts: each agent run the event log records has one in runs/.

It changes nothing, and works on a damaged home that every other command
refuses. Prints each problem with a fix; exits 1 if there is any.`,
		Example: `  agentorg fsck
  agentorg fsck --home /srv/agentorg/state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			home, err := fsckHome(g)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "home %s\n", home)
			fs, damaged := fsck.Database(ctx, home)
			fs = append(fs, fsck.Mirror(ctx, home, gitLimit))
			if !damaged {
				more, err := fsckThroughDatabase(ctx, g)
				if err != nil {
					return err
				}
				fs = append(fs, more...)
			}
			if printFindings(w, fs) > 0 {
				return exitError{1}
			}
			fmt.Fprintln(w, "ok: the home is sound")
			return nil
		},
	}
	c.Flags().DurationVar(&gitLimit, "git-limit", 2*time.Minute, "stop git fsck of the mirror after this long")
	return c
}

// fsckHome is the home to check: --home as given when the workflow cannot
// be found (a damaged home may have lost its home.json).
func fsckHome(g *globals) (string, error) {
	home, _, err := resolve(g)
	if err != nil && g.home != "" {
		return filepath.Abs(g.home)
	}
	return home, err
}

// fsckThroughDatabase runs the checks that read the tracker and the event
// log.
func fsckThroughDatabase(ctx context.Context, g *globals) ([]fsck.Finding, error) {
	org, err := g.open(ctx)
	if err != nil {
		return nil, err
	}
	defer org.Close()
	s := fsck.Sources{Home: org.Home, Tracker: org.Tracker, Log: org.Log, WorktreeIssue: worktreeIssue,
		Owners: &homedir.Owners{DB: org.DB, Home: org.Home, ID: org.Identity}}
	wt, err := fsck.Worktrees(ctx, s)
	if err != nil {
		return nil, err
	}
	tr, err := fsck.Transcripts(ctx, s)
	if err != nil {
		return nil, err
	}
	return append(wt, tr...), nil
}

// worktreeIssue reads the issue of a worktree named issue-N
// (role.WorktreePath).
func worktreeIssue(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, "issue-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// printFindings prints each finding, a problem with its fix, and returns
// how many problems there were.
func printFindings(w io.Writer, fs []fsck.Finding) int {
	problems := 0
	for _, f := range fs {
		if f.OK {
			fmt.Fprintf(w, "ok: %s\n", f.What)
			continue
		}
		problems++
		fmt.Fprintf(w, "problem: %s\n    fix: %s\n", f.What, f.Fix)
	}
	return problems
}
