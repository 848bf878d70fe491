// Package deploy decides deployments: given the environments' governance
// rules, a request to deploy a version to one of them, and the deployments so
// far, may it go now, and if not, why, and when it may.
//
// It is pure: no clock (the request carries Now), no I/O, no state. The
// deploy stage turns the workflow's environments into Rules, gathers the
// history from the event log, asks Decide, records the Decision and runs (or
// sleeps until Decision.Retry, or waits for Decision.Waiting to approve).
package deploy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The values of Rules.Auto.
// RuleAlreadyDeployed refuses a deployment that is done: not an error,
// the stage goes on to the next environment.
const RuleAlreadyDeployed = "already deployed"

const (
	AutoRelease = "release" // right after a release is published
	AutoHealthy = "healthy" // once the previous environment ran the version healthily for HealthyFor
)

// Rules are one environment's governance, in workflow order.
type Rules struct {
	Name string
	// Auto says when the environment deploys without a person asking:
	// "" never (a person asks, or the approvals are enough), "release"
	// right after a release is published (usually the first environment),
	// "healthy" once the previous environment has run the version
	// healthily for HealthyFor.
	Auto       string
	HealthyFor time.Duration
	// Approvers may approve a deployment here; empty: no approval needed.
	// When set, nothing bypasses them: neither Auto nor a person's request.
	Approvers []string
	// Approvals is how many distinct approvers must approve (0: 1 when
	// Approvers is set).
	Approvals int
	Windows   []Window // when deploying is allowed (none: any time)
	Freezes   []Freeze // when it is not, whatever the windows say
	// Location is the windows', freezes' and days' time zone (nil: UTC).
	Location *time.Location
	// MaxPerDay limits the deployments started per calendar day in
	// Location, whatever their outcome (0: no limit). Rollbacks do not count.
	MaxPerDay int
}

// Request asks to deploy Version to Env.
type Request struct {
	Env, Version string
	By           string   // the person asking; "" when a rule (Auto) asks
	Approvals    []string // the people who approved deploying Version to Env
	Now          time.Time
}

// Decision is Decide's answer: a value to record and act on.
type Decision struct {
	Allow bool
	// Rule names the rule that allowed ("auto after release", "approved by
	// alice, bob", "requested by alice") or refused ("freeze
	// 2026-12-24..2026-12-26 (holidays)", "not passed staging", ...).
	Rule string
	// Why is a full sentence for people.
	Why string
	// Retry, when the refusal is only a matter of time (healthy_for, a
	// freeze, a window, max_per_day), is the earliest instant at which all
	// of those allow, as far as the history known now tells: the stage may
	// sleep until then and ask again. Zero otherwise.
	Retry time.Time
	// Waiting names the approvers who have not approved, in Approvers
	// order, when refused for want of approvals.
	Waiting []string
}

