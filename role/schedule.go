package role

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/intent"
	"github.com/agentorg/agentorg/workflow"
)

// Parallel work (docs/lifecycle.md, "Parallel work"): an issue's intent is
// what its plan names (its "## Intent" block, and "depends on #N" in the
// issue or the plan) with the files its attempts actually changed. Before
// a developer attempt starts, the engine asks the developer role whether
// the issue must wait (Holder): for a dependency not merged yet, or, with
// parallel.predict, for an issue ahead of it whose intent overlaps. Issues
// go in a total order, so that two never wait for each other: one that
// started developing first goes first, then the lower number.

// Holder is a role that can say an issue must wait before the stage even
// claims it: the issue stays at the stage's label, and the engine records
// why (the board shows it).
type Holder interface {
	Hold(ctx context.Context, d *Deps, r *Run) (why string, err error)
}

// Hold says why issue r.Issue may not start a developer attempt now ("":
// it may).
func (developer) Hold(ctx context.Context, d *Deps, r *Run) (string, error) {
	return holdFor(ctx, d, r.Issue)
}

func holdFor(ctx context.Context, d *Deps, is agentorg.Issue) (string, error) {
	n := is.Number
	// This issue's own row first: most issues name no file and depend on
	// nothing, and need no look at the others.
	all := &intents{d: d, rows: map[int64]eventlog.IntentRow{}}
	if row, ok, err := d.Log.IntentOf(ctx, n); err != nil {
		return "", err
	} else if ok {
		all.rows[n] = row
	}
	me, err := all.of(ctx, is)
	if err != nil {
		return "", err
	}
	if me.Empty() && len(me.DependsOn) == 0 {
		return "", nil
	}
	if all, err = readIntents(ctx, d); err != nil {
		return "", err
	}
	for _, dep := range me.DependsOn {
		if dep == n {
			continue
		}
		other, err := d.Tracker.Issue(ctx, dep)
		if errors.Is(err, agentorg.ErrNotFound) {
			continue // nothing to wait for; the plan's reader sees the slip
		}
		if err != nil {
			return "", err
		}
		if other.State == agentorg.IssueOpen {
			why := fmt.Sprintf("waits for #%d: #%d depends on it, and it is not merged yet", dep, n)
			if oi, err := all.of(ctx, other); err == nil && slices.Contains(oi.DependsOn, n) {
				why += fmt.Sprintf(" (and #%d depends on #%d: a person must break the cycle)", dep, n)
			}
			return why, nil
		}
	}
	mine, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return "", err
	}
	started := len(mine) > 0
	switch {
	case me.Empty():
		return "", nil
	case started && d.Workflow.Parallel.Overlap != workflow.OverlapPause:
		return "", nil // under way: a live overlap only warns
	case !started && !d.Workflow.Parallel.Predict:
		return "", nil
	}
	myRank := rank{number: n}
	if started {
		myRank.started = mine[0].StartedAt
	}
	ahead, err := inFlight(ctx, d, n, myRank)
	if err != nil {
		return "", err
	}
	for _, o := range ahead {
		oi, err := all.of(ctx, o.issue)
		if err != nil {
			return "", err
		}
		if shared := intent.Overlap(me, oi, d.Workflow.Parallel.ByPackage); len(shared) > 0 {
			return fmt.Sprintf("waits for #%d: both change %s", o.issue.Number, strings.Join(shared, ", ")), nil
		}
	}
	return "", nil
}

// rank orders issues in flight: those that started developing first, by
// when; then those that did not, by number.
type rank struct {
	started time.Time // zero: no attempt yet
	number  int64
}

func (a rank) before(b rank) bool {
	switch {
	case !a.started.IsZero() && b.started.IsZero():
		return true
	case a.started.IsZero() && !b.started.IsZero():
		return false
	case !a.started.Equal(b.started):
		return a.started.Before(b.started)
	}
	return a.number < b.number
}

type flying struct {
	issue agentorg.Issue
	rank  rank
}

// inFlight lists the open issues ahead of rank r (not n) that are being
// developed or queued for it: they have an attempt, or carry the
// developer stage's labels. Escalated issues have left.
func inFlight(ctx context.Context, d *Deps, n int64, r rank) ([]flying, error) {
	issues, err := d.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen})
	if err != nil {
		return nil, err
	}
	first, err := d.Log.FirstAttempts(ctx)
	if err != nil {
		return nil, err
	}
	var out []flying
	for _, o := range issues {
		if o.Number == n || o.HasLabel(d.Workflow.Escalation) {
			continue
		}
		started, ok := first[o.Number]
		if !ok && !atDeveloper(d, o) {
			continue
		}
		or := rank{number: o.Number, started: started}
		if or.before(r) {
			out = append(out, flying{issue: o, rank: or})
		}
	}
	slices.SortFunc(out, func(a, b flying) int {
		if a.rank.before(b.rank) {
			return -1
		}
		return 1
	})
	return out, nil
}

// intents reads every issue's recorded intent, planned and changed.
type intents struct {
	d    *Deps
	rows map[int64]eventlog.IntentRow
}

func readIntents(ctx context.Context, d *Deps) (*intents, error) {
	rows, err := d.Log.Intents(ctx)
	if err != nil {
		return nil, err
	}
	return &intents{d: d, rows: rows}, nil
}

