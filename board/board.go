// Package board tells where the organization's work stands: the open issues
// by state in lifecycle order, what runs now and for how long, what waits
// for which human, the attempts and budget each issue has spent, and what
// was escalated and why. `agentorg status` prints it, and `serve --once`
// ends with the same words for the issues it moved.
//
// It only reads: the tracker, the event log, the engine's claims and
// workers tables and the issues' holders, so it works beside a running
// engine and where none runs.
package board

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/workflow"
)

// Sources are what a board is read from.
type Sources struct {
	Workflow *workflow.Workflow
	Tracker  agentorg.Tracker
	Log      *eventlog.Log
	DB       *sql.DB // the engine's database, for its claims
}

// Board is the state of the organization at one moment.
type Board struct {
	At time.Time `json:"at"`
	// EnginePID is the running engine's process, 0 when none runs.
	EnginePID int `json:"engine_pid"`
	// Workers are the workers of a shared database (none on a home's own
	// SQLite), alive first, with what each runs and holds.
	Workers []Worker `json:"workers,omitempty"`
	// States are the lifecycle's states in order, with their open issues.
	States []State `json:"states"`
	// Outside are the open issues in no state: not opted in.
	Outside   []int64      `json:"outside"`
	Running   []Run        `json:"running"`
	Waiting   []Wait       `json:"waiting"`
	Budgets   []Budget     `json:"budgets"`
	Escalated []Escalation `json:"escalated"`
	Failed    []Failure    `json:"failed"`
	// Held are the issues whose stage waits for something outside it (a
	// busy target, GitLab's auto-merge) and says why.
	Held []Hold `json:"held"`
	// Retrying are the issues whose stage run failed and is tried again.
	Retrying []Retry `json:"retrying"`
	// Closed is set while E2E keeps the target closed (docs/lifecycle.md
	// I19).
	Closed *Closed `json:"closed,omitempty"`
	// Open are the open issues read, for a caller that shows more of them
	// (the dashboard's cards) without reading the tracker again.
	Open []agentorg.Issue `json:"-"`
}

// Worker is a worker of a shared database as it last beat, what it runs
// now and the open issues it holds.
type Worker struct {
	engine.WorkerState
	// Running are the stage runs its claims hold.
	Running []Run `json:"running"`
	// Holds are the open issues whose worktree and agent session are on
	// its disk (homedir.Holder): their developer runs go to it while it
	// lives, and another worker takes them over once it is gone.
	Holds []int64 `json:"holds"`
}

// Closed says why the target is closed and what may land.
type Closed struct {
	Branch  string    `json:"branch"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason"`
	Culprit int64     `json:"culprit_issue,omitempty"`
	Revert  int64     `json:"revert_issue,omitempty"`
}

