package gitlabfake

import (
	"fmt"
	"strings"
)

// SetAccessLevel sets a user's access level in the project (GitLab's
// numbers: 10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner; 0
// removes the membership). The bot's level is Server.AccessLevel.
func (s *Server) SetAccessLevel(username string, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		panic(fmt.Sprintf("gitlabfake: no user %q", username))
	}
	if username == "agentorg-bot" {
		s.AccessLevel = level
	}
	u.Level = level
}

// Block blocks a user's account: it stays a member, but state is "blocked".
func (s *Server) Block(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[username].Blocked = true
}

func (u *user) state() string {
	if u.Blocked {
		return "blocked"
	}
	return "active"
}

func (s *Server) level(u *user) int {
	if u.Username == "agentorg-bot" {
		return s.AccessLevel
	}
	return u.Level
}

// listUsers answers GET /users?username= (the only filter the tracker
// uses): an exact, case-insensitive match, as GitLab's.
func (s *Server) listUsers(c *call) (int, any) {
	name, _ := c.str("username")
	docs := []any{}
	for _, u := range s.users {
		if name != "" && !strings.EqualFold(u.Username, name) {
			continue
		}
		d := s.userJSON(u).(map[string]any)
		d["state"] = u.state()
		d["locked"] = u.Blocked
		docs = append(docs, d)
	}
	return 200, paginate(c, docs)
}

// memberAll answers GET /projects/:id/members/all/:user_id: the member
// with their effective access level, 404 for someone who is not one.
func (s *Server) memberAll(c *call) (int, any) {
	id := c.path("uid")
	for _, u := range s.users {
		if u.ID != id {
			continue
		}
		level := s.level(u)
		if level == 0 {
			break
		}
		return 200, map[string]any{"id": u.ID, "username": u.Username, "name": u.Username, "state": u.state(),
			"avatar_url": "", "web_url": s.URL + "/" + u.Username, "access_level": level, "email": u.Username + "@example.com",
			"created_at": ts(s.now()), "created_by": nil, "expires_at": nil, "group_saml_identity": nil,
			"membership_state": "active"}
	}
	return notFound("")
}
