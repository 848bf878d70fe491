package workflow

import (
	"fmt"
	"strings"
)

// Allowed says in words who may approve at the gate: "alice, bob", "anyone
// with maintainer access or above", or both.
func (g *Gate) Allowed() string {
	var parts []string
	if len(g.Approvers) > 0 {
		parts = append(parts, strings.Join(g.Approvers, ", "))
	}
	if g.MinAccessLevel > 0 {
		parts = append(parts, fmt.Sprintf("anyone with %s access or above in the project", g.MinAccessLevel))
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, ", or ")
}
