package release

import (
	"strings"
)

// UpdateChangelog returns the CHANGELOG text old with section (a release's
// Markdown) as its newest entry:
//
//   - after the title ("# Changelog", any "# " line) and the paragraphs
//     that introduce the file, before the first "## " entry; a leading
//     "## Unreleased" or "## [Unreleased]" entry (Keep a Changelog) stays
//     on top, and the section goes after it;
//   - an empty file becomes "# Changelog", a blank line and the section;
//   - when an entry for v is already there (a retried release whose merge
//     request was redone), that entry is replaced where it stands, not
//     repeated; an entry is recognised by a "## " heading naming the tag
//     (tagPrefix + version) or the bare version, whatever it says around it.
//
// Everything else is kept byte for byte, so the merge request's diff shows
// the new entry only; headings inside code fences are not entries. A file
// written with CRLF line ends gets the section with CRLF too. The result
// ends with a newline.
func UpdateChangelog(old, section string, v Version, tagPrefix string) string {
	nl := "\n"
	if strings.Contains(old, "\r\n") {
		nl = "\r\n"
	}
	section = strings.ReplaceAll(strings.TrimRight(section, "\r\n"), "\r\n", "\n")
	section = strings.ReplaceAll(section, "\n", nl) + nl
	if strings.TrimSpace(old) == "" {
		return "# Changelog" + nl + nl + section
	}
	entries := entryStarts(old)
	// A retry: replace the entry for v, up to the next entry.
	for i, e := range entries {
		if e.names(v, tagPrefix) {
			end := len(old)
			if i+1 < len(entries) {
				end = entries[i+1].start
			}
			return join(old[:e.start], section, old[end:], nl)
		}
	}
	pos := len(old)
	for i, e := range entries {
		if i == 0 && e.unreleased() {
			continue
		}
		pos = e.start
		break
	}
	return join(old[:pos], section, old[pos:], nl)
}

// join puts section between before and after with a blank line on each
// side where there is text, adding line ends only where they are missing.
func join(before, section, after, nl string) string {
	if before != "" {
		if !strings.HasSuffix(before, "\n") {
			before += nl
		}
		if !strings.HasSuffix(before, nl+nl) {
			before += nl
		}
	}
	if after != "" {
		section += nl
	}
	out := before + section + after
	if !strings.HasSuffix(out, "\n") {
		out += nl
	}
	return out
}

// entry is a "## " heading of a CHANGELOG: where its line starts and what
// it says.
type entry struct {
	start int
	text  string
}

// entryStarts lists the "## " headings of text outside code fences, in
// order.
func entryStarts(text string) []entry {
	var es []entry
	inFence := false
	for start := 0; start < len(text); {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += start + 1
		}
		l := strings.TrimRight(text[start:end], "\r\n")
		switch {
		case fenceRE.MatchString(l):
			inFence = !inFence
		case !inFence && (strings.HasPrefix(l, "## ") || l == "##"):
			es = append(es, entry{start, strings.TrimSpace(l[2:])})
		}
		start = end
	}
	return es
}

// unreleased says whether the entry is Keep a Changelog's "Unreleased".
func (e entry) unreleased() bool {
	t := strings.ToLower(strings.Trim(e.text, "[] "))
	return strings.HasPrefix(t, "unreleased")
}

// names says whether the heading names version v: the tag or the bare
// version, not inside a longer version ("10.1.0", "0.1.0.1") nor with a
// suffix ("0.1.0-rc.1").
func (e entry) names(v Version, tagPrefix string) bool {
	for _, s := range []string{v.Tag(tagPrefix), v.String()} {
		for i := 0; ; {
			j := strings.Index(e.text[i:], s)
			if j < 0 {
				break
			}
			j += i
			k := j + len(s)
			beforeOK := j == 0 || !strings.ContainsRune("0123456789.", rune(e.text[j-1]))
			afterOK := k == len(e.text) || !strings.ContainsRune("0123456789.-+", rune(e.text[k]))
			if beforeOK && afterOK {
				return true
			}
			i = j + 1
		}
	}
	return false
}
