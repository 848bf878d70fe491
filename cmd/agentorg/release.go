package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/deploy"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/human"
)

func newReleaseCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "release",
		Short: "Release what merged since the last release: notes, version, CHANGELOG, tag",
		Long: `Open a release issue and label it for the release stage, which serve then works:
it gathers the issues merged into the target branch since the last release, up
to the newest commit whose E2E passed (only such a commit is released); the
release agent (read-only) writes the notes and proposes a version, which
agentorg checks against semantic versioning from the merged issues' kinds
(labels such as feature, bug, breaking, or conventional titles feat:, fix:,
feat!:) and corrects when it disagrees, saying why; the CHANGELOG change goes
through a merge request and the checks. The release waits at the release gate
(release:review) for an approver; the publish stage then merges the CHANGELOG
change, tags the released commit (annotated, the notes as its message) and
records the release (on GitLab, a Release). With environments in the workflow,
the deploy stage takes it through them (see agentorg deploy).

Adding the release label to an issue by hand does the same. One release is
drafted at a time.`,
		Example: `  agentorg release --as alice && agentorg serve --once
  agentorg approve 12 --as alice       # the release issue, at its gate
  agentorg release list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, err := g.user()
			if err != nil {
				return err
			}
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				if err := authenticate(ctx, cmd, org, user); err != nil {
					return err
				}
				is, err := org.Desk.StartRelease(ctx, user)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), is)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "#%d %s [%s]: serve drafts it\n", is.Number, is.Title, strings.Join(is.Labels, ", "))
				return nil
			})
		},
	}
	g.addAs(c)
	g.addJSON(c)
	c.AddCommand(newReleaseListCmd(g), newReleaseShowCmd(g))
	return c
}

func newReleaseListCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the releases, newest first (drafts too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				rs, err := org.Log.Releases(ctx)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), orEmptyList(rs))
				}
				if len(rs) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no release yet: agentorg release starts one")
					return nil
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "TAG\tSTATE\tCOMMIT\tISSUES\tRELEASE ISSUE\tDATE")
				for _, r := range rs {
					state, at := "draft", r.At
					if r.Published {
						state, at = "published", r.PublishedAt
					}
					fmt.Fprintf(w, "%s\t%s\t%.10s\t%s\t#%d\t%s\n", r.Tag, state, r.Commit, issueList(r.Issues), r.Issue, at.Local().Format("2006-01-02 15:04"))
				}
				return w.Flush()
			})
		},
	}
	g.addJSON(c)
	return c
}

func newReleaseShowCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "show VERSION",
		Short: "Show a release: its notes, commit, issues and deployments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				prefix := ""
				if org.Workflow.Release != nil {
					prefix = org.Workflow.Release.TagPrefix
				}
				v := strings.TrimPrefix(args[0], prefix)
				r, ok, err := org.Log.Release(ctx, v)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("no release %s: agentorg release list shows them", args[0])
				}
				deps, err := org.Log.Deployments(ctx, "")
				if err != nil {
					return err
				}
				var mine []eventlog.Deployment
				for _, d := range deps {
					if d.Version == r.Version {
						mine = append(mine, d)
					}
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), struct {
						eventlog.ReleaseRecord
						Deployments []eventlog.Deployment
					}{r, orEmptyList(mine)})
				}
				out := cmd.OutOrStdout()
				state := "draft (waits at the release gate)"
				if r.Published {
					state = "published " + r.PublishedAt.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(out, "%s  %s\ncommit   %s\nissue    #%d (CHANGELOG change !%d)\n", r.Tag, state, r.Commit, r.Issue, r.MR)
				if r.URL != "" {
					fmt.Fprintf(out, "page     %s\n", r.URL)
				}
				if r.Correction != "" {
					fmt.Fprintf(out, "version  corrected: %s\n", r.Correction)
				}
				fmt.Fprintf(out, "\n%s\n", strings.TrimSpace(r.Notes))
				if len(mine) > 0 {
					fmt.Fprintln(out, "\nDeployments")
					for _, d := range mine {
						fmt.Fprintf(out, "  %s  %-11s %s%s\n", d.Started.Local().Format("2006-01-02 15:04"), d.State, d.Env, map[bool]string{true: " (rollback)"}[d.Rollback])
					}
				}
				return nil
			})
		},
	}
	g.addJSON(c)
	return c
}

func newDeployCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "deploy",
		Short: "Deployment governance: approve a promotion, see what runs where",
		Long: `Releases go through the workflow's environments in order (for example staging,
then production), each deployed with its deploy command, checked with its
verify command, and rolled back to the last good version with its rollback
command when verify fails (the failure is escalated and an issue opened).

