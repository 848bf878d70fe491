package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

// issueKey is the marker key that records a merge request's issue in its
// description (GitLab merge requests have no issue field).
func issueKey(n int64) string { return "issue:" + strconv.FormatInt(n, 10) }

var issueMarkerRE = regexp.MustCompile(`<!-- agentorg:issue:(\d+) -->`)

func (t *Tracker) mr(ctx context.Context, g *gl.BasicMergeRequest) agentorg.MergeRequest {
	m := agentorg.MergeRequest{
		Number: g.IID, Title: g.Title, Description: agentorg.StripMarkers(g.Description),
		SourceBranch: g.SourceBranch, TargetBranch: g.TargetBranch, HeadSHA: g.SHA,
		State: agentorg.MROpen, Approvals: []agentorg.Approval{},
		Author: t.name(ctx, userName(g.Author)), CreatedAt: tm(g.CreatedAt), UpdatedAt: tm(g.UpdatedAt),
		AutoMerge: g.MergeWhenPipelineSucceeds && g.State == "opened",
	}
	if mm := issueMarkerRE.FindStringSubmatch(g.Description); mm != nil {
		m.Issue, _ = strconv.ParseInt(mm[1], 10, 64)
	}
	switch g.State {
	case "merged":
		m.State = agentorg.MRMerged
		m.MergeSHA = g.MergeCommitSHA
		if m.MergeSHA == "" {
			m.MergeSHA = g.SquashCommitSHA
		}
		by := g.MergeUser
		if by == nil {
			by = g.MergedBy
		}
		m.MergedBy = t.name(ctx, userName(by))
	case "closed":
		m.State = agentorg.MRClosed
	}
	return m
}

// approvalsDoc is the part of GET .../approvals the tracker reads. approved_at
// is decoded here because client-go v1.46 does not carry it.
type approvalsDoc struct {
	ApprovedBy []struct {
		User       gl.BasicUser `json:"user"`
		ApprovedAt *time.Time   `json:"approved_at"`
	} `json:"approved_by"`
}

// approvals reads who approved a merge request and, from its diff versions,
// at which head each approval was given: the head of the newest version
// created at or before the approval. An approval without a time is taken to
// be at the first version, so it never counts after a push (the safe side).
func (t *Tracker) approvals(ctx context.Context, m *agentorg.MergeRequest) error {
	path := fmt.Sprintf("projects/%s/merge_requests/%d/approvals", gl.PathEscape(t.project), m.Number)
	req, err := t.c.NewRequest(http.MethodGet, path, nil, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return err
	}
	var doc approvalsDoc
	if _, err := t.c.Do(req, &doc); err != nil {
		return wrap(err, fmt.Sprintf("gitlab: merge request !%d: approvals", m.Number))
	}
	m.Approvals = []agentorg.Approval{}
	if len(doc.ApprovedBy) == 0 {
		return nil
	}
	versions, _, err := t.c.MergeRequests.GetMergeRequestDiffVersions(t.project, m.Number, nil, gl.WithContext(ctx))
	if err != nil {
		return wrap(err, fmt.Sprintf("gitlab: merge request !%d: versions", m.Number))
	}
	sort.Slice(versions, func(i, j int) bool {
		a, b := tm(versions[i].CreatedAt), tm(versions[j].CreatedAt)
		if !a.Equal(b) {
			return a.Before(b)
		}
		return versions[i].ID < versions[j].ID
	})
	for _, a := range doc.ApprovedBy {
		at := tm(a.ApprovedAt)
		sha := ""
		for _, v := range versions {
			if sha == "" || (!at.IsZero() && !tm(v.CreatedAt).After(at)) {
				sha = v.HeadCommitSHA
			}
		}
		m.Approvals = append(m.Approvals, agentorg.Approval{User: t.name(ctx, a.User.Username), SHA: sha, At: at})
	}
	return nil
}

