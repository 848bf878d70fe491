package agentorg

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors every Tracker returns (wrapped is fine) so that callers can decide
// without knowing the adapter.
var (
	// ErrNotFound: the issue, merge request or comment does not exist.
	ErrNotFound = errors.New("not found")
	// ErrHeadMoved: a merge was refused because the merge request's head is no
	// longer the SHA the caller validated.
	ErrHeadMoved = errors.New("merge request head moved")
	// ErrConflict: the source branch does not merge cleanly into the target.
	ErrConflict = errors.New("merge conflict")
	// ErrNotMergeable: the merge request is closed or otherwise cannot merge.
	ErrNotMergeable = errors.New("merge request cannot be merged")
	// ErrUnavailable: the tracker cannot be reached or is overloaded (an
	// outage, 5xx or rate limits outlasting the adapter's own retries). It
	// says nothing about the work: the engine waits and tries the same step
	// again without counting it as a failure.
	ErrUnavailable = errors.New("tracker unavailable")
	// ErrTargetMoved: a merge was refused because the target branch is no
	// longer at the commit the caller validated the merge on.
	ErrTargetMoved = errors.New("target branch moved")
	// ErrTargetBusy: the target branch cannot take a merge now, for a reason
	// outside the change: the embedded forge's target is checked out in a
	// working tree with uncommitted changes, or in the middle of a rebase.
	// Nothing about the change is wrong: the merge waits, and what was
	// validated stays validated.
	ErrTargetBusy = errors.New("target branch busy")
)

// IssueState is open or closed.
type IssueState string

const (
	IssueOpen   IssueState = "open"
	IssueClosed IssueState = "closed"
)

