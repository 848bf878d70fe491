package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A developer's work commit lives in one home's mirror until it is pushed.
// To let another home (another worker of a shared database) carry on, the
// work travels as a git bundle: Bundle writes one, Unbundle reads it into
// another mirror.

// Bundle writes to file a git bundle of commit sha less what base (a ref
// or commit of the mirror: the target branch) holds already: the commits
// another mirror, which has base, needs to have sha. ok is false, and
// nothing is written, when base holds sha already (an attempt that
// changed nothing).
func (m *Mirror) Bundle(ctx context.Context, file, sha, base string) (ok bool, err error) {
	if err := revArgs(sha, base); err != nil {
		return false, err
	}
	if !isSHA(strings.ToLower(sha)) {
		return false, fmt.Errorf("bundle %s: not a full commit SHA", sha)
	}
	if in, err := m.IsAncestor(ctx, sha, base); err != nil {
		return false, fmt.Errorf("bundle %s: %w", sha, err)
	} else if in {
		return false, nil
	}
	// git bundles refs, not bare commits: a ref of its own names sha for
	// the time it takes (refs/agentorg-bundle/, which no fetch, push or
	// prune touches).
	ref := "refs/agentorg-bundle/" + strings.ToLower(sha)
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, err := git(ctx, m.Dir, "update-ref", ref, sha); err != nil {
		return false, fmt.Errorf("bundle %s: %w", sha, err)
	}
	defer git(context.WithoutCancel(ctx), m.Dir, "update-ref", "-d", ref)
	abs, err := filepath.Abs(file)
	if err != nil {
		return false, err
	}
	if _, err := git(ctx, m.Dir, "bundle", "create", "--quiet", abs, ref, "^"+base); err != nil {
		return false, fmt.Errorf("bundle %s: %w", sha, err)
	}
	return true, nil
}

// Unbundle brings the objects of the bundle file into the mirror (no ref
// of the mirror moves) and checks that sha is a commit of the mirror
// afterwards. The bundle's prerequisites (the commits of the target it was
// made against) must be in the mirror already: a mirror that fetched the
// target since has them.
func (m *Mirror) Unbundle(ctx context.Context, file, sha string) error {
	if err := revArgs(sha); err != nil {
		return err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("unbundle: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, err := git(ctx, m.Dir, "bundle", "verify", "--quiet", abs); err != nil {
		return fmt.Errorf("unbundle %s: the bundle does not fit this mirror: %w", abbrev(sha), err)
	}
	if _, err := git(ctx, m.Dir, "bundle", "unbundle", abs); err != nil {
		return fmt.Errorf("unbundle %s: %w", abbrev(sha), err)
	}
	if _, ok, err := revParse(ctx, m.Dir, sha); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("unbundle: the bundle does not hold commit %s", abbrev(sha))
	}
	return nil
}

// abbrev is sha cut to ten characters, for messages.
func abbrev(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}
