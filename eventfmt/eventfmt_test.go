package eventfmt

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentorg/agentorg/eventlog"
)

var at = time.Date(2026, 12, 6, 23, 46, 24, 0, time.Local)

func TestLineSaysWhenWhatAndWhy(t *testing.T) {
	for _, c := range []struct {
		e    eventlog.Event
		want string
	}{
		{eventlog.Event{At: at, Issue: 1, Stage: "develop", Kind: eventlog.KindTransition, From: "dev:ready", To: "dev:running", Reason: "develop claimed the issue (job 11, try 1)"},
			"23:46:24 #1 dev:ready → dev:running  develop claimed the issue (job 11, try 1)"},
		{eventlog.Event{At: at, Issue: 2, Actor: "alice", Kind: eventlog.KindTransition, To: "agentorg", Reason: "opted in by alice"},
			"23:46:24 #2 - → agentorg  opted in by alice"},
		{eventlog.Event{At: at, Issue: 3, Stage: "plan", Kind: eventlog.KindError, Reason: "try 1 of 3 failed, retries at 23:46:26: exit 3\nmodel overloaded"},
			"23:46:24 #3 plan failed  try 1 of 3 failed, retries at 23:46:26: exit 3 / model overloaded"},
		{eventlog.Event{At: at, Issue: 4, Actor: "alice", Kind: eventlog.KindHuman, Reason: "alice opened review thread 1 on !2"},
			"23:46:24 #4 alice  alice opened review thread 1 on !2"},
	} {
		if got := Line(c.e); got != c.want {
			t.Errorf("Line:\n  %q\nwant\n  %q", got, c.want)
		}
	}
}

func TestTableRowsFitTheWidth(t *testing.T) {
	long := eventlog.Event{At: at, Issue: 12345, Kind: eventlog.KindTransition, Actor: "a-very-long-actor-name",
		From: "mr:ready-for-review", To: "mr:changes-requested", Reason: strings.Repeat("why ", 50)}
	short := eventlog.Event{At: at, Issue: 1, Kind: eventlog.KindAgent, Actor: "coder", Reason: "done"}
	for _, width := range []int{100, 80} {
		tab := NewTable(width, []eventlog.Event{long, short}, at)
		for _, line := range []string{tab.Header(), tab.Row(long), tab.Row(short)} {
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("width %d: a row of %d columns: %q", width, n, line)
			}
		}
		if row := tab.Row(long); !strings.HasSuffix(row, "…") || !strings.HasPrefix(row, "23:46:24  #12345  transition  a-very-long…") {
			t.Errorf("width %d: the long row %q should be cut with …", width, row)
		}
		if row := tab.Row(short); !strings.HasSuffix(row, "  done") {
			t.Errorf("width %d: the short row %q should keep its reason whole", width, row)
		}
	}
	// Events of another day show the day.
	if row := NewTable(100, []eventlog.Event{short}, at.AddDate(0, 0, 1)).Row(short); !strings.HasPrefix(row, "12-06 23:46  ") {
		t.Errorf("an older event's row %q should name its day", row)
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"plain":                    "plain",
		"a\tb":                     "a b",
		"exit 3\nmodel overloaded": "exit 3 / model overloaded",
		"Error: x\r\n\n  at cli.js:12\n\tat node\n": "Error: x / at cli.js:12 / at node",
		"50%\r100%": "50% / 100%",
		"\n \n":     "",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// columns counts what a terminal shows, independently of Width: the
// CJK, Hangul, fullwidth and emoji blocks take two columns, combining
// marks none, control characters what termsafe prints (^[, <U+0085>).
func columns(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			n += 2
		case r >= 0x80 && r <= 0x9f:
			n += 8
		case r >= 0x300 && r <= 0x36f, r == 0x200b, r == 0x200d:
		case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
			r >= 0xf900 && r <= 0xfaff, r >= 0xff00 && r <= 0xff60, r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f680 && r <= 0x1f6ff:
			n += 2
		default:
			n++
		}
	}
	return n
}

