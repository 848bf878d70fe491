package release

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Version is a release's MAJOR.MINOR.PATCH. agentorg releases plain
// versions only: pre-releases and build metadata are not part of the flow.
type Version struct{ Major, Minor, Patch int }

// DefaultFirst is the first release's version when the workflow sets none:
// 0.1.0, the first version of initial development as semantic versioning
// suggests it.
var DefaultFirst = Version{0, 1, 0}

// ParseVersion reads "1.2.3" or "v1.2.3" (the "v" that tags commonly carry;
// other tag prefixes are the caller's to strip). It refuses pre-release and
// build suffixes and leading zeros, which semantic versioning forbids, with
// an error saying what was wrong.
func ParseVersion(s string) (Version, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		return Version{}, fmt.Errorf("version %q has a pre-release or build suffix %q: agentorg releases plain MAJOR.MINOR.PATCH versions", orig, s[i:])
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", orig)
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return Version{}, fmt.Errorf("version %q: %q is not a number", orig, p)
		}
		if len(p) > 1 && p[0] == '0' {
			return Version{}, fmt.Errorf("version %q: %q has a leading zero", orig, p)
		}
		v, err := strconv.Atoi(p)
		if err != nil {
			return Version{}, fmt.Errorf("version %q: %q is too large", orig, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// String is "MAJOR.MINOR.PATCH", without a prefix.
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Tag is the git tag of the version: the workflow's tag prefix (say "v")
// followed by the version.
func (v Version) Tag(prefix string) string { return prefix + v.String() }

// Less orders versions by precedence.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// Next is the version semantic versioning gives after prev for changes of
// these kinds: the most significant kind decides (breaking: major+1.0.0,
// feature: minor+1 with patch 0, fix or anything else: patch+1). Without a
// previous release (prev nil) it is first, the workflow's first_version;
// a zero first means DefaultFirst, since 0.0.0 is no release.
//
// A breaking change bumps the major version in 0.x too: the rule is the
// one the workflow documents, with no special case to remember.
func Next(prev *Version, kinds []Kind, first Version) Version {
	if prev == nil {
		if first == (Version{}) {
			return DefaultFirst
		}
		return first
	}
	v := *prev
	switch highest(kinds) {
	case Breaking:
		return Version{v.Major + 1, 0, 0}
	case Feature:
		return Version{v.Major, v.Minor + 1, 0}
	}
	return Version{v.Major, v.Minor, v.Patch + 1}
}

// highest is the most significant of kinds; Other when there are none.
func highest(kinds []Kind) Kind {
	h := Other
	for _, k := range kinds {
		if k.rank() > h.rank() {
			h = k
		}
	}
	return h
}

// maxListed bounds how many issues a correction names: the deciding ones
// are usually few, and a sentence naming fifty is no longer read.
const maxListed = 10

// Check returns the version agentorg releases and, when the release agent
// proposed another (or none, or something that is not a version), the
// sentence that says so. The version is always Next over the items' kinds:
// the agent proposes, the rule decides, because a version is a promise to
// users that a model's judgement should not be able to break. The sentence
// is recorded and printed in the notes, so it names what the agent
// proposed, the issues whose kind decided, and the result, e.g. "the
// release agent proposed 0.2.0, but the merged issues hold fixes only (#3,
// #5), so the release after 0.1.0 is 0.1.1".
func Check(proposed string, prev *Version, items []Item, first Version) (Version, string) {
	kinds := make([]Kind, len(items))
	for i, it := range items {
		kinds[i] = it.Kind
	}
	want := Next(prev, kinds, first)
	p, err := ParseVersion(proposed)
	var said string
	switch {
	case strings.TrimSpace(proposed) == "":
		said = "the release agent proposed no version"
	case err != nil:
		// The proposal is the agent's text: clipped, so that it cannot
		// fill the notes.
		said = fmt.Sprintf("the release agent proposed %q, which is not a version", clip(strings.TrimSpace(proposed), 40))
	case p == want:
		return want, ""
	default:
		said = "the release agent proposed " + p.String()
	}
	if prev == nil {
		return want, fmt.Sprintf("%s, but this is the first release, which the workflow's first_version sets to %s", said, want)
	}
	return want, fmt.Sprintf("%s, but %s, so the release after %s is %s", said, deciding(items), prev, want)
}

// deciding says which issues decide the bump: those of the most significant
// kind among items, and that nothing more significant was merged.
func deciding(items []Item) string {
	if len(items) == 0 {
		return "no issues were merged"
	}
	kinds := make([]Kind, len(items))
	for i, it := range items {
		kinds[i] = it.Kind
	}
	h := highest(kinds)
	var ids []int64
	all := true
	for _, it := range items {
		if it.Kind.rank() == h.rank() {
			ids = append(ids, it.Issue)
		} else {
			all = false
		}
	}
	list := issueList(ids)
	switch {
	case h == Breaking:
		return "the merged issues hold breaking changes (" + list + ")"
	case h == Feature:
		return "the merged issues hold features (" + list + ") and no breaking change"
	case h == Fix && all:
		return "the merged issues hold fixes only (" + list + ")"
	case h == Fix:
		return "the merged issues hold fixes (" + list + ") and no feature or breaking change"
	}
	return "the merged issues hold no breaking change, feature or fix (" + list + ")"
}

// issueList is "#3, #5", sorted, without repeats, at most maxListed named.
func issueList(ids []int64) string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var b strings.Builder
	for i, id := range ids {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(ids)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "#%d", id)
	}
	return b.String()
}
