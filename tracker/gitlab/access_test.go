package gitlab_test

import (
	"testing"

	"github.com/agentorg/agentorg"
)

// Access levels come from the project's members (inherited included) by
// username; non-members, unknown and blocked users have none; answers are
// cached briefly.
func TestAccessLevel(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	e.fake.SetAccessLevel("alice", 40)
	e.fake.SetAccessLevel("bob", 0) // not a member
	e.fake.AddUser("carl", "", false)
	e.fake.Block("carl")
	e.fake.SetAccessLevel("agentorg-bot", 50)
	for _, tc := range []struct {
		user string
		want agentorg.AccessLevel
	}{
		{"alice", agentorg.AccessMaintainer},
		{"Alice", agentorg.AccessMaintainer}, // usernames are case-insensitive
		{"dev", agentorg.AccessDeveloper},
		{"bob", agentorg.AccessNone},
		{"carl", agentorg.AccessNone},
		{"nobody-here", agentorg.AccessNone},
		{"agentorg", agentorg.AccessOwner}, // the bot's name is the token's account
	} {
		got, err := e.tr.AccessLevel(ctx, tc.user)
		if err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		if got != tc.want {
			t.Errorf("AccessLevel(%s) = %s, want %s", tc.user, got, tc.want)
		}
	}
	before, routes := e.fake.Requests()
	if routes["GET /api/v4/projects/{id}/members/all/{uid}"] == 0 {
		t.Fatal("no membership was read")
	}
	e.fake.SetAccessLevel("alice", 30)
	if got, _ := e.tr.AccessLevel(ctx, "alice"); got != agentorg.AccessMaintainer {
		t.Fatalf("a cached level: got %s", got)
	}
	if after, _ := e.fake.Requests(); after != before {
		t.Fatalf("a cached answer cost %d requests", after-before)
	}
}
