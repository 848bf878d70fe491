// Package workflow reads, validates and renders the repo-owned workflow file
// (.agentorg/workflow.yaml): the tracker, agents, stages, human gates,
// checks, the E2E command and one prompt template per role.
package workflow

import (
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
)

// DefaultPath is where a repository keeps its workflow, relative to its root.
const DefaultPath = ".agentorg/workflow.yaml"

// Workflow is the typed, validated view of a workflow file.
type Workflow struct {
	// Path is the file the workflow was read from ("" for built-in text).
	Path    string
	Version int
	Tracker Tracker
	Repo    Repo
	Labels  []Label
	Agents  []Agent
	Stages  []Stage
	Gates   []Gate
	Checks  []Check
	E2E     E2E
	Budget  Budget
	// Parallel says how issues in flight keep out of each other's way.
	Parallel Parallel
	Hygiene  Hygiene
	// OptIn is the label a human adds to opt an issue in: the entry of the
	// lifecycle.
	OptIn string
	// Escalation is the label set when the organization needs a human
	// (the loop stopped converging, a budget ran out, a stage kept failing).
	Escalation string
	// Prompts maps a prompt name (pm, developer, fix) to its Go template text.
	Prompts map[string]string
	// Warnings are what is wrong but stops nothing else: an agent's env
	// naming a variable that is not set (see Agent.MissingEnv).
	Warnings Problems
	// Confinement is ConfinementRequired (the default: agents, checks and
	// the E2E command run confined by the kernel, and the engine refuses
	// to start where it cannot confine them) or ConfinementOff.
	Confinement string
	// Discord is where the organization speaks to humans, and hears their
	// approvals in bot mode (zero value: nowhere but the tracker).
	Discord Discord
	// Release says how the organization releases what merged (nil: it
	// does not); its lifecycle's labels, stages and gate are among Labels,
	// Stages and Gates (see Release).
	Release *Release
	// Environments are where releases are deployed, in order (none without
	// Release).
	Environments []Environment
}

// Confinement settings.
const (
	ConfinementRequired = "required"
	ConfinementOff      = "off"
)

// Tracker says which coordination layer to use.
type Tracker struct {
	Kind string // "embedded" (default) or "gitlab"
	// Bot is the name the engine acts as in the tracker. Its own label
	// events never count as approvals.
	Bot    string
	GitLab GitLab
}

// GitLab holds the GitLab adapter's settings (values may be $ENV references,
// resolved at load time).
type GitLab struct {
	URL     string
	Project string
	Token   string
}

// Repo says which repository the organization works on.
type Repo struct {
	// URL of the origin: a path or a git URL. Relative paths are relative to
	// the repository that holds the workflow file; the default "." is that
	// repository itself.
	URL          string
	TargetBranch string // default "main"
	BranchPrefix string // default "agentorg/issue-"; the branch is prefix + issue number
}

// Label is one label of the workflow; stages and gates may only use labels
// defined here.
type Label struct {
	Name        string
	Color       string
	Description string
}

// Agent defines one agent the stages can name.
type Agent struct {
	Name    string
	Kind    string   // one of AgentKinds
	Command []string // argv for kind command
	// Binary is the CLI's executable for the CLI kinds ("" = the tool's own
	// name, found in PATH); Model and Args are passed to it.
	Binary string
	Model  string
	Args   []string
	// MaxTurns bounds the agent's turns per run (claude, openai; 0 = the
	// tool's default).
	MaxTurns int
	// BaseURL, APIKeyEnv and Commands configure the built-in openai agent:
	// its endpoint, the env variable holding its key, and the programs the
	// developer role may run.
	BaseURL   string
	APIKeyEnv string
	Commands  []string
	// Price turns reported tokens into cost when the tool reports none.
	Price Price
	// Env is passed to the agent on purpose; values may be $ENV references.
	// Nothing else from the engine's environment reaches an agent but PATH,
	// HOME, LANG and TMPDIR.
	Env map[string]string
	// Writable are paths the agent keeps state in besides its tool's own
	// (~/.codex and the like, which agentorg knows): a confined agent may
	// write there. "~/x" is under the agent's HOME, "$VAR/x" under a
	// variable of its environment; a path ending in / is a directory,
	// made when missing.
	Writable []string
	// MissingEnv names the variables env refers to that were not set when
	// the workflow was read. Such an agent cannot run (see Unready); the
	// rest of the workflow works.
	MissingEnv   []string
	Timeout      time.Duration // hard limit per run; 0 means the default (30m)
	StallTimeout time.Duration // limit on silence; 0 means the default (10m)
}

