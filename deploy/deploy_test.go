package deploy

import (
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Paris wherever the tests run
)

func paris(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

const (
	h = time.Hour
	m = time.Minute
)

var (
	mon, tue, wed, thu, fri, sat, sun = time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday
)

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Window
		str  string // String(), when not in
		err  string
	}{
		{in: "Mon-Fri 09:00-17:00", want: Window{[]time.Weekday{mon, tue, wed, thu, fri}, 9 * h, 17 * h}},
		{in: "Sat,Sun 10:00-12:00", want: Window{[]time.Weekday{sat, sun}, 10 * h, 12 * h}},
		{in: "Sat, Sun 10:00-12:00", want: Window{[]time.Weekday{sat, sun}, 10 * h, 12 * h}, str: "Sat,Sun 10:00-12:00"},
		{in: "Mon 22:00-02:00", want: Window{[]time.Weekday{mon}, 22 * h, 2 * h}},
		{in: "daily 00:00-24:00", want: Window{[]time.Weekday{mon, tue, wed, thu, fri, sat, sun}, 0, 24 * h}},
		{in: "DAILY 08:30-09:45", want: Window{[]time.Weekday{mon, tue, wed, thu, fri, sat, sun}, 8*h + 30*m, 9*h + 45*m}, str: "daily 08:30-09:45"},
		{in: "Fri-Mon 06:00-07:00", want: Window{[]time.Weekday{mon, fri, sat, sun}, 6 * h, 7 * h}, str: "Mon,Fri-Sun 06:00-07:00"},
		{in: "monday,Wed-friday 09:00-10:00", want: Window{[]time.Weekday{mon, wed, thu, fri}, 9 * h, 10 * h}, str: "Mon,Wed-Fri 09:00-10:00"},
		{in: "Mon-Sun 22:00-00:00", want: Window{[]time.Weekday{mon, tue, wed, thu, fri, sat, sun}, 22 * h, 0}, str: "daily 22:00-00:00"},

		{in: "", err: `want days and times`},
		{in: "09:00-17:00", err: `want days and times`},
		{in: "Mon-Fry 09:00-17:00", err: `"Fry" is not a day`},
		{in: "Mnd 09:00-17:00", err: `"Mnd" is not a day`},
		{in: "Mon,,Tue 09:00-17:00", err: `empty day`},
		{in: "Mon-Fri 9-17", err: `"9" is not HH:MM`},
		{in: "Mon-Fri 09:00", err: `must be HH:MM-HH:MM`},
		{in: "Mon-Fri 09:00-25:00", err: `"25:00" is not a time between`},
		{in: "Mon-Fri 09:60-10:00", err: `"09:60" is not a time between`},
		{in: "Mon-Fri 24:00-10:00", err: `start 24:00`},
		{in: "Mon 09:00-09:00", err: `same time`},
	} {
		got, err := ParseWindow(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseWindow(%q) = %v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Errorf("ParseWindow(%q).String() = %q, want %q", tc.in, got.String(), str)
		}
	}
}

