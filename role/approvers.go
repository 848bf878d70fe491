package role

import (
	"context"
	"fmt"
	"slices"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/workflow"
)

// MayApprove reports whether user may approve at gate g: never the bot,
// whatever its level; anyone the gate names; and, when the gate sets a
// minimum access level, any project member at that level or above, as the
// tracker (an agentorg.AccessReader) reports it. When the answer is no, why
// says so in words for the refusal comment.
func MayApprove(ctx context.Context, t agentorg.Tracker, g *workflow.Gate, bot, user string) (ok bool, why string, err error) {
	switch {
	case user == "":
		return false, "nobody is named", nil
	case user == bot:
		return false, fmt.Sprintf("%s is the bot; only a human may approve", user), nil
	case slices.Contains(g.Approvers, user):
		return true, "", nil
	case g.MinAccessLevel == agentorg.AccessNone:
		return false, fmt.Sprintf("%s is not an approver of gate %q (allowed: %s)", user, g.Name, g.Allowed()), nil
	}
	ar, ok := t.(agentorg.AccessReader)
	if !ok {
		return false, fmt.Sprintf("gate %q allows by access level, which this tracker cannot tell", g.Name), nil
	}
	level, err := ar.AccessLevel(ctx, user)
	if err != nil {
		return false, "", fmt.Errorf("access level of %s: %w", user, err)
	}
	if level >= g.MinAccessLevel {
		return true, "", nil
	}
	return false, fmt.Sprintf("%s has %s access in the project; gate %q needs %s or above (allowed: %s)",
		user, level, g.Name, g.MinAccessLevel, g.Allowed()), nil
}

// approvedAt reports whether someone gate g allows (never the bot) approved
// the merge request at sha.
func approvedAt(ctx context.Context, t agentorg.Tracker, g *workflow.Gate, bot string, mr agentorg.MergeRequest, sha string) (bool, error) {
	for _, a := range mr.Approvals {
		if a.SHA != sha {
			continue
		}
		ok, _, err := MayApprove(ctx, t, g, bot, a.User)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// ApprovedByAllowed reports whether someone gate g allows (never the bot)
// approved the merge request at its current head.
func ApprovedByAllowed(ctx context.Context, t agentorg.Tracker, g *workflow.Gate, bot string, mr agentorg.MergeRequest) (bool, error) {
	return approvedAt(ctx, t, g, bot, mr, mr.HeadSHA)
}

// HeadApprovals reports whether someone gate g allows approved the merge
// request at its current head and, when nobody did, why each approval at
// the head does not count (who gave it and, on a gate that allows by
// access level, their role), for the refusal comment.
func HeadApprovals(ctx context.Context, t agentorg.Tracker, g *workflow.Gate, bot string, mr agentorg.MergeRequest) (ok bool, refused []string, err error) {
	for _, a := range mr.ApprovedAtHead() {
		ok, why, err := MayApprove(ctx, t, g, bot, a.User)
		if err != nil || ok {
			return ok, nil, err
		}
		refused = append(refused, why)
	}
	return false, refused, nil
}
