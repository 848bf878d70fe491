package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/discord"
	"github.com/agentorg/agentorg/eventfmt"
	"github.com/agentorg/agentorg/tracker/gitlab"
)

func newDoctorCmd(g *globals) *cobra.Command {
	var skipChecks, acceptOrigin bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check that agentorg can work here: repository, tracker, agents, and the checks on the target",
		Long: `Check everything agentorg needs before it works, and say what to fix:

  - the workflow's warnings (agents not found, variables not set);
  - the repository: on the embedded tracker, that the target branch exists
    and that a working tree holding it can follow a merge (clean, nothing
    under way), and that the local origin's hooks and the settings that
    could make git run a command or go elsewhere are what agentorg last saw
    (after changing them yourself: --accept-origin); on GitLab, the
    instance URL, the token (accepted, its
    scopes), the project, the bot's right to merge into the target branch,
    and the workflow's labels;
  - each agent as it would run: found, version, flags supported;
  - with a discord section: the token (or webhook URL) in the environment,
    the bot in the guild, its permissions in each channel, the people
    mapped to Discord accounts and whether they may approve;
  - that the kernel can confine agents, checks and the E2E command
    (Landlock), unless the workflow turns confinement off;
  - the workflow's checks, run once on the head of the target branch (the
    results are kept for validation's baseline; --skip-checks to leave them).

Prints each problem with a one-line fix; exits 1 if there is any. The home
itself (its database, worktrees, mirror and transcripts) is 'agentorg fsck''s.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				w := cmd.OutOrStdout()
				if acceptOrigin {
					if err := org.AcceptOrigin(ctx); err != nil {
						return err
					}
					fmt.Fprintf(w, "ok: %s's hooks and settings are recorded as known\n", org.Origin)
				}
				problems := printWarnings(w, checkWarnings(org.Workflow, org.Home))
				n, err := doctorRepository(ctx, w, org)
				if err != nil {
					return err
				}
				problems += n
				for _, a := range org.Workflow.Agents {
					p := app.Probe(ctx, a, org.Home)
					if p.Problem != "" {
						problems++
						fmt.Fprintf(w, "problem: agent %s: %s\n    fix: %s\n", a.Name, eventfmt.OneLine(p.Problem), eventfmt.OneLine(p.Fix))
						continue
					}
					fmt.Fprintf(w, "ok: agent %s (%s %s)\n", a.Name, a.Kind, dash(p.Version))
				}
				switch st := app.ConfinementOf(org.Workflow); {
				case st.Err() != nil:
					problems++
					fmt.Fprintf(w, "problem: agents cannot be confined here: %s\n    fix: %s\n", st.Unavailable, st.Fix())
					skipChecks = true // they would be refused the same way
				case !st.Required:
					fmt.Fprintf(w, "warning: %s\n", st)
				default:
					fmt.Fprintf(w, "ok: %s\n", st)
				}
				for _, f := range discord.Doctor(ctx, org.Workflow, os.Getenv) {
					fmt.Fprintf(w, "%s: %s\n", f.Level, eventfmt.OneLine(f.What))
					if f.Fix != "" {
						fmt.Fprintf(w, "    fix: %s\n", f.Fix)
					}
					if f.Level == "problem" {
						problems++
					}
				}
				if !skipChecks {
					if err := runBaseline(ctx, w, org); err != nil {
						if _, red := err.(exitError); !red {
							return err
						}
						problems++
					}
				}
				if problems > 0 {
					return exitError{1}
				}
				fmt.Fprintln(w, "ok: agentorg can work here")
				return nil
			})
		},
	}
	c.Flags().BoolVar(&skipChecks, "skip-checks", false, "do not run the workflow's checks on the target branch")
	c.Flags().BoolVar(&acceptOrigin, "accept-origin", false, "record the local origin's hooks and settings as known (after you changed them)")
	return c
}

// doctorRepository checks where the work lands: the local repository on
// the embedded tracker, the GitLab project otherwise. It returns how many
// problems it printed.
func doctorRepository(ctx context.Context, w io.Writer, org *app.Org) (int, error) {
	if tr, ok := org.Tracker.(*gitlab.Tracker); ok {
		var labels []string
		for _, l := range org.Workflow.Labels {
			labels = append(labels, l.Name)
		}
		problems, err := tr.Doctor(ctx, org.Workflow.Repo.TargetBranch, labels)
		if err != nil {
			return 0, err
		}
		for _, p := range problems {
			fmt.Fprintf(w, "problem: %s\n    fix: %s\n", p.What, p.Fix)
		}
		if len(problems) == 0 {
			fmt.Fprintln(w, "ok: GitLab is ready for agentorg")
		}
		return len(problems), nil
	}
	if err := org.CheckRepository(ctx); err != nil {
		fmt.Fprintf(w, "problem: %s\n", trimPath(err.Error(), org.Workflow.Path))
		return 1, nil
	}
	if err := org.GuardOrigin(ctx); err != nil {
		fmt.Fprintf(w, "problem: %s\n", err)
		return 1, nil
	}
	fmt.Fprintf(w, "ok: the repository %s (target branch %s)\n", org.Origin, org.Workflow.Repo.TargetBranch)
	return 0, nil
}
