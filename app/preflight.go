package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/agentorg/agentorg/workflow"
	"github.com/agentorg/agentorg/workspace"
)

// CheckRepository says, before any work starts, whether the repository the
// organization works on can take it: for the embedded tracker, whose forge
// is a local repository, that the target branch exists there and that a
// working tree holding it can follow a merge (clean, no rebase or merge
// under way). A remote origin is checked by the first fetch and by
// `agentorg doctor` instead.
func (o *Org) CheckRepository(ctx context.Context) error {
	return CheckRepository(ctx, o.Workflow, o.Origin)
}

// CheckRepository is Org.CheckRepository for a workflow and its origin
// (resolved as Open resolves it), without opening a home.
func CheckRepository(ctx context.Context, wf *workflow.Workflow, origin string) error {
	if wf.Tracker.Kind != "embedded" || origin == "" || isRemoteURL(origin) {
		return nil
	}
	if err := workspace.CheckLocalTarget(ctx, origin, wf.Repo.TargetBranch); err != nil {
		return fmt.Errorf("%s: %w", wf.Path, err)
	}
	return nil
}

// OriginOf resolves a workflow's repo.url as Open does: a relative path is
// relative to the repository holding the workflow file.
func OriginOf(wf *workflow.Workflow) string {
	origin := wf.Repo.URL
	if !isRemoteURL(origin) && !filepath.IsAbs(origin) && wf.Path != "" {
		origin = filepath.Join(RepoRoot(wf.Path), origin)
	}
	return origin
}
