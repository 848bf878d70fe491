package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/workspace"
)

// originSnapshotFile is where a home keeps what it last saw of a local
// origin's dangerous settings (workspace.OriginSnapshot).
const originSnapshotFile = "origin-guard.json"

// ErrOriginChanged says a local origin's hooks or dangerous settings
// changed since this home last saw them.
var ErrOriginChanged = errors.New("the origin's git settings changed")

// GuardOrigin checks that a local origin's hooks and the settings that
// could make git run a command or go elsewhere are what this home saw
// before (the first time, it records them). A change is refused until a
// person accepts it with AcceptOrigin (`agentorg doctor --accept-origin`):
// agents must never be able to leave such a thing behind. Remote origins
// have nothing to check here.
func (o *Org) GuardOrigin(ctx context.Context) error {
	if o.Origin == "" || isRemoteURL(o.Origin) {
		return nil
	}
	now, err := workspace.SnapshotOrigin(ctx, o.Origin)
	if err != nil {
		return fmt.Errorf("origin %s: %w", o.Origin, err)
	}
	p := filepath.Join(o.Home, originSnapshotFile)
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return writeJSON(p, now)
	}
	if err != nil {
		return err
	}
	var seen workspace.OriginSnapshot
	if err := json.Unmarshal(b, &seen); err != nil {
		return fmt.Errorf("%s: %w (remove it to record the origin's settings again)", p, err)
	}
	if changes := now.Changes(seen); len(changes) > 0 {
		return fmt.Errorf("%w: %s's hooks or settings that can run commands or redirect git are not what agentorg last saw (%s); agentorg works on no origin it has not seen: if these are yours, accept them with `agentorg doctor --accept-origin`",
			ErrOriginChanged, o.Origin, strings.Join(changes, "; "))
	}
	return nil
}

// AcceptOrigin records a local origin's current hooks and dangerous
// settings as known.
func (o *Org) AcceptOrigin(ctx context.Context) error {
	if o.Origin == "" || isRemoteURL(o.Origin) {
		return nil
	}
	now, err := workspace.SnapshotOrigin(ctx, o.Origin)
	if err != nil {
		return fmt.Errorf("origin %s: %w", o.Origin, err)
	}
	return writeJSON(filepath.Join(o.Home, originSnapshotFile), now)
}

// guard is what runs before a merge train (role.Deps.Guard): the mirror
// made agentorg's alone again, the origin checked.
func (o *Org) guard(mirror *workspace.Mirror, warn func(string)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		removed, err := mirror.Harden(ctx)
		if err != nil {
			return err
		}
		if len(removed) > 0 && warn != nil {
			warn("removed from the mirror what agentorg did not put there: " + strings.Join(removed, "; "))
		}
		if err := o.GuardOrigin(ctx); err != nil {
			return role.Permanent(err)
		}
		return nil
	}
}

func writeJSON(p string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