// Decide says whether req.Version may be deployed to req.Env at req.Now.
// envs is every environment in workflow order; history is every deployment
// so far, in any order. The checks, in order; the first that refuses decides:
//
//  0. sanity and idempotence: an unknown environment or an empty version is
//     refused ("unknown environment", "no version"). A version that is the
//     While any deployment or rollback is running in the environment, a
//     request is refused with Rule "in progress" (no Retry: ask again when
//     it ends). A version that is the environment's Current and whose
//     newest record there put it in place is refused with Rule "already
//     deployed": not an error, the stage treats it as done.
//  1. order ("not passed <previous>"): an environment after the first needs
//     the version to have passed the previous environment: that
//     environment's newest deployment (not rollback) of the version
//     succeeded, and it was not rolled back from the version since.
//  2. promotion: with Approvers, at least Approvals distinct approvals by
//     people in Approvers ("approvals 1 of 2"; approvals by others do not
//     count and Why says so; the person asking counts as one if an
//     approver), whatever Auto says and whoever asks. Then, when no person
//     asks (By == ""): Auto "release" allows; Auto "healthy" allows once the
//     version has run in the previous environment for HealthyFor since its
//     success there (Retry: that success plus HealthyFor) and was not
//     replaced there by another version before that ("healthy_for 1h", no
//     Retry: it never will be); no Auto allows only on approvals
//     ("needs a request" without them). A person's request waits for no
//     Auto rule: it allows once the approvals, if any, are there.
//  3. freezes ("freeze 2026-12-24..2026-12-26 (holidays)");
//  4. windows ("window Mon-Fri 09:00-17:00 Europe/Paris");
//  5. max_per_day ("max_per_day 3"): deployments, not rollbacks, started on
//     Now's calendar day in Location, whatever became of them.
//
// Allowed, Rule names the promotion that allowed: "auto after release",
// "auto after healthy_for 1h in staging", "approved by alice, bob" (sorted),
// "requested by alice".
func Decide(envs []Rules, env string, req Request, history []Record) Decision {
	i := slices.IndexFunc(envs, func(r Rules) bool { return r.Name == env })
	if i < 0 {
		return Decision{Rule: "unknown environment", Why: fmt.Sprintf("%s may not be deployed to %q: there is no such environment.", orNone(req.Version), env)}
	}
	r := envs[i]
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	v := req.Version
	if v == "" {
		return Decision{Rule: "no version", Why: fmt.Sprintf("Nothing may be deployed to %s: the request names no version.", env)}
	}
	refuse := func(rule, format string, args ...any) Decision {
		return Decision{Rule: rule, Why: fmt.Sprintf("%s may not go to %s: %s.", v, env, fmt.Sprintf(format, args...))}
	}

	recs := envHistory(env, history)
	for k := len(recs) - 1; k >= 0; k-- {
		if recs[k].State == StateRunning {
			what := "a deployment of " + recs[k].Version
			if recs[k].isRollback() {
				what = "a rollback to " + recs[k].Version
			}
			return refuse("in progress", "%s there started %s and is still running", what, stamp(recs[k].Started, loc))
		}
	}
	if cur := Current(env, history); cur == v {
		if k := lastOf(recs, v, true); k >= 0 && recs[k].inPlace() {
			return Decision{Rule: RuleAlreadyDeployed, Why: fmt.Sprintf("%s is already deployed to %s (since %s).", v, env, stamp(recs[k].done(), loc))}
		}
	}

	// 1. order
	var passed time.Time // when v passed the previous environment
	var prev []Record
	if i > 0 {
		p := envs[i-1].Name
		prev = envHistory(p, history)
		k := lastOf(prev, v, false)
		if k < 0 {
			return refuse("not passed "+p, "it has not passed %s (it was never deployed there)", p)
		}
		switch st := prev[k].State; st {
		case StateSucceeded:
			if rb, ok := rolledBackFrom(prev, v, k); ok {
				return refuse("not passed "+p, "it has not passed %s (%s was rolled back from it to %s on %s)", p, p, rb.Version, stamp(rb.Started, loc))
			}
			passed = prev[k].done()
		case StateRunning:
			return refuse("not passed "+p, "it has not passed %s yet (its deployment there is still running)", p)
		case StateFailed:
			return refuse("not passed "+p, "it has not passed %s (its last deployment there failed)", p)
		case StateInterrupted:
			return refuse("not passed "+p, "it has not passed %s (its last deployment there was interrupted)", p)
		default:
			return refuse("not passed "+p, "it has not passed %s (its last deployment there ended %q)", p, st)
		}
	}

	// 2. promotion
	var allowedBy string
	var healthyAt time.Time // when healthy_for is met, if it is the rule
	if len(r.Approvers) > 0 {
		need := r.Approvals
		if need <= 0 {
			need = 1
		}
		var got, outsiders []string
		for _, a := range append(slices.Clone(req.Approvals), req.By) {
			switch {
			case a == "" || slices.Contains(got, a) || slices.Contains(outsiders, a):
			case slices.Contains(r.Approvers, a):
				got = append(got, a)
			case a != req.By:
				outsiders = append(outsiders, a)
			}
		}
		slices.Sort(got)
		if len(got) < need {
			var waiting []string
			for _, a := range r.Approvers {
				if !slices.Contains(got, a) && !slices.Contains(waiting, a) {
					waiting = append(waiting, a)
				}
			}
			has := "none"
			if len(got) > 0 {
				has = fmt.Sprintf("%d (%s)", len(got), strings.Join(got, ", "))
			}
			why := fmt.Sprintf("it needs %d approval%s from %s and has %s", need, plural(need), strings.Join(r.Approvers, ", "), has)
			if need > len(r.Approvers) {
				why += fmt.Sprintf("; only %d may approve, so it never can: the workflow asks too many", len(r.Approvers))
			} else {
				why += "; waiting for " + strings.Join(waiting, ", ")
			}
			if len(outsiders) > 0 {
				slices.Sort(outsiders)
				why += fmt.Sprintf(" (%s approved but may not approve here)", strings.Join(outsiders, ", "))
			}
			d := refuse(fmt.Sprintf("approvals %d of %d", len(got), need), "%s", why)
			d.Waiting = waiting
			return d
		}
		allowedBy = "approved by " + strings.Join(got, ", ")
	}
	if req.By != "" {
		if allowedBy == "" {
			allowedBy = "requested by " + req.By
		}
	} else {
		switch r.Auto {
		case AutoRelease:
			if allowedBy == "" {
				allowedBy = "auto after release"
			}
		case AutoHealthy:
			rule := "healthy_for " + dur(r.HealthyFor)
			if i == 0 {
				return refuse(rule, "%s is the first environment, so there is no previous one for it to be healthy in", env)
			}
			p := envs[i-1].Name
			healthyAt = passed.Add(r.HealthyFor)
			if next, ok := replacedAfter(prev, v, passed); ok && next.Started.Before(healthyAt) {
				return refuse(rule, "it ran in %s only %s before %s replaced it, less than the %s needed", p, dur(next.Started.Sub(passed)), next.Version, dur(r.HealthyFor))
			}
			if allowedBy == "" {
				allowedBy = "auto after " + rule + " in " + p
			}
		case "":
			if allowedBy == "" {
				return refuse("needs a request", "nobody asked for it and %s deploys only on a person's request", env)
			}
		default:
			return refuse("unknown auto", "the workflow's auto %q is none of %q, %q", r.Auto, AutoRelease, AutoHealthy)
		}
	}

	// 2 (healthy_for), 3, 4, 5: the rules of time.
	prevName := ""
	if i > 0 {
		prevName = envs[i-1].Name
	}
	if d, refused := r.timeRules(env, v, prevName, req.Now, healthyAt, passed, recs, loc); refused {
		return d
	}
	return Decision{Allow: true, Rule: allowedBy, Why: fmt.Sprintf("%s may go to %s: %s.", v, env, allowedBy)}
}

