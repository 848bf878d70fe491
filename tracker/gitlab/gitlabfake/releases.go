package gitlabfake

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// ---- releases, environments and deployments ----

// rel is a project release. GitLab keys releases by their tag: one release
// a tag.
type rel struct {
	Tag, Name, Description string
	Commit                 string // the commit the tag points at
	Author                 *user
	Created, Released      time.Time
	Links                  []relLink
	Request                map[string]any // the parameters of the POST that made it
}

type relLink struct {
	ID              int64
	Name, URL, Type string
}

type environment struct {
	ID               int64
	Name             string
	Created, Updated time.Time
}

type deploy struct {
	ID, IID          int64
	Env              *environment
	Ref, SHA, Status string
	Tag              bool
	User             *user
	Created, Updated time.Time
	Request          map[string]any
}

// Release is what a test sees of a release: its fields as GitLab keeps
// them, and Request, the parameters of the POST that created it (as
// decoded from its JSON or form body).
type Release struct {
	TagName, Name, Description, Commit string
	ReleasedAt                         time.Time
	Links                              []ReleaseLink
	Request                            map[string]any
}

// ReleaseLink is one of a release's asset links.
type ReleaseLink struct{ Name, URL, LinkType string }

// Deployment is what a test sees of a deployment; Request is the
// parameters of the POST that created it.
type Deployment struct {
	ID, IID                       int64
	Environment, Ref, SHA, Status string
	Tag                           bool
	Request                       map[string]any
}

// Releases returns the project's releases, oldest first.
func (s *Server) Releases() []Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Release
	for _, r := range s.rels {
		x := Release{TagName: r.Tag, Name: r.Name, Description: r.Description, Commit: r.Commit,
			ReleasedAt: r.Released, Request: maps.Clone(r.Request)}
		for _, l := range r.Links {
			x.Links = append(x.Links, ReleaseLink{Name: l.Name, URL: l.URL, LinkType: l.Type})
		}
		out = append(out, x)
	}
	return out
}

// Deployments returns the project's deployments, oldest first.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, d := range s.deploys {
		out = append(out, Deployment{ID: d.ID, IID: d.IID, Environment: d.Env.Name, Ref: d.Ref, SHA: d.SHA,
			Status: d.Status, Tag: d.Tag, Request: maps.Clone(d.Request)})
	}
	return out
}

// Environments returns the names of the project's environments, oldest
// first (GitLab makes one on its first deployment).
func (s *Server) Environments() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.envs {
		out = append(out, e.Name)
	}
	return out
}

// tagCommit is the commit a tag points at (peeled), "" when there is no
// such tag.
func (s *Server) tagCommit(tag string) string {
	out, err := git(s.Repo, "", "rev-parse", "--verify", "--quiet", "refs/tags/"+tag+"^{commit}")
	if err != nil {
		return ""
	}
	return out
}

// commitOf resolves a ref or SHA to a commit, "" when it names none.
func (s *Server) commitOf(ref string) string {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return ""
	}
	out, err := git(s.Repo, "", "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return ""
	}
	return out
}

func (s *Server) findRelease(tag string) *rel {
	for _, r := range s.rels {
		if r.Tag == tag {
			return r
		}
	}
	return nil
}

func (s *Server) releaseURL(tag string) string {
	return fmt.Sprintf("%s/%s/-/releases/%s", s.URL, s.ProjectPath, url.PathEscape(tag))
}