// of is an issue's intent: what its plan (and body) said, read once and
// kept (a plan changes only before development), with the files its last
// attempt changed.
func (in *intents) of(ctx context.Context, is agentorg.Issue) (intent.Intent, error) {
	row := in.rows[is.Number]
	var planned, changed intent.Intent
	if row.Planned == nil {
		plan, err := Plan(ctx, in.d.Tracker, is.Number)
		if err != nil {
			return planned, err
		}
		planned = intent.Parse(plan, is.Body)
		b, err := json.Marshal(planned)
		if err != nil {
			return planned, err
		}
		if err := in.d.Log.SetPlanned(ctx, is.Number, b); err != nil {
			return planned, err
		}
		row.Planned = b
		in.rows[is.Number] = row
	} else if err := json.Unmarshal(row.Planned, &planned); err != nil {
		return planned, fmt.Errorf("issue #%d: recorded intent: %w", is.Number, err)
	}
	if row.Changed != nil {
		if err := json.Unmarshal(row.Changed, &changed); err != nil {
			return planned, fmt.Errorf("issue #%d: recorded intent: %w", is.Number, err)
		}
	}
	return planned.With(changed.Files), nil
}

// recorded is an issue's intent as recorded: planned and changed files.
func (in *intents) recorded(n int64) (intent.Intent, error) {
	row := in.rows[n]
	var planned, changed intent.Intent
	for _, v := range []struct {
		raw []byte
		to  *intent.Intent
	}{{row.Planned, &planned}, {row.Changed, &changed}} {
		if v.raw != nil {
			if err := json.Unmarshal(v.raw, v.to); err != nil {
				return planned, fmt.Errorf("issue #%d: recorded intent: %w", n, err)
			}
		}
	}
	return planned.With(changed.Files), nil
}

// inFlightNow reports whether issue is being developed or queued for it:
// open, not escalated, with an attempt or at the developer's labels.
func inFlightNow(ctx context.Context, d *Deps, is agentorg.Issue) (bool, error) {
	if is.State != agentorg.IssueOpen || is.HasLabel(d.Workflow.Escalation) {
		return false, nil
	}
	if atDeveloper(d, is) {
		return true, nil
	}
	as, err := d.Log.Attempts(ctx, is.Number)
	return len(as) > 0, err
}

// atDeveloper reports whether is carries a developer stage's labels:
// queued for an attempt, or in one.
func atDeveloper(d *Deps, is agentorg.Issue) bool {
	for _, st := range d.Workflow.StagesWithRole(agentorg.RoleDeveloper) {
		if is.HasLabel(st.On) || (st.Running != "" && is.HasLabel(st.Running)) {
			return true
		}
	}
	return false
}

// planned is what an issue's plan said, as recorded (of records it).
func (in *intents) planned(ctx context.Context, is agentorg.Issue) (intent.Intent, error) {
	if _, err := in.of(ctx, is); err != nil {
		return intent.Intent{}, err
	}
	var p intent.Intent
	return p, json.Unmarshal(in.rows[is.Number].Planned, &p)
}

// recordChanged keeps the files attempt a's work changes against the
// target (the worktree holds every attempt's work), and says, once per
// pair and files, when they overlap another issue in flight that no plan
// predicted.
func recordChanged(ctx context.Context, d *Deps, r *Run, a eventlog.Attempt, work string) error {
	n := r.Issue.Number
	base, err := d.Mirror.MergeBase(ctx, d.targetRef(), work)
	if err != nil {
		return err
	}
	files, err := d.Mirror.DiffFiles(ctx, base, work)
	if err != nil {
		return err
	}
	b, err := json.Marshal(intent.Intent{Files: files})
	if err != nil {
		return err
	}
	if err := d.Log.SetChanged(ctx, n, b, fmt.Sprintf("attempt %d", a.N)); err != nil {
		return err
	}
	if len(files) == 0 {
		return nil // nothing changed overlaps nothing
	}
	all, err := readIntents(ctx, d)
	if err != nil {
		return err
	}
	predicted, err := all.planned(ctx, r.Issue)
	if err != nil {
		return err
	}
	actual := intent.Intent{Files: files}
	// Every issue in flight has a recorded intent (it reached development):
	// compare with those first, and ask the tracker only about the few
	// that overlap.
	for o := range all.rows {
		if o == n {
			continue
		}
		oi, err := all.recorded(o)
		if err != nil {
			return err
		}
		shared := intent.Overlap(actual, oi, d.Workflow.Parallel.ByPackage)
		if len(shared) == 0 || len(intent.Overlap(predicted, oi, d.Workflow.Parallel.ByPackage)) > 0 {
			continue // none, or predicted: the scheduler knew
		}
		other, err := d.Tracker.Issue(ctx, o)
		if errors.Is(err, agentorg.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if flying, err := inFlightNow(ctx, d, other); err != nil || !flying {
			if err != nil {
				return err
			}
			continue
		}
		o := flying{issue: other}
		key := fmt.Sprintf("%d:%d:%s", min(n, o.issue.Number), max(n, o.issue.Number), strings.Join(shared, ","))
		seen, err := overlapSeen(ctx, d, n, key)
		if err != nil || seen {
			return err
		}
		what := "warns"
		if d.Workflow.Parallel.Overlap == workflow.OverlapPause {
			what = "pauses the later issue at its next attempt"
		}
		why := fmt.Sprintf("#%d's change (attempt %d) touches %s, which #%d is changing too; no plan predicted it (parallel.overlap %s)",
			n, a.N, strings.Join(shared, ", "), o.issue.Number, what)
		for _, issue := range []int64{n, o.issue.Number} {
			if err := d.Log.Record(ctx, eventlog.Event{Issue: issue, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
				Kind: eventlog.KindOverlap, Reason: why, Data: map[string]string{"overlap": key, "with": fmt.Sprint(o.issue.Number + n - issue)}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlapSeen reports whether the overlap key was recorded on issue n.
func overlapSeen(ctx context.Context, d *Deps, n int64, key string) (bool, error) {
	evs, err := d.Log.Events(ctx, eventlog.Filter{Issue: n, Kind: eventlog.KindOverlap})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(evs, func(e eventlog.Event) bool { return e.Data["overlap"] == key }), nil
}
