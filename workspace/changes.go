package workspace

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
)

// Changes is what validation needs to know about from..to.
type Changes struct {
	Files   []hygiene.Change // per file: lines and bytes added and deleted, binary, modes, a link's target
	Added   []hygiene.Added  // every line each commit added (see AddedLines)
	Net     []hygiene.Added  // the lines the net diff adds: what the last commit holds
	Commits []hygiene.Commit // who made each commit, and its message (see Commits)
	Diff    string           // the unified diff
	// Unread says why the diff could not be read, when it is too large for
	// that; Files, Added and Diff are then empty.
	Unread string
}

// Changes reads from..to with one `git diff` when to is a single commit
// on top of from (a first attempt, the common case: its diff is all its
// commits' diffs, and its one commit is read from its object file), else
// with that, AddedLines' `git log -p` and Commits' `git log`. The per-file
// counts come from the diff itself: the same diff git's --numstat counts.
func (m *Mirror) Changes(ctx context.Context, from, to string) (Changes, error) {
	var ch Changes
	sha := strings.ToLower(to)
	_, parents, ok := looseCommitHeader(m.Dir, sha)
	single := ok && len(parents) == 1 && parents[0] == strings.ToLower(from)
	var err error
	if ch.Commits, err = m.commitsOf(ctx, from, to, single); err != nil {
		return unread(ch, err, "the text of its commits")
	}
	if ch.Diff, err = m.Diff(ctx, from, to); err != nil {
		return unread(ch, err, "its diff")
	}
	ch.Files, ch.Added = parseDiff(ch.Diff, sha)
	ch.Net = ch.Added
	if !single {
		if ch.Added, err = m.AddedLines(ctx, from, to); err != nil {
			return unread(ch, err, "the lines its commits add")
		}
	}
	return ch, nil
}

// commitsOf is Commits, answered from the object file when to is one loose
// commit on top of from.
func (m *Mirror) commitsOf(ctx context.Context, from, to string, single bool) ([]hygiene.Commit, error) {
	if single {
		if c, ok := readLooseCommit(m.Dir, strings.ToLower(to)); ok {
			return []hygiene.Commit{c}, nil
		}
	}
	return m.Commits(ctx, from, to)
}

// unread turns git's refusal to print more than maxStdout into a change
// too large to read, which hygiene refuses; other errors stay errors.
func unread(ch Changes, err error, what string) (Changes, error) {
	if !errors.Is(err, errTooLarge) {
		return Changes{}, err
	}
	return Changes{Commits: ch.Commits, Unread: fmt.Sprintf("%s is over %s", what, hygiene.Size(maxStdout))}, nil
}

// parseDiff reads a `git diff --no-renames` (default context, no color):
// per file the added and deleted lines and bytes, or binary, its modes and
// a symbolic link's target (its blob, shown as the file's one line), and
// the added lines with their line numbers, attributed to commit.
func parseDiff(diff, commit string) ([]hygiene.Change, []hygiene.Added) {
	var files []hygiene.Change
	var added []hygiene.Added
	lines := strings.Split(diff, "\n")
	var cur *hygiene.Change
	var link []string // the new side of a link's hunk: its target
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "diff --git "):
			files = append(files, hygiene.Change{Path: diffGitPath(l[len("diff --git "):])})
			cur, link = &files[len(files)-1], nil
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
					cur.Bytes += len(h)
					cur.LongestLine = max(cur.LongestLine, len(h)-1)
					added = append(added, hygiene.Added{Commit: commit, Path: cur.Path, Line: next, Text: h[1:]})
					link = append(link, h[1:])
					next++
					newN--
				case strings.HasPrefix(h, "-"):
					cur.Deleted++
					oldN--
				case strings.HasPrefix(h, `\`): // "\ No newline at end of file"
				default: // context
					link = append(link, strings.TrimPrefix(h, " "))
					next++
					oldN--
					newN--
				}
			}
			if cur.NewMode == modeLink {
				cur.Link = strings.Join(link, "\n")
			}
		default:
			readModes(cur, l)
		}
	}
	return files, added
}

// modeLink is git's mode for a symbolic link.
const modeLink = "120000"

// readModes reads the modes a file's extended header lines give: "new file
// mode M", "deleted file mode M", "old mode M" and "new mode M", or the M
// of "index a..b M" when the mode did not change.
func readModes(c *hygiene.Change, l string) {
	switch {
	case strings.HasPrefix(l, "new file mode "):
		c.NewMode = l[len("new file mode "):]
	case strings.HasPrefix(l, "deleted file mode "):
		c.OldMode = l[len("deleted file mode "):]
	case strings.HasPrefix(l, "old mode "):
		c.OldMode = l[len("old mode "):]
	case strings.HasPrefix(l, "new mode "):
		c.NewMode = l[len("new mode "):]
	case strings.HasPrefix(l, "index "):
		if f := strings.Fields(l); len(f) == 3 {
			c.OldMode, c.NewMode = f[2], f[2]
		}
	}
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
