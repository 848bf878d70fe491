// Package fsck checks a whole home, as `agentorg fsck` shows it: the
// database (SQLite's integrity_check), the worktrees (each of an open
// issue, made by this home, linked to the mirror), the mirror (git fsck,
// bounded in time) and the transcripts the event log points to. Each
// problem comes with a fix. It changes nothing.
package fsck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/sqlitedb"
)

// Finding is one line of the report: a problem (with a fix) or a pass.
type Finding struct {
	OK   bool
	What string
	Fix  string
}

func ok(format string, a ...any) Finding { return Finding{OK: true, What: fmt.Sprintf(format, a...)} }

func problem(fix, format string, a ...any) Finding {
	return Finding{What: fmt.Sprintf(format, a...), Fix: fix}
}

// Database checks the home's database whole, read-only: its file, then
// `PRAGMA integrity_check`. damaged says the rest of the home cannot be
// read through it.
func Database(ctx context.Context, home string) (fs []Finding, damaged bool) {
	if hf, found := homedir.ReadFile(home); found && hf.Database != "" {
		return []Finding{ok("the database is PostgreSQL's, at %s: the server checks its own pages", hf.Database)}, false
	}
	if err := homedir.CheckFiles(home); err != nil {
		var d *homedir.DamagedError
		if errors.As(err, &d) {
			return []Finding{problem(restoreFix(home), "the database agentorg.db %s", d.What)}, true
		}
		return []Finding{problem("check the home's permissions", "%v", err)}, true
	}
	if st, _ := sqlitedb.Inspect(homedir.DB(home)); st == sqlitedb.Missing {
		return []Finding{ok("no database yet: a new home")}, true
	}
	db, err := sqlitedb.OpenToRead(homedir.DB(home))
	if err != nil {
		return []Finding{problem(restoreFix(home), "the database cannot be opened: %v", err)}, true
	}
	defer db.Close()
	start := time.Now()
	problems, err := sqlitedb.IntegrityCheck(ctx, db, 50)
	if err != nil {
		return []Finding{problem("run `agentorg fsck` again when no command holds the database", "the database could not be checked: %v", err)}, true
	}
	for _, p := range problems {
		fs = append(fs, problem(restoreFix(home), "the database is damaged: sqlite integrity_check: %s", p))
	}
	if len(fs) > 0 {
		return fs, true
	}
	return []Finding{ok("the database passes SQLite's integrity_check (%s)", time.Since(start).Round(time.Millisecond))}, false
}

func restoreFix(home string) string {
	return fmt.Sprintf("restore %s from a backup, or move the home aside (mv %s %s.damaged) and start a new one", homedir.DB(home), home, home)
}

// Sources are what the checks past the database read.
type Sources struct {
	Home    string
	Tracker agentorg.Tracker
	Log     *eventlog.Log
	Owners  *homedir.Owners
	// WorktreeIssue parses an issue number from a worktree's directory
	// name (issue-N); ok false for a name that is no issue's.
	WorktreeIssue func(name string) (int64, bool)
}

