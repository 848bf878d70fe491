package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/tracker/gitlab"
)

// gitlabTracker opens the home and returns its GitLab tracker, or says that
// the command is for the GitLab tracker.
func (g *globals) gitlabTracker(ctx context.Context) (*app.Org, *gitlab.Tracker, error) {
	org, err := g.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	tr, ok := org.Tracker.(*gitlab.Tracker)
	if !ok {
		org.Close()
		return nil, nil, fmt.Errorf("the workflow's tracker is %s; this command is for tracker.kind gitlab", org.Workflow.Tracker.Kind)
	}
	return org, tr, nil
}

func newLabelsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "labels", Short: "The workflow's labels in the tracker"}
	c.AddCommand(&cobra.Command{
		Use:   "sync",
		Short: "Create or update the workflow's labels in the GitLab project",
		Long: `Create the workflow's labels that the GitLab project lacks, and update the
colour and description of those that differ. Labels inherited from a group
are reported, not changed. Prints what it did to each label.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			org, tr, err := g.gitlabTracker(cmd.Context())
			if err != nil {
				return err
			}
			defer org.Close()
			var want []gitlab.LabelSpec
			for _, l := range org.Workflow.Labels {
				want = append(want, gitlab.LabelSpec{Name: l.Name, Color: l.Color, Description: l.Description})
			}
			changes, err := tr.SyncLabels(cmd.Context(), want)
			for _, ch := range changes {
				line := fmt.Sprintf("%-10s %s", ch.Action, ch.Name)
				if ch.Detail != "" {
					line += "  (" + ch.Detail + ")"
				}
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			return err
		},
	})
	return c
}
