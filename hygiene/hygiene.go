// Package hygiene decides whether a change may be pushed: paths the
// workflow allows and denies, a size limit, no binary files, and no text that
// looks like a secret. It works on what git reports about a diff; the caller
// gathers that. A violation is a finding with a reason, never a silent drop.
package hygiene

import (
	"fmt"
	"sort"
	"strings"
)

// Finding kinds.
const (
	KindPath   = "path"
	KindSize   = "size"
	KindBinary = "binary"
	KindSecret = "secret"
)

// Rules are the workflow's hygiene settings.
type Rules struct {
	// Allow: if not empty, every changed path must match one of these.
	// Deny: no changed path may match any of these. See Match for the syntax.
	Allow, Deny []string
	// MaxDiffLines bounds added plus deleted lines; 0 means no limit.
	MaxDiffLines int
}

// Change is one changed file of a diff (git diff --numstat).
type Change struct {
	Path           string
	Binary         bool
	Added, Deleted int
}

// Added is one added line of a commit in the range being pushed.
type Added struct {
	Commit, Path string
	Line         int
	Text         string
}

// Finding is one reason the change may not be pushed.
type Finding struct {
	Kind   string
	Path   string
	Reason string
}

// Key identifies the finding across attempts.
func (f Finding) Key() string { return "hygiene:" + f.Kind + ":" + f.Path }

// Check applies rules to the net diff and scans every added line (of every
// commit to be pushed, since history is pushed too) for secrets.
func Check(r Rules, changes []Change, added []Added) []Finding {
	var out []Finding
	total := 0
	for _, c := range changes {
		total += c.Added + c.Deleted
		if len(r.Allow) > 0 && !MatchAny(r.Allow, c.Path) {
			out = append(out, Finding{KindPath, c.Path, fmt.Sprintf("`%s` is outside the allowed paths (%s)", c.Path, strings.Join(r.Allow, ", "))})
		} else if p, ok := firstMatch(r.Deny, c.Path); ok {
			out = append(out, Finding{KindPath, c.Path, fmt.Sprintf("`%s` matches the denied path `%s`", c.Path, p)})
		}
		if c.Binary {
			out = append(out, Finding{KindBinary, c.Path, fmt.Sprintf("`%s` is a binary file", c.Path)})
		}
	}
	if r.MaxDiffLines > 0 && total > r.MaxDiffLines {
		out = append(out, Finding{KindSize, "", fmt.Sprintf("the diff changes %d lines, over the limit of %d", total, r.MaxDiffLines)})
	}
	seen := map[string]bool{}
	for _, a := range added {
		name, ok := Secret(a.Text)
		if !ok || seen[a.Path] {
			continue
		}
		seen[a.Path] = true
		out = append(out, Finding{KindSecret, a.Path, fmt.Sprintf("`%s` line %d (commit %.10s) looks like a %s", a.Path, a.Line, a.Commit, name)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}
