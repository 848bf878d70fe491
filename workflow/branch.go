package workflow

import "fmt"

// Branch is the deterministic branch of an issue: the one its merge
// requests come from.
func (w *Workflow) Branch(issue int64) string {
	return fmt.Sprintf("%s%d", w.Repo.BranchPrefix, issue)
}
