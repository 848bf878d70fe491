package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/workflow"
)

func newInitCmd(g *globals) *cobra.Command {
	var o workflow.DefaultOptions
	var dir string
	var force bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Write the default workflow to .agentorg/workflow.yaml",
		Long: `Write the default workflow: the article's lifecycle and label names
(agentorg opt-in, plan:review, issue:approved, dev:ready, dev:running, dev:done,
mr:ready-for-review, mr:approved, e2e:ready, e2e:done, needs:human), with you as
the approver of both human gates. Edit it, then run 'agentorg check'.`,
		Example: `  agentorg init --approver alice --check "go vet ./... && go test ./..." --e2e "go test ./..."`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.Approvers) == 0 {
				u, err := g.user()
				if err != nil {
					return fmt.Errorf("%w (or pass --approver)", err)
				}
				o.Approvers = []string{u}
			}
			if o.Check == "" {
				o.Check = guessCheck(dir)
			}
			if o.E2E == "" {
				o.E2E = o.Check
			}
			if len(o.AgentCommand) == 0 {
				o.AgentCommand = []string{"agentorg", "scripted-agent", "--script", ".agentorg/script.yaml"}
			}
			p := filepath.Join(dir, workflow.DefaultPath)
			if _, err := os.Stat(p); err == nil && !force {
				return fmt.Errorf("%s exists; pass --force to overwrite it", p)
			}
			text := workflow.Default(o)
			if _, err := workflow.Parse(p, text, os.LookupEnv); err != nil {
				return fmt.Errorf("the default workflow does not validate with these options:\n%w", err)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, text, 0o644); err != nil {
				return err
			}
			ignore := filepath.Join(filepath.Dir(p), ".gitignore")
			if _, err := os.Stat(ignore); os.IsNotExist(err) {
				if err := os.WriteFile(ignore, []byte("# agentorg's state (database, worktrees, transcripts)\nstate/\n"), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nnext: edit it (agents, checks, approvers), then run `agentorg check`\n", p)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", ".", "repository root")
	f.StringSliceVar(&o.Approvers, "approver", nil, "user allowed to approve plans and merge requests (repeatable; default: you)")
	f.StringVar(&o.TargetBranch, "target", "main", "target branch")
	f.StringVar(&o.Check, "check", "", "validation command (default: guessed from the repository)")
	f.StringVar(&o.E2E, "e2e", "", "end-to-end command run after merge (default: the check)")
	f.StringSliceVar(&o.AgentCommand, "agent-command", nil, "the coding agent's command (see docs/agent-protocol.md)")
	f.BoolVar(&force, "force", false, "overwrite an existing workflow")
	g.addAs(c)
	return c
}

// guessCheck picks a test command from what the repository contains.
func guessCheck(dir string) string {
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	switch {
	case exists("go.mod"):
		return "go vet ./... && go test ./..."
	case exists("package.json"):
		return "npm test"
	case exists("Cargo.toml"):
		return "cargo test"
	case exists("pyproject.toml"), exists("setup.py"):
		return "python -m pytest"
	case exists("Makefile"):
		return "make test"
	}
	return "echo 'set checks in .agentorg/workflow.yaml' && false"
}
