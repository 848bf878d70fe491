package agentorg

import (
	"context"
	"fmt"
	"strings"
)

// AccessLevel is a person's role in a forge's project, in GitLab's numbers:
// the higher, the more they may do.
type AccessLevel int

// GitLab's project access levels.
const (
	AccessNone       AccessLevel = 0
	AccessGuest      AccessLevel = 10
	AccessReporter   AccessLevel = 20
	AccessDeveloper  AccessLevel = 30
	AccessMaintainer AccessLevel = 40
	AccessOwner      AccessLevel = 50
)

var accessNames = []struct {
	level AccessLevel
	name  string
}{{AccessGuest, "guest"}, {AccessReporter, "reporter"}, {AccessDeveloper, "developer"}, {AccessMaintainer, "maintainer"}, {AccessOwner, "owner"}}

// AccessLevelNames lists the names ParseAccessLevel accepts, lowest first.
func AccessLevelNames() []string {
	out := make([]string, len(accessNames))
	for i, a := range accessNames {
		out[i] = a.name
	}
	return out
}

// ParseAccessLevel reads a level by its name (guest, reporter, developer,
// maintainer, owner; any case).
func ParseAccessLevel(s string) (AccessLevel, error) {
	for _, a := range accessNames {
		if strings.EqualFold(strings.TrimSpace(s), a.name) {
			return a.level, nil
		}
	}
	return AccessNone, fmt.Errorf("unknown access level %q (known: %s)", s, strings.Join(AccessLevelNames(), ", "))
}

// String names the level: the name of the highest known level it reaches,
// "none" below guest.
func (l AccessLevel) String() string {
	name := "none"
	for _, a := range accessNames {
		if l >= a.level {
			name = a.name
		}
	}
	if l != AccessNone && !l.known() {
		return fmt.Sprintf("%s (%d)", name, int(l))
	}
	return name
}

func (l AccessLevel) known() bool {
	for _, a := range accessNames {
		if a.level == l {
			return true
		}
	}
	return false
}

// AccessReader is implemented by trackers whose forge gives people roles in
// the project (GitLab). A gate may then allow everyone at or above a level
// to approve, not only the people it names.
type AccessReader interface {
	// AccessLevel returns user's effective level in the project, inherited
	// memberships (groups) included. Someone who is not a member, or whose
	// account is blocked or not active, has AccessNone; that is not an
	// error. Answers may be cached briefly.
	AccessLevel(ctx context.Context, user string) (AccessLevel, error)
}