// Worktrees checks each worktree of the home: of an issue that is open,
// made by this home, and linked to its git directory.
func Worktrees(ctx context.Context, s Sources) ([]Finding, error) {
	entries, err := os.ReadDir(homedir.Worktrees(s.Home))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(entries) == 0 {
		return []Finding{ok("no worktrees")}, nil
	}
	var fs []Finding
	for _, e := range entries {
		path := filepath.Join(homedir.Worktrees(s.Home), e.Name())
		n, isIssue := s.WorktreeIssue(e.Name())
		if !isIssue {
			fs = append(fs, problem(fmt.Sprintf("look at it, then remove it: rm -rf %s", path), "worktrees/%s is no issue's worktree", e.Name()))
			continue
		}
		if f, bad := linked(path); bad {
			fs = append(fs, f)
			continue
		}
		is, err := s.Tracker.Issue(ctx, n)
		switch {
		case errors.Is(err, agentorg.ErrNotFound):
			fs = append(fs, problem(fmt.Sprintf("it is another home's or a lost issue's: move it aside (mv %s %s/)", path, homedir.Aside(s.Home)),
				"worktree %s belongs to issue #%d, which the tracker does not have", e.Name(), n))
			continue
		case err != nil:
			return nil, err
		case is.State == agentorg.IssueClosed:
			fs = append(fs, problem("agentorg gc removes it, with its branch", "worktree %s belongs to #%d, which is closed", e.Name(), n))
			continue
		}
		mine, err := s.Owners.Owns(ctx, n, path)
		if err != nil {
			return nil, err
		}
		if !mine {
			fs = append(fs, problem("nothing to do now: the developer moves it aside to aside/ before it works on the issue; or move it yourself",
				"worktree %s was not made by this home (another home's, or made by hand)", e.Name()))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, ok("%d worktree(s), each of an open issue and made by this home", len(entries)))
	}
	if aside, _ := os.ReadDir(homedir.Aside(s.Home)); len(aside) > 0 {
		fs = append(fs, ok("note: %d worktree(s) another home left are kept in %s for you to look at; remove them when done", len(aside), homedir.Aside(s.Home)))
	}
	return fs, nil
}

// linked reports a worktree whose .git link is broken (it names a git
// directory that is not there).
func linked(path string) (Finding, bool) {
	g := filepath.Join(path, ".git")
	fi, err := os.Stat(g)
	if err != nil {
		return problem(fmt.Sprintf("move it aside: mv %s %s/ (the developer makes a new one)", path, filepath.Dir(filepath.Dir(path))+"/aside"),
			"worktree %s has no .git: it is not a git worktree", filepath.Base(path)), true
	}
	if fi.IsDir() {
		return Finding{}, false
	}
	b, _ := os.ReadFile(g)
	gitdir := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "gitdir:"))
	if _, err := os.Stat(gitdir); err != nil {
		return problem("if the home was moved by hand while a command ran, run any agentorg command to repair it; else move the worktree aside",
			"worktree %s links to %s, which is not there", filepath.Base(path), gitdir), true
	}
	return Finding{}, false
}

// Mirror runs `git fsck --connectivity-only` on the mirror, for at most
// limit: every object the refs reach must be there.
func Mirror(ctx context.Context, home string, limit time.Duration) Finding {
	dir := homedir.Mirror(home)
	if _, err := os.Stat(dir); err != nil {
		return ok("no mirror yet (the engine makes it when it first starts)")
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "fsck", "--connectivity-only", "--no-progress", "--no-dangling")
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		return ok("note: git fsck of the mirror did not finish in %s; run it yourself: git -C %s fsck --connectivity-only", limit, dir)
	case err != nil:
		return problem(fmt.Sprintf("move the mirror aside (mv %s %s.broken): the engine clones it again from the origin at its next start", dir, dir),
			"the mirror is not a sound git repository: %s", firstLines(string(out), 3))
	}
	return ok("the mirror passes git fsck --connectivity-only")
}

// Transcripts checks that each agent run the event log records has its
// transcript (agentorg gc leaves a one-line note in place of one it
// removes, so that this still holds).
func Transcripts(ctx context.Context, s Sources) ([]Finding, error) {
	runs, err := s.Log.AgentRuns(ctx)
	if err != nil {
		return nil, err
	}
	var missing []eventlog.RunRef
	for _, r := range runs {
		if _, err := os.Stat(filepath.Join(homedir.Runs(s.Home), r.ID+".log")); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return []Finding{ok("%d agent run(s), each with its transcript", len(runs))}, nil
	}
	var ids []string
	for i, r := range missing {
		if i == 3 {
			ids = append(ids, "...")
			break
		}
		ids = append(ids, fmt.Sprintf("%s (#%d)", r.ID, r.Issue))
	}
	return []Finding{problem("restore runs/ from a backup if you need them; `agentorg logs` cannot show these runs",
		"%d of %d agent runs have no transcript in runs/: %s", len(missing), len(runs), strings.Join(ids, ", "))}, nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "... ("+strconv.Itoa(len(lines)-n)+" more lines)")
	}
	return strings.Join(lines, "; ")
}