// Price is USD per million tokens.
type Price struct {
	Input, CachedInput, Output float64
}

// Cost is what u costs at p; cached input tokens are part of the input
// tokens and billed at CachedInput instead.
func (p Price) Cost(input, cached, output int64) float64 {
	fresh := max(input-cached, 0)
	return (float64(fresh)*p.Input + float64(cached)*p.CachedInput + float64(output)*p.Output) / 1e6
}

// Stage is an automated step: when an issue carries On, the stage's role
// runs on it, shows Running while it works, and moves the issue to Success or
// Failure.
type Stage struct {
	Name        string
	Role        string // one of the agentorg.Role* names
	Agent       string // name of an Agent; required for pm and developer
	On          string
	Running     string // optional
	Success     string
	Failure     string // optional: where failures go; default is Escalation
	Concurrency int    // jobs of this stage at once; default 1
	Timeout     time.Duration
	// AutoMerge, on a merge stage on GitLab, hands the merge to GitLab's
	// auto-merge while the head's pipeline runs: the stage comes back on
	// later polls until GitLab reports the merge request merged, and a
	// failed pipeline goes back to the developer like the ci role's.
	AutoMerge bool
}

// Gate is a human decision. While an issue carries Waits it waits for a
// human; Approve counts only when added by one of Approvers or, when
// MinAccessLevel is set, by a project member at that level or above (an
// approval by anyone else, or by the bot whatever its level, is removed with
// a comment). Reject sends the issue to the Reject label with the human's
// reason.
type Gate struct {
	Name      string
	Waits     string
	Approve   string
	Reject    string
	Approvers []string
	// MinAccessLevel, when set, also allows every project member at this
	// level or above (forges with project roles only: tracker kind gitlab).
	MinAccessLevel agentorg.AccessLevel
	// MergeRequest is true for a gate on a merge request: approvals are
	// recorded at the head SHA and void once new commits land.
	MergeRequest bool
	// ChangesRequested, on a merge request gate, is the label that asks
	// for changes: the engine sets it when an allowed reviewer's review
	// thread waits for an answer (a reviewer may also add it), and the
	// triage stage runs on it.
	ChangesRequested string
	// Reviewers are the users whose review threads are acted on; anyone
	// else's are at most shown to agents as quoted data. Default: Approvers.
	Reviewers []string
	// AutoApprove, on a merge request gate, lists the rules under which
	// agentorg approves without a human (nil: never).
	AutoApprove *AutoApprove
}

// AutoApprove is a merge request gate's automatic approval: an approval
// recorded as the rule that matched ("policy:docs-only"), never as a
// person, taking effect after Grace unless a human rejects the change or
// opens a review thread meanwhile. Changes to agentorg's own files, CI
// configuration or hygiene's denied paths are never approved this way,
// whatever the rules say.
type AutoApprove struct {
	// Grace is how long a human may still veto; default 10m, 0 when the
	// workflow says "0s".
	Grace time.Duration
	// MaxPerDay bounds the automatic approvals in any 24 hours, across
	// issues; default 10.
	MaxPerDay int
	// Rules are tried in order; the first that matches approves.
	Rules []ApproveRule
}

// ApproveRule is one named rule: the change is approved when Cond holds.
type ApproveRule struct {
	Name string // lower-case letters, digits and dashes; unique in the gate
	Cond Condition
}

// Condition is a tree of conditions on a validated change: exactly one
// field is set, All or Any (non-empty lists of conditions) or one leaf.
type Condition struct {
	All []Condition // every one holds
	Any []Condition // at least one holds
	// Paths: every changed path matches one of these globs (an empty
	// change matches none). NoPaths: no changed path matches any.
	Paths   []string
	NoPaths []string
	// MaxLines bounds the added + deleted lines, MaxFiles the changed
	// paths (both sides of a rename count).
	MaxLines int
	MaxFiles int
	// CriteriaByCommand: there is at least one acceptance criterion and
	// every one was met by a command, none only judged by the agent.
	CriteriaByCommand bool
	// FirstAttempt: the developer's first attempt got the GO.
	FirstAttempt bool
	// NoOpenThreads: no review thread waits for an answer.
	NoOpenThreads bool
	// Revert: the change is a revert agentorg opened after an E2E failure.
	Revert bool
}

