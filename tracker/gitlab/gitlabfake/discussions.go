package gitlabfake

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Merge request discussions (threads), as documented at
// https://docs.gitlab.com/api/discussions/#merge-requests: a discussion
// holds notes; a diff note carries the position it was made at; resolving
// a discussion resolves all of its notes.

// diffRefs is a merge request's diff_refs: the merge base, the target's
// head (start) and the source's head.
func (s *Server) diffRefs(m *mergeRequest) any {
	start, err := git(s.Repo, "", "rev-parse", "refs/heads/"+m.Target)
	if err != nil {
		return nil
	}
	base, err := git(s.Repo, "", "merge-base", start, m.SHA)
	if err != nil {
		base = start
	}
	return map[string]any{"base_sha": base, "start_sha": start, "head_sha": m.SHA}
}

func (s *Server) mrNoteJSON(d *discussion, n *mrNote) map[string]any {
	out := map[string]any{
		"id": n.ID, "type": "DiscussionNote", "body": n.Body, "attachment": nil, "author": s.userJSON(n.Author),
		"created_at": ts(n.Created), "updated_at": ts(n.Updated), "system": false, "noteable_id": d.MR.ID,
		"noteable_type": "MergeRequest", "project_id": projectID, "noteable_iid": d.MR.IID, "commit_id": nil,
		"resolvable": true, "resolved": n.Resolved, "resolved_by": s.userJSON(n.ResolvedBy), "resolved_at": tsp(n.ResolvedAt),
		"confidential": false, "internal": false,
	}
	if d.Individual {
		out["type"] = nil
	}
	if n.Position != nil {
		out["type"] = "DiffNote"
		out["position"] = n.Position
	}
	return out
}

func (s *Server) discussionJSON(d *discussion) map[string]any {
	notes := []any{}
	for _, n := range d.Notes {
		notes = append(notes, s.mrNoteJSON(d, n))
	}
	return map[string]any{"id": d.ID, "individual_note": d.Individual, "notes": notes}
}

func (s *Server) listDiscussions(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	var ds []*discussion
	for _, d := range s.discs {
		if d.MR == m {
			ds = append(ds, d)
		}
	}
	out := []any{}
	for _, d := range paginate(c, ds) {
		out = append(out, s.discussionJSON(d))
	}
	return 200, out
}

func (s *Server) findDiscussion(c *call) *discussion {
	m := s.findMR(c)
	for _, d := range s.discs {
		if d.MR == m && d.ID == c.r.PathValue("did") {
			return d
		}
	}
	return nil
}

// position validates a diff note's position as GitLab does: the SHAs of a
// version of the merge request, a text position, and a line that exists
// in the new version of the file.
func (s *Server) position(c *call, m *mergeRequest) (map[string]any, bool) {
	raw, ok := c.params["position"]
	if !ok || raw == nil {
		return nil, true
	}
	p, ok := raw.(map[string]any)
	if !ok {
		return nil, false
	}
	str := func(k string) string { v, _ := p[k].(string); return v }
	num := func(k string) int64 {
		switch v := p[k].(type) {
		case float64:
			return int64(v)
		case string:
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
		return 0
	}
	if str("position_type") != "text" || str("base_sha") == "" || str("start_sha") == "" || str("head_sha") == "" {
		return nil, false
	}
	known := str("head_sha") == m.SHA
	for _, v := range m.Versions {
		known = known || v.Head == str("head_sha")
	}
	path, line := str("new_path"), num("new_line")
	if !known || path == "" || line < 1 {
		return nil, false
	}
	text, err := git(s.Repo, "", "cat-file", "blob", str("head_sha")+":"+path)
	if err != nil || int(line) > strings.Count(text, "\n")+1 {
		return nil, false
	}
	old := str("old_path")
	if old == "" {
		old = path
	}
	return map[string]any{"base_sha": str("base_sha"), "start_sha": str("start_sha"), "head_sha": str("head_sha"),
		"old_path": old, "new_path": path, "position_type": "text", "old_line": nil, "new_line": line, "line_range": nil}, true
}

func (s *Server) createDiscussion(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	body, _ := c.str("body")
	if strings.TrimSpace(body) == "" {
		return 400, map[string]any{"error": "body is missing"}
	}
	pos, ok := s.position(c, m)
	if !ok {
		return msg(400, `400 Bad request - Note {:line_code=>["can't be blank", "must be a valid line code"]}`)
	}
	t := s.now()
	sum := sha1.Sum([]byte(fmt.Sprintf("%d/%d/%d", m.IID, s.id(), t.UnixNano())))
	d := &discussion{ID: hex.EncodeToString(sum[:]), MR: m}
	d.Notes = append(d.Notes, &mrNote{ID: s.id(), Body: body, Author: c.actor, Created: t, Updated: t, Position: pos})
	s.discs = append(s.discs, d)
	s.touch(m, t)
	return 201, s.discussionJSON(d)
}

func (s *Server) addDiscussionNote(c *call) (int, any) {
	d := s.findDiscussion(c)
	if d == nil {
		return notFound("Discussion")
	}
	body, _ := c.str("body")
	if strings.TrimSpace(body) == "" {
		return 400, map[string]any{"error": "body is missing"}
	}
	t := s.now()
	first := d.Notes[0]
	n := &mrNote{ID: s.id(), Body: body, Author: c.actor, Created: t, Updated: t,
		Resolved: first.Resolved, ResolvedBy: first.ResolvedBy, ResolvedAt: first.ResolvedAt}
	d.Notes = append(d.Notes, n)
	d.Individual = false // a reply turns a single comment into a thread
	s.touch(d.MR, t)
	return 201, s.mrNoteJSON(d, n)
}

func (s *Server) resolveDiscussion(c *call) (int, any) {
	d := s.findDiscussion(c)
	if d == nil {
		return notFound("Discussion")
	}
	v, ok := c.str("resolved")
	if !ok {
		return 400, map[string]any{"error": "resolved is missing"}
	}
	resolved := v == "true"
	t := s.now()
	for _, n := range d.Notes {
		if n.Resolved == resolved {
			continue
		}
		n.Resolved = resolved
		if resolved {
			n.ResolvedBy, n.ResolvedAt = c.actor, &t
		} else {
			n.ResolvedBy, n.ResolvedAt = nil, nil
		}
	}
	s.touch(d.MR, t)
	return 200, s.discussionJSON(d)
}

func (s *Server) getDiscussion(c *call) (int, any) {
	d := s.findDiscussion(c)
	if d == nil {
		return notFound("Discussion")
	}
	return 200, s.discussionJSON(d)
}
