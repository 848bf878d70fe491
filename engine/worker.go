package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/workflow"
)

type stageWorker struct {
	river.WorkerDefaults[StageArgs]
	e *Engine
}

// Timeout: -1, because agents and checks carry their own hard and stall
// timeouts; a River timeout would cut a long but healthy run.
func (w *stageWorker) Timeout(*river.Job[StageArgs]) time.Duration { return -1 }

func (w *stageWorker) NextRetry(job *river.Job[StageArgs]) time.Time {
	return w.e.retryAt(job.Attempt, time.Now())
}

// retryAt is when the retry after failed try number try runs: RetryDelay,
// four times longer after each failed try, never longer than MaxRetryDelay.
// Tries are failures only: a crash gives its try back (see reap).
func (e *Engine) retryAt(try int, now time.Time) time.Time {
	d := e.cfg.RetryDelay
	for i := 1; i < try && d < e.cfg.MaxRetryDelay; i++ {
		d *= 4
	}
	return now.Add(min(d, e.cfg.MaxRetryDelay))
}

func (w *stageWorker) Work(ctx context.Context, job *river.Job[StageArgs]) error {
	err := w.e.work(ctx, job.ID, job.Attempt, job.MaxAttempts, job.Args)
	if errors.Is(err, agentorg.ErrUnavailable) && ctx.Err() == nil {
		// An outage is not the stage's failure: wait, then do the same step
		// again (every step is idempotent), without spending a try.
		w.e.cfg.Logger.Warn("tracker unavailable; the job waits", "issue", job.Args.Issue, "stage", job.Args.Stage, "err", err)
		return river.JobSnooze(w.e.cfg.UnavailableDelay)
	}
	return err
}

// errLeftStage is the cancel cause when a human moved the issue out of the
// stage while it ran.
var errLeftStage = errors.New("the issue left the stage")

