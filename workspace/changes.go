package workspace

import (
	"context"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
)

// Changes is what validation needs to know about from..to.
type Changes struct {
	Files []hygiene.Change // per file: lines added and deleted, binary
	Added []hygiene.Added  // every line each commit added (see AddedLines)
	Diff  string           // the unified diff
}

// Changes reads from..to with one `git diff` when to is a single commit
// on top of from (a first attempt, the common case: its diff is all its
// commits' diffs), else with that and AddedLines' `git log`. The per-file
// counts come from the diff itself: the same diff git's --numstat counts.
func (m *Mirror) Changes(ctx context.Context, from, to string) (Changes, error) {
	diff, err := m.Diff(ctx, from, to)
	if err != nil {
		return Changes{}, err
	}
	files, added := parseDiff(diff, strings.ToLower(to))
	if _, parents, ok := looseCommitHeader(m.Dir, strings.ToLower(to)); !ok || len(parents) != 1 || parents[0] != strings.ToLower(from) {
		if added, err = m.AddedLines(ctx, from, to); err != nil {
			return Changes{}, err
		}
	}
	return Changes{Files: files, Added: added, Diff: diff}, nil
}

// parseDiff reads a `git diff --no-renames` (default context, no color):
// per file the added and deleted lines, or binary, and the added lines
// with their line numbers, attributed to commit.
func parseDiff(diff, commit string) ([]hygiene.Change, []hygiene.Added) {
	var files []hygiene.Change
	var added []hygiene.Added
	lines := strings.Split(diff, "\n")
	var cur *hygiene.Change
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "diff --git "):
			files = append(files, hygiene.Change{Path: diffGitPath(l[len("diff --git "):])})
			cur = &files[len(files)-1]
		case cur == nil:
		case strings.HasPrefix(l, "Binary files ") && strings.HasSuffix(l, " differ"):
			cur.Binary = true
		case strings.HasPrefix(l, "@@ -"):
			// @@ -a,b +c,d @@: b old lines and d new ones follow, the new
			// ones numbered from c. A hunk is read by its counts, so a
			// line of it that looks like a header is still a line.
			oldN, newN, next, ok := hunkHeader(l)
			if !ok {
				continue
			}
			for oldN > 0 || newN > 0 {
				i++
				if i >= len(lines) {
					break
				}
				h := lines[i]
				switch {
				case strings.HasPrefix(h, "+"):
					cur.Added++
					added = append(added, hygiene.Added{Commit: commit, Path: cur.Path, Line: next, Text: h[1:]})
					next++
					newN--
				case strings.HasPrefix(h, "-"):
					cur.Deleted++
					oldN--
				case strings.HasPrefix(h, `\`): // "\ No newline at end of file"
				default: // context
					next++
					oldN--
					newN--
				}
			}
		}
	}
	return files, added
}

// hunkHeader reads "@@ -a[,b] +c[,d] @@": the old and new line counts (1
// when omitted) and the first new line number.
func hunkHeader(l string) (oldN, newN, start int, ok bool) {
	f := strings.Fields(l)
	if len(f) < 4 || f[0] != "@@" || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0, 0, false
	}
	count := func(s string) (first, n int, ok bool) {
		a, b, has := strings.Cut(s, ",")
		first, err := strconv.Atoi(a)
		if err != nil {
			return 0, 0, false
		}
		n = 1
		if has {
			if n, err = strconv.Atoi(b); err != nil {
				return 0, 0, false
			}
		}
		return first, n, true
	}
	_, oldN, ok1 := count(f[1][1:])
	start, newN, ok2 := count(f[2][1:])
	return oldN, newN, start, ok1 && ok2
}

// diffGitPath reads the path of a "diff --git a/<path> b/<path>" line
// (without renames both are the same path), unquoting git's C-style
// quoting of unusual names.
func diffGitPath(rest string) string {
	if strings.HasPrefix(rest, `"`) {
		if q, err := strconv.QuotedPrefix(rest); err == nil {
			if p, err := strconv.Unquote(q); err == nil {
				return strings.TrimPrefix(p, "a/")
			}
		}
	}
	// a/<p> b/<p>: the two halves have the same length.
	if n := (len(rest) - len("a/ b/")) / 2; n > 0 && len(rest) == 2*n+len("a/ b/") {
		return rest[2 : 2+n]
	}
	return rest
}
