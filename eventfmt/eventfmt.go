// Package eventfmt formats event log records for a terminal: the one-line
// log serve prints as the organization works, and the rows of `agentorg
// events` cut to fit a width.
package eventfmt

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/width"

	"github.com/agentorg/agentorg/eventlog"
)

// Logged says whether serve's log shows e: transitions, failures, and what
// humans did. Verdicts, merges and updates are told by the transitions
// that follow them, and an escalation by its move to the escalation label.
func Logged(e eventlog.Event) bool {
	switch e.Kind {
	case eventlog.KindTransition, eventlog.KindHuman, eventlog.KindRefused, eventlog.KindError,
		eventlog.KindCancel, eventlog.KindClaim, eventlog.KindRecover, eventlog.KindOverlap, eventlog.KindTakeover:
		return true
	}
	return false
}

// Line is e as one log line: time, issue, the move, and why, as in
//
//	23:46:24 #1 dev:ready → dev:running  develop claimed the issue (job 11, try 1)
func Line(e eventlog.Event) string {
	return fmt.Sprintf("%s #%d %s  %s", e.At.Local().Format("15:04:05"), e.Issue, Move(e), OneLine(strings.TrimSpace(e.Reason)))
}

// Move says what e did to the issue: the states it moved between, else
// what kind of step it was.
func Move(e eventlog.Event) string {
	if e.From != "" || e.To != "" {
		return orDash(e.From) + " → " + orDash(e.To)
	}
	what := e.Stage
	if what == "" {
		what = e.Actor
	}
	switch e.Kind {
	case eventlog.KindError:
		return what + " failed"
	case eventlog.KindCancel:
		return what + " cancelled"
	case eventlog.KindHuman:
		return e.Actor
	}
	return what + " " + e.Kind
}

// OneLine keeps s on one line: its lines (a CLI's stderr, say), each
// trimmed and the blank ones left out, joined with " / "; a tab is a space.
// A carriage return ends a line too.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return strings.ReplaceAll(s, "\t", " ")
	}
	var lines []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, strings.ReplaceAll(l, "\t", " "))
		}
	}
	return strings.Join(lines, " / ")
}

// Cut shortens s to at most n columns (Width), ending it with … when cut.
func Cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if Width(s) <= n {
		return s
	}
	w := 0
	for i, r := range s {
		if w+runeWidth(r) > n-1 {
			return s[:i] + "…"
		}
		w += runeWidth(r)
	}
	return s
}

// Width is the columns s takes on a terminal as agentorg prints it, not
// its runes: a wide character (Chinese, Japanese, Korean, most emoji)
// takes two, a combining mark or a zero-width character none, and a
// control character what termsafe shows in its place (^[ two, <U+0085>
// eight). Text people and agents wrote (names, reasons, errors) is cut by
// it, so that a row of Japanese still fits the width.
func Width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case r < 0x20 || r == 0x7f:
		return 2
	case r >= 0x80 && r <= 0x9f:
		return 8
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// Table lays events out in columns that fit a width: time, issue, kind,
// actor, the move and the reason, the reason cut with … to what is left.
// Its columns are sized once, from the events it is made with, so that rows
// added later (a follower's) line up with the first ones.
type Table struct {
	width   int
	timeFmt string
	cols    [5]int // time, issue, kind, actor, move
}

// Column caps: beyond them a cell is cut, leaving the reason room.
const (
	maxIssue = 6
	maxActor = 12
	maxMove  = 38
	minWhy   = 24
	gap      = "  "
)

// NewTable sizes a table of the given width for evs (which may be empty).
func NewTable(width int, evs []eventlog.Event, now time.Time) *Table {
	t := &Table{width: width, timeFmt: "15:04:05"}
	y, m, d := now.Date()
	for _, e := range evs {
		if ey, em, ed := e.At.Local().Date(); ey != y || em != m || ed != d {
			t.timeFmt = "01-02 15:04" // more than today: the day matters
			break
		}
	}
	t.cols = [5]int{len(t.timeFmt), len("ISSUE"), len(eventlog.KindTransition), 8, 24}
	for _, e := range evs {
		t.cols[1] = max(t.cols[1], min(len(fmt.Sprintf("#%d", e.Issue)), maxIssue))
		t.cols[3] = max(t.cols[3], min(Width(e.Actor), maxActor))
		t.cols[4] = max(t.cols[4], min(Width(state(e)), maxMove))
	}
	// A narrow width gives up move columns before the reason's minimum.
	if over := t.fixed() + minWhy - width; over > 0 {
		t.cols[4] = max(t.cols[4]-over, 10)
	}
	return t
}

func (t *Table) fixed() int {
	n := 0
	for _, c := range t.cols {
		n += c + len(gap)
	}
	return n
}

// Header is the table's header line.
func (t *Table) Header() string {
	return t.row([6]string{"TIME", "ISSUE", "KIND", "ACTOR", "STATE", "REASON"})
}

// Row is e as a line of the table.
func (t *Table) Row(e eventlog.Event) string {
	return t.row([6]string{e.At.Local().Format(t.timeFmt), fmt.Sprintf("#%d", e.Issue), e.Kind, e.Actor, state(e), OneLine(strings.TrimSpace(e.Reason))})
}

func (t *Table) row(cells [6]string) string {
	var b strings.Builder
	for i, c := range t.cols {
		cell := Cut(cells[i], c)
		b.WriteString(cell)
		b.WriteString(strings.Repeat(" ", c-Width(cell)))
		b.WriteString(gap)
	}
	b.WriteString(Cut(cells[5], t.width-t.fixed()))
	return strings.TrimRight(b.String(), " ")
}

// state is the move column of a table row: only moves between states.
func state(e eventlog.Event) string {
	if e.From == "" && e.To == "" {
		return ""
	}
	return orDash(e.From) + " → " + orDash(e.To)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
