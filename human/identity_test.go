package human

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// newUsers opens the register, migrated, in a fresh database of dialect d.
func newUsers(t *testing.T, d store.Dialect) *Users {
	t.Helper()
	u := NewUsers(storetest.Open(t, d).SQL)
	if err := u.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return u
}

// eachUsers runs f as a subtest per dialect, each with a fresh register.
func eachUsers(t *testing.T, f func(t *testing.T, u *Users)) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) { f(t, newUsers(t, d)) })
	}
}

// A person is who their credential says: the first person the workflow
// names enrolls by acting; then only a matching credential acts as a user,
// whatever --as says.
func TestAuthenticate(t *testing.T) { eachUsers(t, authenticate) }

func authenticate(t *testing.T, u *Users) {
	ctx := context.Background()
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

// The register on each database: enrolled once each, listed in byte order
// whatever the database's collation, verified by the hash only, removed.
func TestUsersRegister(t *testing.T) { eachUsers(t, usersRegister) }

func usersRegister(t *testing.T, u *Users) {
	ctx := context.Background()
	if store.DialectOf(u.db) == store.Postgres {
		// As in a database made with an en_US collation (not this
		// server's C): PostgreSQL would sort "alice" before "Bob".
		if _, err := u.db.ExecContext(ctx, `ALTER TABLE agentorg_users ALTER COLUMN name TYPE TEXT COLLATE "en-US-x-icu"`); err != nil {
			t.Logf("no ICU collation to sort by (%v): the order is the server's", err)
		}
	}
	if names, err := u.List(ctx); err != nil || len(names) != 0 {
		t.Fatalf("a new register lists %v, %v", names, err)
	}
	tokens := map[string]string{"carol": "t-carol", "alice": "t-alice", "Bob": "t-Bob", "bob": "t-bob", "zoë": "t-zoë", "o'neil": "t-o"}
	for name, tok := range tokens {
		if err := u.Add(ctx, name, tok, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Add(ctx, "bob", "other", "mallory"); err == nil || !strings.Contains(err.Error(), "enrolled already") {
		t.Fatalf("bob enrolled twice: %v", err)
	}
	names, err := u.List(ctx)
	if err != nil || strings.Join(names, ",") != "Bob,alice,bob,carol,o'neil,zoë" {
		t.Fatalf("List = %q, %v; want byte order", names, err)
	}
	for name, tok := range tokens {
		if ok, err := u.Verify(ctx, name, tok); err != nil || !ok {
			t.Errorf("Verify(%s, its token) = %v, %v", name, ok, err)
		}
	}
	for _, c := range []struct{ name, tok string }{{"bob", "t-Bob"}, {"Bob", "t-bob"}, {"bob", "other"}, {"BOB", "t-bob"}, {"dave", ""}, {"dave", "t-dave"}} {
		if ok, err := u.Verify(ctx, c.name, c.tok); err != nil || ok {
			t.Errorf("Verify(%s, %s) = %v, %v; want no match", c.name, c.tok, ok, err)
		}
	}
	// The home keeps the token's hash, never the token.
	var hash string
	if err := u.db.QueryRowContext(ctx, `SELECT token_hash FROM agentorg_users WHERE name = ?`, "alice").Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if hash != hashToken("t-alice") || strings.Contains(hash, "t-alice") {
		t.Errorf("stored %q for alice", hash)
	}
	if err := u.Remove(ctx, "Bob"); err != nil {
		t.Fatal(err)
	}
	if err := u.Remove(ctx, "Bob"); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("removing Bob twice: %v, want ErrNotEnrolled", err)
	}
	if ok, _ := u.Verify(ctx, "Bob", "t-Bob"); ok {
		t.Error("a removed user verifies")
	}
	if ok, _ := u.Verify(ctx, "bob", "t-bob"); !ok {
		t.Error("removing Bob removed bob")
	}
	if err := u.Migrate(ctx); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	if names, _ := u.List(ctx); len(names) != 5 {
		t.Fatalf("after migrating again: %v", names)
	}
}
