package agentorg

import (
	"context"
	"errors"
	"io"
	"time"
)

// Role names. The workflow may name its own stages, but every stage runs one
// of these roles.
const (
	RolePM        = "pm"
	RolePick      = "pick"
	RoleDeveloper = "developer"
	RoleValidator = "validator"
	RoleMerge     = "merge"
	RoleE2E       = "e2e"
	// RoleCI waits for the forge's pipeline on the merge request's head;
	// a failure goes back to the developer with the failed jobs' logs.
	RoleCI = "ci"
	// RoleTriage classifies the review threads of a merge request and sends
	// what must change to the developer's same session.
	RoleTriage = "triage"
	// RoleAutoApprove approves a merge request by a gate's auto_approve
	// rules. The workflow adds its stage itself, on the gate's waits label
	// (workflow.AutoApproveStage); no workflow file names it.
	RoleAutoApprove = "auto-approve"
	// RoleRelease writes a release's notes and proposes its version (a
	// read-only agent); RolePublish tags the approved release and updates
	// the changelog; RoleDeploy deploys it to the workflow's environments,
	// in order. The workflow adds their stages itself when it has a
	// release section (workflow.StageRelease and the like); no workflow
	// file names them.
	RoleRelease = "release"
	RolePublish = "publish"
	RoleDeploy  = "deploy"
)

// Access is what an agent may do in its directory.
type Access string

const (
	ReadOnly  Access = "read-only"
	ReadWrite Access = "read-write"
)

// Task is one agent run: a prompt for a role on an issue, in a directory.
type Task struct {
	Role    string
	Issue   int64
	Attempt int
	Dir     string // working directory; the agent may touch nothing outside it
	Prompt  string
	Access  Access
	// Env is the environment the agent sees, built from scratch by the
	// caller: no tracker token, no secret the workflow does not pass on.
	Env []string
	// Transcript receives the agent's raw output as it runs (may be nil).
	Transcript io.Writer
	// Timeout bounds the whole run; StallTimeout bounds silence on stdout.
	// Zero means no bound.
	Timeout      time.Duration
	StallTimeout time.Duration
	// OnStart, if set, is called with the process group id of the agent's
	// process, so that the engine can kill it should the engine itself die.
	OnStart func(pgid int)
	// SessionUsage is what the earlier runs of the resumed session consumed,
	// summed (zero on Start). Adapters of tools that report a session's
	// running total (Codex's tokens, Claude Code's cost) subtract it, so that
	// Result.Usage is always this run's alone.
	SessionUsage Usage
	// Input is the task's inputs in a structured form (JSON) for the roles
	// that judge (validator: the criteria to judge, the checks, the diff;
	// triage: the threads), besides the prose of the prompt; nil for the
	// others. The command agent gives it as a file (AGENTORG_INPUT).
	Input []byte
	// Confine, when set, has the kernel hold the agent's processes (and
	// everything they start) to it: adapters add their tool's state
	// directories to Writable and run the tool through package sandbox.
	// nil runs the agent unconfined (the workflow's confinement: off).
	Confine *Confinement
}

// Confinement is what an agent's processes may touch, as absolute paths
// (package sandbox applies it). Everything not Hidden stays readable;
// only Writable may be written, and nothing they start outlives the run.
type Confinement struct {
	// Hidden can be neither read nor written: the agentorg home, a local
	// origin, the humans' credentials.
	Hidden []string
	// Readable are read-only exceptions inside Hidden: a read-only run's
	// own checkout, the mirror's objects.
	Readable []string
	// Writable may be written: a read-write run's worktree, the Go caches.
	Writable []string
	// TempRoot is where each run's own TMPDIR is made; "" means the
	// system's. The engine clears it at start: a killed run's is left.
	TempRoot string
}

// Usage is what a run consumed, as far as the agent reports it.
type Usage struct {
	InputTokens  int64   `json:"input_tokens"`
	CachedTokens int64   `json:"cached_tokens,omitempty"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd,omitempty"`
}

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		InputTokens:  u.InputTokens + o.InputTokens,
		CachedTokens: u.CachedTokens + o.CachedTokens,
		OutputTokens: u.OutputTokens + o.OutputTokens,
		CostUSD:      u.CostUSD + o.CostUSD,
	}
}

// Result is what an agent run produced.
type Result struct {
	// SessionID identifies the agent's conversation; Resume continues it.
	SessionID string `json:"session_id"`
	// Summary is the agent's final message (for the PM, the plan).
	Summary string `json:"summary"`
	Usage   Usage  `json:"usage"`
}

// ErrAgent wraps failures reported by the agent itself (an error result, a
// non-zero exit, a timeout), as opposed to failures to start it.
var ErrAgent = errors.New("agent failed")

// Agent drives one kind of coding agent. Start begins a new session; Resume
// continues an earlier one with a new prompt, in the same directory, so that
// the agent sees its own earlier edits and conversation.
type Agent interface {
	Start(ctx context.Context, t Task) (Result, error)
	Resume(ctx context.Context, session string, t Task) (Result, error)
}

// Probe is what `agentorg agents` reports about an agent's executable.
type Probe struct {
	Path    string `json:"path,omitempty"`    // the executable found; "" when missing
	Version string `json:"version,omitempty"` // as the tool reports it
	// Problem says why the agent cannot be used as configured ("" when it
	// can); Fix is one line telling the user what to do about it.
	Problem string `json:"problem,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// Prober is implemented by agents that can check their own installation:
// that the executable exists and its version supports the flags used. env
// is the environment the agent would run with.
type Prober interface {
	Probe(ctx context.Context, env []string) Probe
}

// Sub returns u minus o, floored at zero, for tools that report running
// totals.
func (u Usage) Sub(o Usage) Usage {
	sub := func(a, b int64) int64 { return max(a-b, 0) }
	return Usage{
		InputTokens:  sub(u.InputTokens, o.InputTokens),
		CachedTokens: sub(u.CachedTokens, o.CachedTokens),
		OutputTokens: sub(u.OutputTokens, o.OutputTokens),
		CostUSD:      max(u.CostUSD-o.CostUSD, 0),
	}
}