func (s *Server) releaseJSON(r *rel) map[string]any {
	links := []any{}
	for _, l := range r.Links {
		links = append(links, map[string]any{"id": l.ID, "name": l.Name, "url": l.URL, "direct_asset_url": l.URL,
			"link_type": l.Type})
	}
	archive := func(format string) any {
		return map[string]any{"format": format,
			"url": fmt.Sprintf("%s/%s/-/archive/%s/app-%s.%s", s.URL, s.ProjectPath, r.Tag, r.Tag, format)}
	}
	proj := s.URL + "/" + s.ProjectPath
	issues := proj + "/-/issues?release_tag=" + url.QueryEscape(r.Tag) + "&scope=all"
	mrs := proj + "/-/merge_requests?release_tag=" + url.QueryEscape(r.Tag) + "&scope=all"
	return map[string]any{
		"tag_name": r.Tag, "name": r.Name, "description": r.Description, "created_at": ts(r.Created),
		"released_at": ts(r.Released), "upcoming_release": r.Released.After(s.now()), "author": s.userJSON(r.Author),
		"commit": map[string]any{"id": r.Commit, "short_id": r.Commit[:8], "title": "", "message": "",
			"parent_ids": []string{}, "created_at": ts(r.Created)},
		"commit_path": "/" + s.ProjectPath + "/-/commit/" + r.Commit,
		"tag_path":    "/" + s.ProjectPath + "/-/tags/" + url.PathEscape(r.Tag),
		"milestones":  []any{}, "evidences": []any{},
		"assets": map[string]any{"count": len(links) + 4, "links": links,
			"sources": []any{archive("zip"), archive("tar.gz"), archive("tar.bz2"), archive("tar")}},
		"_links": map[string]any{
			"self":                      s.releaseURL(r.Tag),
			"edit_url":                  s.releaseURL(r.Tag) + "/edit",
			"opened_issues_url":         issues + "&state=opened",
			"closed_issues_url":         issues + "&state=closed",
			"opened_merge_requests_url": mrs + "&state=opened",
			"merged_merge_requests_url": mrs + "&state=merged",
			"closed_merge_requests_url": mrs + "&state=closed",
		},
	}
}

// developer is GitLab's Developer role, what releases and deployments need.
const developer = 30

// createRelease answers POST /projects/:id/releases as GitLab does: 409
// when the tag has a release already; when the tag does not exist, it is
// made from ref (with tag_message, an annotated tag), and without ref the
// request is refused with 422 "Ref is not specified" (GitLab's answer).
func (s *Server) createRelease(c *call) (int, any) {
	if s.level(c.actor) < developer {
		return msg(403, "403 Forbidden")
	}
	tag, _ := c.str("tag_name")
	if tag == "" {
		return 400, map[string]any{"error": "tag_name is missing"}
	}
	if s.findRelease(tag) != nil {
		return msg(409, "Release already exists")
	}
	var links []relLink
	if assets, ok := c.params["assets"].(map[string]any); ok {
		ls, _ := assets["links"].([]any)
		for k, x := range ls {
			l, _ := x.(map[string]any)
			name, _ := l["name"].(string)
			u, _ := l["url"].(string)
			typ, _ := l["link_type"].(string)
			if name == "" || u == "" {
				return 400, map[string]any{"error": fmt.Sprintf("assets[links][%d][name], assets[links][%d][url] are missing", k, k)}
			}
			switch typ {
			case "":
				typ = "other"
			case "other", "runbook", "image", "package":
			default:
				return 400, map[string]any{"error": "assets[links][link_type] does not have a valid value"}
			}
			for _, o := range links {
				if o.Name == name || o.URL == u {
					return msg(400, map[string]any{"links": []string{"have duplicate values (" + name + ")"}})
				}
			}
			links = append(links, relLink{ID: s.id(), Name: name, URL: u, Type: typ})
		}
	}
	released := s.now()
	if v, ok := c.str("released_at"); ok && v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return 400, map[string]any{"error": "released_at is invalid"}
		}
		released = t.UTC()
	}
	commit := s.tagCommit(tag)
	if commit == "" {
		ref, _ := c.str("ref")
		if ref == "" {
			return msg(422, "Ref is not specified")
		}
		if commit = s.commitOf(ref); commit == "" {
			return msg(400, "Target "+ref+" is invalid")
		}
		if _, err := git(s.Repo, "", "check-ref-format", "refs/tags/"+tag); err != nil {
			return msg(400, "Tag name invalid")
		}
		args := []string{"tag", tag, commit}
		if m, _ := c.str("tag_message"); m != "" {
			args = []string{"tag", "-a", "-m", m, tag, commit}
		}
		if _, err := git(s.Repo, "", args...); err != nil {
			return msg(400, err.Error())
		}
	}
	name, ok := c.str("name")
	if !ok || name == "" {
		name = tag // GitLab names a release after its tag
	}
	desc, _ := c.str("description")
	r := &rel{Tag: tag, Name: name, Description: desc, Commit: commit, Author: c.actor, Created: s.now(),
		Released: released, Links: links, Request: maps.Clone(c.params)}
	s.rels = append(s.rels, r)
	return 201, s.releaseJSON(r)
}

