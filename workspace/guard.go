package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The mirror and the origin are agentorg's alone: an agent must not be
// able to leave behind, in either, something that runs code or redirects
// git the next time agentorg (or a person) uses them. agentorg's own git
// calls run with hooks and fsmonitor off (safetyConfig); these guards also
// keep the mirror's configuration to what agentorg wrote, and say when a
// local origin's dangerous settings changed.

// mirrorKeys are the only configuration keys a mirror may hold: what
// `git clone --bare` and configureMirror write (lower-cased, as git lists
// them).
var mirrorKeys = map[string]bool{
	"core.repositoryformatversion": true,
	"core.filemode":                true,
	"core.bare":                    true,
	"core.ignorecase":              true,
	"core.precomposeunicode":       true,
	"core.symlinks":                true,
	"core.logallrefupdates":        true,
	"extensions.objectformat":      true,
	"remote.origin.url":            true,
	"remote.origin.fetch":          true,
}

// Harden makes the mirror hold only what agentorg put there: it removes
// configuration keys agentorg does not write (url.*.insteadOf, includes,
// submodule sections, filters...), hooks, info/attributes and object
// alternates. It returns what it removed, for the caller to record; an
// empty list when the mirror was as agentorg left it.
func (m *Mirror) Harden(ctx context.Context) ([]string, error) {
	var removed []string
	cfg := filepath.Join(m.Dir, "config")
	entries, err := configEntries(ctx, m.Dir, "--file", cfg)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: read its config: %w", m.Dir, err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if mirrorKeys[e.key] || seen[e.key] {
			continue
		}
		seen[e.key] = true
		if _, err := git(ctx, m.Dir, "config", "--file", cfg, "--unset-all", e.key); err != nil && exitCode(err) != 5 {
			return removed, fmt.Errorf("mirror %s: remove %s from its config: %w", m.Dir, e.key, err)
		}
		removed = append(removed, "config "+e.key+"="+e.value)
	}
	hooks, err := os.ReadDir(filepath.Join(m.Dir, "hooks"))
	if err != nil && !os.IsNotExist(err) {
		return removed, err
	}
	for _, h := range hooks {
		if strings.HasSuffix(h.Name(), ".sample") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(m.Dir, "hooks", h.Name())); err != nil {
			return removed, err
		}
		removed = append(removed, "hooks/"+h.Name())
	}
	for _, f := range []string{"info/attributes", "objects/info/alternates", "objects/info/http-alternates"} {
		p := filepath.Join(m.Dir, filepath.FromSlash(f))
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return removed, err
		}
		removed = append(removed, f)
	}
	return removed, nil
}

type configEntry struct{ key, value string }

// configEntries lists configuration entries (key lower-cased as git prints
// it) from where args say: "--file F", "--local".
func configEntries(ctx context.Context, dir string, args ...string) ([]configEntry, error) {
	out, err := git(ctx, dir, append(append([]string{"config"}, args...), "--list", "-z")...)
	if err != nil && exitCode(err) != 1 { // 1: no such file or nothing set
		return nil, err
	}
	var es []configEntry
	for _, rec := range strings.Split(out, "\x00") {
		if rec == "" {
			continue
		}
		k, v, _ := strings.Cut(rec, "\n")
		es = append(es, configEntry{key: k, value: v})
	}
	return es, nil
}

// dangerousKey matches the configuration keys of a repository that name a
// command to run, redirect git elsewhere, or pull in other files.
var dangerousKey = regexp.MustCompile(`^(core\.(hookspath|fsmonitor|sshcommand|gitproxy|askpass|attributesfile|alternaterefscommand)` +
	`|url\..*\.(insteadof|pushinsteadof)|include\.path|includeif\..*|filter\..*|diff\..*\.(command|textconv)|merge\..*\.driver` +
	`|receive\..*|uploadpack\..*|protocol\..*|submodule\..*)$`)

// OriginSnapshot is what of a local origin could make git there run
// someone's code or go elsewhere: its hooks (by content), its
// attributes file, and the configuration keys dangerousKey matches.
type OriginSnapshot struct {
	Config []string          `json:"config"` // "key=value", sorted
	Files  map[string]string `json:"files"`  // path in the git dir -> SHA-256
}

// SnapshotOrigin reads a local origin's OriginSnapshot.
func SnapshotOrigin(ctx context.Context, dir string) (OriginSnapshot, error) {
	s := OriginSnapshot{Config: []string{}, Files: map[string]string{}}
	gitDir, err := absGitDir(ctx, dir)
	if err != nil {
		return s, err
	}
	entries, err := configEntries(ctx, dir, "--local")
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		if dangerousKey.MatchString(e.key) {
			s.Config = append(s.Config, e.key+"="+e.value)
		}
	}
	sort.Strings(s.Config)
	hooks, err := os.ReadDir(filepath.Join(gitDir, "hooks"))
	if err != nil && !os.IsNotExist(err) {
		return s, err
	}
	var files []string
	for _, h := range hooks {
		if !strings.HasSuffix(h.Name(), ".sample") {
			files = append(files, "hooks/"+h.Name())
		}
	}
	for _, f := range append(files, "info/attributes", "config.worktree") {
		b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(f)))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			// A hook that is a directory or unreadable still counts.
			b = []byte("unreadable: " + err.Error())
		}
		sum := sha256.Sum256(b)
		s.Files[f] = hex.EncodeToString(sum[:])
	}
	return s, nil
}

// Changes lists how s differs from an earlier snapshot: what was added,
// removed or changed, one line each.
func (s OriginSnapshot) Changes(earlier OriginSnapshot) []string {
	var out []string
	was := map[string]bool{}
	for _, c := range earlier.Config {
		was[c] = true
	}
	now := map[string]bool{}
	for _, c := range s.Config {
		now[c] = true
		if !was[c] {
			out = append(out, "config "+c+" (new)")
		}
	}
	for _, c := range earlier.Config {
		if !now[c] {
			out = append(out, "config "+c+" (gone)")
		}
	}
	var names []string
	for f := range s.Files {
		names = append(names, f)
	}
	for f := range earlier.Files {
		if _, ok := s.Files[f]; !ok {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	for _, f := range names {
		a, inEarlier := earlier.Files[f]
		b, inNow := s.Files[f]
		switch {
		case !inEarlier:
			out = append(out, f+" (new)")
		case !inNow:
			out = append(out, f+" (gone)")
		case a != b:
			out = append(out, f+" (changed)")
		}
	}
	return out
}
