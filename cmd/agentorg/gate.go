package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
)

func newApproveCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "approve N",
		Short: "Approve what issue N waits for: its plan, or its merge request at the current head",
		Long: `Approve what issue N waits for at a human gate: the PM's plan, or the merge
request at its current head (an approval is void once new commits land). Only
users listed as the gate's approvers in the workflow (or, on GitLab, members at
its min_access_level or above) may approve.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.act(cmd, args[0], func(ctx context.Context, org *app.Org, n int64, user string) error {
				gate, err := org.Desk.Approve(ctx, n, user)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s approved #%d at gate %q: now %s\n", user, n, gate.Name, gate.Approve)
				return nil
			})
		},
	}
	g.addAs(c)
	return c
}

func newRejectCmd(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "reject N --reason TEXT",
		Short: "Reject what issue N waits for, with a reason the agent is given",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.act(cmd, args[0], func(ctx context.Context, org *app.Org, n int64, user string) error {
				gate, err := org.Desk.Reject(ctx, n, user, reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s rejected #%d at gate %q: now %s\n", user, n, gate.Name, gate.Reject)
				return nil
			})
		},
	}
	c.Flags().StringVarP(&reason, "reason", "m", "", "what must change (required)")
	g.addAs(c)
	return c
}

func newMRCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "mr", Short: "List and show merge requests; comment, reply and resolve review threads"}
	var state string
	list := &cobra.Command{
		Use:   "list",
		Short: "List merge requests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := agentorg.MRFilter{}
			switch state {
			case "all":
			case "opened", "merged", "closed":
				f.State = agentorg.MRState(state)
			default:
				return fmt.Errorf("--state must be opened, merged, closed or all, not %q", state)
			}
			org, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer org.Close()
			mrs, err := org.Tracker.ListMRs(cmd.Context(), f)
			if err != nil {
				return err
			}
			if g.json {
				if mrs == nil {
					mrs = []agentorg.MergeRequest{}
				}
				return printJSON(cmd.OutOrStdout(), mrs)
			}
			var rows [][]string
			for _, m := range mrs {
				rows = append(rows, []string{fmt.Sprintf("!%d", m.Number), fmt.Sprintf("#%d", m.Issue), string(m.State),
					m.SourceBranch + " -> " + m.TargetBranch, short(m.HeadSHA), approvers(m)})
			}
			table(cmd.OutOrStdout(), "MR\tISSUE\tSTATE\tBRANCHES\tHEAD\tAPPROVED AT HEAD", rows)
			return nil
		},
	}
	list.Flags().StringVar(&state, "state", "all", "opened, merged, closed or all")
	g.addJSON(list)
	show := &cobra.Command{
		Use:   "show N",
		Short: "Show a merge request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := mrArg(args[0])
			if err != nil {
				return err
			}
			org, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer org.Close()
			m, err := org.Tracker.MR(cmd.Context(), n)
			if err != nil {
				return err
			}
			checks, err := org.Tracker.Checks(cmd.Context(), m.HeadSHA)
			if err != nil {
				return err
			}
			threads := []agentorg.ReviewThread{}
			if rt, ok := org.Tracker.(agentorg.ReviewThreads); ok {
				if threads, err = rt.Threads(cmd.Context(), n); err != nil {
					return err
				}
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), struct {
					agentorg.MergeRequest
					Checks  []agentorg.CheckResult  `json:"checks"`
					Threads []agentorg.ReviewThread `json:"threads"`
				}{m, checks, threads})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "!%d %s (%s)\n%s -> %s, head %s\nissue #%d, by %s\n", m.Number, m.Title, m.State, m.SourceBranch, m.TargetBranch, m.HeadSHA, m.Issue, m.Author)
			if m.MergeSHA != "" {
				fmt.Fprintf(w, "merged as %s by %s\n", m.MergeSHA, m.MergedBy)
			}
			fmt.Fprintf(w, "approved at head by: %s\n", orDash(approvers(m)))
			for _, c := range checks {
				fmt.Fprintf(w, "check %s: %s (%s)\n", c.Name, c.Status, c.Duration.Round(1e6))
			}
			printThreads(w, threads)
			return nil
		},
	}
	g.addJSON(show)
	c.AddCommand(list, show, newMRCommentCmd(g), newMRReplyCmd(g), newMRResolveCmd(g))
	return c
}

func approvers(m agentorg.MergeRequest) string {
	var us []string
	for _, a := range m.ApprovedAtHead() {
		us = append(us, a.User)
	}
	return strings.Join(us, ", ")
}
