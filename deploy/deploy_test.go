package deploy

import (
	"reflect"
	"slices"
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

func TestDecide(t *testing.T) {
	loc := paris(t)
	at := func(mo time.Month, d, hh, mm int) time.Time { return time.Date(2026, mo, d, hh, mm, 0, 0, loc) }
	now := at(1, 5, 10, 0) // Monday 5 January 2026, 10:00 CET
	staging := Rules{Name: "staging", Auto: AutoRelease, Location: loc}
	production := Rules{Name: "production", Approvers: []string{"alice", "bob", "carol"}, Approvals: 2, Location: loc}
	envs := func(prod func(*Rules)) []Rules {
		p := production
		p.Approvers = slices.Clone(p.Approvers)
		if prod != nil {
			prod(&p)
		}
		return []Rules{staging, p}
	}
	freeze := func(s string) Freeze {
		f, err := ParseFreeze(s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	window := func(s string) Window {
		w, err := ParseWindow(s)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	ok := func(env, v string, start time.Time) Record {
		return Record{Env: env, Version: v, State: StateSucceeded, Started: start, Finished: start.Add(5 * m)}
	}
	st := func(env, v, state string, start time.Time) Record {
		return Record{Env: env, Version: v, State: state, Started: start, Finished: start.Add(5 * m)}
	}
	passed := []Record{ok("staging", "v0.2.0", at(1, 5, 8, 0))} // passed staging at 08:05
	two := []string{"alice", "bob"}

	for _, tc := range []struct {
		name    string
		envs    []Rules
		env     string
		req     Request
		history []Record
		allow   bool
		rule    string
		why     string // the whole sentence, or a part of it when it starts with "…"
		retry   time.Time
		waiting []string
	}{
		// 0. sanity and idempotence
		{name: "unknown environment", envs: envs(nil), env: "qa", req: Request{Version: "v0.2.0", Now: now},
			rule: "unknown environment", why: `v0.2.0 may not be deployed to "qa": there is no such environment.`},
		{name: "no version", envs: envs(nil), env: "staging", req: Request{Now: now},
			rule: "no version", why: "Nothing may be deployed to staging: the request names no version."},
		{name: "in progress", envs: envs(nil), env: "staging", req: Request{Version: "v0.2.0", Now: now},
			history: []Record{st("staging", "v0.1.0", StateRunning, at(1, 5, 9, 55))},
			rule:    "in progress", why: "v0.2.0 may not go to staging: a deployment of v0.1.0 there started Mon 5 Jan 2026 09:55 CET and is still running."},
		{name: "a rollback in progress", envs: envs(nil), env: "staging", req: Request{Version: "v0.2.0", Now: now},
			history: []Record{{Env: "staging", Version: "v0.1.0", State: StateRunning, Rollback: true, Started: at(1, 5, 9, 55)}},
			rule:    "in progress", why: "…a rollback to v0.1.0 there started"},
		{name: "already deployed", envs: envs(nil), env: "staging", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "already deployed", why: "v0.2.0 is already deployed to staging (since Mon 5 Jan 2026 08:05 CET)."},
		{name: "already deployed by a rollback", envs: envs(nil), env: "staging", req: Request{Version: "v0.1.0", Now: now},
			history: []Record{ok("staging", "v0.1.0", at(1, 5, 7, 0)), ok("staging", "v0.2.0", at(1, 5, 8, 0)), {Env: "staging", Version: "v0.1.0", State: StateRolledBack, Rollback: true, Started: at(1, 5, 9, 0)}},
			rule:    "already deployed"},
		{name: "deployed before, not current: may go again", envs: envs(nil), env: "staging", req: Request{Version: "v0.1.0", Now: now},
			history: []Record{ok("staging", "v0.1.0", at(1, 5, 7, 0)), ok("staging", "v0.2.0", at(1, 5, 8, 0))},
			allow:   true, rule: "auto after release"},
		{name: "failed again after succeeding: may be retried", envs: envs(nil), env: "staging", req: Request{Version: "v0.2.0", Now: now},
			history: []Record{ok("staging", "v0.2.0", at(1, 5, 7, 0)), st("staging", "v0.2.0", StateFailed, at(1, 5, 8, 0))},
			allow:   true, rule: "auto after release"},

		// 1. order
		{name: "first environment needs nothing before", envs: envs(nil), env: "staging", req: Request{Version: "v0.2.0", Now: now},
			allow: true, rule: "auto after release", why: "v0.2.0 may go to staging: auto after release."},
		{name: "never deployed to the previous environment", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now},
			rule: "not passed staging", why: "v0.2.0 may not go to production: it has not passed staging (it was never deployed there)."},
		{name: "failed in the previous environment", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now},
			history: []Record{ok("staging", "v0.2.0", at(1, 5, 7, 0)), st("staging", "v0.2.0", StateFailed, at(1, 5, 8, 0))},
			rule:    "not passed staging", why: "v0.2.0 may not go to production: it has not passed staging (its last deployment there failed)."},
		{name: "still running in the previous environment", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now},
			history: []Record{st("staging", "v0.2.0", StateRunning, at(1, 5, 9, 58))},
			rule:    "not passed staging", why: "…it has not passed staging yet (its deployment there is still running)."},
		{name: "interrupted in the previous environment", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now},
			history: []Record{st("staging", "v0.2.0", StateInterrupted, at(1, 5, 9, 0))},
			rule:    "not passed staging", why: "…(its last deployment there was interrupted)."},
		{name: "rolled back from in the previous environment", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now},
			history: []Record{ok("staging", "v0.1.0", at(1, 5, 7, 0)), ok("staging", "v0.2.0", at(1, 5, 8, 0)), {Env: "staging", Version: "v0.1.0", State: StateSucceeded, Rollback: true, Started: at(1, 5, 9, 0)}},
			rule:    "not passed staging", why: "v0.2.0 may not go to production: it has not passed staging (staging was rolled back from it to v0.1.0 on Mon 5 Jan 2026 09:00 CET)."},
		{name: "a newer version in the previous environment does not undo a pass", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now},
			history: []Record{ok("staging", "v0.2.0", at(1, 5, 8, 0)), ok("staging", "v0.3.0", at(1, 5, 9, 0))},
			allow:   true, rule: "approved by alice, bob"},
		{name: "a rollback of a newer version does not undo a pass", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now},
			history: []Record{ok("staging", "v0.2.0", at(1, 5, 8, 0)), st("staging", "v0.3.0", StateFailed, at(1, 5, 9, 0)), {Env: "staging", Version: "v0.1.0", State: StateSucceeded, Rollback: true, Started: at(1, 5, 9, 10)}},
			allow:   true, rule: "approved by alice, bob"},
		{name: "order before approvals", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Now: now},
			rule: "not passed staging"},

		// 2. promotion: approvals
		{name: "no approvals", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "approvals 0 of 2", why: "v0.2.0 may not go to production: it needs 2 approvals from alice, bob, carol and has none; waiting for alice, bob, carol.",
			waiting: []string{"alice", "bob", "carol"}},
		{name: "one approval, one from someone who may not approve, one twice", envs: envs(nil), env: "production",
			req: Request{Version: "v0.2.0", Approvals: []string{"bob", "mallory", "bob"}, Now: now}, history: passed,
			rule: "approvals 1 of 2", why: "v0.2.0 may not go to production: it needs 2 approvals from alice, bob, carol and has 1 (bob); waiting for alice, carol (mallory approved but may not approve here).",
			waiting: []string{"alice", "carol"}},
		{name: "two approvals", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", Approvals: []string{"carol", "alice"}, Now: now}, history: passed,
			allow: true, rule: "approved by alice, carol", why: "v0.2.0 may go to production: approved by alice, carol."},
		{name: "an approver asking counts as one approval", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", By: "bob", Approvals: []string{"alice"}, Now: now}, history: passed,
			allow: true, rule: "approved by alice, bob"},
		{name: "a person asking still needs the approvals", envs: envs(nil), env: "production", req: Request{Version: "v0.2.0", By: "dave", Approvals: []string{"alice"}, Now: now}, history: passed,
			rule: "approvals 1 of 2", waiting: []string{"bob", "carol"}},
		{name: "one approval by default", envs: envs(func(r *Rules) { r.Approvals = 0 }), env: "production", req: Request{Version: "v0.2.0", Approvals: []string{"carol"}, Now: now}, history: passed,
			allow: true, rule: "approved by carol"},
		{name: "more approvals asked than approvers", envs: envs(func(r *Rules) { r.Approvals = 4 }), env: "production", req: Request{Version: "v0.2.0", Approvals: []string{"alice", "bob", "carol"}, Now: now}, history: passed,
			rule: "approvals 3 of 4", why: "…has 3 (alice, bob, carol); only 3 may approve, so it never can: the workflow asks too many."},
		{name: "auto does not bypass approvers", envs: envs(func(r *Rules) { r.Auto = AutoRelease }), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "approvals 0 of 2", waiting: []string{"alice", "bob", "carol"}},

		// 2. promotion: a person's request, auto release
		{name: "no rule, no person", envs: envs(func(r *Rules) { r.Approvers = nil }), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "needs a request", why: "v0.2.0 may not go to production: nobody asked for it and production deploys only on a person's request."},
		{name: "a person's request", envs: envs(func(r *Rules) { r.Approvers = nil }), env: "production", req: Request{Version: "v0.2.0", By: "dave", Now: now}, history: passed,
			allow: true, rule: "requested by dave", why: "v0.2.0 may go to production: requested by dave."},
		{name: "auto release after the previous passed", envs: envs(func(r *Rules) { r.Approvers = nil; r.Auto = AutoRelease }), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			allow: true, rule: "auto after release"},
		{name: "unknown auto", envs: envs(func(r *Rules) { r.Approvers = nil; r.Auto = "nightly" }), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "unknown auto"},

		// 2. promotion: auto healthy (passed staging at 08:05)
		{name: "healthy: not yet", envs: envs(func(r *Rules) { r.Approvers = nil; r.Auto = AutoHealthy; r.HealthyFor = 4 * h }), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "healthy_for 4h", why: "v0.2.0 may not go to production yet: it has run in staging for 1h55m of the 4h it needs; it may go from Mon 5 Jan 2026 12:05 CET.",
			retry: at(1, 5, 12, 5)},
		{name: "healthy: done", envs: envs(func(r *Rules) { r.Approvers = nil; r.Auto = AutoHealthy; r.HealthyFor = h + 30*m }), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			allow: true, rule: "auto after healthy_for 1h30m in staging"},
		{name: "healthy: replaced too soon, never", envs: envs(func(r *Rules) { r.Approvers = nil; r.Auto = AutoHealthy; r.HealthyFor = 4 * h }), env: "production", req: Request{Version: "v0.2.0", Now: at(1, 5, 15, 0)},
			history: append(slices.Clone(passed), ok("staging", "v0.3.0", at(1, 5, 9, 5))),
			rule:    "healthy_for 4h", why: "v0.2.0 may not go to production: it ran in staging only 1h before v0.3.0 replaced it, less than the 4h needed."},
		{name: "healthy: a failed newer version counts as a replacement", envs: envs(func(r *Rules) { r.Approvers = nil; r.Auto = AutoHealthy; r.HealthyFor = 4 * h }), env: "production", req: Request{Version: "v0.2.0", Now: at(1, 5, 15, 0)},
			history: append(slices.Clone(passed), st("staging", "v0.3.0", StateFailed, at(1, 5, 9, 5))),
			rule:    "healthy_for 4h"},
		{name: "healthy: a person's request does not wait", envs: envs(func(r *Rules) { r.Approvers = nil; r.Auto = AutoHealthy; r.HealthyFor = 4 * h }), env: "production", req: Request{Version: "v0.2.0", By: "dave", Now: now}, history: passed,
			allow: true, rule: "requested by dave"},
		{name: "healthy and approvals: approvals first, so no retry", envs: envs(func(r *Rules) { r.Auto = AutoHealthy; r.HealthyFor = 4 * h }), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "approvals 0 of 2", waiting: []string{"alice", "bob", "carol"}},
		{name: "healthy and approvals: approved, waits for health", envs: envs(func(r *Rules) { r.Auto = AutoHealthy; r.HealthyFor = 4 * h }), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: now}, history: passed,
			rule: "healthy_for 4h", retry: at(1, 5, 12, 5)},
		{name: "healthy then a window: retry when both allow", envs: envs(func(r *Rules) {
			r.Approvers = nil
			r.Auto = AutoHealthy
			r.HealthyFor = 4 * h
			r.Windows = []Window{window("Mon-Fri 14:00-16:00")}
		}), env: "production", req: Request{Version: "v0.2.0", Now: now}, history: passed,
			rule: "healthy_for 4h", retry: at(1, 5, 14, 0)},
		{name: "healthy at the first environment", envs: []Rules{{Name: "staging", Auto: AutoHealthy, HealthyFor: h}}, env: "staging", req: Request{Version: "v0.2.0", Now: now},
			rule: "healthy_for 1h", why: "v0.2.0 may not go to staging: staging is the first environment, so there is no previous one for it to be healthy in."},

		// 3. freezes
		{name: "freeze", envs: envs(func(r *Rules) { r.Freezes = []Freeze{freeze("2026-12-24..2026-12-26 holidays")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(12, 26, 23, 59)}, history: passed,
			rule: "freeze 2026-12-24..2026-12-26 (holidays)", why: "v0.2.0 may not go to production yet: deployments are frozen from 2026-12-24 to 2026-12-26 (holidays); it may go from Sun 27 Dec 2026 00:00 CET.",
			retry: at(12, 27, 0, 0)},
		{name: "freeze begins at midnight in its location", envs: envs(func(r *Rules) { r.Freezes = []Freeze{freeze("2026-12-24..2026-12-26 holidays")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: time.Date(2026, 12, 23, 23, 30, 0, 0, time.UTC)}, history: passed, // 00:30 in Paris
			rule: "freeze 2026-12-24..2026-12-26 (holidays)", retry: at(12, 27, 0, 0)},
		{name: "before the freeze", envs: envs(func(r *Rules) { r.Freezes = []Freeze{freeze("2026-12-24..2026-12-26 holidays")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(12, 23, 23, 59)}, history: passed,
			allow: true, rule: "approved by alice, bob"},
		{name: "freezes end to end", envs: envs(func(r *Rules) { r.Freezes = []Freeze{freeze("2026-12-31"), freeze("2026-12-24..2026-12-30 holidays")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(12, 26, 12, 0)}, history: passed,
			rule: "freeze 2026-12-24..2026-12-30 (holidays)", retry: time.Date(2027, 1, 1, 0, 0, 0, 0, loc)},
		{name: "freeze then a window", envs: envs(func(r *Rules) {
			r.Freezes = []Freeze{freeze("2026-12-24..2026-12-26 holidays")}
			r.Windows = []Window{window("Mon-Fri 09:00-17:00")}
		}), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: at(12, 24, 10, 0)}, history: passed,
			rule: "freeze 2026-12-24..2026-12-26 (holidays)", retry: at(12, 28, 9, 0)}, // the 27th is a Sunday
		{name: "a freeze in another location's dates", envs: envs(func(r *Rules) {
			r.Freezes = []Freeze{{From: time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)}}
		}), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: time.Date(2026, 12, 24, 23, 30, 0, 0, time.UTC)}, history: passed, // 00:30 on the 25th in Paris
			allow: true, rule: "approved by alice, bob"},

		// 4. windows
		{name: "window closed on Saturday", envs: envs(func(r *Rules) { r.Windows = []Window{window("Mon-Fri 09:00-17:00")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(1, 10, 11, 0)}, history: passed,
			rule: "window Mon-Fri 09:00-17:00 Europe/Paris", why: "v0.2.0 may not go to production yet: it is Sat 10 Jan 2026 11:00 CET, outside the deployment windows (Mon-Fri 09:00-17:00, Europe/Paris); it may go from Mon 12 Jan 2026 09:00 CET.",
			retry: at(1, 12, 9, 0)},
		{name: "window open", envs: envs(func(r *Rules) { r.Windows = []Window{window("Mon-Fri 09:00-17:00")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: now}, history: passed, allow: true, rule: "approved by alice, bob"},
		{name: "two windows", envs: envs(func(r *Rules) { r.Windows = []Window{window("Mon-Fri 09:00-12:00"), window("Sat 22:00-02:00")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(1, 10, 11, 0)}, history: passed,
			rule: "window Mon-Fri 09:00-12:00, Sat 22:00-02:00 Europe/Paris", retry: at(1, 10, 22, 0)},
		{name: "window across midnight, open", envs: envs(func(r *Rules) { r.Windows = []Window{window("Sat 22:00-02:00")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(1, 11, 1, 30)}, history: passed, allow: true, rule: "approved by alice, bob"},
		{name: "window in UTC when no location", envs: []Rules{{Name: "staging", Auto: AutoRelease, Windows: []Window{window("Mon-Fri 09:00-17:00")}}}, env: "staging",
			req:  Request{Version: "v0.2.0", Now: time.Date(2026, 1, 5, 8, 30, 0, 0, time.UTC)},
			rule: "window Mon-Fri 09:00-17:00 UTC", retry: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)},
		{name: "window opening on the first day of summer time", envs: envs(func(r *Rules) { r.Windows = []Window{window("Sun 09:00-17:00")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(3, 28, 18, 0)}, history: passed,
			rule: "window Sun 09:00-17:00 Europe/Paris", why: "…it may go from Sun 29 Mar 2026 09:00 CEST.", retry: time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)},
		{name: "a window with no day never opens", envs: envs(func(r *Rules) { r.Windows = []Window{{From: 9 * h, To: 17 * h}} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: now}, history: passed,
			rule: "window never 09:00-17:00 Europe/Paris", why: "…; no time ahead allows it."},

		// 5. max_per_day: three today (a failure counts, a rollback does not, yesterday does not)
		{name: "max_per_day", envs: envs(func(r *Rules) { r.MaxPerDay = 3 }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(1, 5, 23, 0)},
			history: append(slices.Clone(passed), ok("production", "v0.1.0", at(1, 4, 23, 30)), ok("production", "v0.1.1", at(1, 5, 0, 0)), st("production", "v0.1.2", StateFailed, at(1, 5, 1, 0)),
				Record{Env: "production", Version: "v0.1.1", State: StateSucceeded, Rollback: true, Started: at(1, 5, 1, 10)}, ok("production", "v0.1.3", at(1, 5, 2, 0))),
			rule: "max_per_day 3", why: "v0.2.0 may not go to production yet: 3 deployments already started there on Mon 5 Jan 2026, the most allowed per day; it may go from Tue 6 Jan 2026 00:00 CET.",
			retry: at(1, 6, 0, 0)},
		{name: "max_per_day not reached: the rollback does not count", envs: envs(func(r *Rules) { r.MaxPerDay = 3 }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: at(1, 5, 23, 0)},
			history: append(slices.Clone(passed), ok("production", "v0.1.1", at(1, 5, 0, 0)), st("production", "v0.1.2", StateFailed, at(1, 5, 1, 0)),
				Record{Env: "production", Version: "v0.1.1", State: StateSucceeded, Rollback: true, Started: at(1, 5, 1, 10)}),
			allow: true, rule: "approved by alice, bob"},
		{name: "max_per_day: the day is Paris's, and ends at the short night of summer time", envs: envs(func(r *Rules) { r.MaxPerDay = 1 }), env: "production",
			req:     Request{Version: "v0.2.0", Approvals: two, Now: at(3, 28, 23, 30)},
			history: []Record{ok("staging", "v0.2.0", at(3, 28, 8, 0)), ok("production", "v0.1.0", time.Date(2026, 3, 27, 23, 30, 0, 0, time.UTC))}, // 00:30 on the 28th in Paris
			rule:    "max_per_day 1", retry: time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC)},
		{name: "max_per_day then a window", envs: envs(func(r *Rules) { r.MaxPerDay = 1; r.Windows = []Window{window("Mon-Fri 09:00-17:00")} }), env: "production",
			req:     Request{Version: "v0.2.0", Approvals: two, Now: at(1, 9, 16, 0)}, // Friday
			history: append(slices.Clone(passed), ok("production", "v0.1.0", at(1, 9, 10, 0))),
			rule:    "max_per_day 1", retry: at(1, 12, 9, 0)},

		// the order of the rules of time: freeze, window, max_per_day
		{name: "freeze before window before max_per_day", envs: envs(func(r *Rules) {
			r.Freezes = []Freeze{freeze("2026-01-10 weekend")}
			r.Windows = []Window{window("Mon-Fri 09:00-17:00")}
			r.MaxPerDay = 1
		}), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: at(1, 10, 11, 0)},
			history: append(slices.Clone(passed), ok("production", "v0.1.0", at(1, 10, 10, 0))),
			rule:    "freeze 2026-01-10 (weekend)", retry: at(1, 12, 9, 0)},
		{name: "window before max_per_day", envs: envs(func(r *Rules) {
			r.Windows = []Window{window("Mon-Fri 09:00-17:00")}
			r.MaxPerDay = 1
		}), env: "production", req: Request{Version: "v0.2.0", Approvals: two, Now: at(1, 10, 11, 0)},
			history: append(slices.Clone(passed), ok("production", "v0.1.0", at(1, 10, 10, 0))),
			rule:    "window Mon-Fri 09:00-17:00 Europe/Paris", retry: at(1, 12, 9, 0)},
		{name: "approvals before freeze", envs: envs(func(r *Rules) { r.Freezes = []Freeze{freeze("2026-01-05")} }), env: "production",
			req: Request{Version: "v0.2.0", Now: now}, history: passed, rule: "approvals 0 of 2", waiting: []string{"alice", "bob", "carol"}},
		{name: "order before freeze", envs: envs(func(r *Rules) { r.Freezes = []Freeze{freeze("2026-01-05")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: now}, rule: "not passed staging"},
		{name: "already deployed before freeze", envs: envs(func(r *Rules) { r.Freezes = []Freeze{freeze("2026-01-05")} }), env: "production",
			req: Request{Version: "v0.2.0", Approvals: two, Now: now}, history: append(slices.Clone(passed), ok("production", "v0.2.0", at(1, 5, 9, 0))), rule: "already deployed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			history := tc.history
			got := Decide(tc.envs, tc.env, tc.req, history)
			if got.Allow != tc.allow || got.Rule != tc.rule || !got.Retry.Equal(tc.retry) || !reflect.DeepEqual(got.Waiting, tc.waiting) {
				t.Errorf("Decide = %+v\nwant allow %v rule %q retry %v waiting %q", got, tc.allow, tc.rule, tc.retry, tc.waiting)
			}
			if part, ok := strings.CutPrefix(tc.why, "…"); ok {
				if !strings.Contains(got.Why, part) {
					t.Errorf("Why = %q, want it to contain %q", got.Why, part)
				}
			} else if tc.why != "" && got.Why != tc.why {
				t.Errorf("Why = %q\nwant  %q", got.Why, tc.why)
			}
			// The history's order does not matter.
			reversed := slices.Clone(history)
			slices.Reverse(reversed)
			if again := Decide(tc.envs, tc.env, tc.req, reversed); !reflect.DeepEqual(again, got) {
				t.Errorf("with the history reversed: %+v, want %+v", again, got)
			}
			if !got.Allow && got.Why == "" {
				t.Error("a refusal without a why")
			}
		})
	}
}
