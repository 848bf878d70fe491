// Package release holds the pure rules of a release (issue 18): what kind of
// change each merged issue is, which version semantic versioning gives after
// the last release, how the release agent's proposal is checked against it,
// and how the notes and the CHANGELOG entry are written. It does no I/O: the
// release stage gathers the facts, calls these rules and records what they
// decide, so that every decision here can be table-tested.
package release

import (
	"regexp"
	"strings"
)

// Kind is what a merged issue changes, in the terms semantic versioning
// counts: it decides which part of the version a release bumps.
type Kind string

const (
	Breaking Kind = "breaking"
	Feature  Kind = "feature"
	Fix      Kind = "fix"
	Other    Kind = "other"
)

// Kinds are the kinds in the order the notes list them, the most
// significant first.
var Kinds = []Kind{Breaking, Feature, Fix, Other}

// rank orders the kinds by what they bump; an unknown or empty kind counts
// as Other, so that a stray value never raises a version.
func (k Kind) rank() int {
	switch k {
	case Breaking:
		return 3
	case Feature:
		return 2
	case Fix:
		return 1
	}
	return 0
}

// known says whether k is one of the four kinds.
func (k Kind) known() bool { return k == Other || k.rank() > 0 }

// labelKinds maps the labels trackers and teams commonly use (compared in
// lower case) to the kind they say.
var labelKinds = map[string]Kind{
	"breaking": Breaking, "breaking-change": Breaking, "semver:major": Breaking, "kind:breaking": Breaking,
	"feature": Feature, "enhancement": Feature, "feat": Feature, "kind:feature": Feature, "semver:minor": Feature,
	"bug": Fix, "fix": Fix, "bugfix": Fix, "kind:bug": Fix, "semver:patch": Fix,
}

// conventionalRE matches a Conventional Commits header: type, optional
// (scope), optional "!" and the colon.
var conventionalRE = regexp.MustCompile(`^([A-Za-z]+)(\([^()]*\))?(!)?:\s`)

// KindOf classifies a merged issue from its labels, its title and its body.
//
// Labels (case-insensitive) are a human's or the PM's explicit word; a
// Conventional Commits title ("feat: …", "fix(scope): …", a "!" before the
// colon for a breaking change) and a "BREAKING CHANGE:" or
// "BREAKING-CHANGE:" footer at the start of a body line are the developer's.
// Every signal counts and the most significant wins (breaking, then feature,
// then fix): under-counting a change would release a breaking change as a
// patch, the one mistake semantic versioning exists to prevent, while
// over-counting only spends a version number. The footer must open a line
// (after markdown list, quote or emphasis marks) because a body that merely
// mentions the phrase in a sentence is not declaring one. Nothing says
// anything: Other.
func KindOf(title, body string, labels []string) Kind {
	k := Other
	raise := func(c Kind) {
		if c.rank() > k.rank() {
			k = c
		}
	}
	for _, l := range labels {
		raise(labelKinds[strings.ToLower(strings.TrimSpace(l))])
	}
	if m := conventionalRE.FindStringSubmatch(strings.TrimSpace(title)); m != nil {
		// The spec leaves the type's case to implementors; only the
		// footer token must be upper case.
		switch {
		case m[3] == "!":
			raise(Breaking)
		case strings.EqualFold(m[1], "feat"):
			raise(Feature)
		case strings.EqualFold(m[1], "fix"):
			raise(Fix)
		}
	}
	if breakingFooter(body) {
		raise(Breaking)
	}
	return k
}

// breakingFooter says whether a line of body opens with "BREAKING CHANGE:"
// or "BREAKING-CHANGE:", allowing for markdown around it.
func breakingFooter(body string) bool {
	for line := range strings.SplitSeq(body, "\n") {
		line = strings.TrimLeft(line, " \t>*_-#")
		if strings.HasPrefix(line, "BREAKING CHANGE:") || strings.HasPrefix(line, "BREAKING-CHANGE:") {
			return true
		}
	}
	return false
}
