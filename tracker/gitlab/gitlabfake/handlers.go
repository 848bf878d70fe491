package gitlabfake

import (
	"fmt"
	"net/http"
	"net/http/cgi"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// ---- payloads (the documented shapes, the fields a client reads) ----

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func (s *Server) userJSON(u *user) any {
	if u == nil {
		return nil
	}
	return map[string]any{"id": u.ID, "username": u.Username, "name": u.Username, "state": "active",
		"locked": false, "avatar_url": "", "web_url": s.URL + "/" + u.Username}
}

func (s *Server) issueJSON(i *issue) map[string]any {
	labels := i.Labels
	if labels == nil {
		labels = []string{}
	}
	return map[string]any{
		"id": i.ID, "iid": i.IID, "project_id": projectID, "title": i.Title, "description": i.Description,
		"state": i.State, "created_at": ts(i.Created), "updated_at": ts(i.Updated), "closed_at": tsp(i.Closed),
		"closed_by": nil, "labels": labels, "milestone": nil, "assignees": []any{}, "assignee": nil,
		"author": s.userJSON(i.Author), "type": "ISSUE", "issue_type": "issue", "user_notes_count": 0,
		"merge_requests_count": 0, "upvotes": 0, "downvotes": 0, "due_date": nil, "confidential": false,
		"discussion_locked": nil, "web_url": fmt.Sprintf("%s/%s/-/issues/%d", s.URL, s.ProjectPath, i.IID),
		"references": map[string]any{"short": fmt.Sprintf("#%d", i.IID), "relative": fmt.Sprintf("#%d", i.IID),
			"full": fmt.Sprintf("%s#%d", s.ProjectPath, i.IID)},
	}
}

func (s *Server) noteJSON(n *note) map[string]any {
	return map[string]any{
		"id": n.ID, "type": nil, "body": n.Body, "attachment": nil, "author": s.userJSON(n.Author),
		"created_at": ts(n.Created), "updated_at": ts(n.Updated), "system": n.System, "noteable_id": n.Issue.ID,
		"noteable_type": "Issue", "project_id": projectID, "noteable_iid": n.Issue.IID, "resolvable": false,
		"confidential": false, "internal": false,
	}
}

func (s *Server) mrJSON(m *mergeRequest) map[string]any {
	detailed, status := "mergeable", "can_be_merged"
	conflicts := false
	if m.State == "opened" {
		if _, ok := s.mergeTree(m); !ok {
			detailed, status, conflicts = "conflict", "cannot_be_merged", true
		}
	} else {
		detailed = "not_open"
	}
	return map[string]any{
		"id": m.ID, "iid": m.IID, "project_id": projectID, "title": m.Title, "description": m.Description,
		"state": m.State, "created_at": ts(m.Created), "updated_at": ts(m.Updated), "merged_at": tsp(m.Merged),
		"merge_user": s.userJSON(m.MergedBy), "merged_by": s.userJSON(m.MergedBy), "closed_at": nil, "closed_by": nil,
		"target_branch": m.Target, "source_branch": m.Source, "source_project_id": projectID, "target_project_id": projectID,
		"author": s.userJSON(m.Author), "assignees": []any{}, "reviewers": []any{}, "labels": []string{}, "draft": false,
		"work_in_progress": false, "merge_when_pipeline_succeeds": m.AutoMergeBy != nil, "merge_status": status,
		"detailed_merge_status": detailed, "has_conflicts": conflicts, "sha": m.SHA, "merge_commit_sha": nilIfEmpty(m.MergeSHA),
		"squash_commit_sha": nil, "should_remove_source_branch": nil, "force_remove_source_branch": false, "squash": false,
		"diff_refs":  s.diffRefs(m),
		"web_url":    fmt.Sprintf("%s/%s/-/merge_requests/%d", s.URL, s.ProjectPath, m.IID),
		"references": map[string]any{"short": fmt.Sprintf("!%d", m.IID)},
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ---- users and project ----

func (s *Server) currentUser(c *call) (int, any) {
	u := s.userJSON(c.actor).(map[string]any)
	u["is_admin"] = c.actor.Admin
	return 200, u
}

func (s *Server) getProject(c *call) (int, any) {
	level := s.level(c.actor)
	return 200, map[string]any{"id": projectID, "path_with_namespace": s.ProjectPath, "default_branch": "main",
		"http_url_to_repo": s.GitURL(), "web_url": s.URL + "/" + s.ProjectPath,
		"permissions": map[string]any{"project_access": map[string]any{"access_level": level, "notification_level": 3},
			"group_access": nil}}
}

func (s *Server) tokenSelf(c *call) (int, any) {
	return 200, map[string]any{"id": 1, "name": "agentorg", "revoked": false, "created_at": ts(s.now()), "scopes": s.Scopes,
		"user_id": c.actor.ID, "last_used_at": ts(s.now()), "active": true, "expires_at": nil}
}

func (s *Server) labelJSON(l *label) map[string]any {
	return map[string]any{"id": l.ID, "name": l.Name, "color": l.Color, "text_color": "#FFFFFF", "description": l.Descr,
		"description_html": l.Descr, "open_issues_count": 0, "closed_issues_count": 0, "open_merge_requests_count": 0,
		"subscribed": false, "priority": nil, "is_project_label": true}
}

func (s *Server) listLabels(c *call) (int, any) {
	var ls []*label
	for _, l := range s.labels {
		ls = append(ls, l)
	}
	sort.Slice(ls, func(a, b int) bool { return ls[a].Name < ls[b].Name })
	docs := []any{}
	for _, l := range paginate(c, ls) {
		docs = append(docs, s.labelJSON(l))
	}
	return 200, docs
}

func (s *Server) createLabel(c *call) (int, any) {
	name, _ := c.str("name")
	color, _ := c.str("color")
	if name == "" || color == "" {
		return 400, map[string]any{"error": "name, color are missing"}
	}
	if _, ok := s.labels[name]; ok {
		return msg(409, "Label already exists")
	}
	desc, _ := c.str("description")
	l := &label{ID: s.id(), Name: name, Color: color, Descr: desc}
	s.labels[name] = l
	return 201, s.labelJSON(l)
}

func (s *Server) updateLabel(c *call) (int, any) {
	id := c.r.PathValue("lid")
	for _, l := range s.labels {
		if fmt.Sprint(l.ID) == id || l.Name == id {
			if v, ok := c.str("color"); ok {
				l.Color = v
			}
			if v, ok := c.str("description"); ok {
				l.Descr = v
			}
			return 200, s.labelJSON(l)
		}
	}
	return notFound("Label")
}

func (s *Server) protectedBranch(c *call) (int, any) {
	name := c.r.PathValue("name")
	level, ok := s.Protected[name]
	if !ok {
		return notFound("")
	}
	return 200, map[string]any{"id": 1, "name": name, "allow_force_push": false, "code_owner_approval_required": false,
		"push_access_levels":  []any{map[string]any{"access_level": 40, "access_level_description": "Maintainers"}},
		"merge_access_levels": []any{map[string]any{"access_level": level, "access_level_description": fmt.Sprintf("level %d", level)}}}
}

// ---- issues ----

func (s *Server) findIssue(c *call) *issue {
	iid := c.path("iid")
	for _, i := range s.issues {
		if i.IID == iid {
			return i
		}
	}
	return nil
}

func (s *Server) listIssues(c *call) (int, any) {
	state, _ := c.str("state")
	want, _ := c.list("labels")
	after, ok := c.updatedAfter()
	if !ok {
		return 400, map[string]any{"error": "updated_after is invalid"}
	}
	var out []*issue
	for _, i := range s.issues {
		if state != "" && state != "all" && i.State != state {
			continue
		}
		if !after.IsZero() && i.Updated.Before(after) { // inclusive, as GitLab
			continue
		}
		if !all(want, func(l string) bool { return slices.Contains(i.Labels, l) }) {
			continue
		}
		out = append(out, i)
	}
	orderBy, _ := c.str("order_by")
	key := func(i *issue) time.Time { return i.Created }
	if orderBy == "updated_at" {
		key = func(i *issue) time.Time { return i.Updated }
	}
	asc := false
	if v, _ := c.str("sort"); v == "asc" {
		asc = true
	}
	sort.SliceStable(out, func(a, b int) bool {
		ka, kb := key(out[a]), key(out[b])
		if ka.Equal(kb) {
			return (out[a].ID < out[b].ID) == asc
		}
		return ka.Before(kb) == asc
	})
	var docs []any
	for _, i := range paginate(c, out) {
		docs = append(docs, s.issueJSON(i))
	}
	if docs == nil {
		docs = []any{}
	}
	return 200, docs
}

// updatedAfter reads the updated_after filter: zero when absent, ok false
// when it is not a time.
func (c *call) updatedAfter() (time.Time, bool) {
	v, ok := c.str("updated_after")
	if !ok {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

func all[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if !f(x) {
			return false
		}
	}
	return true
}

func (s *Server) getIssue(c *call) (int, any) {
	i := s.findIssue(c)
	if i == nil {
		return notFound("Issue")
	}
	return 200, s.issueJSON(i)
}

func (s *Server) label(name string) *label {
	l := s.labels[name]
	if l == nil {
		l = &label{ID: s.id(), Name: name, Color: "#6699cc"}
		s.labels[name] = l
	}
	return l
}

func (s *Server) setLabels(i *issue, add, remove []string, who *user, at time.Time) bool {
	changed := false
	for _, l := range remove {
		if k := slices.Index(i.Labels, l); k >= 0 {
			i.Labels = slices.Delete(i.Labels, k, k+1)
			s.events = append(s.events, &labelEvent{ID: s.id(), Issue: i, User: who, Label: s.label(l), Action: "remove", At: at})
			changed = true
		}
	}
	for _, l := range add {
		if !slices.Contains(i.Labels, l) {
			i.Labels = append(i.Labels, l)
			s.events = append(s.events, &labelEvent{ID: s.id(), Issue: i, User: who, Label: s.label(l), Action: "add", At: at})
			changed = true
		}
	}
	sort.Strings(i.Labels) // GitLab lists an issue's labels by name
	return changed
}

func (s *Server) createIssue(c *call) (int, any) {
	title, _ := c.str("title")
	if strings.TrimSpace(title) == "" {
		return 400, map[string]any{"error": "title is missing"}
	}
	desc, _ := c.str("description")
	t := s.now()
	var iid int64 = 1
	if len(s.issues) > 0 {
		iid = s.issues[len(s.issues)-1].IID + 1
	}
	i := &issue{ID: s.id(), IID: iid, Title: title, Description: desc, State: "opened", Author: c.actor, Created: t, Updated: t,
		Labels: []string{}}
	labels, _ := c.list("labels")
	s.setLabels(i, labels, nil, c.actor, t)
	s.issues = append(s.issues, i)
	return 201, s.issueJSON(i)
}

func (s *Server) updateIssue(c *call) (int, any) {
	i := s.findIssue(c)
	if i == nil {
		return notFound("Issue")
	}
	t := s.now()
	changed := false
	add, _ := c.list("add_labels")
	remove, _ := c.list("remove_labels")
	if set, ok := c.list("labels"); ok {
		for _, l := range i.Labels {
			if !slices.Contains(set, l) {
				remove = append(remove, l)
			}
		}
		add = append(add, set...)
	}
	if s.setLabels(i, add, remove, c.actor, t) {
		changed = true
	}
	if v, ok := c.str("title"); ok && v != i.Title {
		i.Title, changed = v, true
	}
	if v, ok := c.str("description"); ok && v != i.Description {
		i.Description, changed = v, true
	}
	switch ev, _ := c.str("state_event"); ev {
	case "close":
		if i.State != "closed" {
			i.State, i.Closed, changed = "closed", &t, true
			s.notes = append(s.notes, &note{ID: s.id(), Issue: i, Body: "closed", Author: c.actor, System: true, Created: t, Updated: t})
		}
	case "reopen":
		if i.State != "opened" {
			i.State, i.Closed, changed = "opened", nil, true
		}
	}
	if changed {
		i.Updated = t
	}
	return 200, s.issueJSON(i)
}

func (s *Server) listLabelEvents(c *call) (int, any) {
	i := s.findIssue(c)
	if i == nil {
		return notFound("Issue")
	}
	var out []any
	var evs []*labelEvent
	for _, e := range s.events {
		if e.Issue == i {
			evs = append(evs, e)
		}
	}
	for _, e := range paginate(c, evs) {
		out = append(out, map[string]any{"id": e.ID, "user": s.userJSON(e.User), "created_at": ts(e.At),
			"resource_type": "Issue", "resource_id": i.ID, "action": e.Action,
			"label": map[string]any{"id": e.Label.ID, "name": e.Label.Name, "color": e.Label.Color,
				"text_color": "#FFFFFF", "description": nilIfEmpty(e.Label.Descr)}})
	}
	if out == nil {
		out = []any{}
	}
	return 200, out
}

// ---- notes ----

func (s *Server) listNotes(c *call) (int, any) {
	i := s.findIssue(c)
	if i == nil {
		return notFound("Issue")
	}
	var ns []*note
	for _, n := range s.notes {
		if n.Issue == i {
			ns = append(ns, n)
		}
	}
	asc := false
	if v, _ := c.str("sort"); v == "asc" {
		asc = true
	}
	sort.SliceStable(ns, func(a, b int) bool { return (ns[a].ID < ns[b].ID) == asc })
	out := []any{}
	for _, n := range paginate(c, ns) {
		out = append(out, s.noteJSON(n))
	}
	return 200, out
}

func (s *Server) createNote(c *call) (int, any) {
	i := s.findIssue(c)
	if i == nil {
		return notFound("Issue")
	}
	body, _ := c.str("body")
	if body == "" {
		return 400, map[string]any{"error": "body is missing"}
	}
	t := s.now()
	n := &note{ID: s.id(), Issue: i, Body: body, Author: c.actor, Created: t, Updated: t}
	s.notes = append(s.notes, n)
	i.Updated = t // a note touches its issue
	return 201, s.noteJSON(n)
}

func (s *Server) findNote(c *call) *note {
	i := s.findIssue(c)
	id := c.path("nid")
	for _, n := range s.notes {
		if n.ID == id && n.Issue == i {
			return n
		}
	}
	return nil
}

func (s *Server) updateNote(c *call) (int, any) {
	n := s.findNote(c)
	if n == nil {
		return notFound("Note")
	}
	if n.Author != c.actor && !c.actor.Admin {
		return msg(403, "403 Forbidden")
	}
	body, _ := c.str("body")
	if body != n.Body {
		n.Body, n.Updated = body, s.now()
		n.Issue.Updated = n.Updated
	}
	return 200, s.noteJSON(n)
}

func (s *Server) deleteNote(c *call) (int, any) {
	n := s.findNote(c)
	if n == nil {
		return notFound("Note")
	}
	s.notes = slices.DeleteFunc(s.notes, func(x *note) bool { return x == n })
	return 204, nil
}

// ---- merge requests ----

// refresh notices a push to an open merge request's source branch, as
// GitLab does after a push: a new diff version, and approvals reset if the
// project says so.
func (s *Server) refresh(m *mergeRequest) {
	if m.State != "opened" {
		return
	}
	h := s.head(m.Source)
	if h == "" || h == m.SHA {
		return
	}
	t := s.now()
	m.SHA, m.Updated = h, t
	m.Versions = append(m.Versions, version{ID: s.id(), Head: h, Base: s.head(m.Target), Created: t})
	if s.ResetApprovalsOnPush {
		m.Approvals = nil
	}
	m.AutoMergeBy = nil // a push aborts auto-merge, as on GitLab
}

// touchInterval is GitLab's ThrottledTouch: a note (and what writes one: an
// approval, a resolved thread) moves its merge request's updated_at only
// when the last move is older than this.
const touchInterval = time.Minute

// touch moves m's updated_at as a note on it does on GitLab.
func (s *Server) touch(m *mergeRequest, t time.Time) {
	if t.Sub(m.Updated) > touchInterval {
		m.Updated = t
	}
}

func (s *Server) findMR(c *call) *mergeRequest {
	iid := c.path("iid")
	for _, m := range s.mrs {
		if m.IID == iid {
			s.refresh(m)
			s.settleAutoMerge(m)
			return m
		}
	}
	return nil
}

func (s *Server) listMRs(c *call) (int, any) {
	state, _ := c.str("state")
	src, _ := c.str("source_branch")
	dst, _ := c.str("target_branch")
	after, ok := c.updatedAfter()
	if !ok {
		return 400, map[string]any{"error": "updated_after is invalid"}
	}
	var out []*mergeRequest
	for _, m := range s.mrs {
		s.refresh(m)
		s.settleAutoMerge(m)
		if (state == "" || state == "all" || m.State == state) && (src == "" || m.Source == src) && (dst == "" || m.Target == dst) &&
			(after.IsZero() || !m.Updated.Before(after)) { // inclusive, as GitLab
			out = append(out, m)
		}
	}
	key := func(m *mergeRequest) time.Time { return m.Created }
	if v, _ := c.str("order_by"); v == "updated_at" {
		key = func(m *mergeRequest) time.Time { return m.Updated }
	}
	asc := false
	if v, _ := c.str("sort"); v == "asc" {
		asc = true
	}
	sort.SliceStable(out, func(a, b int) bool {
		ka, kb := key(out[a]), key(out[b])
		if ka.Equal(kb) {
			return (out[a].ID < out[b].ID) == asc
		}
		return ka.Before(kb) == asc
	})
	docs := []any{}
	for _, m := range paginate(c, out) {
		docs = append(docs, s.mrJSON(m))
	}
	return 200, docs
}

func (s *Server) createMR(c *call) (int, any) {
	title, _ := c.str("title")
	src, _ := c.str("source_branch")
	dst, _ := c.str("target_branch")
	desc, _ := c.str("description")
	switch {
	case title == "" || src == "" || dst == "":
		return 400, map[string]any{"error": "title, source_branch, target_branch are missing, at least one parameter must be provided"}
	case src == dst:
		return msg(422, []string{"You can't use same project/branch for source and target"})
	case s.head(src) == "":
		return msg(422, []string{"Source branch \"" + src + "\" does not exist"})
	case s.head(dst) == "":
		return msg(422, []string{"Target branch \"" + dst + "\" does not exist"})
	}
	for _, m := range s.mrs {
		if m.State == "opened" && m.Source == src && m.Target == dst {
			return msg(409, []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", m.IID)})
		}
	}
	t := s.now()
	m := &mergeRequest{ID: s.id(), IID: int64(len(s.mrs) + 1), Title: title, Description: desc, Source: src, Target: dst,
		State: "opened", Author: c.actor, Created: t, Updated: t}
	m.SHA = s.head(src)
	m.Versions = []version{{ID: s.id(), Head: m.SHA, Base: s.head(dst), Created: t}}
	s.mrs = append(s.mrs, m)
	return 201, s.mrJSON(m)
}

func (s *Server) getMR(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	return 200, s.mrJSON(m)
}

func (s *Server) approvalsJSON(c *call, m *mergeRequest) map[string]any {
	by := []any{}
	has := false
	for _, a := range m.Approvals {
		by = append(by, map[string]any{"user": s.userJSON(a.User), "approved_at": ts(a.At)})
		has = has || a.User == c.actor
	}
	return map[string]any{"id": m.ID, "iid": m.IID, "project_id": projectID, "title": m.Title, "description": m.Description,
		"state": m.State, "created_at": ts(m.Created), "updated_at": ts(m.Updated), "merge_status": "can_be_merged",
		"approved": true, "approvals_required": 0, "approvals_left": 0, "require_password_to_approve": false,
		"approved_by": by, "suggested_approvers": []any{}, "approvers": []any{}, "approver_groups": []any{},
		"user_has_approved": has, "user_can_approve": !has, "approval_rules_left": []any{}, "has_approval_rules": false,
		"merge_request_approvers_available": false, "multiple_approval_rules_available": false}
}

func (s *Server) getApprovals(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	return 200, s.approvalsJSON(c, m)
}

func (s *Server) approve(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	if sha, ok := c.str("sha"); ok && sha != m.SHA {
		return msg(409, "SHA does not match HEAD of source branch: "+m.SHA)
	}
	if m.State != "opened" || slices.ContainsFunc(m.Approvals, func(a approval) bool { return a.User == c.actor }) {
		return msg(401, "401 Unauthorized")
	}
	t := s.now()
	m.Approvals = append(m.Approvals, approval{User: c.actor, At: t})
	s.touch(m, t) // through the system note it writes
	return 201, s.approvalsJSON(c, m)
}

func (s *Server) unapprove(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	k := slices.IndexFunc(m.Approvals, func(a approval) bool { return a.User == c.actor })
	if k < 0 {
		return notFound("")
	}
	m.Approvals = slices.Delete(m.Approvals, k, k+1)
	s.touch(m, s.now())
	return 201, s.approvalsJSON(c, m)
}

func (s *Server) versions(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	out := []any{}
	for k := len(m.Versions) - 1; k >= 0; k-- { // newest first
		v := m.Versions[k]
		out = append(out, map[string]any{"id": v.ID, "head_commit_sha": v.Head, "base_commit_sha": v.Base,
			"start_commit_sha": v.Base, "created_at": ts(v.Created), "merge_request_id": m.ID, "state": "collected",
			"real_size": "1", "patch_id_sha": v.Head})
	}
	return 200, paginate(c, out)
}

// mergeTree merges the source into the target with git merge-tree; ok is
// false on conflicts.
func (s *Server) mergeTree(m *mergeRequest) (string, bool) {
	tree, err := git(s.Repo, "", "merge-tree", "--write-tree", "refs/heads/"+m.Target, "refs/heads/"+m.Source)
	if err != nil {
		return "", false
	}
	tree, _, _ = strings.Cut(tree, "\n")
	return tree, true
}

func (s *Server) merge(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	if m.State != "opened" {
		return msg(405, "405 Method Not Allowed")
	}
	if sha, ok := c.str("sha"); ok && sha != m.SHA {
		return msg(409, "SHA does not match HEAD of source branch: "+m.SHA)
	}
	tree, ok := s.mergeTree(m)
	if !ok {
		return msg(422, "Branch cannot be merged")
	}
	text, _ := c.str("merge_commit_message")
	if text == "" {
		text = fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\nSee merge request %s!%d", m.Source, m.Target, m.Title, s.ProjectPath, m.IID)
	}
	if s.autoMergeRequested(c) && s.pipelineActive(m.SHA) {
		m.AutoMergeBy, m.AutoMergeMsg, m.Updated = c.actor, text, s.now()
		return 200, s.mrJSON(m)
	}
	return s.mergeNow(m, c.actor, tree, text)
}

// mergeNow merges m with the merge tree computed by mergeTree.
func (s *Server) mergeNow(m *mergeRequest, by *user, tree, text string) (int, any) {
	target := s.head(m.Target)
	commit, err := git(s.Repo, "", "commit-tree", tree, "-p", target, "-p", m.SHA, "-m", text)
	if err != nil {
		return msg(500, err.Error())
	}
	if _, err := git(s.Repo, "", "update-ref", "refs/heads/"+m.Target, commit, target); err != nil {
		return msg(409, "the target branch moved; try again")
	}
	t := s.now()
	m.State, m.MergeSHA, m.MergedBy, m.Merged, m.Updated = "merged", commit, by, &t, t
	m.AutoMergeBy = nil
	return 200, s.mrJSON(m)
}

// ---- commit statuses ----

func (s *Server) setStatus(c *call) (int, any) {
	sha := c.r.PathValue("sha")
	full, err := git(s.Repo, "", "rev-parse", "--verify", "--quiet", sha+"^{commit}")
	if err != nil {
		return notFound("Commit")
	}
	state, _ := c.str("state")
	switch state {
	case "pending", "running", "success", "failed", "canceled", "skipped":
	default:
		return 400, map[string]any{"error": "state does not have a valid value"}
	}
	name, ok := c.str("name")
	if !ok {
		if name, ok = c.str("context"); !ok {
			name = "default"
		}
	}
	desc, _ := c.str("description")
	if len(desc) > 255 {
		return msg(400, map[string]any{"description": []string{"is too long (maximum is 255 characters)"}})
	}
	ref, _ := c.str("ref")
	st := &commitStatus{ID: s.id(), SHA: full, Name: name, State: state, Description: desc, Ref: ref, Author: c.actor, Created: s.now()}
	s.statuses = append(s.statuses, st)
	p := s.pipelineFor(full, ref)
	p.statuses = append(p.statuses, st)
	return 201, s.statusJSON(st)
}

func (s *Server) statusJSON(st *commitStatus) map[string]any {
	var started, finished any
	if st.State != "pending" {
		started = ts(st.Created)
	}
	if st.State != "pending" && st.State != "running" {
		finished = ts(st.Created)
	}
	return map[string]any{"id": st.ID, "sha": st.SHA, "ref": nilIfEmpty(st.Ref), "status": st.State, "name": st.Name,
		"target_url": nil, "description": nilIfEmpty(st.Description), "created_at": ts(st.Created),
		"started_at": started, "finished_at": finished, "allow_failure": false, "coverage": nil, "author": s.userJSON(st.Author)}
}

func (s *Server) listStatuses(c *call) (int, any) {
	sha := c.r.PathValue("sha")
	full, err := git(s.Repo, "", "rev-parse", "--verify", "--quiet", sha+"^{commit}")
	if err != nil {
		return notFound("Commit")
	}
	allOf, _ := c.str("all")
	latest := map[string]*commitStatus{}
	var out []*commitStatus
	for _, st := range s.statuses {
		if st.SHA != full {
			continue
		}
		if allOf == "true" {
			out = append(out, st)
		} else {
			latest[st.Name] = st
		}
	}
	for _, st := range latest {
		out = append(out, st)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	docs := []any{}
	for _, st := range paginate(c, out) {
		docs = append(docs, s.statusJSON(st))
	}
	return 200, docs
}

// ---- git over smart HTTP ----

// serveGit serves the project's repository through git http-backend. Every
// request needs basic authentication whose password is a token.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	prefix := "/" + s.ProjectPath + ".git"
	if !strings.HasPrefix(r.URL.Path, prefix+"/") {
		http.NotFound(w, r)
		return
	}
	userName, pass, ok := r.BasicAuth()
	s.mu.Lock()
	_, valid := s.tokens[pass]
	if ok {
		s.gitLog = append(s.gitLog, userName)
	}
	s.mu.Unlock()
	if !ok || !valid {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitLab"`)
		http.Error(w, "HTTP Basic: Access denied", http.StatusUnauthorized)
		return
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	h := &cgi.Handler{
		Path: gitPath, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(s.Repo), "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + userName,
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + filepath.Base(s.Repo) + strings.TrimPrefix(r.URL.Path, prefix)
	h.ServeHTTP(w, r2)
}