func TestParseFreeze(t *testing.T) {
	loc := paris(t)
	day := func(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, 0, 0, 0, 0, loc) }
	for _, tc := range []struct {
		in   string
		want Freeze
		str  string
		err  string
	}{
		{in: "2026-12-24..2026-12-26 holidays", want: Freeze{day(2026, 12, 24), day(2026, 12, 26), "holidays"}, str: "2026-12-24..2026-12-26 (holidays)"},
		{in: "2026-12-31", want: Freeze{day(2026, 12, 31), day(2026, 12, 31), ""}, str: "2026-12-31"},
		{in: "  2026-12-31   end of year close ", want: Freeze{day(2026, 12, 31), day(2026, 12, 31), "end of year close"}, str: "2026-12-31 (end of year close)"},
		{in: "2026-12-31..2026-12-31", want: Freeze{day(2026, 12, 31), day(2026, 12, 31), ""}, str: "2026-12-31"},

		{in: "", err: "want a date"},
		{in: "holidays", err: `"holidays" is not a date`},
		{in: "2026-12-32", err: `"2026-12-32" is not a date`},
		{in: "2026-12-24..", err: `"" is not a date`},
		{in: "2026-12-24...2026-12-26", err: `is not a date`},
		{in: "2026-12-26..2026-12-24 oops", err: "ends (2026-12-24) before it begins (2026-12-26)"},
	} {
		got, err := ParseFreeze(tc.in, loc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseFreeze(%q) = %v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !got.From.Equal(tc.want.From) || !got.To.Equal(tc.want.To) || got.Reason != tc.want.Reason || got.From.Location() != loc {
			t.Errorf("ParseFreeze(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("ParseFreeze(%q).String() = %q, want %q", tc.in, got.String(), tc.str)
		}
	}
	if f, err := ParseFreeze("2026-01-01", nil); err != nil || f.From.Location() != time.UTC {
		t.Errorf("ParseFreeze with no location = %+v, %v; want UTC", f, err)
	}
}

// TestNextOpen checks windows at and around midnight and across Paris's
// daylight-saving changes (2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25
// 03:00 CEST -> 02:00 CET).
func TestNextOpen(t *testing.T) {
	loc := paris(t)
	at := func(y int, mo time.Month, d, hh, mm int) time.Time { return time.Date(y, mo, d, hh, mm, 0, 0, loc) }
	mustW := func(s string) Window {
		w, err := ParseWindow(s)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		windows []string
		t       time.Time
		open    bool
		next    time.Time
	}{
		// 2026-01-05 is a Monday.
		{[]string{"Mon-Fri 09:00-17:00"}, at(2026, 1, 5, 9, 0), true, time.Time{}},
		{[]string{"Mon-Fri 09:00-17:00"}, at(2026, 1, 5, 8, 59), false, at(2026, 1, 5, 9, 0)},
		{[]string{"Mon-Fri 09:00-17:00"}, at(2026, 1, 5, 17, 0), false, at(2026, 1, 6, 9, 0)},
		{[]string{"Mon-Fri 09:00-17:00"}, at(2026, 1, 9, 17, 30), false, at(2026, 1, 12, 9, 0)},
		// Monday 22:00 to Tuesday 02:00.
		{[]string{"Mon 22:00-02:00"}, at(2026, 1, 6, 1, 59), true, time.Time{}},
		{[]string{"Mon 22:00-02:00"}, at(2026, 1, 6, 2, 0), false, at(2026, 1, 12, 22, 0)},
		{[]string{"Mon 22:00-02:00"}, at(2026, 1, 5, 21, 0), false, at(2026, 1, 5, 22, 0)},
		{[]string{"Sun 22:00-02:00"}, at(2026, 1, 5, 1, 0), true, time.Time{}}, // Monday 01:00, opened Sunday
		{[]string{"daily 00:00-24:00"}, at(2026, 1, 5, 23, 59), true, time.Time{}},
		{[]string{"Sat 10:00-12:00", "Tue 08:00-09:00"}, at(2026, 1, 5, 12, 0), false, at(2026, 1, 6, 8, 0)},
		// Spring forward: Sunday 29 March 09:00 is CEST, 07:00 UTC.
		{[]string{"Sun 09:00-17:00"}, at(2026, 3, 28, 18, 0), false, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)},
		// Fall back: Sunday 25 October 09:00 is CET, 08:00 UTC; the day has 25 hours.
		{[]string{"Sun 09:00-17:00"}, at(2026, 10, 24, 18, 0), false, time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC)},
		{[]string{"Sat 23:00-04:00"}, time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC), true, time.Time{}}, // 03:30 CET
		{[]string{"Sat 23:00-04:00"}, time.Date(2026, 10, 25, 3, 0, 0, 0, time.UTC), false, at(2026, 10, 31, 23, 0)},
		// No day at all: never open.
		{nil, at(2026, 1, 5, 9, 0), false, time.Time{}},
	} {
		var ws []Window
		for _, s := range tc.windows {
			ws = append(ws, mustW(s))
		}
		if tc.windows == nil {
			ws = []Window{{From: 9 * h, To: 10 * h}}
		}
		open, next := nextOpen(ws, tc.t, loc)
		if open != tc.open || !next.Equal(tc.next) {
			t.Errorf("%v at %v: open %v next %v; want %v %v", tc.windows, tc.t, open, next, tc.open, tc.next)
		}
	}
}