Each environment's rules decide when a release may go there: only a version
that passed the previous environment; automatically after a release (auto:
release) or after the previous environment ran it healthily for a time (auto:
healthy, healthy_for); or once its approvers approved (agentorg deploy
approve); inside its windows, outside its freezes (in its time zone), at most
max_per_day a day. A refusal names the rule that refused.`,
	}
	c.AddCommand(newDeployApproveCmd(g), newDeployStatusCmd(g))
	return c
}

func newDeployApproveCmd(g *globals) *cobra.Command {
	var to string
	c := &cobra.Command{
		Use:   "approve VERSION --to ENV",
		Short: "Approve deploying a released version to an environment",
		Long: `Approve deploying VERSION to ENV, as one of the environment's approvers. A
version that has not passed the environment before ENV, or a person who is
not an approver there, is refused with the rule. Once the environment has its
approvals, serve deploys it at its next poll, or when its window opens or its
freeze ends (the command says which).`,
		Example: `  agentorg deploy approve v0.1.0 --to production --as alice`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return errors.New("--to ENV is required: the environment to deploy to")
			}
			user, err := g.user()
			if err != nil {
				return err
			}
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				if org.Workflow.Release == nil {
					return errors.New("the workflow has no release section, so nothing is deployed")
				}
				if err := authenticate(ctx, cmd, org, user); err != nil {
					return err
				}
				dec, err := org.Desk.ApproveDeployment(ctx, to, args[0], user)
				var refused *human.RefusedError
				if errors.As(err, &refused) {
					return fmt.Errorf("refused: %w", err)
				}
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if dec.Allow {
					fmt.Fprintf(out, "%s approved %s to %s: allowed (%s); serve deploys it at its next poll\n", user, args[0], to, dec.Rule)
				} else {
					fmt.Fprintf(out, "%s approved %s to %s; it waits: %s\n", user, args[0], to, dec.Why)
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&to, "to", "", "the environment (required)")
	g.addAs(c)
	return c
}

// envStatus is one environment in agentorg deploy status.
type envStatus struct {
	Env      string `json:"env"`
	Version  string `json:"version"` // what runs there ("" none)
	Since    time.Time
	Last     *eventlog.Deployment `json:"last,omitempty"`
	Next     string               `json:"next,omitempty"`     // the newest release not there yet
	Decision *deploy.Decision     `json:"decision,omitempty"` // what governance says of Next now
}

func newDeployStatusCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "What runs in each environment, the last deployment, and what the next one waits for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				wf := org.Workflow
				if len(wf.Environments) == 0 {
					return errors.New("the workflow has no environments")
				}
				rules, err := wf.DeployRules()
				if err != nil {
					return err
				}
				deps, err := org.Log.Deployments(ctx, "")
				if err != nil {
					return err
				}
				rs, err := org.Log.Releases(ctx)
				if err != nil {
					return err
				}
				hist := eventlog.DeployHistory(deps)
				var out []envStatus
				for _, e := range wf.Environments {
					st := envStatus{Env: e.Name, Version: deploy.Current(e.Name, hist)}
					for i := len(deps) - 1; i >= 0; i-- {
						if deps[i].Env == e.Name {
							d := deps[i]
							st.Last = &d
							break
						}
					}
					for _, d := range deps {
						if d.Env == e.Name && d.Version == st.Version && (d.State == deploy.StateSucceeded || d.State == deploy.StateRolledBack) {
							st.Since = d.Finished
						}
					}
					for _, r := range rs { // newest first: the newest published one not there
						if r.Published && r.Version != st.Version {
							approvals, err := org.Log.DeployApprovals(ctx, e.Name, r.Version)
							if err != nil {
								return err
							}
							by := ""
							if len(approvals) > 0 {
								by = approvals[0]
							}
							dec := deploy.Decide(rules, e.Name, deploy.Request{Env: e.Name, Version: r.Version, By: by, Approvals: approvals, Now: time.Now()}, hist)
							st.Next, st.Decision = r.Version, &dec
							break
						}
						if r.Published {
							break
						}
					}
					out = append(out, st)
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), out)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ENV\tRUNS\tSINCE\tLAST DEPLOYMENT\tNEXT")
				for _, s := range out {
					runs, since, last, next := "-", "-", "-", "-"
					if s.Version != "" {
						runs = s.Version
						if !s.Since.IsZero() {
							since = s.Since.Local().Format("2006-01-02 15:04")
						}
					}
					if s.Last != nil {
						last = fmt.Sprintf("%s %s", s.Last.Version, s.Last.State)
						if s.Last.Rollback {
							last += " (rollback)"
						}
					}
					if s.Decision != nil {
						if s.Decision.Allow {
							next = fmt.Sprintf("%s: allowed (%s)", s.Next, s.Decision.Rule)
						} else {
							next = fmt.Sprintf("%s: %s", s.Next, s.Decision.Why)
						}
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Env, runs, since, last, next)
				}
				return w.Flush()
			})
		},
	}
	g.addJSON(c)
	return c
}

// orEmptyList gives JSON a [] rather than null for nothing.
func orEmptyList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// issueList is "#1, #2" (or "-").
func issueList(ns []int64) string {
	if len(ns) == 0 {
		return "-"
	}
	var s []string
	for _, n := range ns {
		s = append(s, fmt.Sprintf("#%d", n))
	}
	return strings.Join(s, ", ")
}
