package release

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Item is one merged issue as a release sees it.
type Item struct {
	Issue int64
	Title string
	Kind  Kind
	// IssueURL is the issue's web address; "" when there is none (the
	// embedded tracker without a dashboard), and the notes print "#12".
	IssueURL string
	// MR is the merge request that merged the issue, 0 if unknown.
	MR    int64
	MRURL string
}

// MaxSummary bounds the release agent's summary in runes: the notes are for
// people skimming what changed, and the agent's text must not be able to
// bury the list of issues.
const MaxSummary = 2000

// Notes are a release's notes: the same text goes into the merge request,
// the CHANGELOG and the tag's release.
type Notes struct {
	Version   Version
	TagPrefix string
	// Date is the release's date, printed in UTC as 2006-01-02; a zero
	// Date prints none.
	Date time.Time
	// Summary is the release agent's summary paragraph, plain markdown;
	// it is trimmed, cut at MaxSummary runes with "…", and its headings
	// are demoted below the notes' own, so that it cannot start an entry
	// of its own in the CHANGELOG.
	Summary string
	Items   []Item
	// Correction is Check's sentence, if any, shown as a note under the
	// heading: a reader of the notes sees that agentorg, not the agent,
	// chose the version, and why.
	Correction string
}

// headings are the groups of the notes, in the order Kinds lists them.
var headings = map[Kind]string{
	Breaking: "Breaking changes",
	Feature:  "Features",
	Fix:      "Fixes",
	Other:    "Other changes",
}

// Markdown renders the notes:
//
//	## v0.2.0 (2026-12-07)
//
//	> **Note:** the release agent proposed …
//
//	The summary.
//
//	### Features
//
//	- Title ([#12](url), [!4](url))
//
// with groups for breaking changes, features, fixes and other changes in
// that order (empty ones left out; an unknown kind counts as other), items
// sorted by issue number, and links where the item has addresses. The same
// notes always render to the same bytes, so a retried release proposes the
// same CHANGELOG change.
func (n Notes) Markdown() string {
	head := "## " + n.Version.Tag(n.TagPrefix)
	if !n.Date.IsZero() {
		head += " (" + n.Date.UTC().Format("2006-01-02") + ")"
	}
	blocks := []string{head}
	if c := oneLine(n.Correction); c != "" {
		blocks = append(blocks, "> **Note:** "+c)
	}
	if s := summary(n.Summary); s != "" {
		blocks = append(blocks, s)
	}
	items := slices.Clone(n.Items)
	slices.SortStableFunc(items, func(a, b Item) int {
		if a.Issue != b.Issue {
			return cmp.Compare(a.Issue, b.Issue)
		}
		return cmp.Compare(a.MR, b.MR)
	})
	for _, k := range Kinds {
		var lines []string
		for _, it := range items {
			if it.Kind.rank() == k.rank() {
				lines = append(lines, line(it))
			}
		}
		if len(lines) > 0 {
			blocks = append(blocks, "### "+headings[k], strings.Join(lines, "\n"))
		}
	}
	return strings.Join(blocks, "\n\n") + "\n"
}

// line is one item of the notes: "- Title (#12, !4)", with links where the
// item has addresses.
func line(it Item) string {
	ref := func(sigil string, n int64, url string) string {
		r := fmt.Sprintf("%s%d", sigil, n)
		if url != "" {
			r = "[" + r + "](" + url + ")"
		}
		return r
	}
	refs := ref("#", it.Issue, it.IssueURL)
	if it.MR != 0 {
		refs += ", " + ref("!", it.MR, it.MRURL)
	}
	title := oneLine(it.Title)
	// The group's heading says the kind: "feat: dark mode" reads
	// "Dark mode" under Features (a scope stays, as its context).
	if m := conventionalRE.FindStringSubmatchIndex(title); m != nil {
		switch rest := title[m[1]:]; {
		case rest == "":
		case m[4] >= 0:
			title = title[m[4]+1:m[5]-1] + ": " + rest
		default:
			title = strings.ToUpper(rest[:1]) + rest[1:]
		}
	}
	if title == "" {
		title = "(untitled)"
	}
	return "- " + title + " (" + refs + ")"
}

// oneLine collapses whitespace, newlines included, so that a title or a
// sentence stays one markdown line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// headingRE matches an ATX heading line; fenceRE a code fence's opening or
// closing line.
var (
	headingRE = regexp.MustCompile(`^ {0,3}(#{1,6})([ \t]|$)`)
	fenceRE   = regexp.MustCompile("^ {0,3}(```|~~~)")
)

// summary trims and clips the agent's summary and demotes its headings to
// level four, below the notes' "###" groups; headings inside code fences
// are code and stay as they are.
func summary(s string) string {
	s = clip(strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")), MaxSummary)
	lines := strings.Split(s, "\n")
	inFence := false
	for i, l := range lines {
		if fenceRE.MatchString(l) {
			inFence = !inFence
			continue
		}
		if m := headingRE.FindStringSubmatchIndex(l); !inFence && m != nil && m[3]-m[2] < 4 {
			lines[i] = l[:m[2]] + "####" + l[m[3]:]
		}
	}
	return strings.Join(lines, "\n")
}

// clip cuts s to at most n runes, ending a cut text with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimRight(string(r[:n-1]), " \t\n") + "…"
}