func TestCurrentAndLastGood(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	rec := func(min int, v, state string, rollback bool) Record {
		s := t0.Add(time.Duration(min) * m)
		return Record{Env: "staging", Version: v, State: state, Started: s, Finished: s.Add(m), Rollback: rollback}
	}
	for _, tc := range []struct {
		name     string
		history  []Record
		current  string
		lastGood map[string]string // except -> last good
	}{
		{"empty", nil, "", map[string]string{"v1": ""}},
		{"one success", []Record{rec(0, "v1", StateSucceeded, false)}, "v1", map[string]string{"v1": "", "v2": "v1"}},
		{"a failure does not change the current version",
			[]Record{rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateFailed, false)},
			"v1", map[string]string{"v2": "v1", "v1": ""}},
		{"any order of history",
			[]Record{rec(20, "v3", StateSucceeded, false), rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateSucceeded, false)},
			"v3", map[string]string{"v3": "v2", "v2": "v3"}},
		{"other environments do not count",
			[]Record{rec(0, "v1", StateSucceeded, false), {Env: "production", Version: "v9", State: StateSucceeded, Started: t0.Add(h)}},
			"v1", map[string]string{"v1": ""}},
		{"a rollback puts its version in place (Rollback set)",
			[]Record{rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateSucceeded, false), rec(20, "v1", StateSucceeded, true)},
			"v1", map[string]string{"v1": "", "v3": "v1"}}, // v2 was rolled back from: not good
		{"a rollback puts its version in place (State rolled-back)",
			[]Record{rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateSucceeded, false), rec(20, "v1", StateRolledBack, false)},
			"v1", map[string]string{"v3": "v1"}},
		{"a failed rollback does not, but its version was still judged bad",
			[]Record{rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateSucceeded, false), rec(20, "v1", StateFailed, true)},
			"v2", map[string]string{"v2": "v1", "v3": "v1"}},
		{"rolled back after a failed verify: the failed version is the bad one",
			[]Record{rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateSucceeded, false), rec(20, "v3", StateFailed, false), rec(30, "v1", StateSucceeded, true)},
			"v1", map[string]string{"v1": "v2", "v3": "v1", "v4": "v1"}},
		{"a version deployed again after its rollback is good again",
			[]Record{rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateSucceeded, false), rec(20, "v1", StateSucceeded, true), rec(30, "v2", StateSucceeded, false)},
			"v2", map[string]string{"v2": "v1", "v3": "v2"}},
		{"the same start: later in history wins",
			[]Record{{Env: "staging", Version: "v1", State: StateSucceeded, Started: t0}, {Env: "staging", Version: "v2", State: StateSucceeded, Started: t0}},
			"v2", map[string]string{"v2": "v1"}},
		{"running and interrupted are not in place",
			[]Record{rec(0, "v1", StateSucceeded, false), rec(10, "v2", StateInterrupted, false), rec(20, "v3", StateRunning, false)},
			"v1", map[string]string{"v3": "v1"}},
	} {
		if got := Current("staging", tc.history); got != tc.current {
			t.Errorf("%s: Current = %q, want %q", tc.name, got, tc.current)
		}
		for except, want := range tc.lastGood {
			if got := LastGood("staging", except, tc.history); got != want {
				t.Errorf("%s: LastGood(except %s) = %q, want %q", tc.name, except, got, want)
			}
		}
	}
}
