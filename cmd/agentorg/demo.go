package main

import (
	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var keep string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Watch three issues go from opt-in through merge and E2E on a sample repository",
		Long: `Build a small sample Go repository in a temporary directory and run the whole
lifecycle on the embedded tracker: three issues are opted in, planned, approved,
developed, validated, merged and tested end to end. One goes straight through,
one fails validation (a real failing go test) and converges on its second
attempt in the same agent session, one never converges and ends in needs:human.

The agents are agentorg's scripted agent standing in for a model. The demo
plays the human (alice) through the same code as 'agentorg approve'. It exits 0
only when all three issues end as described.`,
		Example: `  agentorg demo
  agentorg demo --keep /tmp/org && agentorg --home /tmp/org issue list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo.Run(cmd.Context(), demo.Options{Keep: keep, Out: cmd.OutOrStdout()})
		},
	}
	c.Flags().StringVar(&keep, "keep", "", "keep the state in this (new) directory, to inspect it with the CLI afterwards")
	return c
}