func (s *Server) getRelease(c *call) (int, any) {
	r := s.findRelease(c.r.PathValue("tag"))
	if r == nil {
		return notFound("")
	}
	return 200, s.releaseJSON(r)
}

// listReleases lists releases newest first (GitLab's default order,
// released_at desc).
func (s *Server) listReleases(c *call) (int, any) {
	rs := slices.Clone(s.rels)
	asc := false
	if v, _ := c.str("sort"); v == "asc" {
		asc = true
	}
	sort.SliceStable(rs, func(a, b int) bool { return rs[a].Released.Before(rs[b].Released) == asc })
	docs := []any{}
	for _, r := range paginate(c, rs) {
		docs = append(docs, s.releaseJSON(r))
	}
	return 200, docs
}

// ---- environments and deployments ----

func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// tier is GitLab's guess of an environment's tier from its name.
func tier(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, "prod") || strings.HasPrefix(n, "live"):
		return "production"
	case strings.HasPrefix(n, "stag") || strings.HasPrefix(n, "model") || strings.HasPrefix(n, "pre"):
		return "staging"
	case strings.HasPrefix(n, "test") || strings.HasPrefix(n, "qa"):
		return "testing"
	case strings.HasPrefix(n, "dev") || strings.HasPrefix(n, "review"):
		return "development"
	}
	return "other"
}

func (s *Server) environmentJSON(e *environment) map[string]any {
	return map[string]any{"id": e.ID, "name": e.Name, "slug": slug(e.Name), "external_url": nil, "state": "available",
		"tier": tier(e.Name), "created_at": ts(e.Created), "updated_at": ts(e.Updated)}
}

func (s *Server) deploymentJSON(d *deploy) map[string]any {
	return map[string]any{"id": d.ID, "iid": d.IID, "ref": d.Ref, "sha": d.SHA, "status": d.Status,
		"created_at": ts(d.Created), "updated_at": ts(d.Updated), "user": s.userJSON(d.User),
		"environment": s.environmentJSON(d.Env), "deployable": nil}
}

