package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var keep, agent string
	var withDiscord bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Watch four issues go from opt-in through merge and E2E on a sample repository, then a release",
		Long: `Build a small sample Go repository in a temporary directory and run the whole
lifecycle on the embedded tracker: four issues are opted in, planned, approved,
developed, validated, reviewed, merged and tested end to end. One goes straight
through; one fails validation (a real failing go test) and converges on its
second attempt in the same agent session; one never converges and ends in
needs:human; one gets review comments on its merge request, which triage turns
into a fix, replies and a resolved thread before a new approval. Then alice
asks for a release: the release agent writes the notes, agentorg checks the
version (v0.1.0), the CHANGELOG change merges, the released commit is tagged,
and the release is deployed to a staging directory.

The agents are agentorg's scripted agent standing in for a model. With
--agent codex (or claude, gemini, opencode) the real CLI does the work instead,
in its own private home, with agentorg's scripted model server playing the
model; --agent openai runs agentorg's built-in agent against that server. The
CLI is looked up in PATH, then in .tools/clis (.ci/install-clis). The demo
plays the human (alice) through the same code as 'agentorg approve'. It exits
0 only when all of it ends as described.

With --discord the organization also speaks in Discord, as serve does with a
discord section in the workflow: a fake Discord (the one agentorg's tests
use) is started for the demo, alice approves the plans from the buttons of
the bot's messages, and the channel is printed at the end: one message per
plan, merge request and escalation, edited in place as each issue moved on.`,
		Example: `  agentorg demo
  agentorg demo --keep /tmp/org && agentorg --home /tmp/org issue list
  agentorg demo --agent codex
  agentorg demo --discord`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli := agent
			if cli == "scripted" {
				cli = ""
			}
			return demo.Run(cmd.Context(), demo.Options{Keep: keep, CLI: cli, Discord: withDiscord, Out: cmd.OutOrStdout()})
		},
	}
	c.Flags().StringVar(&keep, "keep", "", "keep the state in this (new) directory, to inspect it with the CLI afterwards")
	c.Flags().BoolVar(&withDiscord, "discord", false, "speak in a fake Discord started for the demo, approve the plans from its buttons, and print the channel at the end")
	c.Flags().StringVar(&agent, "agent", "scripted", "the agent: scripted, or a real CLI driven by a scripted model: "+strings.Join(demo.CLIs, ", "))
	return c
}
