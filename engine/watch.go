package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/role"
)

// watchMax is how long a watched wait lasts at most: polling is the truth,
// so a stage that waits is run again at least this often whatever it
// watches.
const watchMax = 5 * time.Minute

// waitState is how the last run of a stage on an issue waited.
type waitState struct {
	forHuman bool
	// watch, when set, is what the run waits for: a poll runs the stage
	// again only once it changed. Nil: again on every poll.
	watch *role.Watch
	// issueAt is the issue's UpdatedAt when the run waited: a change of
	// the issue wakes the stage too.
	issueAt time.Time
	since   time.Time
}

// mrSet is the merge requests a poll found changed, by number; nil when
// the tracker cannot tell (every one may have changed).
type mrSet map[int64]agentorg.MergeRequest

func (s mrSet) changed(mr int64) bool {
	if s == nil {
		return true
	}
	_, ok := s[mr]
	return ok
}

// setWaiting records how the last run of a stage on an issue waited; nil
// (it ended) forgets it. On a shared database it writes the database only:
// there the map is the leader's read at the start of its poll (loadWaits),
// and a worker that does not lead keeps none.
func (e *Engine) setWaiting(ctx context.Context, a StageArgs, w *waitState) {
	if e.shared() {
		// A wait not written costs a run at the next poll, an end not
		// written until the issue leaves the stage (forgetLeft).
		if err := storeWait(context.WithoutCancel(ctx), e.cfg.DB, a, w); err != nil {
			e.cfg.Logger.Warn("cannot record the stage's wait", "issue", a.Issue, "stage", a.Stage, "err", err)
		}
		return
	}
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	if w != nil {
		e.waiting[a] = *w
	} else {
		delete(e.waiting, a)
	}
}

// wakeCount is how many times the waits for a person were woken (on a
// shared database, by any worker): a run that decided to wait before a
// wake must not sleep through it.
func (e *Engine) wakeCount(ctx context.Context) (uint64, error) {
	if e.shared() {
		n, err := e.storedWakes(ctx)
		if err != nil {
			return 0, fmt.Errorf("engine: read the wakes: %w", err)
		}
		return n, nil
	}
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	return e.wakes, nil
}

// setWaitingSince is setWaiting for a decision made when wakeCount was
// since: a wake in between (what it waited for may be gone) leaves the
// run to the next poll instead.
func (e *Engine) setWaitingSince(ctx context.Context, a StageArgs, w waitState, since uint64) {
	if e.shared() {
		if err := e.storeWaitSince(context.WithoutCancel(ctx), a, w, since); err != nil {
			e.cfg.Logger.Warn("cannot record the stage's wait", "issue", a.Issue, "stage", a.Stage, "err", err)
		}
		return
	}
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	if e.wakes == since {
		e.waiting[a] = w
	} else {
		delete(e.waiting, a)
	}
}

// waitOf is how a stage run waited, as the poll sees it.
func (e *Engine) waitOf(a StageArgs) (waitState, bool) {
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	w, ok := e.waiting[a]
	return w, ok
}

// lastWait is how the last run of a stage waited, for its next run: on a
// shared database another worker may have run it. A failed read counts as
// no wait.
func (e *Engine) lastWait(ctx context.Context, a StageArgs) (waitState, bool) {
	if !e.shared() {
		return e.waitOf(a)
	}
	w, ok, err := e.storedWait(ctx, a)
	return w, ok && err == nil
}

// loadWaits reads the wait states every worker recorded, for a poll (on a
// shared database; on SQLite the map is the record).
func (e *Engine) loadWaits(ctx context.Context) error {
	if !e.shared() {
		return nil
	}
	e.waitMu.Lock()
	unforgotten := e.unforgotten
	e.waitMu.Unlock()
	if unforgotten {
		if err := e.forgetStoredChanges(ctx); err != nil {
			return fmt.Errorf("engine: forget what the waits watch: %w", err)
		}
	}
	ws, err := e.storedWaits(ctx, "")
	if err != nil {
		return fmt.Errorf("engine: read the waits: %w", err)
	}
	e.waitMu.Lock()
	e.waiting = ws
	if unforgotten {
		e.unforgotten = false // polls run one at a time: none failed since
	}
	e.waitMu.Unlock()
	return nil
}

// watching reports whether a stage waits for something outside (a
// pipeline, a forge's merge) rather than for a person: RunUntilIdle goes
// on polling for it.
func (e *Engine) watching() bool {
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	for _, w := range e.waiting {
		if !w.forHuman {
			return true
		}
	}
	return false
}

// wakeWaiting forgets the stage runs that wait for a person, so that the
// next poll runs them again: something they wait for changed in a way
// only a role can tell (the target opened after E2E recovered). On a
// shared database it forgets them for every worker.
func (e *Engine) wakeWaiting(ctx context.Context) {
	if e.shared() {
		// Not written, the waits sleep until watchMax or a change of
		// their issue wakes them.
		if err := e.storeWake(context.WithoutCancel(ctx)); err != nil {
			e.cfg.Logger.Warn("cannot wake the stages that wait for a person", "err", err)
		}
	}
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	e.wakes++
	for a, w := range e.waiting {
		if w.forHuman {
			delete(e.waiting, a)
		}
	}
}

