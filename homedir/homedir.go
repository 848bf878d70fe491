// Package homedir keeps an agentorg home (the state directory) whole: it
// tells a new home from a damaged one before anything is written, gives
// each home an identity so that it never reuses work another home left
// (worktrees, branches), and follows a home that was moved.
//
// A home holds agentorg.db (the one SQLite database), home.json (which
// workflow and which home this is), mirror.git, worktrees/issue-N,
// checkouts/ and runs/<run id>.log.
package homedir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Paths inside a home.
func DB(dir string) string        { return filepath.Join(dir, "agentorg.db") }
func Mirror(dir string) string    { return filepath.Join(dir, "mirror.git") }
func Worktrees(dir string) string { return filepath.Join(dir, "worktrees") }
func Checkouts(dir string) string { return filepath.Join(dir, "checkouts") }
func Runs(dir string) string      { return filepath.Join(dir, "runs") }

// Aside is where work this home did not make is moved, out of its way
// and kept for a person to look at.
func Aside(dir string) string { return filepath.Join(dir, "aside") }

// File is home.json: which workflow the home belongs to, which home it is
// (the identity its database holds too) and where it was when last opened.
type File struct {
	Workflow string `json:"workflow"`
	ID       string `json:"id,omitempty"`
	Path     string `json:"path,omitempty"`
	// Database is the PostgreSQL database the home works on (its URL
	// without a password); empty for a home with its own SQLite file.
	Database string `json:"database,omitempty"`
	// Worker is the home's own id among the workers of its database
	// (Owners.Worker): random, made once, on a database homes share; the
	// identity's id on a home's own database.
	Worker string `json:"worker,omitempty"`
}

// WorkerID is the worker id of the home at dir: the one its home.json
// keeps, else, on a database homes share, a new random one (for the
// caller to keep in home.json), else the identity's: a home with a
// database of its own is its only worker.
func WorkerID(dir string, id Identity, shared bool) string {
	if f, ok := ReadFile(dir); ok && f.Worker != "" {
		return f.Worker
	}
	if shared {
		return randomID()
	}
	return id.ID
}

const fileName = "home.json"

// ReadFile reads dir's home.json; ok is false when there is none or it
// cannot be read as one.
func ReadFile(dir string) (f File, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		return File{}, false
	}
	if json.Unmarshal(b, &f) != nil {
		return File{}, false
	}
	return f, true
}

// WriteFile writes dir's home.json whole (aside, then renamed), unless it
// already says f.
func WriteFile(dir string, f File) error {
	if old, ok := ReadFile(dir); ok && old == f {
		return nil
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	p := filepath.Join(dir, fileName)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("home %s: %w", dir, err)
	}
	return os.Rename(tmp, p)
}

// used reports the signs that dir has been a home: what only a home that
// had a database makes.
func used(dir string) []string {
	var signs []string
	for _, name := range []string{fileName, "mirror.git", "worktrees", "checkouts", "runs"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			signs = append(signs, name)
		}
	}
	return signs
}
