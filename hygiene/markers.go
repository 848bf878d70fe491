package hygiene

import "fmt"

// KindConflict: a line added that looks like a conflict marker git left (a
// merge or rebase that stopped), in any text file, whether or not a check
// would notice (a README's markers break no build).
const KindConflict = "conflict-marker"

// conflictMarker reports whether line is one of git's conflict markers as
// `git diff --check` sees them: seven <, = or > at the start of the line,
// then the end of it or a space. "=======" alone is also a Markdown
// underline; it counts only in a file that has a < or > marker too.
func conflictMarker(line string) (opening, middle bool) {
	if len(line) < 7 {
		return false, false
	}
	head, rest := line[:7], line[7:]
	if rest != "" && rest[0] != ' ' && rest != "\r" {
		return false, false
	}
	switch head {
	case "<<<<<<<", ">>>>>>>":
		return true, false
	case "=======":
		return false, true
	}
	return false, false
}

// markers reports each file whose added lines hold conflict markers, once,
// naming the first line.
func (c *checker) markers(added []Added) {
	type seen struct {
		first  int // the first <<<<<<< or >>>>>>> line, 0 when none
		middle int // the first =======, 0 when none
	}
	byPath := map[string]*seen{}
	var order []string
	for _, a := range added {
		opening, middle := conflictMarker(a.Text)
		if !opening && !middle {
			continue
		}
		s := byPath[a.Path]
		if s == nil {
			s = &seen{}
			byPath[a.Path] = s
			order = append(order, a.Path)
		}
		if opening && s.first == 0 {
			s.first = a.Line
		}
		if middle && s.middle == 0 {
			s.middle = a.Line
		}
	}
	for _, p := range order {
		s := byPath[p]
		if s.first == 0 {
			continue // only Markdown-like underlines
		}
		line := s.first
		if s.middle != 0 && s.middle < line {
			line = s.middle
		}
		c.add(Finding{KindConflict, p, fmt.Sprintf("`%s` line %d holds a conflict marker that a merge left", p, line),
			"resolve the conflict: keep what both sides meant and remove every <<<<<<<, ======= and >>>>>>> line"})
	}
}