func (s *Server) environment(name string) *environment {
	for _, e := range s.envs {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// listEnvironments answers GET /projects/:id/environments with its name
// (exact) and search (substring) filters.
func (s *Server) listEnvironments(c *call) (int, any) {
	name, _ := c.str("name")
	search, _ := c.str("search")
	docs := []any{}
	var es []*environment
	for _, e := range s.envs {
		if (name == "" || e.Name == name) && (search == "" || strings.Contains(e.Name, search)) {
			es = append(es, e)
		}
	}
	for _, e := range paginate(c, es) {
		docs = append(docs, s.environmentJSON(e))
	}
	return 200, docs
}

// createDeployment answers POST /projects/:id/deployments: the
// environment is made on its first deployment; sha and ref must name
// commits the repository has (400 with GitLab's validation messages).
func (s *Server) createDeployment(c *call) (int, any) {
	if s.level(c.actor) < developer {
		return msg(403, "403 Forbidden")
	}
	envName, _ := c.str("environment")
	sha, _ := c.str("sha")
	ref, _ := c.str("ref")
	tag, tagOK := c.str("tag")
	status, _ := c.str("status")
	var missing []string
	for k, ok := range map[string]bool{"environment": envName != "", "sha": sha != "", "ref": ref != "", "tag": tagOK, "status": status != ""} {
		if !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return 400, map[string]any{"error": strings.Join(missing, ", ") + " are missing"}
	}
	if tag != "true" && tag != "false" {
		return 400, map[string]any{"error": "tag is invalid"}
	}
	switch status {
	case "running", "success", "failed", "canceled":
	default:
		return 400, map[string]any{"error": "status does not have a valid value"}
	}
	full := s.commitOf(sha)
	errs := map[string][]string{}
	if full == "" {
		errs["sha"] = []string{"The commit does not exist"}
	}
	if s.commitOf(ref) == "" {
		errs["ref"] = []string{"The branch or tag does not exist"}
	}
	if len(errs) > 0 {
		return msg(400, errs)
	}
	t := s.now()
	e := s.environment(envName)
	if e == nil {
		e = &environment{ID: s.id(), Name: envName, Created: t, Updated: t}
		s.envs = append(s.envs, e)
	}
	e.Updated = t
	d := &deploy{ID: s.id(), IID: int64(len(s.deploys) + 1), Env: e, Ref: ref, SHA: full, Status: status, Tag: tag == "true",
		User: c.actor, Created: t, Updated: t, Request: maps.Clone(c.params)}
	s.deploys = append(s.deploys, d)
	return 201, s.deploymentJSON(d)
}

func (s *Server) findDeployment(c *call) *deploy {
	id := c.path("did")
	for _, d := range s.deploys {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (s *Server) getDeployment(c *call) (int, any) {
	d := s.findDeployment(c)
	if d == nil {
		return notFound("")
	}
	return 200, s.deploymentJSON(d)
}

// updateDeployment answers PUT /projects/:id/deployments/:deployment_id
// {status}. GitLab's deployments are a state machine: running only from
// created, and success, failed, canceled from any other status; a
// transition to the status a deployment has already is refused (400).
func (s *Server) updateDeployment(c *call) (int, any) {
	if s.level(c.actor) < developer {
		return msg(403, "403 Forbidden")
	}
	d := s.findDeployment(c)
	if d == nil {
		return notFound("")
	}
	status, ok := c.str("status")
	if !ok || status == "" {
		return 400, map[string]any{"error": "status is missing"}
	}
	event := map[string]string{"running": "run", "success": "succeed", "failed": "drop", "canceled": "cancel"}[status]
	if event == "" {
		return 400, map[string]any{"error": "status does not have a valid value"}
	}
	if status == d.Status || (status == "running" && d.Status != "created") {
		return msg(400, map[string]any{"status": []string{fmt.Sprintf("cannot transition via %q from %q", event, d.Status)}})
	}
	d.Status, d.Updated = status, s.now()
	d.Env.Updated = d.Updated
	return 200, s.deploymentJSON(d)
}

// listDeployments answers GET /projects/:id/deployments with its
// environment and status filters, ordered by id (or iid, created_at,
// updated_at, ref), ascending unless sort=desc.
func (s *Server) listDeployments(c *call) (int, any) {
	env, _ := c.str("environment")
	status, _ := c.str("status")
	var ds []*deploy
	for _, d := range s.deploys {
		if (env == "" || d.Env.Name == env) && (status == "" || d.Status == status) {
			ds = append(ds, d)
		}
	}
	less := func(a, b *deploy) bool { return a.ID < b.ID }
	switch v, _ := c.str("order_by"); v {
	case "", "id", "iid":
	case "created_at":
		less = func(a, b *deploy) bool { return a.Created.Before(b.Created) }
	case "updated_at":
		less = func(a, b *deploy) bool { return a.Updated.Before(b.Updated) }
	case "ref":
		less = func(a, b *deploy) bool { return a.Ref < b.Ref }
	default:
		return 400, map[string]any{"error": "order_by does not have a valid value"}
	}
	desc := false
	if v, _ := c.str("sort"); v == "desc" {
		desc = true
	}
	sort.SliceStable(ds, func(a, b int) bool {
		if desc {
			return less(ds[b], ds[a])
		}
		return less(ds[a], ds[b])
	})
	docs := []any{}
	for _, d := range paginate(c, ds) {
		docs = append(docs, s.deploymentJSON(d))
	}
	return 200, docs
}
