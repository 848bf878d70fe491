package timeline

import (
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/eventlog"
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

// An attempt's findings are listed by key, as written (a test's name keeps
// its case), and the target's own are marked as not counted (I11).
func TestAttemptFindings(t *testing.T) {
	var b strings.Builder
	writeAttempt(&b, eventlog.Attempt{N: 2, Verdict: eventlog.NOGO, Distance: 1, CommitSHA: "5fcff69eb9aa", SessionID: "s1",
		Findings: []eventlog.Finding{
			{Key: "check:test:3a9b2467", Target: true},
			{Key: "criterion:`go test ./calc -run TestDiff` passes"},
		}})
	want := "  attempt 2: NO-GO distance 1, commit 5fcff69eb9, session s1\n" +
		"             - check:test:3a9b2467 (fails on the target too: not counted)\n" +
		"             - criterion:`go test ./calc -run TestDiff` passes\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
