package human

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// On the embedded tracker a person is who their credential says, not who
// --as says: every action as a user (approving, rejecting, moving labels,
// commenting) needs that user's credential. A credential is a random token
// kept in the person's own credentials file, outside the home
// ($XDG_CONFIG_HOME/agentorg/credentials.json, mode 0600), which confined
// agents can neither read nor write; the home stores only its SHA-256.
// (On GitLab a person is GitLab's own identity: this is not used.)

// ErrNotEnrolled says a user has no credential in the home (or none on
// this machine that matches).
var ErrNotEnrolled = errors.New("not enrolled")

// Credentials is a person's credentials file: user name -> token.
type Credentials struct{ Path string }

// DefaultCredentials is the credentials file of whoever runs agentorg:
// $AGENTORG_CREDENTIALS, else $XDG_CONFIG_HOME/agentorg/credentials.json,
// else ~/.config/agentorg/credentials.json.
func DefaultCredentials(getenv func(string) string) (Credentials, error) {
	if p := getenv("AGENTORG_CREDENTIALS"); p != "" {
		return Credentials{Path: p}, nil
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return Credentials{}, errors.New("no HOME: set XDG_CONFIG_HOME or AGENTORG_CREDENTIALS for the credentials file")
		}
		dir = filepath.Join(home, ".config")
	}
	return Credentials{Path: filepath.Join(dir, "agentorg", "credentials.json")}, nil
}

// Dir is the directory that holds the credentials file: confinement hides
// it from agents.
func (c Credentials) Dir() string { return filepath.Dir(c.Path) }

type credentialsFile struct {
	Users map[string]string `json:"users"`
}

func (c Credentials) read() (credentialsFile, error) {
	f := credentialsFile{Users: map[string]string{}}
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("credentials %s: %w", c.Path, err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("credentials %s: %w (fix or remove the file, then enroll again)", c.Path, err)
	}
	if f.Users == nil {
		f.Users = map[string]string{}
	}
	return f, nil
}

// Token returns the token kept for user, if any.
func (c Credentials) Token(user string) (string, bool, error) {
	f, err := c.read()
	if err != nil {
		return "", false, err
	}
	tok, ok := f.Users[user]
	return tok, ok && tok != "", nil
}

// Ensure returns the token kept for user, making and saving one when there
// is none.
func (c Credentials) Ensure(user string) (string, error) {
	f, err := c.read()
	if err != nil {
		return "", err
	}
	if tok := f.Users[user]; tok != "" {
		return tok, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	f.Users[user] = tok
	if err := c.write(f); err != nil {
		return "", err
	}
	return tok, nil
}

// write replaces the file whole, readable by its owner only.
func (c Credentials) write(f credentialsFile) error {
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.Path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return os.Rename(tmp.Name(), c.Path)
}

// Users is the home's register of enrolled users: a name and the SHA-256
// of its token.
type Users struct {
	db  *sql.DB
	now func() time.Time
}

// NewUsers returns the register kept in db; call Migrate once.
func NewUsers(db *sql.DB) *Users { return &Users{db: db, now: time.Now} }

// Migrate creates the register's table, in a write transaction: workers
// that start together on one PostgreSQL database take turns (two
// concurrent CREATE TABLE IF NOT EXISTS can collide there).
func (u *Users) Migrate(ctx context.Context) error {
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("users: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS agentorg_users (
		name       TEXT PRIMARY KEY,
		token_hash TEXT NOT NULL,
		added_by   TEXT NOT NULL,
		added_at   TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("users: migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("users: migrate: %w", err)
	}
	return nil
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// List returns the enrolled users, sorted by their bytes (here, not by
// the database: PostgreSQL's order is its collation's, which a database
// made with en_US's sorts "alice" before "Bob").
func (u *Users) List(ctx context.Context) ([]string, error) {
	rows, err := u.db.QueryContext(ctx, `SELECT name FROM agentorg_users`)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, rows.Err()
}

// Add enrolls user with the SHA-256 of token; enrolling someone who is
// enrolled already is an error (remove them first).
func (u *Users) Add(ctx context.Context, user, token, by string) error {
	res, err := u.db.ExecContext(ctx, `INSERT INTO agentorg_users (name, token_hash, added_by, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, user, hashToken(token), by, u.now().UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("users: add %s: %w", user, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s is enrolled already in this home (to give them a new credential: agentorg user remove %s, then add them again)", user, user)
	}
	return nil
}

// Remove unenrolls user.
func (u *Users) Remove(ctx context.Context, user string) error {
	res, err := u.db.ExecContext(ctx, `DELETE FROM agentorg_users WHERE name = ?`, user)
	if err != nil {
		return fmt.Errorf("users: remove %s: %w", user, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s is not enrolled in this home: %w", user, ErrNotEnrolled)
	}
	return nil
}

// Verify reports whether token is user's credential in this home,
// comparing hashes in constant time.
func (u *Users) Verify(ctx context.Context, user, token string) (bool, error) {
	var want string
	err := u.db.QueryRowContext(ctx, `SELECT token_hash FROM agentorg_users WHERE name = ?`, user).Scan(&want)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("users: %w", err)
	}
	got := hashToken(token)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}

// Authenticate checks that whoever runs this holds user's credential for
// this home. The home's very first enrollment is automatic when user is
// one of the people the workflow names (first, a gate's approvers or
// reviewers: the person who set the home up); afterwards a user who is
// not enrolled, or whose credential does not match, is refused with what
// to do. enrolled reports an automatic first enrollment.
func (u *Users) Authenticate(ctx context.Context, creds Credentials, user string, named []string) (enrolled bool, err error) {
	names, err := u.List(ctx)
	if err != nil {
		return false, err
	}
	if len(names) == 0 && slices.Contains(named, user) {
		tok, err := creds.Ensure(user)
		if err != nil {
			return false, err
		}
		if err := u.Add(ctx, user, tok, user); err != nil {
			return false, err
		}
		return true, nil
	}
	if len(names) == 0 {
		return false, fmt.Errorf("nobody is enrolled in this home yet, and %s is not one of the people the workflow names (%s), who enroll first by acting as themselves: %w",
			user, list(named), ErrNotEnrolled)
	}
	tok, ok, err := creds.Token(user)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("acting as %s needs %s's credential, and %s holds none: %w (an enrolled user adds them with `agentorg user add %s`; enrolled here: %s)",
			user, user, creds.Path, ErrNotEnrolled, user, list(names))
	}
	valid, err := u.Verify(ctx, user, tok)
	if err != nil {
		return false, err
	}
	if !valid {
		return false, fmt.Errorf("the credential for %s in %s does not match this home's: %w (an enrolled user re-enrolls them: `agentorg user remove %s`, then `agentorg user add %s`; enrolled here: %s)",
			user, creds.Path, ErrNotEnrolled, user, user, list(names))
	}
	return false, nil
}

// list names people once each, in order, for a message.
func list(names []string) string {
	var seen []string
	for _, n := range names {
		if !slices.Contains(seen, n) {
			seen = append(seen, n)
		}
	}
	if len(seen) == 0 {
		return "nobody"
	}
	return strings.Join(seen, ", ")
}
