package timeline

import (
	"testing"
	"time"
)

// The left column stays six wide, from the demo's seconds to an issue open
// for days.
func TestSinceKeepsTheColumnWidth(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{4300 * time.Millisecond, "  4.3s"},
		{999 * time.Second, "999.0s"},
		{1000 * time.Second, "16m40s"},
		{2*time.Hour + 3*time.Minute, " 2h03m"},
		{76*time.Hour + 30*time.Minute, "76h30m"},
		{100 * time.Hour, " 4d04h"},
	} {
		if got := Since(start)(start.Add(c.d)); got != c.want {
			t.Errorf("Since(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}
