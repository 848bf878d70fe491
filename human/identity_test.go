package human

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/sqlitedb"
)

func newUsers(t *testing.T) *Users {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u := NewUsers(db)
	if err := u.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return u
}

// A person is who their credential says: the first person the workflow
// names enrolls by acting; then only a matching credential acts as a user,
// whatever --as says.
func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	u := newUsers(t)
	alice := Credentials{Path: filepath.Join(t.TempDir(), "alice", "credentials.json")}
	agent := Credentials{Path: filepath.Join(t.TempDir(), "agent", "credentials.json")}
	named := []string{"alice", "bob"}

	// Nobody enrolled: someone the workflow does not name cannot be first.
	if _, err := u.Authenticate(ctx, agent, "mallory", named); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("mallory first: %v, want ErrNotEnrolled", err)
	}
	if enrolled, err := u.Authenticate(ctx, alice, "alice", named); err != nil || !enrolled {
		t.Fatalf("alice first: enrolled %v, %v", enrolled, err)
	}
	if fi, err := os.Stat(alice.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the credentials file: %v, %v; want mode 0600", fi, err)
	}
	if enrolled, err := u.Authenticate(ctx, alice, "alice", named); err != nil || enrolled {
		t.Fatalf("alice again: enrolled %v, %v; want checked, not enrolled again", enrolled, err)
	}
	// Whoever lacks alice's credential is not alice, named or not.
	for _, user := range []string{"alice", "bob"} {
		_, err := u.Authenticate(ctx, agent, user, named)
		if !errors.Is(err, ErrNotEnrolled) || !strings.Contains(err.Error(), agent.Path) {
			t.Fatalf("%s without a credential: %v", user, err)
		}
	}
	// A forged credential does not match.
	if _, err := agent.Ensure("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ctx, agent, "alice", named); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a forged alice: %v", err)
	}
	// Enrolled by alice, bob acts with the credential alice's file holds.
	tok, err := alice.Ensure("bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Add(ctx, "bob", tok, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := u.Add(ctx, "bob", tok, "alice"); err == nil {
		t.Fatal("bob enrolled twice")
	}
	if _, err := u.Authenticate(ctx, alice, "bob", named); err != nil {
		t.Fatal(err)
	}
	if err := u.Remove(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ctx, alice, "bob", named); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("bob after removal: %v", err)
	}
	if names, err := u.List(ctx); err != nil || strings.Join(names, ",") != "alice" {
		t.Fatalf("enrolled %v, %v", names, err)
	}
}

func TestDefaultCredentials(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AGENTORG_CREDENTIALS": "/x/c.json", "HOME": "/h"}, "/x/c.json"},
		{map[string]string{"XDG_CONFIG_HOME": "/cfg", "HOME": "/h"}, "/cfg/agentorg/credentials.json"},
		{map[string]string{"HOME": "/h"}, "/h/.config/agentorg/credentials.json"},
	} {
		got, err := DefaultCredentials(env(c.env))
		if err != nil || got.Path != c.want {
			t.Errorf("%v: %q, %v; want %q", c.env, got.Path, err, c.want)
		}
	}
	if _, err := DefaultCredentials(env(nil)); err == nil {
		t.Error("no HOME and no XDG_CONFIG_HOME: want an error")
	}
}
