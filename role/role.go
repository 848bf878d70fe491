// Package role holds what each role of the organization does when the engine
// hands it an issue: the PM plans, pick queues approved work, the developer
// drives its agent in the issue's worktree, the validator checks the exact
// commit that would be pushed, merge merges what a human approved, and E2E
// runs the end-to-end command on the merged target branch.
//
// Roles never talk to each other. Each reads the tracker and the event log,
// does its job, and returns an Outcome; the engine moves the labels.
package role

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/dblock"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/transcript/capped"
	"github.com/agentorg/agentorg/workflow"
	"github.com/agentorg/agentorg/workspace"
)

// Deps is everything a role may use. The engine builds it once.
type Deps struct {
	Workflow *workflow.Workflow
	Tracker  agentorg.Tracker
	Log      *eventlog.Log
	// Agents maps a workflow agent name to its adapter.
	Agents map[string]agentorg.Agent
	Mirror *workspace.Mirror
	// Home is the state directory: worktrees/, checkouts/, runs/ live here.
	Home     string
	Identity workspace.Identity
	// AgentEnv returns the environment an agent runs with, built from
	// scratch (no tracker token, only what the workflow passes on).
	AgentEnv func(a *workflow.Agent) []string
	// CheckEnv is the environment checks and the E2E command run with.
	CheckEnv []string
	// CINoPipeline is how long the ci role and auto-merge wait for a
	// pipeline to appear. Zero: DefaultCINoPipeline.
	CINoPipeline time.Duration
	// Guard, when set, runs before each merge train: it makes the mirror
	// agentorg's alone again and checks that the origin holds nothing
	// agentorg has not seen (an error stops the merge).
	Guard func(ctx context.Context) error
	// Owners, when set, keeps this home's hands off worktrees and branches
	// another home left (issueWorktree, push).
	Owners *homedir.Owners
	// TranscriptMax caps each run's transcript, in bytes (0: 32 MiB).
	TranscriptMax int64
	// Confine is what the kernel leaves agents, checks and the E2E command
	// (docs/lifecycle.md I10) besides their own directory: Hidden (the
	// home, a local origin, the humans' credentials), Readable exceptions
	// inside it (the mirror's objects), and Writable for every run (the Go
	// caches). nil runs them unconfined (the workflow's confinement: off).
	Confine *agentorg.Confinement
	// Metrics, when set, is told of verdicts, agent runs, merge trains and
	// E2E results (a nil one records nothing).
	Metrics *metrics.Metrics
	// Wake, set by the engine, makes the stage runs that wait for a person
	// run again at the next poll: E2E recovery calls it when the target
	// opens, which the merges and E2E runs waiting for it are told of no
	// other way.
	Wake func()
	// Locker takes the locks that make runs take turns across every worker
	// of the organization: merge runs per target branch ("merge:<target>")
	// and E2E runs ("e2e:<target>"). Workers on one database share them
	// through it (dblock.Postgres). nil: locks shared by this process only
	// (one per process, as a home on SQLite has one engine).
	Locker dblock.Locker
}

// processLocks are the locks of a Deps with no Locker: shared by every Deps
// of the process, so that engines and tests in one process take turns as
// they always did.
var processLocks = dblock.Local()

// lock takes the named lock of d's Locker (see Deps.Locker), waiting for it
// until ctx ends.
func (d *Deps) lock(ctx context.Context, name string) (unlock func(), err error) {
	if d.Locker == nil {
		return processLocks.Lock(ctx, name)
	}
	return d.Locker.Lock(ctx, name)
}

// Run is one stage run on one issue.
type Run struct {
	ID    string // unique per run; names transcripts and events
	Stage *workflow.Stage
	Issue agentorg.Issue
	// OnStart receives the process group of an agent or check the run
	// starts, so that the engine can kill it if the engine itself dies.
	OnStart func(pgid int)
}

// Outcome says where the issue goes after a run.
type Outcome struct {
	// To is the label the issue moves to; "" means the stage's Success.
	To     string
	Reason string
	// External is the time spent waiting on agents, checks and the E2E
	// command: what the orchestrator does not control. The engine reports
	// the rest as its own time.
	External time.Duration
	// Wait says the stage is not done yet and something outside the
	// organization will finish it (GitLab's auto-merge) or must change
	// first (a busy target): the labels stay, no worker is held, and the
	// stage runs again on a later poll.
	Wait bool
	// ForHuman, with Wait, says that what must change is up to a person
	// (commit or stash the changes in a working tree), so a one-shot run
	// (serve --once) leaves the issue at rest instead of polling for it.
	ForHuman bool
	// Watch, with Wait, says what the stage waits for, so that a poll runs
	// it again only once that changed rather than every time.
	Watch *Watch
}

