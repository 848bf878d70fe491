package workflow

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a workflow file.
type Problem struct {
	File    string
	Pos     Position
	Message string
}

// String formats the problem the way compilers do, so that editors and
// terminals can jump to it: "file:line:col: message".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Pos != (Position{}) {
		fmt.Fprintf(&b, ":%d:%d", p.Pos.Line, p.Pos.Column)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is the error Parse returns: every problem found, sorted by
// position.
type Problems []Problem

// Error lists one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortAndDedup orders problems by position (problems without a position
// first) and drops exact repeats, which arise when one bad value is reached
// through several paths (an alias, a merge key).
func (ps Problems) sortAndDedup() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	out := ps[:0]
	seen := make(map[Problem]bool, len(ps))
	for _, p := range ps {
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}