func (e *Engine) work(jobCtx context.Context, jobID int64, attempt, maxAttempts int, args StageArgs) (err error) {
	bot := e.wf.Tracker.Bot
	st := e.wf.Stage(args.Stage)
	if st == nil {
		return river.JobCancel(fmt.Errorf("stage %q is no longer in the workflow", args.Stage))
	}
	// The claim comes first, before any read of the tracker: a job River
	// handed out is unclaimed only for the instant before its worker
	// starts, so that one unclaimed for long is a dead worker's (see
	// reap). ctx ends when the claim is lost (errLostClaim).
	runID := uuid.NewString()
	held, err := e.claim(jobCtx, jobID, args, runID)
	if err != nil {
		return err
	}
	if !held {
		// Another engine's live claim holds the stage on this issue: River
		// handed the job out twice. The job looks again later, when that
		// run has ended and moved the issue on.
		e.cfg.Logger.Warn("another worker holds the stage; the job waits", "job", jobID, "issue", args.Issue, "stage", args.Stage)
		return river.JobSnooze(e.cfg.StaleAfter)
	}
	ctx, lose := context.WithCancelCause(jobCtx)
	var watch atomic.Pointer[stageWatch]
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		e.heartbeat(ctx, jobID, runID, lose, &watch)
	}()
	defer func() {
		if errors.Is(context.Cause(ctx), errLostClaim) && jobCtx.Err() == nil {
			// The job is another worker's now: what this run reports to
			// River would change that worker's job. It ends as done, and
			// polls see to the issue (level-triggered).
			_ = e.record(jobCtx, eventlog.Event{Issue: args.Issue, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindClaim,
				Reason: fmt.Sprintf("%s stopped (job %d, try %d): %v", st.Name, jobID, attempt, errLostClaim)})
			err = nil
		}
		lose(nil)
		<-beating
		ended := endedDone
		if err != nil {
			ended = endedFailed
		}
		e.release(context.WithoutCancel(jobCtx), jobID, runID, ended)
	}()

	is, err := e.tracker.Issue(ctx, args.Issue)
	if errors.Is(err, agentorg.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	inOn := is.HasLabel(st.On)
	inRunning := st.Running != "" && is.HasLabel(st.Running)
	if !inOn && !inRunning {
		// Level-triggered: the job was enqueued from a read that is no
		// longer true. Nothing to do.
		return e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, Actor: bot, Kind: eventlog.KindSkip,
			Reason: fmt.Sprintf("issue no longer carries %s", st.On)})
	}
	began := time.Now()
	if h, ok := role.For(st.Role).(role.Holder); ok && inOn {
		// Before the labels move: an issue that must wait stays at its
		// label (parallel work: a dependency, an overlapping issue ahead).
		wakes, err := e.wakeCount(ctx)
		if err != nil {
			return err
		}
		why, err := h.Hold(ctx, e.deps, &role.Run{ID: runID, Stage: st, Issue: is})
		if err != nil {
			return err
		}
		if why != "" {
			e.setWaitingSince(ctx, args, waitState{forHuman: true, watch: &role.Watch{}, issueAt: is.UpdatedAt, since: time.Now()}, wakes)
			return e.recordWait(ctx, is.Number, st, runID, why)
		}
	}
	if inOn {
		if g := e.wf.GateApproving(st.On); g != nil {
			var ok bool
			if is, ok, err = e.gateHolds(ctx, g, is, runID, st); err != nil || !ok {
				return err
			}
		}
	}
	// The run's wall time, by how it ended: outcome when it returns no
	// error, else what the error says.
	outcome := metrics.OutcomeDone
	defer func() {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			outcome = metrics.OutcomeInterrupted
		case errors.Is(err, agentorg.ErrUnavailable):
			outcome = metrics.OutcomeUnavailable
		default:
			outcome = metrics.OutcomeError
		}
		e.cfg.Metrics.StageRun(st.Name, outcome, time.Since(began))
	}()

	from := st.On
	if inOn && st.Running != "" {
		if is, err = e.tracker.UpdateLabels(ctx, is.Number, []string{st.Running}, []string{st.On}, bot); err != nil {
			return err
		}
		from = st.Running
		if err := e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindTransition,
			From: st.On, To: st.Running, Reason: fmt.Sprintf("%s claimed the issue (job %d, try %d)", st.Name, jobID, attempt)}); err != nil {
			return err
		}
	} else if inRunning {
		from = st.Running
		// A run that looks again at what it waits for (a pipeline) resumes
		// no claim worth a line in the record each time.
		if w, waited := e.lastWait(ctx, args); !waited || w.forHuman {
			if err := e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindClaim,
				Reason: fmt.Sprintf("%s resumed its claim (job %d, try %d)", st.Name, jobID, attempt)}); err != nil {
				return err
			}
		}
	}

	// Every process the run starts carries the claim's mark, so that a
	// restart finds it from its first instruction (see onStart).
	runCtx, cancel := context.WithCancelCause(proc.WithMark(ctx, claimMark(e.owner, jobID)))
	// From here the heartbeat also watches the issue (see heartbeat).
	watch.Store(&stageWatch{issue: is.Number, st: st, cancel: cancel})
	r := role.For(st.Role)
	out, runErr := r.Run(runCtx, e.deps, &role.Run{ID: runID, Stage: st, Issue: is,
		OnStart: e.onStart(ctx, jobID, runID)})
	cause := context.Cause(runCtx)
	watch.Store(nil)
	cancel(nil)

	if errors.Is(cause, errLeftStage) {
		outcome = metrics.OutcomeCancelled
		return e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindCancel,
			Reason: "cancelled: the issue left " + from + " while " + st.Name + " ran"})
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down, or the claim was lost
		}
		if errors.Is(runErr, agentorg.ErrUnavailable) {
			_ = e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindError,
				Reason: fmt.Sprintf("the tracker is unavailable; the stage waits and tries again: %v", runErr)})
			return runErr
		}
		if attempt < maxAttempts && !errors.Is(runErr, role.ErrPermanent) {
			at := e.retryAt(attempt, time.Now())
			_ = e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindError,
				Reason: fmt.Sprintf("try %d of %d failed, retries at %s: %v", attempt, maxAttempts, at.Local().Format("15:04:05"), runErr),
				Data:   map[string]string{"retry_at": at.UTC().Format(time.RFC3339)}})
			return runErr
		}
		outcome = metrics.OutcomeEscalated
		return e.escalateError(ctx, is, st, from, runID, attempt, runErr)
	}
	if out.Wait {
		// Something outside finishes this stage (GitLab's auto-merge, a
		// pipeline), or must change first (a busy target): the labels
		// stay, and a later poll runs the stage again once what it
		// watches changed.
		e.setWaiting(ctx, args, &waitState{forHuman: out.ForHuman, watch: out.Watch, issueAt: is.UpdatedAt, since: time.Now()})
		outcome = metrics.OutcomeWait
		return e.recordWait(ctx, is.Number, st, runID, out.Reason)
	}
	e.setWaiting(ctx, args, nil)
	to := out.To
	if to == "" {
		to = st.Success
	}
	if to == e.wf.Escalation {
		outcome = metrics.OutcomeEscalated
	}
	work := time.Since(began)
	return e.transition(ctx, is.Number, st, from, to, runID, out.Reason, map[string]string{
		"work_ms": ms(work), "external_ms": ms(out.External)})
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