// Watch is what a waiting stage run waits for. The engine runs the stage
// again when the issue changed, or any of these did (a changed merge
// request, another pipeline status, the deadline). On a shared database
// the engine keeps it as JSON, so that any worker's poll reads it.
type Watch struct {
	// MR is the merge request whose change wakes the stage; 0 for none.
	MR int64 `json:"mr,omitempty"`
	// SHA is the commit whose pipeline the stage waits on ("": none), and
	// Pipeline the status it last saw ("" when there was no pipeline).
	SHA      string `json:"sha,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
	// Until wakes the stage at the latest (a grace period ends); zero for
	// no deadline.
	Until time.Time `json:"until,omitzero"`
}

// Role is one job of the organization.
type Role interface {
	Run(ctx context.Context, d *Deps, r *Run) (Outcome, error)
}

// For returns the role with the given name, or nil.
func For(name string) Role {
	switch name {
	case agentorg.RolePM:
		return pm{}
	case agentorg.RolePick:
		return pick{}
	case agentorg.RoleDeveloper:
		return developer{}
	case agentorg.RoleValidator:
		return validator{}
	case agentorg.RoleMerge:
		return merge{}
	case agentorg.RoleE2E:
		return e2e{}
	case agentorg.RoleCI:
		return ci{}
	case agentorg.RoleTriage:
		return triager{}
	case agentorg.RoleAutoApprove:
		return autoApprove{}
	case agentorg.RoleRelease:
		return releaser{}
	case agentorg.RolePublish:
		return publisher{}
	case agentorg.RoleDeploy:
		return deployer{}
	}
	return nil
}

// WorktreePath is the stable worktree of an issue: every attempt of the
// developer runs there, because a resumed agent session expects its own
// earlier edits, and some CLIs resume only from the directory they started in.
func WorktreePath(home string, issue int64) string {
	return filepath.Join(home, "worktrees", fmt.Sprintf("issue-%d", issue))
}

// TranscriptPath is where a run's raw agent output is kept.
func TranscriptPath(home, runID string) string {
	return filepath.Join(home, "runs", runID+".log")
}

// CheckoutsDir holds the clean checkouts runs work in (plans, validations,
// merge trains, E2E, triage): slots under slots/, each leased to one run at
// a time and brought to its commit, kept for the next run rather than
// removed when the run ends (see workspace.Mirror.Lease).
func CheckoutsDir(home string) string { return filepath.Join(home, "checkouts") }

// slotsDir is the pool of checkout slots.
func slotsDir(home string) string { return filepath.Join(CheckoutsDir(home), "slots") }

// checkout leases a clean detached checkout of sha for a run: its own until
// release.
func (d *Deps) checkout(ctx context.Context, sha string) (dir string, release func() error, err error) {
	return d.Mirror.Lease(ctx, slotsDir(d.Home), sha)
}

// TempRoot holds the confined runs' own temporary directories.
func TempRoot(home string) string { return filepath.Join(home, "tmp") }

// RemoveLeftoverCheckouts removes the checkouts a killed engine left behind:
// its slots (dirty, and leased perhaps), the per-run checkouts of earlier
// versions, and its runs' temporary directories. Call it only when no run
// is active (at engine start, under the home lock).
func RemoveLeftoverCheckouts(ctx context.Context, d *Deps) error {
	if err := os.RemoveAll(TempRoot(d.Home)); err != nil {
		return fmt.Errorf("remove leftover temporary directories: %w", err)
	}
	if err := d.Mirror.RemoveLeftovers(ctx); err != nil {
		return err
	}
	entries, err := os.ReadDir(CheckoutsDir(d.Home))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		p := filepath.Join(CheckoutsDir(d.Home), e.Name())
		if p == slotsDir(d.Home) {
			err = d.Mirror.RemoveIdleSlots(ctx, p)
		} else {
			err = d.Mirror.RemoveWorktree(ctx, p)
		}
		if err != nil {
			return fmt.Errorf("remove leftover checkout %s: %w", e.Name(), err)
		}
	}
	return nil
}

// RemoveIdleCheckouts removes the checkout slots no run holds, so that an
// engine at rest leaves no checkouts behind. Call it when the engine stops.
func RemoveIdleCheckouts(ctx context.Context, d *Deps) error {
	return d.Mirror.RemoveIdleSlots(ctx, slotsDir(d.Home))
}

// openTranscript opens a run's transcript for appending, capped at
// d.TranscriptMax: past it, the middle is cut, keeping the head and the
// tail.
func (d *Deps) openTranscript(runID string) (*capped.File, error) {
	p := TranscriptPath(d.Home, runID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return capped.Open(p, d.TranscriptMax)
}

// Plan returns the approved plan of an issue: the body of the PM's plan
// comment, without its marker.
func Plan(ctx context.Context, t agentorg.Tracker, issue int64) (string, error) {
	cs, err := t.Comments(ctx, issue)
	if err != nil {
		return "", err
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if agentorg.HasMarker(cs[i].Body, PlanKey(issue)) {
			return planText(cs[i].Body, issue), nil
		}
	}
	return "", nil
}

// planText is the plan a plan comment holds, without its heading and the
// footer for humans (how to approve, the session), which are not the
// plan's and must not reach the agents.
func planText(body string, issue int64) string {
	if before, _, ok := strings.Cut(body, agentorg.Marker(planFooterKey)); ok {
		body = before
	} else if i := strings.LastIndex(body, "\n_Session "); i >= 0 {
		body = body[:i] // a plan posted before the footer had its marker
	}
	body = strings.TrimSpace(agentorg.StripMarkers(body))
	return strings.TrimSpace(strings.TrimPrefix(body, strings.TrimSpace(planHeading(issue))))
}

func planHeading(issue int64) string { return fmt.Sprintf("## Plan for #%d\n\n", issue) }

// planFooterKey marks where a plan comment's footer for humans starts.
const planFooterKey = "plan-footer"

// PlanKey is the marker key of an issue's plan comment.
func PlanKey(issue int64) string { return agentorg.PlanKey(issue) }

// Feedback returns the newest human feedback on an issue, or "": the words
// people wrote after the engine last spoke (on a forge, a rejection is a
// plain comment and a label), else the newest comment marked as feedback
// (a rejection through agentorg, a CI failure report). Before the engine
// has said anything there is nothing to answer, so nothing counts.
func Feedback(ctx context.Context, t agentorg.Tracker, issue int64) (string, error) {
	cs, err := t.Comments(ctx, issue)
	if err != nil {
		return "", err
	}
	var lastMarked time.Time
	feedback := -1
	for i, c := range cs {
		if agentorg.StripMarkers(c.Body) == c.Body {
			continue // a person's plain comment
		}
		if c.UpdatedAt.After(lastMarked) {
			lastMarked = c.UpdatedAt
		}
		if agentorg.HasMarker(c.Body, agentorg.FeedbackKey) && (feedback < 0 || !c.UpdatedAt.Before(cs[feedback].UpdatedAt)) {
			feedback = i
		}
	}
	if lastMarked.IsZero() {
		return "", nil
	}
	var words []string
	for _, c := range cs {
		if agentorg.StripMarkers(c.Body) == c.Body && c.CreatedAt.After(lastMarked) {
			words = append(words, strings.TrimSpace(c.Body))
		}
	}
	if len(words) > 0 {
		return strings.Join(words, "\n\n"), nil
	}
	if feedback >= 0 {
		return strings.TrimSpace(agentorg.StripMarkers(cs[feedback].Body)), nil
	}
	return "", nil
}

func promptData(d *Deps, r *Run, attempt int) workflow.PromptData {
	return workflow.PromptData{
		Issue: workflow.PromptIssue{
			Number: r.Issue.Number,
			Title:  r.Issue.Title,
			Body:   r.Issue.Body,
			Labels: r.Issue.Labels,
		},
		Repo: workflow.PromptRepo{
			TargetBranch: d.Workflow.Repo.TargetBranch,
			Branch:       d.Workflow.Branch(r.Issue.Number),
		},
		Role:    r.Stage.Role,
		Attempt: attempt,
	}
}

func (d *Deps) agent(r *Run) (agentorg.Agent, *workflow.Agent, error) {
	def := d.Workflow.Agent(r.Stage.Agent)
	if def == nil {
		return nil, nil, fmt.Errorf("stage %s: agent %q is not defined", r.Stage.Name, r.Stage.Agent)
	}
	// Refused here, before any work, so that every role that runs an agent
	// says which variable to set rather than failing inside the tool.
	if problem, fix := def.Unready(); problem != "" {
		return nil, nil, Permanent(fmt.Errorf("stage %s: %s: %s", r.Stage.Name, problem, fix))
	}
	a := d.Agents[def.Name]
	if a == nil {
		return nil, nil, Permanent(fmt.Errorf("stage %s: agent %q has no adapter", r.Stage.Name, def.Name))
	}
	return a, def, nil
}

// ErrPermanent marks a failure no retry can fix (an agent whose variable
// is not set): the engine hands the issue to a human at once instead of
// trying the stage again. Mark one with Permanent.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as a failure no retry can fix; its message is err's.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (p permanentError) Unwrap() error        { return p.error }
func (p permanentError) Is(target error) bool { return target == ErrPermanent }

func (d *Deps) targetRef() string {
	return "refs/remotes/origin/" + d.Workflow.Repo.TargetBranch
}

// pick moves approved work into the developers' queue. It has no agent: it
// is the article's "Pick" step, where the engine's per-stage concurrency
// decides how much work is in flight.
type pick struct{}

func (pick) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	return Outcome{Reason: "plan approved; queued for a developer"}, nil
}
