package homedir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/workspace"
)

// The rule (docs/lifecycle.md I17): a home never reuses a worktree or an
// issue branch it did not make. Issue numbers start at 1 in every new
// tracker, so a new home (or one restored from an old backup) meets the
// worktrees and branches an earlier home left under the same names; reused,
// the new #1 would build on the old #1's files.
//
//   - A worktree at an issue's place that this home did not make is moved
//     aside, whole, to <home>/aside/, and its branch in the mirror with it
//     (renamed agentorg-aside/<time>/<branch>); the issue gets a new one.
//   - An issue branch on the origin that this home did not push is left
//     alone, and the push refused with a message saying what to do.
//
// This home's worktrees are known by a row per issue in agentorg_worktrees
// and a marker with the same token in the worktree's git directory.
//
// Workers (docs/lifecycle.md I21): on a database many homes share, the row
// names the worker (Owners.Worker) that holds the issue: whose home made
// its worktree last, and whose disk keeps the agent's session. Another
// worker that takes the issue over records the row as its own, with a new
// token; the worker that held it, back, finds its worktree's marker
// stale and moves the worktree aside, never reusing it.

const ownerSchema = `
CREATE TABLE IF NOT EXISTS agentorg_worktrees (
	issue      INTEGER PRIMARY KEY,
	branch     TEXT NOT NULL,
	token      TEXT NOT NULL,
	pushed     INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	worker     TEXT NOT NULL DEFAULT ''
);`

// markerName is the marker's file name in a worktree's git directory.
const markerName = "agentorg-home"

// Owners knows which worktrees and branches this home made.
type Owners struct {
	DB   *sql.DB
	Home string // the home's directory
	ID   Identity
	// Worker is this home's own id among the workers of the database
	// (home.json's worker, see WorkerID). Empty: home.json's, else ID.ID
	// (a home with a database of its own is its only worker).
	Worker string
	// Shared says other workers use the database: each attempt's work is
	// kept in it (the role's keepWork), for one of them to take an issue
	// over. A home's own SQLite file has no other worker: nothing to keep.
	Shared bool
	// MaxBundle caps the work bundle KeepWork stores (0: DefaultMaxBundle).
	MaxBundle int64
	Now       func() time.Time
}

// Self is this home's worker id: Worker, else home.json's, else ID.ID.
func (o *Owners) Self() string {
	if o.Worker != "" {
		return o.Worker
	}
	if f, ok := ReadFile(o.Home); ok && f.Worker != "" {
		return f.Worker
	}
	return o.ID.ID
}

type owned struct {
	token  string
	pushed bool
	worker string // "" in a row recorded before workers were told apart
}

// mine reports whether the row is this home's: it names this worker, or
// no worker (then the marker tells).
func (o *Owners) mine(w owned) bool { return w.worker == "" || w.worker == o.Self() }

func (o *Owners) row(ctx context.Context, n int64) (owned, bool, error) {
	var w owned
	err := o.DB.QueryRowContext(ctx, `SELECT token, pushed, worker FROM agentorg_worktrees WHERE issue = ?`, n).Scan(&w.token, &w.pushed, &w.worker)
	if errors.Is(err, sql.ErrNoRows) {
		return owned{}, false, nil
	}
	if err != nil {
		return owned{}, false, fmt.Errorf("home: worktree of #%d: %w", n, err)
	}
	return w, true, nil
}

func (o *Owners) record(ctx context.Context, n int64, branch string, pushed bool) (owned, error) {
	w := owned{token: randomID(), pushed: pushed, worker: o.Self()}
	_, err := o.DB.ExecContext(ctx, `INSERT INTO agentorg_worktrees (issue, branch, token, pushed, created_at, worker) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (issue) DO UPDATE SET branch = excluded.branch, token = excluded.token, created_at = excluded.created_at, worker = excluded.worker`,
		n, branch, w.token, flag(w.pushed), o.now().UTC().Format(time.RFC3339), w.worker)
	if err != nil {
		return owned{}, fmt.Errorf("home: record the worktree of #%d: %w", n, err)
	}
	return w, nil
}

// Holding is who holds an issue, as its row in agentorg_worktrees says.
type Holding struct {
	// Worker is the worker whose home made the issue's worktree last; ""
	// for a row recorded before workers were told apart.
	Worker string
	// Pushed says agentorg pushed the issue's branch to the origin.
	Pushed bool
}

// Holding says who holds issue n; ok is false when no home made its
// worktree yet.
func (o *Owners) Holding(ctx context.Context, n int64) (h Holding, ok bool, err error) {
	w, ok, err := o.row(ctx, n)
	return Holding{Worker: w.worker, Pushed: w.pushed}, ok, err
}

