// Package housekeep is `agentorg gc`: it removes from a home what is done
// with, and says how much there was before and after. What it removes:
// transcripts older than a retention or beyond a size budget (never an
// open issue's); the worktrees and local branches of closed issues; event
// rows and check and judgement cache rows older than the retention (never
// an open issue's events, never attempts, never the cache entries an open
// issue's attempts or the target need); the claim log's ended claims and
// the workers silent for as long; loose git objects in the mirror and in
// an origin agentorg made.
//
// With an engine running on the home, it does only what is safe beside
// it (the rows and the transcripts, which the engine reads by key and
// never lists) and leaves the worktrees, branches and git objects, which
// the engine's runs work in.
package housekeep

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/transcript/capped"
	"github.com/agentorg/agentorg/workspace"
)

// Options say what gc may remove.
type Options struct {
	// OlderThan is the retention of transcripts, events and cache rows.
	OlderThan time.Duration
	// TranscriptBudget caps the bytes of transcripts kept (0: no cap).
	TranscriptBudget int64
	DryRun           bool
	// EngineRuns says an engine holds the home: only the safe part runs.
	EngineRuns bool
	Now        time.Time
}

// Sources are the home and what reads it.
type Sources struct {
	Home    string
	DB      *sql.DB
	Tracker agentorg.Tracker
	Log     *eventlog.Log
	Owners  *homedir.Owners
	// Mirror is nil when the home has none yet.
	Mirror *workspace.Mirror
	// Origin is the origin's path when it is a bare repository agentorg
	// made (gc may pack it), else "".
	Origin string
	// Target is the target branch (its tree's cache entries are kept).
	Target string
	// WorktreeIssue parses issue-N; BranchIssue parses an issue branch.
	WorktreeIssue, BranchIssue func(string) (int64, bool)
	// WorktreePath is issue n's worktree.
	WorktreePath func(n int64) string
}

// Run does the housekeeping and writes the figures to w.
func Run(ctx context.Context, s Sources, o Options, w io.Writer) error {
	open, err := openIssues(ctx, s.Tracker)
	if err != nil {
		return err
	}
	before := o.Now.Add(-o.OlderThan)
	verb := ""
	if o.DryRun {
		verb = " (dry run: nothing was changed)"
	}
	fmt.Fprintf(w, "gc of %s, keeping what is newer than %s and what open issues need%s\n", s.Home, before.Local().Format("2006-01-02 15:04"), verb)
	keepTrees, err := neededTrees(ctx, s, open)
	if err != nil {
		return err
	}
	dbBefore := dbSize(s.Home)
	pruned, err := s.Log.Prune(ctx, eventlog.Retention{Before: before, Keep: keys(open), KeepTrees: keepTrees}, o.DryRun)
	if err != nil {
		return err
	}
	row(w, "events", pruned.Events, pruned.EventsGone, "older, of issues not open")
	row(w, "check cache", pruned.Checks, pruned.ChecksGone, "older, not of an open issue's tree or the target's")
	row(w, "judgement cache", pruned.Judgements, pruned.JudgesGone, "older, not of an open issue's tree or the target's")
	claims, err := engine.PruneClaims(ctx, s.DB, before, o.DryRun)
	if err != nil {
		return err
	}
	row(w, "claim log", claims.Claims, claims.ClaimsGone, "ended earlier")
	row(w, "workers", claims.Workers, claims.WorkersGone, "silent since")
	if err := transcripts(ctx, s, o, open, before, w); err != nil {
		return err
	}
	if o.EngineRuns {
		fmt.Fprintln(w, "  worktrees, branches, git objects and the database file: left alone while the engine runs (stop it, then run gc again)")
		return nil
	}
	if err := worktrees(ctx, s, o, open, w); err != nil {
		return err
	}
	if err := vacuum(ctx, s, o, dbBefore, w); err != nil {
		return err
	}
	return packAll(ctx, s, o, w)
}

func openIssues(ctx context.Context, t agentorg.Tracker) (map[int64]bool, error) {
	list, err := t.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen})
	if err != nil {
		return nil, err
	}
	open := map[int64]bool{}
	for _, is := range list {
		open[is.Number] = true
	}
	return open, nil
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// neededTrees are the trees whose cache entries a running issue needs:
// those of the open issues' attempts, and the target's (the baseline).
func neededTrees(ctx context.Context, s Sources, open map[int64]bool) ([]string, error) {
	if s.Mirror == nil {
		return nil, nil
	}
	var revs []string
	for n := range open {
		as, err := s.Log.Attempts(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.CommitSHA != "" {
				revs = append(revs, a.CommitSHA)
			}
		}
	}
	revs = append(revs, "refs/remotes/origin/"+s.Target)
	return s.Mirror.Trees(ctx, revs)
}

func row(w io.Writer, what string, total, gone int64, why string) {
	fmt.Fprintf(w, "  %-16s %8d -> %-8d rows  (%d %s)\n", what, total, total-gone, gone, why)
}

func size(n int64) string { return capped.Size(n) }
