package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
)

func mrArg(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "!"), 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a merge request number", s)
	}
	return n, nil
}

func newMRCommentCmd(g *globals) *cobra.Command {
	var file string
	var line int
	c := &cobra.Command{
		Use:   "comment N TEXT",
		Short: "Open a review thread on merge request N, on a line of a file with --file and --line",
		Long: `Open a review thread on merge request N as --as. Threads of the workflow's
reviewers (gates.<gate>.reviewers, default its approvers) start review triage
when the merge request waits for approval; anyone else's are never acted on.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (file == "") != (line == 0) || line < 0 {
				return fmt.Errorf("--file and --line go together (a line is 1 or more)")
			}
			return g.actOn(cmd, args[0], mrArg, func(ctx context.Context, org *app.Org, n int64, user string) error {
				th, err := org.Desk.Comment(ctx, n, user, file, line, args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s opened thread %s on !%d\n", user, th.ID, n)
				return nil
			})
		},
	}
	c.Flags().StringVar(&file, "file", "", "the file of the change the comment is about")
	c.Flags().IntVar(&line, "line", 0, "the line of --file (in the change's new version)")
	g.addAs(c)
	return c
}

func newMRReplyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "reply N THREAD TEXT",
		Short: "Reply in review thread THREAD of merge request N",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.actOn(cmd, args[0], mrArg, func(ctx context.Context, org *app.Org, n int64, user string) error {
				if err := org.Desk.Reply(ctx, n, args[1], user, args[2]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s replied in thread %s on !%d\n", user, args[1], n)
				return nil
			})
		},
	}
	g.addAs(c)
	return c
}

func newMRResolveCmd(g *globals) *cobra.Command {
	var reopen bool
	c := &cobra.Command{
		Use:   "resolve N THREAD",
		Short: "Resolve review thread THREAD of merge request N (--reopen to unresolve it)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.actOn(cmd, args[0], mrArg, func(ctx context.Context, org *app.Org, n int64, user string) error {
				if err := org.Desk.Resolve(ctx, n, args[1], user, !reopen); err != nil {
					return err
				}
				what := "resolved"
				if reopen {
					what = "reopened"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s thread %s on !%d\n", user, what, args[1], n)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&reopen, "reopen", false, "reopen a resolved thread")
	g.addAs(c)
	return c
}

// printThreads lists review threads with their notes, markers stripped.
func printThreads(w io.Writer, ts []agentorg.ReviewThread) {
	for _, th := range ts {
		state := "open"
		if th.Resolved {
			state = "resolved"
			if th.ResolvedBy != "" {
				state += " by " + th.ResolvedBy
			}
		}
		where := ""
		if th.Path != "" {
			where = fmt.Sprintf(" on %s:%d", th.Path, th.Line)
		}
		fmt.Fprintf(w, "\nthread %s%s (%s)\n", th.ID, where, state)
		for _, n := range th.Notes {
			body := strings.TrimSpace(agentorg.StripMarkers(n.Body))
			fmt.Fprintf(w, "  %s, %s:\n    %s\n", n.Author, n.CreatedAt.Format("2006-01-02 15:04"), strings.ReplaceAll(body, "\n", "\n    "))
		}
	}
}