// MR reads a merge request with its approvals.
func (t *Tracker) MR(ctx context.Context, number int64) (agentorg.MergeRequest, error) {
	g, _, err := t.c.MergeRequests.GetMergeRequest(t.project, number, nil, gl.WithContext(ctx))
	if err != nil {
		return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d", number))
	}
	m := t.mr(ctx, &g.BasicMergeRequest)
	return m, t.approvals(ctx, &m)
}

// ListMRs lists merge requests by number; state and branches are filtered
// by GitLab, the issue here (it lives in the description).
func (t *Tracker) ListMRs(ctx context.Context, f agentorg.MRFilter) ([]agentorg.MergeRequest, error) {
	opt := &gl.ListProjectMergeRequestsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
		OrderBy: ptr("created_at"), Sort: ptr("asc")}
	switch f.State {
	case "":
	case agentorg.MROpen, agentorg.MRMerged, agentorg.MRClosed:
		opt.State = ptr(string(f.State))
	default:
		return nil, fmt.Errorf("gitlab: list merge requests: unknown state %q", f.State)
	}
	if f.SourceBranch != "" {
		opt.SourceBranch = &f.SourceBranch
	}
	if f.TargetBranch != "" {
		opt.TargetBranch = &f.TargetBranch
	}
	out := []agentorg.MergeRequest{}
	for {
		page, resp, err := t.c.MergeRequests.ListProjectMergeRequests(t.project, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(err, "gitlab: list merge requests")
		}
		for _, g := range page {
			if m := t.mr(ctx, g); f.Issue == 0 || m.Issue == f.Issue {
				out = append(out, m)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	slices.SortFunc(out, func(a, b agentorg.MergeRequest) int { return int(a.Number - b.Number) })
	for i := range out {
		if err := t.approvals(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CreateMR returns the open merge request from the same source into the same
// target if there is one, else opens one. GitLab answers 409 to a second
// open merge request for the same branches (a create whose first answer was
// lost, another process), which is read as "it exists": find it again.
func (t *Tracker) CreateMR(ctx context.Context, in agentorg.NewMR) (agentorg.MergeRequest, error) {
	switch {
	case in.SourceBranch == "" || in.TargetBranch == "" || in.HeadSHA == "":
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: create merge request: source branch, target branch and head SHA are required (got %q, %q, %q)",
			in.SourceBranch, in.TargetBranch, in.HeadSHA)
	case in.SourceBranch == in.TargetBranch:
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: create merge request: source and target are both %q", in.SourceBranch)
	}
	find := func() (agentorg.MergeRequest, bool, error) {
		mrs, err := t.ListMRs(ctx, agentorg.MRFilter{State: agentorg.MROpen, SourceBranch: in.SourceBranch, TargetBranch: in.TargetBranch})
		if err != nil || len(mrs) == 0 {
			return agentorg.MergeRequest{}, false, err
		}
		return mrs[0], true, nil
	}
	if m, ok, err := find(); err != nil || ok {
		return m, err
	}
	if in.Issue != 0 {
		if _, err := t.Issue(ctx, in.Issue); err != nil {
			return agentorg.MergeRequest{}, fmt.Errorf("gitlab: create merge request: %w", err)
		}
	}
	opts, err := t.as(ctx, in.Author)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	desc := in.Description
	if in.Issue != 0 {
		desc = agentorg.Marker(issueKey(in.Issue)) + "\n" + desc
	}
	g, _, err := t.c.MergeRequests.CreateMergeRequest(t.project, &gl.CreateMergeRequestOptions{
		Title: &in.Title, Description: &desc, SourceBranch: &in.SourceBranch, TargetBranch: &in.TargetBranch,
	}, opts...)
	if status(err) == http.StatusConflict {
		if m, ok, ferr := find(); ferr != nil || ok {
			return m, ferr
		}
	}
	if err != nil {
		return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: create merge request %s into %s", in.SourceBranch, in.TargetBranch))
	}
	m := t.mr(ctx, &g.BasicMergeRequest)
	return m, t.approvals(ctx, &m)
}

// SetMRHead waits for GitLab to see the push of sha (it updates a merge
// request's head from the push itself, a moment later) and returns the
// merge request at that head.
func (t *Tracker) SetMRHead(ctx context.Context, number int64, sha string) (agentorg.MergeRequest, error) {
	if sha == "" {
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: set head: empty SHA", number)
	}
	wait := 100 * time.Millisecond
	for try := 0; ; try++ {
		m, err := t.MR(ctx, number)
		if err != nil {
			return m, err
		}
		if m.HeadSHA == sha {
			return m, nil
		}
		if m.State != agentorg.MROpen {
			return agentorg.MergeRequest{}, notOpen(m)
		}
		if try == 8 {
			return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: head is %s, still not the pushed %s", number, m.HeadSHA, sha)
		}
		select {
		case <-ctx.Done():
			return agentorg.MergeRequest{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func notOpen(m agentorg.MergeRequest) error {
	return fmt.Errorf("gitlab: merge request !%d is %s: %w", m.Number, m.State, agentorg.ErrNotMergeable)
}

// ApproveMR approves as user at the current head (GitLab's sha guard). An
// earlier approval by user at an older head is withdrawn first, since GitLab
// keeps approvals across pushes when the project does not reset them.
func (t *Tracker) ApproveMR(ctx context.Context, number int64, user string) (agentorg.MergeRequest, error) {
	if user == "" {
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: approve: empty user", number)
	}
	m, err := t.MR(ctx, number)
	if err != nil {
		return m, err
	}
	stale := false
	for _, a := range m.Approvals {
		if a.User == user && a.SHA == m.HeadSHA {
			return m, nil
		}
		stale = stale || a.User == user
	}
	if m.State != agentorg.MROpen {
		return agentorg.MergeRequest{}, notOpen(m)
	}
	opts, err := t.as(ctx, user)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	if stale {
		if _, err := t.c.MergeRequestApprovals.UnapproveMergeRequest(t.project, number, opts...); err != nil && status(err) != http.StatusNotFound {
			return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: withdraw %s's stale approval", number, user))
		}
	}
	_, _, err = t.c.MergeRequestApprovals.ApproveMergeRequest(t.project, number, &gl.ApproveMergeRequestOptions{SHA: &m.HeadSHA}, opts...)
	if status(err) == http.StatusConflict {
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: approve at %s: %w", number, m.HeadSHA, agentorg.ErrHeadMoved)
	}
	if err != nil {
		return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: approve as %s", number, user))
	}
	return t.MR(ctx, number)
}

// UnapproveMR withdraws user's approval, if any.
func (t *Tracker) UnapproveMR(ctx context.Context, number int64, user string) (agentorg.MergeRequest, error) {
	m, err := t.MR(ctx, number)
	if err != nil {
		return m, err
	}
	if !slices.ContainsFunc(m.Approvals, func(a agentorg.Approval) bool { return a.User == user }) {
		return m, nil
	}
	if m.State != agentorg.MROpen {
		return agentorg.MergeRequest{}, notOpen(m)
	}
	opts, err := t.as(ctx, user)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	if _, err := t.c.MergeRequestApprovals.UnapproveMergeRequest(t.project, number, opts...); err != nil && status(err) != http.StatusNotFound {
		return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: unapprove as %s", number, user))
	}
	return t.MR(ctx, number)
}

// MergeMR merges with GitLab's sha guard. A merged request is returned as it
// is. GitLab's refusals map to: 409 (the head moved) ErrHeadMoved; 405, 406
// or 422 with conflicts ErrConflict, otherwise ErrNotMergeable. While GitLab
// is still checking mergeability (405 with status checking/unchecked) the
// merge is tried again a few times.
func (t *Tracker) MergeMR(ctx context.Context, number int64, expectedSHA, actor string) (agentorg.MergeRequest, error) {
	m, err := t.MR(ctx, number)
	if err != nil {
		return m, err
	}
	if m.State == agentorg.MRMerged {
		return m, nil
	}
	if m.State != agentorg.MROpen {
		return agentorg.MergeRequest{}, notOpen(m)
	}
	if m.HeadSHA != expectedSHA {
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: head is %s, expected %q: %w", number, m.HeadSHA, expectedSHA, agentorg.ErrHeadMoved)
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	msg := fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\nMerge request !%d", m.SourceBranch, m.TargetBranch, m.Title, number)
	wait := 200 * time.Millisecond
	for try := 0; ; try++ {
		g, _, err := t.c.MergeRequests.AcceptMergeRequest(t.project, number,
			&gl.AcceptMergeRequestOptions{SHA: &expectedSHA, MergeCommitMessage: &msg}, opts...)
		if err == nil {
			out := t.mr(ctx, &g.BasicMergeRequest)
			return out, t.approvals(ctx, &out)
		}
		code := status(err)
		switch code {
		case http.StatusConflict:
			return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d at %s: %v: %w", number, expectedSHA, err, agentorg.ErrHeadMoved)
		case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnprocessableEntity:
		default:
			return agentorg.MergeRequest{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: merge", number))
		}
		cur, _, gerr := t.c.MergeRequests.GetMergeRequest(t.project, number, nil, gl.WithContext(ctx))
		if gerr != nil {
			return agentorg.MergeRequest{}, wrap(gerr, fmt.Sprintf("gitlab: merge request !%d", number))
		}
		switch {
		case cur.State == "merged": // a concurrent merge won
			out := t.mr(ctx, &cur.BasicMergeRequest)
			return out, t.approvals(ctx, &out)
		case cur.SHA != expectedSHA:
			return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: head moved to %s: %w", number, cur.SHA, agentorg.ErrHeadMoved)
		case cur.HasConflicts || cur.DetailedMergeStatus == "conflict":
			return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d: %v: %w", number, err, agentorg.ErrConflict)
		case (cur.DetailedMergeStatus == "checking" || cur.DetailedMergeStatus == "unchecked" ||
			cur.DetailedMergeStatus == "preparing") && try < 5:
			select {
			case <-ctx.Done():
				return agentorg.MergeRequest{}, ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
			continue
		}
		why := cur.DetailedMergeStatus
		if why == "" {
			why = strings.TrimSpace(err.Error())
		}
		return agentorg.MergeRequest{}, fmt.Errorf("gitlab: merge request !%d cannot merge (%s): %w", number, why, agentorg.ErrNotMergeable)
	}
}

// SetCheck records a check as the commit status named r.Name. GitLab keeps a
// description of at most 255 characters: the tail of the output. A commit
// GitLab does not have yet (validated, not pushed yet or never: a NO-GO)
// keeps its result in the home's database until it is pushed
// (PublishChecks) or Checks finds the commit on GitLab.
func (t *Tracker) SetCheck(ctx context.Context, r agentorg.CheckResult) error {
	if r.SHA == "" || r.Name == "" {
		return fmt.Errorf("gitlab: set check: SHA and name are required (got %q, %q)", r.SHA, r.Name)
	}
	if r.Status != agentorg.CheckPassed && r.Status != agentorg.CheckFailed {
		return fmt.Errorf("gitlab: set check %s: unknown status %q", r.Name, r.Status)
	}
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	err := t.publish(ctx, r)
	if errors.Is(err, agentorg.ErrNotFound) {
		doc, _ := json.Marshal(r)
		if _, err := t.db.ExecContext(ctx, `INSERT INTO gitlab_pending_checks (project, sha, name, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT (project, sha, name) DO UPDATE SET doc = excluded.doc`, t.project, r.SHA, r.Name, string(doc)); err != nil {
			return fmt.Errorf("gitlab: keep check %s of %s: %w", r.Name, r.SHA, err)
		}
		return nil
	}
	return err
}

func (t *Tracker) publish(ctx context.Context, r agentorg.CheckResult) error {
	state := gl.Success
	if r.Status == agentorg.CheckFailed {
		state = gl.Failed
	}
	desc := tail(r.Output, 255)
	_, _, err := t.c.Commits.SetCommitStatus(t.project, r.SHA, &gl.SetCommitStatusOptions{State: state, Name: &r.Name, Description: &desc},
		gl.WithContext(ctx))
	return wrap(err, fmt.Sprintf("gitlab: commit %s: set status %s", r.SHA, r.Name))
}

// pending returns the results kept for a commit GitLab did not have.
func (t *Tracker) pending(ctx context.Context, sha string) ([]agentorg.CheckResult, error) {
	rows, err := t.db.QueryContext(ctx, "SELECT doc FROM gitlab_pending_checks WHERE project = ? AND sha = ? ORDER BY name", t.project, sha)
	if err != nil {
		return nil, fmt.Errorf("gitlab: kept checks of %s: %w", sha, err)
	}
	defer rows.Close()
	var out []agentorg.CheckResult
	for rows.Next() {
		var doc string
		var r agentorg.CheckResult
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(doc), &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

var _ agentorg.CheckPublisher = (*Tracker)(nil)

// PublishChecks publishes the results kept while GitLab lacked sha, now
// that it was pushed. If GitLab still does not have it, they stay kept.
func (t *Tracker) PublishChecks(ctx context.Context, sha string) error {
	kept, err := t.pending(ctx, sha)
	if err != nil {
		return err
	}
	if err := t.publishKept(ctx, kept); err != nil && !errors.Is(err, agentorg.ErrNotFound) {
		return err
	}
	return nil
}

// publishKept publishes kept results and forgets each once GitLab has it.
func (t *Tracker) publishKept(ctx context.Context, kept []agentorg.CheckResult) error {
	for _, r := range kept {
		if err := t.publish(ctx, r); err != nil {
			return err
		}
		if _, err := t.db.ExecContext(ctx, "DELETE FROM gitlab_pending_checks WHERE project = ? AND sha = ? AND name = ?",
			t.project, r.SHA, r.Name); err != nil {
			return fmt.Errorf("gitlab: forget the kept check %s of %s: %w", r.Name, r.SHA, err)
		}
	}
	return nil
}

// Checks lists the latest finished status of each name on a commit, by name.
// Results kept while GitLab lacked the commit are published once it has it.
func (t *Tracker) Checks(ctx context.Context, sha string) ([]agentorg.CheckResult, error) {
	kept, err := t.pending(ctx, sha)
	if err != nil {
		return nil, err
	}
	latest := map[string]agentorg.CheckResult{}
	remote, err := t.statuses(ctx, sha)
	switch {
	case errors.Is(err, agentorg.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if err := t.publishKept(ctx, kept); err != nil {
			return nil, err
		}
		for _, r := range remote {
			latest[r.Name] = r
		}
	}
	for _, r := range kept {
		if old, ok := latest[r.Name]; !ok || !r.At.Before(old.At) {
			latest[r.Name] = r
		}
	}
	out := make([]agentorg.CheckResult, 0, len(latest))
	for _, r := range latest {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b agentorg.CheckResult) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// statuses reads GitLab's latest finished status of each name.
func (t *Tracker) statuses(ctx context.Context, sha string) ([]agentorg.CheckResult, error) {
	opt := &gl.GetCommitStatusesOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	latest := map[string]agentorg.CheckResult{}
	for {
		page, resp, err := t.c.Commits.GetCommitStatuses(t.project, sha, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(err, fmt.Sprintf("gitlab: commit %s: statuses", sha))
		}
		for _, s := range page {
			var st agentorg.CheckStatus
			switch s.Status {
			case "success":
				st = agentorg.CheckPassed
			case "failed", "canceled":
				st = agentorg.CheckFailed
			default:
				continue // still pending or running
			}
			r := agentorg.CheckResult{SHA: sha, Name: s.Name, Status: st, Output: s.Description, At: tm(s.CreatedAt)}
			if s.StartedAt != nil && s.FinishedAt != nil {
				r.Duration = s.FinishedAt.Sub(*s.StartedAt)
				r.At = tm(s.FinishedAt)
			}
			if old, ok := latest[s.Name]; !ok || !r.At.Before(old.At) {
				latest[s.Name] = r
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	out := make([]agentorg.CheckResult, 0, len(latest))
	for _, r := range latest {
		out = append(out, r)
	}
	return out, nil
}

// tail keeps the last max runes of s.
func tail(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[len(r)-max:])
}
