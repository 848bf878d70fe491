package deploy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a span of the week when deploying is allowed. Days are the days
// the window opens on; From and To are wall-clock times of day since
// midnight in the environment's Location, To exclusive. When To <= From the
// window spans midnight and closes on the next day ("Mon 22:00-02:00" is
// open from Monday 22:00 until Tuesday 02:00). To may be 24h: the end of the
// day. Wall-clock times hold across daylight-saving changes: "09:00" is
// 09:00 on both sides of a change.
type Window struct {
	Days     []time.Weekday
	From, To time.Duration
}

// Freeze is a span of whole days when deploying is not allowed, whatever the
// windows say. From and To are dates: the calendar dates they carry (their
// year, month and day in their own location) are taken as days in the
// environment's Location, From from 00:00 and To inclusive (until 00:00 of
// the day after). ParseFreeze gives both at 00:00 in that Location.
type Freeze struct {
	From, To time.Time
	Reason   string
}

var dayNames = map[string]time.Weekday{
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
	"sun": time.Sunday, "sunday": time.Sunday,
}

// ParseWindow reads a window written as days and a span of time:
//
//	Mon-Fri 09:00-17:00      a range of days (a range may wrap: Fri-Mon)
//	Sat,Sun 10:00-12:00      a list of days and ranges, commas between
//	Mon 22:00-02:00          across midnight: Monday 22:00 to Tuesday 02:00
//	daily 00:00-24:00        every day, the whole day
//
// Day names are English, three letters or in full, in any case. Times are
// HH:MM on the 24-hour clock; 24:00 is allowed only as the end. A window
// whose start and end are the same time is refused as ambiguous.
func ParseWindow(s string) (Window, error) {
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return Window{}, fmt.Errorf("window %q: want days and times, like \"Mon-Fri 09:00-17:00\"", s)
	}
	days, err := parseDays(strings.Join(fields[:len(fields)-1], ""))
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %v", s, err)
	}
	span := fields[len(fields)-1]
	fromS, toS, ok := strings.Cut(span, "-")
	if !ok {
		return Window{}, fmt.Errorf("window %q: times %q must be HH:MM-HH:MM, like 09:00-17:00", s, span)
	}
	from, err := parseClock(fromS)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: start: %v", s, err)
	}
	if from == 24*time.Hour {
		return Window{}, fmt.Errorf("window %q: start 24:00 is not a time of day (use 00:00)", s)
	}
	to, err := parseClock(toS)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: end: %v", s, err)
	}
	if to == from {
		return Window{}, fmt.Errorf("window %q: it opens and closes at the same time; write 00:00-24:00 for the whole day", s)
	}
	return Window{Days: days, From: from, To: to}, nil
}

// parseDays reads "daily", "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri".
func parseDays(s string) ([]time.Weekday, error) {
	if strings.EqualFold(s, "daily") {
		return []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}, nil
	}
	var days []time.Weekday
	for item := range strings.SplitSeq(s, ",") {
		if item == "" {
			return nil, fmt.Errorf("empty day in %q", s)
		}
		a, b, isRange := strings.Cut(item, "-")
		first, ok := dayNames[strings.ToLower(a)]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun, or daily)", a)
		}
		last := first
		if isRange {
			if last, ok = dayNames[strings.ToLower(b)]; !ok {
				return nil, fmt.Errorf("%q is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun, or daily)", b)
			}
		}
		for d := first; ; d = (d + 1) % 7 {
			if !slices.Contains(days, d) {
				days = append(days, d)
			}
			if d == last {
				break
			}
		}
	}
	slices.SortFunc(days, func(a, b time.Weekday) int { return mondayFirst(a) - mondayFirst(b) })
	return days, nil
}

func mondayFirst(d time.Weekday) int { return (int(d) + 6) % 7 }

// parseClock reads HH:MM, 00:00 to 24:00.
func parseClock(s string) (time.Duration, error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) != 2 || len(ms) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time between 00:00 and 24:00", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// String writes the window as ParseWindow reads it: "Mon-Fri 09:00-17:00".
func (w Window) String() string {
	return daysString(w.Days) + " " + clock(w.From) + "-" + clock(w.To)
}

