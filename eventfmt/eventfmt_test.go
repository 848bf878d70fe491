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
