package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

var _ agentorg.AccessReader = (*Tracker)(nil)

// accessTTL is how long an access level is trusted: a gate is judged on
// every poll, and roles change rarely, but a demotion must take effect soon.
const accessTTL = time.Minute

type accessCache struct {
	mu sync.Mutex
	m  map[string]accessEntry // by username, lower case
}

type accessEntry struct {
	level agentorg.AccessLevel
	at    time.Time
}

// AccessLevel returns user's effective access level in the project: the
// user is found by username (GET /users?username=), then their membership
// with inherited ones (GET /projects/:id/members/all/:user_id). Not a
// member, no such user, or an account that is not active: AccessNone.
// Answers are cached for a minute; failures are not cached.
func (t *Tracker) AccessLevel(ctx context.Context, user string) (agentorg.AccessLevel, error) {
	if user == "" {
		return agentorg.AccessNone, nil
	}
	username := user
	if user == t.bot {
		me, err := t.tokenUser(ctx)
		if err != nil {
			return agentorg.AccessNone, err
		}
		username = me
	}
	key := strings.ToLower(username)
	t.access.mu.Lock()
	if e, ok := t.access.m[key]; ok && time.Since(e.at) < accessTTL {
		t.access.mu.Unlock()
		return e.level, nil
	}
	t.access.mu.Unlock()

	level, err := t.readAccessLevel(ctx, username)
	if err != nil {
		return agentorg.AccessNone, err
	}
	t.access.mu.Lock()
	if t.access.m == nil {
		t.access.m = map[string]accessEntry{}
	}
	t.access.m[key] = accessEntry{level: level, at: time.Now()}
	t.access.mu.Unlock()
	return level, nil
}

func (t *Tracker) readAccessLevel(ctx context.Context, username string) (agentorg.AccessLevel, error) {
	us, _, err := t.c.Users.ListUsers(&gl.ListUsersOptions{Username: &username}, gl.WithContext(ctx))
	if err != nil {
		return agentorg.AccessNone, wrap(err, "gitlab: find user "+username)
	}
	var u *gl.User
	for _, x := range us {
		if strings.EqualFold(x.Username, username) {
			u = x
		}
	}
	if u == nil || u.State != "active" {
		return agentorg.AccessNone, nil
	}
	m, _, err := t.c.ProjectMembers.GetInheritedProjectMember(t.project, u.ID, gl.WithContext(ctx))
	if status(err) == http.StatusNotFound {
		return agentorg.AccessNone, nil
	}
	if err != nil {
		return agentorg.AccessNone, wrap(err, fmt.Sprintf("gitlab: membership of %s in %s", username, t.project))
	}
	if m.State != "" && m.State != "active" {
		return agentorg.AccessNone, nil
	}
	return agentorg.AccessLevel(m.AccessLevel), nil
}