func TestWidthCountsColumnsNotRunes(t *testing.T) {
	for s, want := range map[string]int{
		"":                 0,
		"dev:ready → done": 16,
		"Ünïcödé":          7,
		"e\u0301":          1, // e and a combining acute accent
		"計画が不十分です":         16,
		"ｆｕｌｌ":             8,
		"한국어":              6,
		"🚀 go":             5,
		"a\u200bb":         2, // a zero-width space
		"\x1b[2J":          5, // ^[[2J
		"\u0085":           8, // <U+0085>
		"山田太郎さん added it":  21,
	} {
		if got := Width(s); got != want {
			t.Errorf("Width(%q) = %d, want %d", s, got, want)
		}
		if got := columns(s); got != want {
			t.Errorf("the test's columns(%q) = %d, want %d", s, got, want)
		}
	}
	// Cut never leaves more than n columns, nor splits a wide character.
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"計画が不十分です", 7, "計画が…"},
		{"計画が不十分です", 8, "計画が…"},
		{"計画が不十分です", 16, "計画が不十分です"},
		{"ab計画", 4, "ab…"},
		{"e\u0301e\u0301e\u0301", 2, "e\u0301…"},
	} {
		if got := Cut(c.s, c.n); got != c.want || Width(got) > c.n {
			t.Errorf("Cut(%q, %d) = %q (%d columns), want %q", c.s, c.n, got, Width(got), c.want)
		}
	}
}

// Rows of people's and agents' text in other scripts fit the width as a
// terminal shows them: a wide character takes two columns, and a control
// character termsafe makes visible takes what it prints.
func TestTableRowsOfWideTextFitTheWidth(t *testing.T) {
	evs := []eventlog.Event{
		{At: at, Issue: 3, Kind: eventlog.KindHuman, Actor: "山田太郎さん", To: "dev:ready", Reason: "山田太郎さん added dev:ready by hand"},
		{At: at, Issue: 3, Kind: eventlog.KindHuman, Actor: "alice", From: "plan:review", To: "agentorg",
			Reason: "alice rejected: 計画が不十分です：テストがありません。もう一度考えてください 🚀🚀🚀 and more"},
		{At: at, Issue: 4, Kind: eventlog.KindError, Actor: "agentorg", Reason: "agent failed: \x1b[2J\x1b[H\x1b[32mGO\x1b[0m \u0085\u0085\u0085 " + strings.Repeat("x", 80)},
		{At: at, Issue: 5, Kind: eventlog.KindTransition, Actor: "Zoë", From: "dev:ready", To: "dev:running", Reason: "Ünïcödé ëvérywhérè, e\u0301e\u0301e\u0301 " + strings.Repeat("é", 90)},
	}
	for _, width := range []int{100, 80} {
		tab := NewTable(width, evs, at)
		lines := []string{tab.Header()}
		for _, e := range evs {
			lines = append(lines, tab.Row(e))
		}
		var reasonAt int
		for i, l := range lines {
			if n := columns(l); n > width {
				t.Errorf("width %d: a row of %d columns: %q", width, n, l)
			}
			// Every row's reason starts in the header's REASON column.
			if i == 0 {
				reasonAt = columns(l[:strings.Index(l, "REASON")])
				continue
			}
			why := Cut(OneLine(evs[i-1].Reason), width-reasonAt)
			if !strings.HasSuffix(l, why) || columns(l[:len(l)-len(why)]) != reasonAt {
				t.Errorf("width %d: row %q should end with its reason %q from column %d", width, l, why, reasonAt)
			}
		}
		if row := tab.Row(evs[1]); !strings.HasSuffix(row, "…") {
			t.Errorf("width %d: the long Japanese reason %q should be cut with …", width, row)
		}
	}
}
