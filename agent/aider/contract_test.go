package aider

import (
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
)

// Aider cannot be installed here: the suite runs against its fake only.
func TestContract(t *testing.T) {
	agenttest.Suite{
		Rig: agenttest.Fake{New: func(c cli.Config) agentorg.Agent { return New(c) }}.Rig,
		// Another directory's conversation.
		BadIDs:  []string{"aider-0000000000000000", "--help"},
		Confine: agenttest.Confined,
	}.Run(t)
}
