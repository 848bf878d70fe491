package converge

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func hist(ds ...int) []Attempt {
	var h []Attempt
	for i, d := range ds {
		// Distinct findings each time, so only the distance rules apply.
		var f []string
		for k := 0; k < d; k++ {
			f = append(f, "f"+string(rune('a'+i))+string(rune('0'+k)))
		}
		h = append(h, Attempt{N: i + 1, Distance: d, Findings: f, Started: t0.Add(time.Duration(i) * time.Minute)})
	}
	return h
}

func TestStopRules(t *testing.T) {
	big := Budget{Attempts: 10, Stall: 2}
	cases := []struct {
		name string
		h    []Attempt
		b    Budget
		now  time.Time
		want string // substring; "" means go on
	}{
		{"falling distance goes on", hist(5, 3, 1), big, t0, ""},
		{"one flat attempt is allowed", hist(3, 2, 2), big, t0, ""},
		{"stalled for two attempts", hist(3, 3, 3), big, t0, "has not fallen below 3 for 2 attempts"},
		{"rising then flat", hist(2, 3, 2), big, t0, "has not fallen below 2"},
		{"attempt budget", hist(5, 4, 3), Budget{Attempts: 3, Stall: 2}, t0, "attempt budget (3) is spent"},
		{"wall time", hist(5, 4), Budget{Attempts: 10, Stall: 2, WallTime: time.Hour}, t0.Add(2 * time.Hour), "wall-time budget (1h0m0s) is spent"},
		{"wall time left", hist(5, 4), Budget{Attempts: 10, Stall: 2, WallTime: time.Hour}, t0.Add(30 * time.Minute), ""},
		{"same findings", []Attempt{{N: 1, Distance: 1, Findings: []string{"check:test:x"}}, {N: 2, Distance: 1, Findings: []string{"check:test:x"}}}, big, t0, "same findings came back: attempt 2 fails exactly as attempt 1"},
		{"an old failure comes back", []Attempt{
			{N: 1, Distance: 2, Findings: []string{"a", "b"}},
			{N: 2, Distance: 1, Findings: []string{"c"}},
			{N: 3, Distance: 2, Findings: []string{"b", "a"}},
		}, Budget{Attempts: 10}, t0, "attempt 3 fails exactly as attempt 1"},
		// Issue 15: after a GO the change converged; the merge queue's
		// re-validations on a target that moved (the engine's, no
		// developer ran) failing again is no repeat, no stall, and spends
		// no attempt of the developer's.
		{"conflicts after GOs are new failures", []Attempt{
			{N: 1, GO: true},
			{N: 2, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}, Engine: true},
			{N: 3, GO: true},
			{N: 4, Distance: 1, Findings: []string{"conflict:registry.go@bbbb"}, Engine: true},
			{N: 5, GO: true},
			{N: 6, Distance: 1, Findings: []string{"conflict:registry.go@cccc"}, Engine: true},
		}, Budget{Attempts: 4, Stall: 2}, t0, ""},
		{"the same conflict after a resolution is a repeat", []Attempt{
			{N: 1, GO: true},
			{N: 2, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}, Engine: true},
			{N: 3, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}},
		}, big, t0, "attempt 3 fails exactly as attempt 2"},
		{"the developer's attempts spend the budget", []Attempt{
			{N: 1, GO: true},
			{N: 2, Distance: 1, Findings: []string{"x"}, Engine: true},
			{N: 3, GO: true},
			{N: 4, Distance: 1, Findings: []string{"y"}},
		}, Budget{Attempts: 4, Stall: 2}, t0, ""},
		{"and once spent, they stop", []Attempt{
			{N: 1, GO: true},
			{N: 2, Distance: 1, Findings: []string{"x"}, Engine: true},
			{N: 3, GO: true},
			{N: 4, Distance: 1, Findings: []string{"y"}},
		}, Budget{Attempts: 3, Stall: 2}, t0, "attempt budget (3) is spent"},
		{"a target that keeps moving into new conflicts is not the developer's failure", []Attempt{
			{N: 1, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}, Moved: true},
			{N: 2, Distance: 1, Findings: []string{"conflict:registry.go@bbbb"}, Moved: true},
			{N: 3, Distance: 1, Findings: []string{"conflict:registry.go@cccc"}, Moved: true},
			{N: 4, Distance: 1, Findings: []string{"conflict:registry.go@dddd"}, Moved: true},
		}, Budget{Attempts: 3, Stall: 2}, t0, ""},
		{"nor are the GOs that resolved them", []Attempt{
			{N: 1, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}, Moved: true},
			{N: 2, GO: true},
			{N: 3, Distance: 1, Findings: []string{"conflict:registry.go@bbbb"}, Moved: true, Engine: true},
			{N: 4, GO: true},
			{N: 5, Distance: 1, Findings: []string{"conflict:registry.go@cccc"}, Moved: true, Engine: true},
			{N: 6, GO: true},
			{N: 7, Distance: 1, Findings: []string{"conflict:registry.go@dddd"}, Moved: true, Engine: true},
		}, Budget{Attempts: 1, Stall: 2}, t0, ""},
		{"but a resolution that does not hold is a repeat", []Attempt{
			{N: 1, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}, Moved: true},
			{N: 2, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}, Moved: true},
		}, Budget{Attempts: 3, Stall: 2}, t0, "attempt 2 fails exactly as attempt 1"},
		{"and the developer's own failures still stall", []Attempt{
			{N: 1, Distance: 2, Findings: []string{"a", "b"}},
			{N: 2, Distance: 1, Findings: []string{"conflict:registry.go@aaaa"}, Moved: true},
			{N: 3, Distance: 2, Findings: []string{"a", "c"}},
			{N: 4, Distance: 2, Findings: []string{"a", "d"}},
		}, Budget{Attempts: 10, Stall: 2}, t0, "has not fallen below 2 for 2 attempts"},
	}
	for _, c := range cases {
		got := Stop(c.h, c.b, c.now)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: Stop = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestStopTokensAndCost(t *testing.T) {
	h := hist(5, 4)
	h[0].Tokens, h[1].Tokens = 600, 500
	h[0].CostUSD, h[1].CostUSD = 0.5, 0.25
	if got := Stop(h, Budget{Attempts: 10, Tokens: 1000}, t0); !strings.Contains(got, "token budget (1000) is spent: 1100 tokens") {
		t.Fatalf("tokens: %q", got)
	}
	if got := Stop(h, Budget{Attempts: 10, Tokens: 2000}, t0); got != "" {
		t.Fatalf("tokens left: %q", got)
	}
	if got := Stop(h, Budget{Attempts: 10, CostUSD: 0.7}, t0); !strings.Contains(got, "cost budget ($0.70) is spent: $0.75") {
		t.Fatalf("cost: %q", got)
	}
}

func TestChanges(t *testing.T) {
	fixed, added := Changes([]string{"a", "b"}, []string{"b", "c"})
	if strings.Join(fixed, ",") != "a" || strings.Join(added, ",") != "c" {
		t.Fatalf("fixed %v added %v", fixed, added)
	}
}
