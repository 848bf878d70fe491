// Package converge is the convergence policy of the validation loop: given
// the validated attempts of an issue, it says whether the developer's
// session gets another attempt or a human is needed, and why.
package converge

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Attempt is one validated attempt as the policy sees it.
type Attempt struct {
	N        int
	Distance int
	Findings []string // stable keys of what failed
	Started  time.Time
	Tokens   int     // input + output tokens the agent reported; 0 if unknown
	CostUSD  float64 // cost the agent reported; 0 if unknown
	// GO: the attempt passed. The loop converged then; what fails after it
	// (the target moved into a conflict, a reviewer sent the change back)
	// is a new failure, so the repeat and distance rules start again.
	GO bool
	// Engine: the engine validated earlier work again (the merge queue, a
	// stale GO), no developer ran; it does not spend the attempt budget.
	Engine bool
	// Moved: all the attempt failed on is conflicts with a target that
	// moved (each finding names the target's head, so a conflict that
	// comes back on the same head is a repeat, caught as such). Others'
	// merges are not the developer's failure: such an attempt spends no
	// attempt budget and does not count as a stall; wall time, tokens and
	// cost still bound the loop.
	Moved bool
}

// Budget bounds the loop; zero fields mean no limit (Attempts and Stall
// are always set by the workflow's defaults).
type Budget struct {
	Attempts int
	// Stall is how many attempts in a row may fail to lower the distance
	// below the best one before them.
	Stall    int
	WallTime time.Duration
	Tokens   int
	CostUSD  float64
}

// Stop returns why the loop must stop after the last attempt failed, or ""
// to go on. history is oldest first and ends with the failed attempt.
func Stop(history []Attempt, b Budget, now time.Time) string {
	if len(history) == 0 {
		return ""
	}
	last := history[len(history)-1]
	// The repeat and distance rules look at the failures since the last GO.
	episode := history
	for i := len(history) - 2; i >= 0; i-- {
		if history[i].GO {
			episode = history[i+1:]
			break
		}
	}
	if len(last.Findings) > 0 {
		for _, a := range episode[:len(episode)-1] {
			if sameSet(a.Findings, last.Findings) {
				return fmt.Sprintf("the same findings came back: attempt %d fails exactly as attempt %d did (%s)", last.N, a.N, strings.Join(last.Findings, ", "))
			}
		}
	}
	own := slices.DeleteFunc(slices.Clone(episode), func(a Attempt) bool { return a.Moved })
	if b.Stall > 0 && len(own) > b.Stall && !last.Moved {
		best := own[0].Distance
		for _, a := range own[:len(own)-b.Stall] {
			best = min(best, a.Distance)
		}
		fell := false
		for _, a := range own[len(own)-b.Stall:] {
			if a.Distance < best {
				fell = true
			}
		}
		if !fell {
			return fmt.Sprintf("the distance has not fallen below %d for %d attempts", best, b.Stall)
		}
	}
	// The attempt budget counts the developer's attempts, less those the
	// target's moves cost: a conflict, and the GO that resolved it.
	developer := 0
	for i, a := range history {
		answered := a.GO && i > 0 && history[i-1].Moved
		if !a.Engine && !a.Moved && !answered {
			developer++
		}
	}
	if b.Attempts > 0 && developer >= b.Attempts {
		return fmt.Sprintf("the attempt budget (%d) is spent", b.Attempts)
	}
	if b.WallTime > 0 && !history[0].Started.IsZero() {
		if spent := now.Sub(history[0].Started); spent >= b.WallTime {
			return fmt.Sprintf("the wall-time budget (%s) is spent: %s since the first attempt", b.WallTime, spent.Round(time.Second))
		}
	}
	tokens, cost := 0, 0.0
	for _, a := range history {
		tokens += a.Tokens
		cost += a.CostUSD
	}
	if b.Tokens > 0 && tokens >= b.Tokens {
		return fmt.Sprintf("the token budget (%d) is spent: %d tokens used", b.Tokens, tokens)
	}
	if b.CostUSD > 0 && cost >= b.CostUSD {
		return fmt.Sprintf("the cost budget ($%.2f) is spent: $%.2f used", b.CostUSD, cost)
	}
	return ""
}

// Changes describes what changed from prev to cur: findings fixed and new.
func Changes(prev, cur []string) (fixed, added []string) {
	for _, k := range prev {
		if !slices.Contains(cur, k) {
			fixed = append(fixed, k)
		}
	}
	for _, k := range cur {
		if !slices.Contains(prev, k) {
			added = append(added, k)
		}
	}
	return fixed, added
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