// Retry is a stage run that failed and when it is tried again.
type Retry struct {
	Issue  int64     `json:"issue"`
	Title  string    `json:"title"`
	Stage  string    `json:"stage"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Hold is a stage that waits, and why.
type Hold struct {
	Issue  int64     `json:"issue"`
	Title  string    `json:"title"`
	Stage  string    `json:"stage"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// State is one label of the lifecycle and the open issues carrying it.
type State struct {
	Label  string  `json:"label"`
	Issues []int64 `json:"issues"`
}

// Run is a stage run in progress.
type Run struct {
	Issue int64  `json:"issue"`
	Stage string `json:"stage"`
	RunID string `json:"run_id"`
	// Worker is the worker whose engine runs it ("" when its claim does
	// not say).
	Worker string `json:"worker,omitempty"`
	// Since is when the run claimed the issue (zero if the log lacks it).
	Since     time.Time `json:"since"`
	Heartbeat time.Time `json:"heartbeat"`
	// Stale: the run's worker has not beaten for longer than an engine
	// waits before it releases the claim (its engine died, or hangs).
	Stale bool `json:"stale"`
}

// Wait is an issue waiting at a human gate.
type Wait struct {
	Issue int64  `json:"issue"`
	Title string `json:"title"`
	Gate  string `json:"gate"`
	Label string `json:"label"`
	// Who may approve, in words (workflow.Gate.Allowed), and how.
	Who string `json:"who"`
	// Approvers are the people named who may approve; MinAccessLevel, on
	// GitLab, the access level at or above which anyone may ("" when none).
	Approvers      []string  `json:"approvers"`
	MinAccessLevel string    `json:"min_access_level,omitempty"`
	How            string    `json:"how"`
	Since          time.Time `json:"since"`
	// Rules says what the gate's approval rules make of it, when it has
	// some: the last word of its auto-approve stage.
	Rules string `json:"rules,omitempty"`
}

// Budget is what an issue's developer attempts have spent, against the
// workflow's budget (zero limits: none set).
type Budget struct {
	Issue    int64 `json:"issue"`
	Attempt  int   `json:"attempt"`
	Attempts int   `json:"attempts"` // budget.attempts
	// Distance is the last validated attempt's, -1 before any validation.
	Distance   int     `json:"distance"`
	Tokens     int64   `json:"tokens"`
	TokenLimit int     `json:"token_limit,omitempty"`
	CostUSD    float64 `json:"cost_usd"`
	CostLimit  float64 `json:"cost_limit_usd,omitempty"`
}

// Escalation is an issue handed to a human, and why.
type Escalation struct {
	Issue  int64     `json:"issue"`
	Title  string    `json:"title"`
	Reason string    `json:"reason"`
	RunID  string    `json:"run_id,omitempty"`
	Since  time.Time `json:"since"`
}

// Failure is an issue resting at a stage's failure label that nothing runs
// on (e2e:failed): someone must look.
type Failure struct {
	Issue  int64     `json:"issue"`
	Title  string    `json:"title"`
	Label  string    `json:"label"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Read reads the board.
func Read(ctx context.Context, src Sources) (*Board, error) {
	wf := src.Workflow
	b := &Board{At: time.Now(), Running: []Run{}, Waiting: []Wait{}, Budgets: []Budget{}, Escalated: []Escalation{}, Failed: []Failure{}, Held: []Hold{}, Retrying: []Retry{}, Outside: []int64{}}
	issues, err := src.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen})
	if err != nil {
		return nil, err
	}
	b.Open = issues
	states := wf.StateLabels()
	byLabel := map[string][]int64{}
	for _, is := range issues {
		placed := false
		for _, l := range is.Labels {
			if slices.Contains(states, l) {
				byLabel[l] = append(byLabel[l], is.Number)
				placed = true
			}
		}
		if !placed {
			b.Outside = append(b.Outside, is.Number)
		}
	}
	for _, l := range wf.Lifecycle() {
		b.States = append(b.States, State{Label: l, Issues: orEmpty(byLabel[l])})
	}

	if t, err := src.Log.Target(ctx, wf.Repo.TargetBranch); err != nil {
		return nil, err
	} else if t.Closed {
		b.Closed = &Closed{Branch: t.Branch, Since: t.Since, Reason: t.Reason, Culprit: t.CulpritIssue, Revert: t.RevertIssue}
	}

	claims, err := engine.Claims(ctx, src.DB)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		r := Run{Issue: c.Issue, Stage: c.Stage, RunID: c.RunID, Worker: c.Worker, Heartbeat: c.Heartbeat, Stale: c.Stale(b.At)}
		evs, err := src.Log.Events(ctx, eventlog.Filter{Issue: c.Issue})
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.RunID == c.RunID {
				r.Since = e.At
				break
			}
		}
		b.Running = append(b.Running, r)
	}
	if err := b.readWorkers(ctx, src.DB); err != nil {
		return nil, err
	}

	for _, is := range issues {
		if err := b.place(ctx, src, is); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readWorkers reads the workers of a shared database, and gives each the
// runs b.Running says it runs and the open issues it holds. A home's own
// SQLite has no worker rows (no worker beats there), so nothing is read
// past them.
func (b *Board) readWorkers(ctx context.Context, db *sql.DB) error {
	ws, err := engine.Workers(ctx, db)
	if err != nil || len(ws) == 0 {
		return err
	}
	holders, err := homedir.Holders(ctx, db)
	if err != nil {
		return err
	}
	b.Workers = make([]Worker, len(ws))
	for i, w := range ws {
		b.Workers[i] = Worker{WorkerState: w, Running: []Run{}, Holds: []int64{}}
		for _, r := range b.Running {
			if r.Worker == w.ID {
				b.Workers[i].Running = append(b.Workers[i].Running, r)
			}
		}
		// Only the open issues: the rows of closed ones stay, but nothing
		// runs on them again.
		for _, is := range b.Open {
			if holders[is.Number] == w.ID {
				b.Workers[i].Holds = append(b.Workers[i].Holds, is.Number)
			}
		}
		slices.Sort(b.Workers[i].Holds)
	}
	return nil
}

// place adds what the board says of one open issue beside its state.
func (b *Board) place(ctx context.Context, src Sources, is agentorg.Issue) error {
	wf := src.Workflow
	p := Where(wf, is)
	if p.Kind == Waiting || p.Kind == Escalated || p.Kind == Failed {
		evs, err := src.Log.Events(ctx, eventlog.Filter{Issue: is.Number})
		if err != nil {
			return err
		}
		last := lastInto(evs, p.Label)
		switch p.Kind {
		case Waiting:
			w := Wait{Issue: is.Number, Title: is.Title, Gate: p.Gate.Name, Label: p.Label,
				Who: p.Gate.Allowed(), Approvers: append([]string{}, p.Gate.Approvers...), How: wf.HowToApprove(p.Gate, is.Number), Since: last.At}
			if p.Gate.MinAccessLevel > 0 {
				w.MinAccessLevel = p.Gate.MinAccessLevel.String()
			}
			if p.Gate.AutoApprove != nil {
				stage := workflow.AutoApproveStage(p.Gate.Name)
				for _, e := range evs {
					if e.Stage == stage && !e.At.Before(last.At) && (e.Kind == eventlog.KindWait || e.Kind == eventlog.KindPolicy) {
						w.Rules = e.Reason
					}
				}
			}
			b.Waiting = append(b.Waiting, w)
		case Escalated:
			esc := Escalation{Issue: is.Number, Title: is.Title, Reason: last.Reason, RunID: last.RunID, Since: last.At}
			for _, e := range evs {
				if e.Kind == eventlog.KindEscalate {
					esc.Reason, esc.RunID = e.Reason, e.RunID
				}
			}
			if esc.Reason == "" {
				esc.Reason = "a human added " + p.Label
			}
			b.Escalated = append(b.Escalated, esc)
		case Failed:
			b.Failed = append(b.Failed, Failure{Issue: is.Number, Title: is.Title, Label: p.Label, Reason: last.Reason, Since: last.At})
		}
	}
	if p.Kind == Working {
		e, ok, err := stageNote(ctx, src.Log, is.Number)
		if err != nil {
			return err
		}
		switch {
		case !ok:
		case e.Kind == eventlog.KindWait:
			b.Held = append(b.Held, Hold{Issue: is.Number, Title: is.Title, Stage: e.Stage, Reason: e.Reason, Since: e.At})
		case e.Kind == eventlog.KindError && e.Data["retry_at"] != "":
			at, _ := time.Parse(time.RFC3339, e.Data["retry_at"])
			b.Retrying = append(b.Retrying, Retry{Issue: is.Number, Title: is.Title, Stage: e.Stage, Reason: e.Reason, At: at})
		}
	}
	as, err := src.Log.Attempts(ctx, is.Number)
	if err != nil || len(as) == 0 {
		return err
	}
	bu := Budget{Issue: is.Number, Attempt: as[len(as)-1].N, Attempts: wf.Budget.Attempts, Distance: -1,
		TokenLimit: wf.Budget.Tokens, CostLimit: wf.Budget.CostUSD}
	for _, a := range as {
		bu.Tokens += a.Usage.InputTokens + a.Usage.OutputTokens
		bu.CostUSD += a.Usage.CostUSD
		if a.Verdict != "" {
			bu.Distance = a.Distance
		}
	}
	b.Budgets = append(b.Budgets, bu)
	return nil
}

// stageNote returns the event saying why an issue's stage waits, or that
// its run failed and when it is tried again, when that is the newest thing
// that happened to it.
func stageNote(ctx context.Context, log *eventlog.Log, issue int64) (eventlog.Event, bool, error) {
	e, ok, err := log.LastEvent(ctx, issue)
	if err != nil || !ok {
		return eventlog.Event{}, false, err
	}
	if e.Kind == eventlog.KindWait || e.Kind == eventlog.KindError && e.Data["retry_at"] != "" {
		return e, true, nil
	}
	return eventlog.Event{}, false, nil
}

// lastInto returns the newest event that moved the issue to label.
func lastInto(evs []eventlog.Event, label string) eventlog.Event {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].To == label {
			return evs[i]
		}
	}
	return eventlog.Event{}
}

// Kinds of place an issue rests at.
const (
	Done      = "done"      // at the end of the lifecycle, or closed
	Waiting   = "waiting"   // at a human gate
	Escalated = "escalated" // handed to a human
	Failed    = "failed"    // at a failure label nothing runs on
	Working   = "working"   // a stage is due or runs
	Outside   = "outside"   // in no state: not opted in
)

// Place is where an issue rests.
type Place struct {
	Kind  string
	Label string         // the label that says so ("" for Outside, or a closed issue in no state)
	Gate  *workflow.Gate // for Waiting
}

// Where says where an issue rests, from its labels: escalation first, then
// a gate, a failure, a stage, the end of the lifecycle.
func Where(wf *workflow.Workflow, is agentorg.Issue) Place {
	if is.HasLabel(wf.Escalation) {
		return Place{Kind: Escalated, Label: wf.Escalation}
	}
	for i := range wf.Gates {
		if g := &wf.Gates[i]; is.HasLabel(g.Waits) {
			return Place{Kind: Waiting, Label: g.Waits, Gate: g}
		}
	}
	var end string
	for _, l := range wf.Lifecycle() {
		if !is.HasLabel(l) {
			continue
		}
		if st := wf.StageOn(l); st != nil {
			return Place{Kind: Working, Label: l}
		}
		for _, st := range wf.Stages {
			if st.Running == l {
				return Place{Kind: Working, Label: l}
			}
		}
		if isFailure(wf, l) {
			return Place{Kind: Failed, Label: l}
		}
		end = l
	}
	if end != "" || is.State == agentorg.IssueClosed {
		return Place{Kind: Done, Label: end}
	}
	return Place{Kind: Outside}
}

// isFailure says whether label is where a stage sends its failures.
func isFailure(wf *workflow.Workflow, label string) bool {
	for _, st := range wf.Stages {
		if st.Failure == label {
			return true
		}
	}
	return false
}

func orEmpty(ns []int64) []int64 {
	if ns == nil {
		return []int64{}
	}
	return ns
}

// Ago says how long ago t was, shortly: "12s", "4m", "3h", "2d".
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}