// transition moves an issue from a stage's labels to its next state, records
// it, and enqueues whatever the new state calls for without waiting for the
// next poll.
func (e *Engine) transition(ctx context.Context, issue int64, st *workflow.Stage, from, to, runID, reason string, data map[string]string) error {
	remove := []string{st.On}
	if st.Running != "" {
		remove = append(remove, st.Running)
	}
	remove = slices.DeleteFunc(remove, func(l string) bool { return l == to })
	is, err := e.tracker.UpdateLabels(ctx, issue, []string{to}, remove, e.wf.Tracker.Bot)
	if err != nil {
		return err
	}
	if err := e.record(ctx, eventlog.Event{Issue: issue, Stage: st.Name, RunID: runID, Actor: e.wf.Tracker.Bot,
		Kind: eventlog.KindTransition, From: from, To: to, Reason: reason, Data: data}); err != nil {
		return err
	}
	if to == e.wf.Escalation {
		_ = e.record(ctx, eventlog.Event{Issue: issue, Stage: st.Name, RunID: runID, Actor: e.wf.Tracker.Bot,
			Kind: eventlog.KindEscalate, Reason: reason})
	}
	if to == e.wf.Escalation || st.Role == agentorg.RoleMerge {
		// An issue merged or left: those held for it look again.
		e.wakeWaiting(ctx)
	}
	_, err = e.enqueue(ctx, is)
	return err
}

// escalateError hands the issue to a human after a stage kept failing.
func (e *Engine) escalateError(ctx context.Context, is agentorg.Issue, st *workflow.Stage, from, runID string, attempt int, runErr error) error {
	failed := fmt.Sprintf("failed %d times", attempt)
	what := fmt.Sprintf("Stage `%s` %s; the last error:", st.Name, failed)
	if errors.Is(runErr, role.ErrPermanent) {
		failed = "cannot run"
		what = fmt.Sprintf("Stage `%s` cannot run until a person fixes this (trying again would not help):", st.Name)
	}
	transcript := fmt.Sprintf("See `agentorg logs %s` for the run's transcript.", runID)
	if _, err := os.Stat(role.TranscriptPath(e.deps.Home, runID)); err != nil {
		transcript = "No agent or check ran, so the run has no transcript; `agentorg events --issue " + fmt.Sprint(is.Number) + "` shows what happened."
	}
	msg := fmt.Sprintf("## Needs a human\n\n%s\n\n```\n%s\n```\n\n%s To try again once it is fixed: `agentorg label add %d %s`.",
		what, runErr, transcript, is.Number, st.On)
	if _, err := e.tracker.UpsertComment(ctx, is.Number, fmt.Sprintf("error:%d:%s", is.Number, st.Name), msg, e.wf.Tracker.Bot); err != nil {
		return err
	}
	return e.transition(ctx, is.Number, st, from, e.wf.Escalation, runID, fmt.Sprintf("%s %s: %v", st.Name, failed, runErr), nil)
}

// gateHolds checks the approval behind a gate's approve label, as package
// gate decides it from the tracker's facts: the last event that added it
// must come from an allowed approver (never the bot) and, for a merge
// request gate, the merge request must be approved by such a human at its
// current head. When it holds, the issue leaves the gate (its waits label
// goes) and is returned as it is then. A forged or stale approval is
// removed, the issue goes back to waiting, and a comment says why.
func (e *Engine) gateHolds(ctx context.Context, g *workflow.Gate, is agentorg.Issue, runID string, st *workflow.Stage) (agentorg.Issue, bool, error) {
	policy, err := role.PolicyApprovals(ctx, e.log, is.Number, g)
	if err != nil {
		return is, false, err
	}
	f, err := gate.Gather(ctx, e.tracker, e.wf, g, is.Number, policy)
	if err != nil {
		return is, false, err
	}
	v := gate.Decide(g, f)
	if v.Holds {
		is, err = e.leaveGate(ctx, g, is, v.Actor, runID, st)
		return is, err == nil, err
	}
	return is, false, e.refuse(ctx, g, is, f.Label, v.Reached, v.Reason, runID, st)
}

// leaveGate takes the issue off gate g once its approval holds: on GitLab a
// person only adds the approve label, and the issue must not go on waiting
// at a gate it passed. The engine removes the waits label, as the bot.
func (e *Engine) leaveGate(ctx context.Context, g *workflow.Gate, is agentorg.Issue, approver, runID string, st *workflow.Stage) (agentorg.Issue, error) {
	if g.Waits == g.Approve || !is.HasLabel(g.Waits) {
		return is, nil
	}
	bot := e.wf.Tracker.Bot
	out, err := e.tracker.UpdateLabels(ctx, is.Number, nil, []string{g.Waits}, bot)
	if err != nil {
		return is, err
	}
	return out, e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindTransition,
		From: g.Waits, To: g.Approve, Reason: fmt.Sprintf("%s approved at gate %q: the issue no longer waits at %s", approver, g.Name, g.Waits),
		Data: map[string]string{"approver": approver, "gate": g.Name}})
}