// timeRules checks, in order, healthy_for (when healthyAt is set), freezes,
// windows and max_per_day at now; refused, Retry is the first instant at
// which they all allow.
func (r Rules) timeRules(env, v, prev string, now, healthyAt, passed time.Time, recs []Record, loc *time.Location) (Decision, bool) {
	first, why := r.refusedAt(prev, now, healthyAt, passed, recs, loc)
	if first == "" {
		return Decision{}, false
	}
	retry := r.nextAllowed(now, healthyAt, recs, loc)
	sentence := fmt.Sprintf("%s may not go to %s yet: %s", v, env, why)
	if retry.IsZero() {
		sentence += "; no time ahead allows it"
	} else {
		sentence += "; it may go from " + stamp(retry, loc)
	}
	return Decision{Rule: first, Why: sentence + ".", Retry: retry}, true
}

// refusedAt names the first rule of time that refuses at t, and why ("" when
// none does).
func (r Rules) refusedAt(prev string, t, healthyAt, passed time.Time, recs []Record, loc *time.Location) (rule, why string) {
	if t.Before(healthyAt) {
		return "healthy_for " + dur(r.HealthyFor), fmt.Sprintf("it has run in %s for %s of the %s it needs", prev, dur(t.Sub(passed)), dur(r.HealthyFor))
	}
	for _, f := range r.Freezes {
		if start, end := f.span(loc); !t.Before(start) && t.Before(end) {
			why := "deployments are frozen from " + f.From.Format(time.DateOnly) + " to " + f.To.Format(time.DateOnly)
			if f.Reason != "" {
				why += " (" + f.Reason + ")"
			}
			return "freeze " + f.String(), why
		}
	}
	if len(r.Windows) > 0 {
		if open, _ := nextOpen(r.Windows, t, loc); !open {
			ws := make([]string, len(r.Windows))
			for i, w := range r.Windows {
				ws[i] = w.String()
			}
			list := strings.Join(ws, ", ")
			return "window " + list + " " + loc.String(), "it is " + stamp(t, loc) + ", outside the deployment windows (" + list + ", " + loc.String() + ")"
		}
	}
	if r.MaxPerDay > 0 {
		if n := startedOn(recs, t, loc); n >= r.MaxPerDay {
			return fmt.Sprintf("max_per_day %d", r.MaxPerDay), fmt.Sprintf("%d deployment%s already started there on %s, the most allowed per day", n, plural(n), t.In(loc).Format("Mon 2 Jan 2006"))
		}
	}
	return "", ""
}

