package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/human"
)

func newUserCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Enroll the people who may act in this home (embedded tracker)",
		Long: `On the embedded tracker a person is who their credential says, not who --as
says: approving, rejecting, moving labels, opening issues and commenting as a
user need that user's credential. A credential is a random token kept in the
person's own credentials file, outside the home ($AGENTORG_CREDENTIALS, else
$XDG_CONFIG_HOME/agentorg/credentials.json, else
~/.config/agentorg/credentials.json, mode 0600), which confined agents can
neither read nor write; the home keeps only its SHA-256.

The first person to act in a new home is enrolled on the spot; afterwards an
enrolled user adds the others. To act as a user from another account, copy
their entry of the credentials file there.

On GitLab people act in GitLab, as themselves: these commands are not used.`,
	}
	add := &cobra.Command{
		Use:     "add NAME",
		Short:   "Enroll NAME: a credential in your credentials file, its hash in the home",
		Example: `  agentorg user add bob --as alice`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := strings.TrimSpace(args[0])
			if name == "" {
				return fmt.Errorf("a user needs a name")
			}
			return g.asUser(cmd, func(ctx context.Context, org *app.Org, creds human.Credentials, me string) error {
				tok, err := creds.Ensure(name)
				if err != nil {
					return err
				}
				if err := org.Users.Add(ctx, name, tok, me); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s enrolled by %s; the credential is in %s\n", name, me, creds.Path)
				return nil
			})
		},
	}
	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Unenroll NAME: their credential no longer acts in this home",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.asUser(cmd, func(ctx context.Context, org *app.Org, creds human.Credentials, me string) error {
				if err := org.Users.Remove(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s removed by %s\n", args[0], me)
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the users enrolled in this home",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				names, err := org.Users.List(ctx)
				if err != nil {
					return err
				}
				if g.json {
					if names == nil {
						names = []string{}
					}
					return printJSON(cmd.OutOrStdout(), names)
				}
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return nil
			})
		},
	}
	g.addAs(add)
	g.addAs(remove)
	g.addJSON(list)
	c.AddCommand(add, remove, list)
	return c
}

// asUser runs f as the authenticated --as user, on the embedded tracker.
func (g *globals) asUser(cmd *cobra.Command, f func(ctx context.Context, org *app.Org, creds human.Credentials, me string) error) error {
	me, err := g.user()
	if err != nil {
		return err
	}
	return g.read(cmd, func(ctx context.Context, org *app.Org) error {
		if org.Workflow.Tracker.Kind != "embedded" {
			return fmt.Errorf("the workflow's tracker is %s: people act in it as themselves; `agentorg user` is for the embedded tracker", org.Workflow.Tracker.Kind)
		}
		if err := authenticate(ctx, cmd, org, me); err != nil {
			return err
		}
		creds, err := human.DefaultCredentials(os.Getenv)
		if err != nil {
			return err
		}
		return f(ctx, org, creds, me)
	})
}
