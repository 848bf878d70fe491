package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/agentorg/agentorg"
)

// PlanVersion identifies issue n's plan comment as it is now (a release
// issue's notes comment): a digest of its body ("" when there is none).
// An approval shown a plan is bound to this version, so a plan rewritten
// meanwhile is not approved unseen.
func PlanVersion(ctx context.Context, t agentorg.Tracker, n int64) (string, error) {
	cs, err := t.Comments(ctx, n)
	if err != nil {
		return "", err
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if agentorg.HasMarker(cs[i].Body, agentorg.PlanKey(n)) || agentorg.HasMarker(cs[i].Body, agentorg.ReleaseNotesKey(n)) {
			sum := sha256.Sum256([]byte(cs[i].Body))
			return hex.EncodeToString(sum[:8]), nil
		}
	}
	return "", nil
}