// refuse undoes an approval that does not hold, with a comment saying why:
// the approve label goes and, when the issue had reached the gate, it
// waits there again; an issue that never got there stays where it was.
func (e *Engine) refuse(ctx context.Context, g *workflow.Gate, is agentorg.Issue, last *agentorg.LabelEvent, reached bool, why, runID string, st *workflow.Stage) error {
	bot := e.wf.Tracker.Bot
	actor := ""
	key := fmt.Sprintf("refused:%d:%s", is.Number, g.Name)
	if last != nil {
		actor = last.Actor
		key = fmt.Sprintf("refused:%d:%s:%d", is.Number, g.Name, last.ID)
	}
	if g.MergeRequest {
		if err := e.cancelAutoMerge(ctx, is.Number); err != nil {
			return err
		}
	}
	add, to := []string{g.Waits}, g.Waits
	where := fmt.Sprintf("The issue stays at `%s`; %s.", g.Waits, e.wf.HowToApprove(g, is.Number))
	if !reached {
		add, to = nil, ""
		where = fmt.Sprintf("Only `%s` was removed: the issue has not reached `%s`, and stays where it was. Once it waits there, %s.",
			g.Approve, g.Waits, e.wf.HowToApprove(g, is.Number))
	}
	body := fmt.Sprintf("## Approval refused\n\n%s. %s", why, where)
	if _, err := e.tracker.UpsertComment(ctx, is.Number, key, body, bot); err != nil {
		return err
	}
	if _, err := e.tracker.UpdateLabels(ctx, is.Number, add, []string{g.Approve}, bot); err != nil {
		return err
	}
	return e.record(ctx, eventlog.Event{Issue: is.Number, Stage: st.Name, RunID: runID, Actor: bot, Kind: eventlog.KindRefused,
		From: g.Approve, To: to, Reason: why, Data: map[string]string{"approver": actor, "gate": g.Name}})
}

// stageWatch is what a heartbeat watches once the run started: the issue
// must stay in the stage, else the run is cancelled.
type stageWatch struct {
	issue  int64
	st     *workflow.Stage
	cancel context.CancelCauseFunc
}

// heartbeat keeps the claim alive until ctx ends. When the claim is gone
// (another engine released it, taking this worker for dead) it ends ctx
// with errLostClaim. While watch holds a stageWatch, it also cancels the
// run when the issue leaves the stage (a human removed the label, or
// closed the issue); before the run, holds and gates move labels
// themselves, and nothing is watched.
func (e *Engine) heartbeat(ctx context.Context, jobID int64, runID string, lose context.CancelCauseFunc, watch *atomic.Pointer[stageWatch]) {
	t := time.NewTicker(e.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held, err := e.beat(ctx, jobID, runID)
		if err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("heartbeat failed", "job", jobID, "err", err)
		}
		if !held {
			e.cfg.Logger.Warn("lost the claim: another worker released it", "job", jobID, "run", runID)
			lose(errLostClaim)
			return
		}
		w := watch.Load()
		if w == nil {
			continue
		}
		is, err := e.tracker.Issue(ctx, w.issue)
		if err != nil {
			continue // a tracker hiccup is not a reason to kill the run
		}
		if !is.HasLabel(w.st.On) && (w.st.Running == "" || !is.HasLabel(w.st.Running)) {
			w.cancel(errLeftStage)
			watch.CompareAndSwap(w, nil)
		}
	}
}

// recordWait records why a stage waits, once per reason: a stage that
// waits runs again on every poll.
func (e *Engine) recordWait(ctx context.Context, issue int64, st *workflow.Stage, runID, reason string) error {
	last, ok, err := e.log.LastEvent(ctx, issue)
	if err != nil {
		return err
	}
	if ok && last.Kind == eventlog.KindWait && last.Stage == st.Name && last.Reason == reason {
		return nil
	}
	return e.record(ctx, eventlog.Event{Issue: issue, Stage: st.Name, RunID: runID, Actor: e.wf.Tracker.Bot, Kind: eventlog.KindWait, Reason: reason})
}

func (e *Engine) record(ctx context.Context, ev eventlog.Event) error {
	return e.log.Record(context.WithoutCancel(ctx), ev)
}