// forgetLeft drops the wait states of issues that no longer carry their
// stage's labels: a run that comes back later starts afresh.
func (e *Engine) forgetLeft(ctx context.Context, issues []agentorg.Issue) error {
	still := map[StageArgs]bool{}
	for _, is := range issues {
		for i := range e.wf.Stages {
			st := &e.wf.Stages[i]
			if is.HasLabel(st.On) || (st.Running != "" && is.HasLabel(st.Running)) {
				still[StageArgs{Issue: is.Number, Stage: st.Name}] = true
			}
		}
	}
	e.waitMu.Lock()
	left := map[StageArgs]waitState{}
	for a, w := range e.waiting {
		if !still[a] {
			left[a] = w
			delete(e.waiting, a)
		}
	}
	e.waitMu.Unlock()
	if !e.shared() {
		return nil
	}
	if err := e.forgetStored(ctx, left); err != nil {
		return fmt.Errorf("engine: forget the waits of issues that left: %w", err)
	}
	return nil
}

// forgetChanges makes the next poll look at everything again: a poll that
// failed after asking which merge requests changed may have missed some.
// On a shared database the next poll may be another worker's, and the
// forge's watermark is shared: the database forgets too.
func (e *Engine) forgetChanges(ctx context.Context) {
	// Not written, it is tried again before the next poll reads the
	// waits (loadWaits).
	failed := e.shared() && e.forgetStoredChanges(context.WithoutCancel(ctx)) != nil
	e.waitMu.Lock()
	e.unforgotten = e.unforgotten || failed
	for a, w := range e.waiting {
		w.watch = nil
		e.waiting[a] = w
	}
	e.waitMu.Unlock()
	e.reviewMu.Lock()
	e.reviewed = map[int64]int64{}
	e.reviewMu.Unlock()
}

// asleep reports whether a poll should leave the stage run alone: it last
// waited for a person (and the caller is at rest), or for something that
// has not changed.
func (e *Engine) asleep(ctx context.Context, a StageArgs, is agentorg.Issue, atRest bool, changed mrSet) bool {
	w, ok := e.waitOf(a)
	switch {
	case !ok:
		return false
	case w.forHuman && (atRest || w.watch == nil):
		// A person acts, or a poll looks again; a wait for a person that
		// also watches something (an automatic approval's grace period,
		// its merge request) is looked at again only once that changed.
		return atRest
	case w.watch == nil:
		return false
	}
	return !e.woken(ctx, w, is, changed)
}

// woken reports whether what a waiting run watches changed: the issue, its
// merge request, its pipeline's status, or the time is up. It reads the
// pipeline only when nothing else answered.
func (e *Engine) woken(ctx context.Context, w waitState, is agentorg.Issue, changed mrSet) bool {
	now := time.Now()
	wa := w.watch
	switch {
	case !is.UpdatedAt.Equal(w.issueAt), now.Sub(w.since) >= watchMax,
		!wa.Until.IsZero() && !now.Before(wa.Until),
		wa.MR != 0 && changed.changed(wa.MR):
		return true
	case wa.SHA == "":
		return false
	}
	pr, ok := e.tracker.(agentorg.PipelineReader)
	if !ok {
		return true
	}
	p, err := pr.Pipeline(ctx, wa.SHA)
	if errors.Is(err, agentorg.ErrNotFound) {
		return wa.Pipeline != ""
	}
	return err != nil || p.Status != wa.Pipeline
}

// changedMRs asks the tracker which merge requests may have changed, once
// per poll, and only when a poll needs it: an issue waits at a review gate
// or a waiting run watches a merge request. Nil: the tracker cannot tell,
// or nothing needs it.
func (e *Engine) changedMRs(ctx context.Context, issues []agentorg.Issue) (mrSet, error) {
	mc, ok := e.tracker.(agentorg.MRChanges)
	if !ok || !e.needsMRs(issues) {
		return nil, nil
	}
	mrs, err := mc.ChangedMRs(ctx)
	if err != nil {
		return nil, err
	}
	out := make(mrSet, len(mrs))
	for _, m := range mrs {
		out[m.Number] = m
	}
	return out, nil
}

func (e *Engine) needsMRs(issues []agentorg.Issue) bool {
	e.waitMu.Lock()
	for _, w := range e.waiting {
		if w.watch != nil && w.watch.MR != 0 {
			e.waitMu.Unlock()
			return true
		}
	}
	e.waitMu.Unlock()
	for _, is := range issues {
		if len(e.reviewGates(is)) > 0 {
			return true
		}
	}
	return false
}
