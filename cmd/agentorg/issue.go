package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/timeline"
)

func resolve(g *globals) (home, wf string, err error) {
	return app.ResolvePaths(app.Options{Home: g.home, Workflow: g.workflow})
}

func issueArg(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not an issue number", s)
	}
	return n, nil
}

func newIssueCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "issue", Short: "Create, list, show and close issues"}
	c.AddCommand(newIssueNewCmd(g), newIssueListCmd(g), newIssueShowCmd(g), newIssueCloseCmd(g))
	return c
}

func newIssueNewCmd(g *globals) *cobra.Command {
	var title, body, bodyFile string
	var labels []string
	var optIn bool
	c := &cobra.Command{
		Use:     "new",
		Short:   "Open an issue",
		Example: `  agentorg issue new --title "Add a Sub function" --body "..." --opt-in --as alice`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(title) == "" {
				return fmt.Errorf("--title is required")
			}
			if bodyFile != "" {
				b, err := readBounded(bodyFile, maxBody)
				if err != nil {
					return fmt.Errorf("--body-file: %w", err)
				}
				body = string(b)
			}
			if len(body) > maxBody {
				return fmt.Errorf("--body is %d bytes, over the limit of %d: an issue says what to do, it does not carry data", len(body), maxBody)
			}
			user, err := g.user()
			if err != nil {
				return err
			}
			org, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer org.Close()
			if err := authenticate(cmd.Context(), cmd, org, user); err != nil {
				return err
			}
			is, err := org.Tracker.CreateIssue(cmd.Context(), agentorg.NewIssue{Title: title, Body: body, Labels: labels, Author: user})
			if err != nil {
				return err
			}
			if optIn {
				if err := org.Desk.OptIn(cmd.Context(), is.Number, user); err != nil {
					return err
				}
				if is, err = org.Tracker.Issue(cmd.Context(), is.Number); err != nil {
					return err
				}
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), is)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "#%d %s [%s]\n", is.Number, is.Title, strings.Join(is.Labels, ", "))
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&title, "title", "t", "", "title (required)")
	f.StringVarP(&body, "body", "b", "", "body (Markdown)")
	f.StringVar(&bodyFile, "body-file", "", "read the body from a file")
	f.StringSliceVarP(&labels, "label", "l", nil, "label to add (repeatable)")
	f.BoolVar(&optIn, "opt-in", false, "opt the issue in (adds the workflow's opt-in label)")
	g.addAs(c)
	g.addJSON(c)
	return c
}

func newIssueListCmd(g *globals) *cobra.Command {
	var state string
	var labels []string
	c := &cobra.Command{
		Use:   "list",
		Short: "List issues with their labels",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := agentorg.IssueFilter{AnyLabel: labels}
			switch state {
			case "open":
				f.State = agentorg.IssueOpen
			case "closed":
				f.State = agentorg.IssueClosed
			case "all":
			default:
				return fmt.Errorf("--state must be open, closed or all, not %q", state)
			}
			org, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer org.Close()
			issues, err := org.Tracker.ListIssues(cmd.Context(), f)
			if err != nil {
				return err
			}
			if g.json {
				if issues == nil {
					issues = []agentorg.Issue{}
				}
				return printJSON(cmd.OutOrStdout(), issues)
			}
			var rows [][]string
			for _, is := range issues {
				rows = append(rows, []string{fmt.Sprintf("#%d", is.Number), string(is.State), is.Title, strings.Join(is.Labels, ", ")})
			}
			table(cmd.OutOrStdout(), "ISSUE\tSTATE\tTITLE\tLABELS", rows)
			return nil
		},
	}
	c.Flags().StringVar(&state, "state", "all", "open, closed or all")
	c.Flags().StringSliceVarP(&labels, "label", "l", nil, "only issues carrying one of these labels")
	g.addJSON(c)
	return c
}

// issueView is what `issue show` prints.
type issueView struct {
	agentorg.Issue
	Comments      []agentorg.Comment      `json:"comments"`
	Attempts      []eventlog.Attempt      `json:"attempts"`
	MergeRequests []agentorg.MergeRequest `json:"merge_requests"`
	ReviewRounds  []eventlog.Round        `json:"review_rounds"`
}

func newIssueShowCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "show N",
		Short: "Show an issue: its timeline, attempts, merge requests, review rounds and comments",
		Long: `Show an issue: its labels and body; its timeline (each state it went through
and why, verdicts, merges and escalations, every developer attempt with what
validation found, the review threads); its merge requests, review rounds and
comments. With --json, the issue with its comments, attempts, merge requests
and review rounds as data.

The transcripts of its runs: agentorg logs --issue N.`,
		Example: `  agentorg issue show 2
  agentorg issue show 2 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := issueArg(args[0])
			if err != nil {
				return err
			}
			org, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer org.Close()
			ctx := cmd.Context()
			v := issueView{}
			if v.Issue, err = org.Tracker.Issue(ctx, n); err != nil {
				return err
			}
			if v.Comments, err = org.Tracker.Comments(ctx, n); err != nil {
				return err
			}
			if v.Attempts, err = org.Log.Attempts(ctx, n); err != nil {
				return err
			}
			// By the issue's branch: a forge need not page through its history.
			if v.MergeRequests, err = org.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: n, SourceBranch: org.Workflow.Branch(n)}); err != nil {
				return err
			}
			if v.ReviewRounds, err = org.Log.Rounds(ctx, n); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), v)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "#%d %s (%s, by %s)\nlabels: %s\n", v.Number, v.Title, v.State, v.Author, strings.Join(v.Labels, ", "))
			if strings.TrimSpace(v.Body) != "" {
				fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(v.Body))
			}
			fmt.Fprintf(w, "\ntimeline (time since the issue was opened, %s):\n", ago(v.CreatedAt))
			if err := timeline.Write(ctx, w, org.Tracker, org.Log, n, timeline.Since(v.CreatedAt)); err != nil {
				return err
			}
			for _, mr := range v.MergeRequests {
				fmt.Fprintf(w, "\nmerge request !%d %s -> %s (%s) head %s\n", mr.Number, mr.SourceBranch, mr.TargetBranch, mr.State, short(mr.HeadSHA))
			}
			if len(v.ReviewRounds) > 0 {
				fmt.Fprintln(w, "\nreview rounds:")
				var rows [][]string
				for _, r := range v.ReviewRounds {
					for _, th := range r.Threads {
						class := orDash(th.Decision.Class)
						if th.Decision.Class == "suggestion" {
							class += map[bool]string{true: " (accepted)", false: " (declined)"}[th.Decision.Accept]
						}
						where := "-"
						if th.Path != "" {
							where = fmt.Sprintf("%s:%d", th.Path, th.Line)
						}
						rows = append(rows, []string{strconv.Itoa(r.N), fmt.Sprintf("!%d", r.MR), short(r.Head), r.Status, orDash(short(r.Commit)), th.ID, where, class})
					}
				}
				table(w, "  ROUND	MR	HEAD	STATUS	ANSWERED BY	THREAD	WHERE	CLASS", indent(rows))
			}
			for _, cm := range v.Comments {
				fmt.Fprintf(w, "\n--- %s, %s\n%s\n", cm.Author, ago(cm.CreatedAt), strings.TrimSpace(agentorg.StripMarkers(cm.Body)))
			}
			return nil
		},
	}
	g.addJSON(c)
	return c
}

func indent(rows [][]string) [][]string {
	for _, r := range rows {
		r[0] = "  " + r[0]
	}
	return rows
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return orDash(sha)
}

func newIssueCloseCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "close N",
		Short: "Close an issue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.act(cmd, args[0], func(ctx context.Context, org *app.Org, n int64, user string) error {
				if err := org.Desk.Close(ctx, n, user); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "closed #%d\n", n)
				return nil
			})
		},
	}
	g.addAs(c)
	return c
}

func newLabelCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "label", Short: "Add or remove labels on an issue (labels are the state of the work)"}
	for _, adding := range []bool{true, false} {
		use, short := "add N LABEL...", "Add labels to an issue"
		if !adding {
			use, short = "remove N LABEL...", "Remove labels from an issue"
		}
		sub := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.act(cmd, args[0], func(ctx context.Context, org *app.Org, n int64, user string) error {
					for _, l := range args[1:] {
						if org.Workflow.Label(l) == nil {
							fmt.Fprintf(cmd.ErrOrStderr(), "warning: %q is not a label of the workflow; the engine will ignore it\n", l)
						}
					}
					add, remove := args[1:], []string(nil)
					if !adding {
						add, remove = nil, args[1:]
					}
					is, err := org.Desk.Labels(ctx, n, add, remove, user)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "#%d [%s]\n", is.Number, strings.Join(is.Labels, ", "))
					return nil
				})
			},
		}
		g.addAs(sub)
		c.AddCommand(sub)
	}
	return c
}

// maxBody bounds an issue's body: it reaches every agent's prompt.
const maxBody = 256 << 10

// readBounded reads at most max bytes of a file, and says so when there
// is more (a FIFO or /dev/zero never ends).
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s is over the limit of %d bytes: an issue says what to do, it does not carry data", path, max)
	}
	return b, nil
}