// Holder says which worker holds issue n on the database db: the worker
// whose home made the issue's worktree last, whose disk keeps the agent
// session the next developer run resumes. A job for the issue belongs on
// that worker while it is alive; once it is gone, another worker takes
// the issue over (role: issueWorktree). ok is false when no worker is
// known to hold it (no worktree made yet, or a row from before workers
// were told apart): any worker may take the job.
func Holder(ctx context.Context, db *sql.DB, issue int64) (worker string, ok bool, err error) {
	err = db.QueryRowContext(ctx, `SELECT worker FROM agentorg_worktrees WHERE issue = ?`, issue).Scan(&worker)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		if exists, terr := store.TableExists(ctx, db, "agentorg_worktrees"); terr == nil && !exists {
			return "", false, nil // no home identified on this database yet
		}
		return "", false, fmt.Errorf("home: holder of #%d: %w", issue, err)
	}
	return worker, worker != "", nil
}

// Holders says which worker holds each issue some worker holds on db, as
// Holder does for one: what status shows per worker. An issue whose row
// names no worker is left out, and a database no home identified on yet
// has none.
func Holders(ctx context.Context, db *sql.DB) (map[int64]string, error) {
	if ok, err := store.TableExists(ctx, db, "agentorg_worktrees"); err != nil || !ok {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT issue, worker FROM agentorg_worktrees WHERE worker <> ''`)
	if err != nil {
		return nil, fmt.Errorf("home: holders: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var n int64
		var w string
		if err := rows.Scan(&n, &w); err != nil {
			return nil, fmt.Errorf("home: holders: %w", err)
		}
		out[n] = w
	}
	return out, rows.Err()
}

// flag is b as the INTEGER column holds it (PostgreSQL's BIGINT takes no
// bool).
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (o *Owners) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Prepare makes issue n's worktree place (path) and branch this home's
// before the mirror opens them: what another home left there is moved
// aside. It returns a sentence for each thing it moved, for the event log.
func (o *Owners) Prepare(ctx context.Context, m *workspace.Mirror, n int64, path, branch string) ([]string, error) {
	w, ok, err := o.row(ctx, n)
	if err != nil {
		return nil, err
	}
	if !ok && n <= o.ID.AdoptThrough {
		// Worked on before homes had an identity: what is there is ours.
		_, err := o.record(ctx, n, branch, true)
		return nil, err
	}
	exists := false
	if _, err := os.Lstat(path); err == nil {
		exists = true
	}
	if ok && o.mine(w) && (!exists || o.marks(path, w)) {
		return nil, nil
	}
	// Nothing of this home's is here: whatever is, is another's, or this
	// home's from before another worker took the issue over.
	var said []string
	stamp := o.now().UTC().Format("20060102T150405Z")
	takenOver := ok && !o.mine(w)
	if exists {
		aside := filepath.Join(Aside(o.Home), fmt.Sprintf("%s-%s", filepath.Base(path), stamp))
		who := o.maker(path, takenOver) // before the move, which drops the engine's git directory
		if err := m.MoveWorktreeAside(ctx, path, aside); err != nil {
			return nil, err
		}
		if takenOver {
			said = append(said, fmt.Sprintf("worktree %s is stale (%s): worker %s has held the issue since: moved aside to %s", path, who, w.worker, aside))
		} else {
			said = append(said, fmt.Sprintf("worktree %s was not made by this home (%s): moved aside to %s", path, who, aside))
		}
	}
	if _, err := m.BranchHead(ctx, branch); err == nil {
		newName := "agentorg-aside/" + stamp + "/" + branch
		if err := m.MoveBranchAside(ctx, branch, newName); err != nil {
			return nil, err
		}
		if takenOver {
			said = append(said, fmt.Sprintf("branch %s in the mirror is stale: worker %s has held the issue since: renamed %s", branch, w.worker, newName))
		} else {
			said = append(said, fmt.Sprintf("branch %s in the mirror was not made by this home: renamed %s", branch, newName))
		}
	}
	if _, err := o.record(ctx, n, branch, w.pushed); err != nil {
		return nil, err
	}
	return said, nil
}

// marks reports whether the worktree at path carries this home's marker
// with the row's token, or no marker at all: then it was made by this home
// after the row was recorded (Prepare moves anything else aside first),
// and a crash came before Mark. A row recorded before workers were told
// apart is marked with the identity's id.
func (o *Owners) marks(path string, w owned) bool {
	got, err := os.ReadFile(o.markerPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	s := strings.TrimSpace(string(got))
	return err == nil && (s == o.Self()+" "+w.token || (w.worker == "" && s == o.ID.ID+" "+w.token))
}

// maker says which home made the worktree at dir, as far as its marker
// tells; takenOver says another worker holds the issue now.
func (o *Owners) maker(dir string, takenOver bool) string {
	b, err := os.ReadFile(o.markerPath(dir))
	if err != nil {
		return "made by an earlier home or by hand"
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if takenOver && (id == o.Self() || id == o.ID.ID) {
		return "made by this home when it held the issue"
	}
	if id == o.Self() || id == o.ID.ID {
		return "made by this home for an issue its database no longer has, as after a restore"
	}
	return "made by home " + id
}

// Mark records in issue n's worktree at path that this home made it.
func (o *Owners) Mark(ctx context.Context, n int64, path string) error {
	w, ok, err := o.row(ctx, n)
	if err != nil || !ok {
		return err
	}
	self := o.Self()
	if w.worker == "" {
		// A row from before workers were told apart: the worktree Prepare
		// left here is this home's, and so is the row from now on.
		if _, err := o.DB.ExecContext(ctx, `UPDATE agentorg_worktrees SET worker = ? WHERE issue = ? AND token = ? AND worker = ''`, self, n, w.token); err != nil {
			return fmt.Errorf("home: record the worker of #%d: %w", n, err)
		}
	} else if w.worker != self {
		return fmt.Errorf("home: worktree %s of #%d: worker %s holds the issue, not this one (%s)", path, n, w.worker, self)
	}
	want := self + " " + w.token
	p := o.markerPath(path)
	if p == "" {
		return fmt.Errorf("home: worktree %s has no git directory to mark", path)
	}
	if got, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(got)) == want {
		return nil
	}
	if err := os.WriteFile(p, []byte(want+"\n"), 0o644); err != nil {
		return fmt.Errorf("home: mark worktree %s: %w", path, err)
	}
	return nil
}

// MayPush refuses a push of issue n's branch that would overwrite a branch
// on the origin this home did not push (an earlier home's), and otherwise
// records that this home owns the branch there from now on.
func (o *Owners) MayPush(ctx context.Context, m *workspace.Mirror, n int64, branch string) error {
	w, ok, err := o.row(ctx, n)
	if err != nil {
		return err
	}
	if ok && w.pushed {
		return nil
	}
	if !ok && n <= o.ID.AdoptThrough {
		_, err := o.record(ctx, n, branch, true)
		return err
	}
	sha, found, err := m.OriginBranch(ctx, branch)
	if err != nil {
		return err
	}
	if found {
		return &ForeignBranchError{Issue: n, Branch: branch, SHA: sha, Origin: m.Origin}
	}
	if !ok {
		if _, err := o.record(ctx, n, branch, true); err != nil {
			return err
		}
		return nil
	}
	if _, err := o.DB.ExecContext(ctx, `UPDATE agentorg_worktrees SET pushed = 1 WHERE issue = ?`, n); err != nil {
		return fmt.Errorf("home: record the push of #%d: %w", n, err)
	}
	return nil
}

// ForeignBranchError is a push refused because the origin has the
// issue's branch already, and this home did not push it.
type ForeignBranchError struct {
	Issue       int64
	Branch, SHA string
	Origin      string
}

func (e *ForeignBranchError) Error() string {
	short := e.SHA
	if len(short) > 12 {
		short = short[:12]
	}
	return fmt.Sprintf("the origin %s already has branch %s (at %s), which this home did not push: it was left by an earlier home, or made by hand. "+
		"agentorg leaves it alone rather than overwrite it: rename or delete it on the origin (git push origin :%s, after saving what you want of it)",
		e.Origin, e.Branch, short, e.Branch)
}

// markerPath is the marker's path in the engine's git directory for the
// worktree at dir (workspace.EngineGitDir: never the agent's own .git,
// which the agent could forge); "" when it has none.
func (o *Owners) markerPath(dir string) string {
	g := workspace.EngineGitDir(Mirror(o.Home), dir)
	if g == "" {
		return ""
	}
	return filepath.Join(g, markerName)
}

// Owns reports whether the worktree at path, issue n's, was made by this
// home (or adopted from before homes had an identity).
func (o *Owners) Owns(ctx context.Context, n int64, path string) (bool, error) {
	w, ok, err := o.row(ctx, n)
	if err != nil {
		return false, err
	}
	if !ok {
		return n <= o.ID.AdoptThrough, nil
	}
	return o.mine(w) && o.marks(path, w), nil
}