// nextAllowed is the first instant from now at which no rule of time
// refuses, zero when none is found (a window with no days, or rules that
// keep refusing for years).
func (r Rules) nextAllowed(now, healthyAt time.Time, recs []Record, loc *time.Location) time.Time {
	t := now
	if t.Before(healthyAt) {
		t = healthyAt
	}
	for range 1000 {
		moved := false
		for _, f := range r.Freezes {
			if start, end := f.span(loc); !t.Before(start) && t.Before(end) {
				t, moved = end, true
			}
		}
		if len(r.Windows) > 0 {
			open, next := nextOpen(r.Windows, t, loc)
			if !open {
				if next.IsZero() {
					return time.Time{}
				}
				t, moved = next, true
			}
		}
		if r.MaxPerDay > 0 && startedOn(recs, t, loc) >= r.MaxPerDay {
			_, t = dayBounds(t, loc)
			moved = true
		}
		if !moved {
			return t
		}
	}
	return time.Time{}
}

// startedOn counts the deployments (not rollbacks) in recs started on t's
// calendar day in loc.
func startedOn(recs []Record, t time.Time, loc *time.Location) int {
	start, end := dayBounds(t, loc)
	n := 0
	for _, r := range recs {
		if !r.isRollback() && !r.Started.Before(start) && r.Started.Before(end) {
			n++
		}
	}
	return n
}

// lastOf is the index of the newest record of version in recs, among
// rollbacks too when withRollbacks; -1 when none.
func lastOf(recs []Record, version string, withRollbacks bool) int {
	for k := len(recs) - 1; k >= 0; k-- {
		if recs[k].Version == version && (withRollbacks || !recs[k].isRollback()) {
			return k
		}
	}
	return -1
}

// replacedAfter finds the first record after t that changed the environment
// to another version than v.
func replacedAfter(recs []Record, v string, t time.Time) (Record, bool) {
	for _, r := range recs {
		if r.Started.After(t) && r.Version != v && r.changed() {
			return r, true
		}
	}
	return Record{}, false
}

func stamp(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

// dur writes a duration without its zero tails: 1h, 1h30m, 45s.
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func orNone(v string) string {
	if v == "" {
		return "Nothing"
	}
	return v
}
