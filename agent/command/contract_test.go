package command

import (
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
)

func TestContract(t *testing.T) {
	agenttest.Suite{
		Rig: agenttest.Fake{New: func(c cli.Config) agentorg.Agent {
			return New(Config{Command: []string{c.Binary}, Timeout: c.Timeout, StallTimeout: c.StallTimeout})
		}}.Rig,
		AddsEnv: []string{EnvRole, EnvIssue, EnvAttempt, EnvAccess, EnvSession, EnvInput},
		Confine: agenttest.Confined,
	}.Run(t)
}
