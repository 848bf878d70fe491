package workspace

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Push sets origin's refs/heads/<branch> to sha, forcibly: agentorg owns the
// branch and the validated SHA is what must be there. PushLeased is the
// same with the branch's current value checked, for a branch others can
// push to.
func (m *Mirror) Push(ctx context.Context, sha, branch string) error {
	return m.push(ctx, sha, branch, nil)
}

// PushLeased is Push only while origin's branch is at old ("" for a branch
// the origin does not have): a commit someone pushed meanwhile is never
// overwritten. The check and the update are one step (git push
// --force-with-lease; update-ref with its old value on a local origin), so
// a push that races it fails instead of losing it.
func (m *Mirror) PushLeased(ctx context.Context, sha, branch, old string) error {
	if old != "" {
		if err := revArgs(old); err != nil {
			return err
		}
	}
	return m.push(ctx, sha, branch, &old)
}

func (m *Mirror) push(ctx context.Context, sha, branch string, old *string) error {
	if err := checkBranch(ctx, branch); err != nil {
		return err
	}
	commit, ok, err := revParse(ctx, m.Dir, sha)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("push %s: no such commit in %s", sha, m.Dir)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.localOrigin() && !mayHaveWorktrees(m.Origin) {
		if done, err := m.pushLocal(ctx, commit, branch, old); done || err != nil {
			return err
		}
	}
	args := []string{"push", "--quiet"}
	if m.localOrigin() {
		// git does not pass its -c settings to a local receive-pack, which
		// would start `git gc --auto` after every push and, once loose
		// objects pile up, repack the origin in the engine's hot path; and
		// would run the origin's hooks (the embedded forge runs none, as for
		// its merges).
		args = append(args, "--receive-pack=git -c receive.autogc=false -c core.hooksPath=/dev/null receive-pack")
	}
	refspec := "+" + commit + ":refs/heads/" + branch
	if old != nil {
		// A forced refspec ("+") would override the lease.
		args = append(args, "--force-with-lease=refs/heads/"+branch+":"+*old)
		refspec = refspec[1:]
	}
	_, err = m.remote(ctx, m.Dir, append(args, "origin", refspec)...)
	return err
}

// unpackLimit is receive-pack's default receive.unpackLimit: smaller packs
// are stored as loose objects, larger ones kept as a pack.
const unpackLimit = 100

// pushLocal is Push to a local bare origin (with no branch checked out
// anywhere), which is agentorg's embedded forge: like the forge's merges,
// it works on the origin repository with plumbing. A git push there costs
// seven processes, and both ends read every ref of the origin (the
// advertisement, the sender's "what do they have", the connectivity check
// twice): with a thousand merge requests open, 50 to 75 ms of CPU a push,
// half of all the git time `agentorg bench` measured. Here it is three
// processes whatever the number of refs: the commit's objects that the
// target branch lacks, packed in the mirror and stored in the origin (see
// SendObjects), then the ref. The origin's hooks do not run, as they do not
// for the forge's merges.
//
// done is false, with no error, when the objects cannot be sent this way;
// the caller then pushes with git.
func (m *Mirror) pushLocal(ctx context.Context, commit, branch string, old *string) (done bool, err error) {
	if sent, err := m.sendObjects(ctx, commit, unpackLimit); !sent || err != nil {
		return false, err
	}
	args := []string{"update-ref", "-m", "agentorg: push", "refs/heads/" + branch, commit}
	if old != nil {
		// update-ref's old value: the zero id means "must not exist".
		args = append(args, cmp.Or(*old, strings.Repeat("0", len(commit))))
	}
	if _, err := gitWith(ctx, m.Origin, defaultIdentity, nil, args...); err != nil {
		return false, fmt.Errorf("push %s to %s: %w", commit, branch, err)
	}
	return true, nil
}

// SendObjects copies into a local bare origin the objects of commit that
// it lacks, moving no ref: a merge train sends its validated merge commits
// this way, once for the whole train, for the forge to land them
// (LandMerge). It fails with errors.ErrUnsupported when the origin is not
// such a repository or the objects cannot be sent for sure.
func (m *Mirror) SendObjects(ctx context.Context, commit string) error {
	if !m.localOrigin() || mayHaveWorktrees(m.Origin) {
		return fmt.Errorf("send %s to %s: %w", commit, m.Origin, errors.ErrUnsupported)
	}
	if err := revArgs(commit); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	// Loose up to a larger count: LandMerge reads each merge commit's
	// parents and tree, which it does from a loose object's file and
	// otherwise with a git process per commit.
	sent, err := m.sendObjects(ctx, commit, 10*unpackLimit)
	if err == nil && !sent {
		err = fmt.Errorf("send %s to %s: %w", commit, m.Origin, errors.ErrUnsupported)
	}
	return err
}

// sendObjects packs in the mirror the objects of commit that the origin's
// target branches lack and stores them in the origin, as loose objects
// when fewer than looseMax, else as a pack. sent is false, with
// no error, when that cannot be done for sure: no target branch fetched,
// the origin lacks the fetched tip, or the pack is too large to hold.
func (m *Mirror) sendObjects(ctx context.Context, commit string, looseMax uint32) (sent bool, err error) {
	// What the origin surely has: a target branch's tip as last fetched,
	// present in the origin (a target moves forward, keeping it, unless
	// someone rewrote it; then ask).
	var have []string
	for _, b := range m.Branches {
		ours, found, handled := refFromFiles(m.Dir, "refs/remotes/origin/"+b)
		if !handled || !found {
			continue
		}
		if theirs, found, handled := refFromFiles(m.Origin, "refs/heads/"+b); !(handled && found && theirs == ours) {
			if _, err := git(ctx, m.Origin, "cat-file", "-e", ours+"^{commit}"); err != nil {
				continue
			}
		}
		have = append(have, ours)
	}
	if len(have) == 0 {
		return false, nil
	}
	revs := commit + "\n"
	for _, h := range have {
		revs += "^" + h + "\n"
	}
	pack, err := gitWith(ctx, m.Dir, defaultIdentity, strings.NewReader(revs), "pack-objects", "--revs", "--stdout", "--delta-base-offset", "-q")
	if err != nil {
		// Too large to hold (maxStdout) or anything else: git push copes.
		return false, nil
	}
	// A pack starts "PACK", version, object count (big-endian).
	if len(pack) < 12 || pack[:4] != "PACK" {
		return false, fmt.Errorf("send %s: pack-objects wrote no pack", commit)
	}
	if n := binary.BigEndian.Uint32([]byte(pack[8:12])); n > 0 {
		store := []string{"unpack-objects", "-q"}
		if n >= looseMax {
			store = []string{"index-pack", "--stdin"}
		}
		if _, err := gitWith(ctx, m.Origin, defaultIdentity, strings.NewReader(pack), store...); err != nil {
			return false, fmt.Errorf("send %s to %s: %w", commit, m.Origin, err)
		}
	}
	return true, nil
}