// Issue is a unit of work. Its labels are the state of that work.
type Issue struct {
	Number    int64      `json:"number"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	State     IssueState `json:"state"`
	Labels    []string   `json:"labels"`
	Author    string     `json:"author"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// HasLabel reports whether the issue carries the label.
func (i Issue) HasLabel(name string) bool {
	for _, l := range i.Labels {
		if l == name {
			return true
		}
	}
	return false
}

// NewIssue is what CreateIssue needs.
type NewIssue struct {
	Title  string
	Body   string
	Labels []string
	Author string
}

// IssueFilter selects issues. Zero values select everything.
type IssueFilter struct {
	State        IssueState // "" for any state
	AnyLabel     []string   // issues carrying at least one of these; empty for any
	UpdatedAfter time.Time  // inclusive; zero for no bound
}

// LabelAction is what happened to a label.
type LabelAction string

const (
	LabelAdded   LabelAction = "add"
	LabelRemoved LabelAction = "remove"
)

// LabelEvent records who added or removed a label, and when. Approvals are
// judged from these, never from the label alone.
type LabelEvent struct {
	ID     int64       `json:"id"`
	Issue  int64       `json:"issue"`
	Label  string      `json:"label"`
	Action LabelAction `json:"action"`
	Actor  string      `json:"actor"`
	At     time.Time   `json:"at"`
}

// Comment is a note on an issue. Comments written by the engine carry a
// hidden marker (see Marker) so that they can be found and updated instead of
// duplicated.
type Comment struct {
	ID        int64     `json:"id"`
	Issue     int64     `json:"issue"`
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MRState is the state of a merge request.
type MRState string

const (
	MROpen   MRState = "opened"
	MRMerged MRState = "merged"
	MRClosed MRState = "closed"
)

// Approval of a merge request by a user at a given head SHA. An approval is
// void once the head moves past SHA.
type Approval struct {
	User string    `json:"user"`
	SHA  string    `json:"sha"`
	At   time.Time `json:"at"`
}

// MergeRequest is a review checkpoint: a source branch proposed into a target.
type MergeRequest struct {
	Number       int64      `json:"number"`
	Issue        int64      `json:"issue"`
	Title        string     `json:"title"`
	Description  string     `json:"description"`
	SourceBranch string     `json:"source_branch"`
	TargetBranch string     `json:"target_branch"`
	HeadSHA      string     `json:"head_sha"`
	State        MRState    `json:"state"`
	MergeSHA     string     `json:"merge_sha,omitempty"`
	MergedBy     string     `json:"merged_by,omitempty"`
	Approvals    []Approval `json:"approvals"`
	Author       string     `json:"author"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	// AutoMerge is set while the forge is to merge the request by itself
	// once its pipeline succeeds (see AutoMerger).
	AutoMerge bool `json:"auto_merge,omitempty"`
}

// ApprovedAtHead returns the approvals given at the current head SHA.
func (m MergeRequest) ApprovedAtHead() []Approval {
	var out []Approval
	for _, a := range m.Approvals {
		if a.SHA == m.HeadSHA {
			out = append(out, a)
		}
	}
	return out
}

// NewMR is what CreateMR needs.
type NewMR struct {
	Issue        int64
	Title        string
	Description  string
	SourceBranch string
	TargetBranch string
	HeadSHA      string
	Author       string
}

// MRFilter selects merge requests. Zero values select everything.
type MRFilter struct {
	State        MRState
	Issue        int64
	SourceBranch string
	TargetBranch string
}

// CheckStatus is the outcome of one check on one commit.
type CheckStatus string

const (
	CheckPassed CheckStatus = "passed"
	CheckFailed CheckStatus = "failed"
)

// CheckResult is the result of one named check on one commit SHA.
type CheckResult struct {
	SHA      string        `json:"sha"`
	Name     string        `json:"name"`
	Status   CheckStatus   `json:"status"`
	Output   string        `json:"output,omitempty"` // trimmed tail, never megabytes
	Duration time.Duration `json:"duration"`
	At       time.Time     `json:"at"`
}

// Tracker is the coordination layer: issues are work queues, labels are
// state, merge requests are review checkpoints. Every write names the actor
// who made it. Implementations must be safe for concurrent use.
//
// Contract (held by tracker/trackertest against every implementation):
//   - UpdateLabels is idempotent: adding a present label or removing an
//     absent one changes nothing and records no event.
//   - UpsertComment finds the comment whose body holds Marker(key) and
//     replaces its body, or creates one; it never creates two.
//   - CreateMR returns the existing open merge request for the same source
//     and target branch instead of opening a second one.
//   - MergeMR merges only when the head equals expectedSHA (ErrHeadMoved
//     otherwise); merging an already merged request returns it unchanged.
type Tracker interface {
	CreateIssue(ctx context.Context, in NewIssue) (Issue, error)
	Issue(ctx context.Context, number int64) (Issue, error)
	ListIssues(ctx context.Context, f IssueFilter) ([]Issue, error)
	CloseIssue(ctx context.Context, number int64, actor string) error
	// ReopenIssue opens a closed issue again (a merged change that E2E
	// found broken comes back to its developer); reopening an open issue
	// changes nothing.
	ReopenIssue(ctx context.Context, number int64, actor string) error
	// UpdateLabels adds and removes labels in one step and returns the issue
	// as it is afterwards.
	UpdateLabels(ctx context.Context, number int64, add, remove []string, actor string) (Issue, error)
	// LabelEvents lists the label events of an issue, oldest first.
	LabelEvents(ctx context.Context, number int64) ([]LabelEvent, error)

	// Comments lists the comments of an issue, oldest first.
	Comments(ctx context.Context, issue int64) ([]Comment, error)
	AddComment(ctx context.Context, issue int64, body, actor string) (Comment, error)
	UpsertComment(ctx context.Context, issue int64, key, body, actor string) (Comment, error)

	CreateMR(ctx context.Context, in NewMR) (MergeRequest, error)
	MR(ctx context.Context, number int64) (MergeRequest, error)
	ListMRs(ctx context.Context, f MRFilter) ([]MergeRequest, error)
	// SetMRHead records a new head SHA after a push (adapters whose server
	// learns the head from the push itself may only verify it).
	SetMRHead(ctx context.Context, number int64, sha string) (MergeRequest, error)
	ApproveMR(ctx context.Context, number int64, user string) (MergeRequest, error)
	UnapproveMR(ctx context.Context, number int64, user string) (MergeRequest, error)
	MergeMR(ctx context.Context, number int64, expectedSHA, actor string) (MergeRequest, error)

	// SetCheck records a check result for a commit; a second result for the
	// same (SHA, name) replaces the first.
	SetCheck(ctx context.Context, r CheckResult) error
	Checks(ctx context.Context, sha string) ([]CheckResult, error)
}

// Pipeline is the CI run of a forge on one commit.
type Pipeline struct {
	ID     int64  `json:"id"`
	SHA    string `json:"sha"`
	Status string `json:"status"` // the forge's word: running, success, failed, canceled, ...
	URL    string `json:"url,omitempty"`
	// Failed lists the jobs that failed, with the tail of their logs.
	Failed []PipelineJob `json:"failed,omitempty"`
}

// Pipeline statuses the engine acts on; anything else is still running.
const (
	PipelineSuccess = "success"
	PipelineFailed  = "failed"
)

// Finished reports whether the pipeline reached an end, and whether it
// passed. Canceled counts as failed; skipped and manual as passed: they
// block nothing.
func (p Pipeline) Finished() (done, passed bool) {
	switch p.Status {
	case PipelineSuccess, "skipped", "manual":
		return true, true
	case PipelineFailed, "canceled", "canceling":
		return true, false
	}
	return false, false
}

// PipelineJob is one job of a pipeline.
type PipelineJob struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Stage  string `json:"stage"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"` // the forge's failure reason
	URL    string `json:"url,omitempty"`
	// LogTail is the end of the job's log, trimmed, without terminal
	// escapes: what a developer needs to see why it failed.
	LogTail string `json:"log_tail,omitempty"`
}

// PipelineReader is implemented by trackers whose forge runs CI (GitLab).
// Pipeline returns the newest pipeline for sha, with its failed jobs when it
// failed, or an error wrapping ErrNotFound when there is none (yet).
type PipelineReader interface {
	Pipeline(ctx context.Context, sha string) (Pipeline, error)
}

// TargetGuardedMerger is a Tracker that can also refuse a merge when the
// target branch moved: MergeMRAt merges like MergeMR, but only onto
// expectedTarget (ErrTargetMoved otherwise), so that what lands is exactly
// the combination that was validated. Merging an already merged request
// returns it unchanged, whatever the target.
type TargetGuardedMerger interface {
	MergeMRAt(ctx context.Context, number int64, expectedSHA, expectedTarget, actor string) (MergeRequest, error)
}

// MergeMessage is the message of the commit that merges a merge request,
// the same whether the forge builds it or a merge train does.
func MergeMessage(source, target, title string, number int64) string {
	return fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\nMerge request !%d", source, target, title, number)
}

// TargetChecker is implemented by trackers whose forge may be unable to take
// a merge into a target for a reason outside the change (the embedded
// forge's target checked out in the user's working tree, with uncommitted
// changes). CheckTarget returns an error wrapping ErrTargetBusy that says
// why and what to do, so that the merge waits before any work is done,
// and a start-up check can say so before any work starts.
type TargetChecker interface {
	CheckTarget(ctx context.Context, target string) error
}

// CommitLander is a TargetGuardedMerger that can also land a merge commit
// the caller built and validated (a merge train's) instead of merging
// again: LandMR is MergeMRAt with the merge commit given, whose parents
// must be expectedTarget and expectedSHA, and whose objects the caller
// made sure the forge has. What lands is then the very commit that was
// validated. Landing an already merged request returns it unchanged.
type CommitLander interface {
	LandMR(ctx context.Context, number int64, expectedSHA, expectedTarget, commit, actor string) (MergeRequest, error)
}

// MRChanges is implemented by trackers that can say in one request which
// merge requests may have changed (GitLab: updated_after from a
// watermark), so that a poll reads a waiting merge request's approvals and
// threads only when it may have changed. Its one caller is the engine's
// poll: each call moves the watermark on.
type MRChanges interface {
	// ChangedMRs returns the merge requests that may have changed since
	// the previous call began, without approvals, by number. It may return
	// more (a change is reported by more than one call: the forge's clock
	// has whole seconds, and GitLab moves a merge request's updated_at for
	// a note at most once a minute); it never leaves out one that changed.
	// The first call returns every open merge request.
	ChangedMRs(ctx context.Context) ([]MergeRequest, error)
}

// CheckPublisher is implemented by trackers that keep the check results
// of a commit the forge does not have yet (GitLab: a status needs the
// commit). PublishChecks sends those of sha once it was pushed; results
// the forge still cannot take stay kept.
type CheckPublisher interface {
	PublishChecks(ctx context.Context, sha string) error
}