// Check is one validation command, run with sh -c in a clean checkout of the
// commit under validation.
type Check struct {
	Name    string
	Run     string
	Timeout time.Duration // default 10m
}

// Parallel is how issues developed at the same time keep out of each
// other's way (docs/lifecycle.md, "Parallel work").
type Parallel struct {
	// Predict: two issues whose intents overlap do not develop at once;
	// the later waits at the developer's label until the first merges or
	// leaves. Dependencies ("depends on #N") are honoured either way.
	// Default true.
	Predict bool
	// ByPackage counts files in the same directory as an overlap.
	ByPackage bool
	// Overlap is what a developer's change touching a file another issue
	// in flight changes, which no plan predicted, does: OverlapWarn (the
	// default: recorded) or OverlapPause (the later issue waits at its
	// next attempt until the other merges or leaves).
	Overlap string
}

// Overlap choices.
const (
	OverlapWarn  = "warn"
	OverlapPause = "pause"
)

// E2E is the end-to-end command, run on the merged target branch.
type E2E struct {
	Run     string
	Timeout time.Duration // default 20m
	// Recovery is what a failure that a second run confirms does (one that
	// passes the second time is counted as flaky): RecoveryRevert (the
	// default), RecoveryClose or RecoveryOff.
	Recovery string
}

// E2E recoveries.
const (
	// RecoveryRevert closes the target to ordinary merges, finds the merge
	// that broke E2E by bisecting the target's first-parent history,
	// opens a revert of it as a change of its own (validated and approved
	// like any other), and sends the culprit's issue back to its developer.
	RecoveryRevert = "revert"
	// RecoveryClose closes the target and names the culprit, whose issue
	// goes back to its developer; only its fix may land until E2E passes.
	RecoveryClose = "close"
	// RecoveryOff sends the issue to the e2e stage's failure label.
	RecoveryOff = "off"
)

// Budget bounds the convergence loop. Zero WallTime, Tokens and CostUSD
// mean no limit.
type Budget struct {
	Attempts int // developer attempts per issue before escalation; default 3
	// StallAttempts: escalate when the distance has not fallen below its
	// best for this many attempts in a row; default 2.
	StallAttempts int
	WallTime      time.Duration // since the first attempt started
	Tokens        int           // input + output tokens the developer agent reported
	CostUSD       float64       // cost the developer agent reported
	// ReviewRounds caps the review-triage rounds per merge request before
	// escalation; default 3.
	ReviewRounds int
}

// Hygiene says what a change may touch before it is pushed. A violation is
// a NO-GO with the reason. Binary files, secret-looking text, submodules and
// commits agentorg did not make are always refused.
type Hygiene struct {
	Allow        []string // globs; empty allows every path
	Deny         []string // globs no changed path may match; nil: DefaultDeny
	MaxDiffLines int      // added + deleted lines
	MaxDiffBytes int      // bytes added
	MaxFileBytes int      // bytes added to one file
	MaxFiles     int      // files added, changed or deleted
	Symlinks     string   // hygiene.SymlinkPolicies
	Modes        string   // hygiene.ModePolicies
	// Junk are the new files the engine leaves out of its commits (listed
	// in the report); nil: hygiene.DefaultJunk for the repository's
	// ecosystems. JunkRefused lets them in instead, for the path rules
	// (deny) to refuse.
	Junk        []string
	JunkRefused bool
}

// Position is a place in the workflow file, 1-based.
type Position struct {
	Line   int
	Column int
}

// Unready says why the agent cannot run as the workflow was read, and the
// fix ("" and "" when it can): its env names variables that are not set.
// The same words serve a refused run, `agentorg check` and `agentorg agents`.
func (a *Agent) Unready() (problem, fix string) {
	if len(a.MissingEnv) == 0 {
		return "", ""
	}
	names := make([]string, len(a.MissingEnv))
	for i, n := range a.MissingEnv {
		names[i] = "$" + n
	}
	if len(names) == 1 {
		return fmt.Sprintf("agent %q needs %s, which is not set in agentorg's environment", a.Name, names[0]),
			"set it and restart agentorg serve"
	}
	return fmt.Sprintf("agent %q needs %s and %s, which are not set in agentorg's environment",
			a.Name, strings.Join(names[:len(names)-1], ", "), names[len(names)-1]),
		"set them and restart agentorg serve"
}