func daysString(days []time.Weekday) string {
	var on [7]bool // Monday first
	for _, d := range days {
		on[mondayFirst(d)] = true
	}
	if on == [7]bool{true, true, true, true, true, true, true} {
		return "daily"
	}
	var parts []string
	for i := 0; i < 7; {
		if !on[i] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && on[j+1] {
			j++
		}
		name := func(k int) string { return time.Weekday((k + 1) % 7).String()[:3] }
		switch {
		case j-i >= 2:
			parts = append(parts, name(i)+"-"+name(j))
		case j == i+1:
			parts = append(parts, name(i), name(j))
		default:
			parts = append(parts, name(i))
		}
		i = j + 1
	}
	if len(parts) == 0 {
		return "never"
	}
	return strings.Join(parts, ",")
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// ParseFreeze reads a freeze written as a date or a span of dates, then an
// optional reason: "2026-12-24..2026-12-26 holidays", "2026-12-31". The dates
// are days in loc (nil: UTC); the last day is included whole.
func ParseFreeze(s string, loc *time.Location) (Freeze, error) {
	if loc == nil {
		loc = time.UTC
	}
	dates, reason, _ := strings.Cut(strings.TrimSpace(s), " ")
	if dates == "" {
		return Freeze{}, fmt.Errorf("freeze %q: want a date or dates, like \"2026-12-24..2026-12-26 holidays\"", s)
	}
	fromS, toS, isSpan := strings.Cut(dates, "..")
	if !isSpan {
		toS = fromS
	}
	from, err := time.ParseInLocation(time.DateOnly, fromS, loc)
	if err != nil {
		return Freeze{}, fmt.Errorf("freeze %q: %q is not a date YYYY-MM-DD", s, fromS)
	}
	to, err := time.ParseInLocation(time.DateOnly, toS, loc)
	if err != nil {
		return Freeze{}, fmt.Errorf("freeze %q: %q is not a date YYYY-MM-DD", s, toS)
	}
	if to.Before(from) {
		return Freeze{}, fmt.Errorf("freeze %q: it ends (%s) before it begins (%s)", s, toS, fromS)
	}
	return Freeze{From: from, To: to, Reason: strings.TrimSpace(reason)}, nil
}

// String writes the freeze as in a Decision's Rule:
// "2026-12-24..2026-12-26 (holidays)", "2026-12-31".
func (f Freeze) String() string {
	s := f.From.Format(time.DateOnly)
	if to := f.To.Format(time.DateOnly); to != s {
		s += ".." + to
	}
	if f.Reason != "" {
		s += " (" + f.Reason + ")"
	}
	return s
}

// span is the freeze as instants in loc: [start, end).
func (f Freeze) span(loc *time.Location) (start, end time.Time) {
	y, m, d := f.From.Date()
	start = time.Date(y, m, d, 0, 0, 0, 0, loc)
	y, m, d = f.To.Date()
	end = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	return start, end
}

// wall is the instant of time-of-day tod on the day y-m-d in loc, a
// wall-clock time (24h is the next midnight).
func wall(y int, m time.Month, d int, tod time.Duration, loc *time.Location) time.Time {
	return time.Date(y, m, d, int(tod/time.Hour), int(tod%time.Hour/time.Minute), int(tod%time.Minute/time.Second), 0, loc)
}

// nextOpen says whether the windows are open at t, and otherwise when one
// next opens (zero when none ever does: no window has a day). Windows opened
// on the day before t are looked at too, for those that span midnight.
func nextOpen(ws []Window, t time.Time, loc *time.Location) (open bool, next time.Time) {
	lt := t.In(loc)
	y, m, d := lt.Date()
	for off := -1; off <= 8; off++ {
		day := time.Date(y, m, d+off, 0, 0, 0, 0, loc)
		dy, dm, dd := day.Date()
		for _, w := range ws {
			if !slices.Contains(w.Days, day.Weekday()) {
				continue
			}
			start := wall(dy, dm, dd, w.From, loc)
			end := wall(dy, dm, dd, w.To, loc)
			if w.To <= w.From {
				end = wall(dy, dm, dd+1, w.To, loc)
			}
			if !t.Before(start) && t.Before(end) {
				return true, time.Time{}
			}
			if start.After(t) && (next.IsZero() || start.Before(next)) {
				next = start
			}
		}
	}
	return false, next
}

// dayBounds is the calendar day of t in loc: [start, end).
func dayBounds(t time.Time, loc *time.Location) (start, end time.Time) {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
