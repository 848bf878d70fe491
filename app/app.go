// Package app opens an agentorg home (the state directory) and wires the
// pieces together: the workflow, the SQLite database, the tracker, the event
// log, the agents and the engine. The CLI, the demo and the benchmark all go
// through it, so they run the same organization.
package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/workflow"
	"github.com/agentorg/agentorg/workspace"
)

// Options say which home and workflow to open.
type Options struct {
	// Home is the state directory. Empty: AGENTORG_HOME, else the home
	// <repo>/.agentorg/state leads to (a new one is made outside the
	// repository, and linked there: defaultHome).
	Home string
	// Workflow is the workflow file. Empty: AGENTORG_WORKFLOW, else the one
	// recorded in the home, else .agentorg/workflow.yaml found from the
	// current directory upwards.
	Workflow string
	// Database is the database the organization keeps its state in: a
	// postgres:// URL, shared by every worker that names it. Empty:
	// AGENTORG_DATABASE, else the one the home recorded, else the home's
	// own SQLite file (agentorg.db).
	Database string
	// Getenv reads the environment (tests pass their own).
	Getenv func(string) string
	// Notify, when set, is told once what Open repaired (a moved home).
	Notify func(string)
}

// Org is an opened home.
type Org struct {
	Home     string
	Workflow *workflow.Workflow
	DB       *sql.DB
	// Store is the database DB belongs to: which engine, and on
	// PostgreSQL the pgx pool River and the locks use.
	Store   *store.DB
	Tracker agentorg.Tracker
	Log     *eventlog.Log
	Desk    *human.Desk
	// Users is the home's register of the people who may act as users
	// (embedded tracker: see human.Users).
	Users *human.Users
	// Origin is the repository the organization works on (a path or URL).
	// With the GitLab tracker and no remote repo.url it is the project's
	// HTTP clone URL, learnt from GitLab when the engine starts.
	Origin string
	// TransportEnv is given to the git commands that talk to the origin
	// (and to nothing else): the GitLab token as an http.extraHeader.
	TransportEnv []string
	// cloneURL asks the tracker for the origin when Origin is empty.
	cloneURL func(ctx context.Context) (string, error)
	lock     *os.File
	// closers run at Close, before the database closes (pools of the
	// engine's).
	closers []func()
	// Identity is which home this is (homedir.Identify).
	Identity homedir.Identity
	// Worker is this home's own id among the workers of the database
	// (homedir.WorkerID, kept in home.json): the routing of an issue's
	// jobs and the takeover of an issue tell workers apart by it, since on
	// a shared database every home has the organization's identity.
	Worker string
	// Metrics are this organization's, for /metrics: the engine, its roles
	// and the GitLab tracker report to them; the jobs are read from DB at
	// each scrape.
	Metrics *metrics.Metrics
}

// MetricsHandler serves the organization's metrics in the Prometheus
// format (the dashboard's /metrics).
func (o *Org) MetricsHandler() http.Handler { return o.Metrics.Handler() }

// ResolvePaths works out the home and workflow paths from the options,
// the environment, the home's record and the current directory.
func ResolvePaths(o Options) (home, wfPath string, err error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	home, wfPath = o.Home, o.Workflow
	if home == "" {
		home = getenv("AGENTORG_HOME")
	}
	if wfPath == "" {
		wfPath = getenv("AGENTORG_WORKFLOW")
	}
	if wfPath == "" && home != "" {
		if hf, ok := homedir.ReadFile(home); ok {
			wfPath = hf.Workflow
			// A home moved with the workflow inside it (the demo's).
			if abs, err := filepath.Abs(home); err == nil && hf.Path != "" && homedir.Moved(abs, hf.Path) {
				wfPath = homedir.Translate(wfPath, hf.Path, abs)
			}
		}
	}
	if wfPath == "" {
		wfPath, err = findWorkflow()
		if err != nil {
			return "", "", err
		}
	}
	if wfPath, err = filepath.Abs(wfPath); err != nil {
		return "", "", err
	}
	if home == "" {
		if home, err = defaultHome(wfPath, getenv); err != nil {
			return "", "", err
		}
	}
	if home, err = filepath.Abs(home); err != nil {
		return "", "", err
	}
	return home, wfPath, nil
}

func findWorkflow() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, workflow.DefaultPath)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no workflow found: run `agentorg init` in your repository, or pass --workflow or --home")
		}
		dir = parent
	}
}

// RepoRoot is the repository that holds a workflow file
// (<root>/.agentorg/workflow.yaml).
func RepoRoot(wfPath string) string {
	return filepath.Dir(filepath.Dir(wfPath))
}

// Open opens (creating) the home and its database and loads the workflow.
// A damaged home (homedir.ErrDamaged) is refused before anything in it is
// written; a moved one is repaired, and o.Notify told.
func Open(ctx context.Context, o Options) (*Org, error) {
	home, wfPath, err := ResolvePaths(o)
	if err != nil {
		return nil, err
	}
	wf, err := workflow.Load(wfPath)
	if err != nil {
		return nil, err
	}
	target, err := databaseOf(home, o)
	if err != nil {
		return nil, err
	}
	st, id, err := openDatabase(ctx, home, target, o.Notify)
	if err != nil {
		return nil, err
	}
	db := st.SQL
	origin := OriginOf(wf)
	org := &Org{Home: home, Workflow: wf, DB: db, Store: st, Origin: origin, Identity: id}
	stages := make([]string, 0, len(wf.Stages))
	for _, st := range wf.Stages {
		stages = append(stages, st.Name)
	}
	org.Metrics = metrics.New(metrics.Options{Jobs: func(ctx context.Context) ([]metrics.JobCount, error) {
		return engine.JobCounts(ctx, db, stages)
	}})
	switch wf.Tracker.Kind {
	case "embedded":
		identity := workspace.Identity{Name: wf.Tracker.Bot, Email: wf.Tracker.Bot + "@agentorg.invalid"}
		local := func() error {
			if isRemoteURL(origin) {
				return fmt.Errorf("the embedded tracker merges into a local repository, but repo.url is %s", origin)
			}
			return nil
		}
		tr := embedded.New(db, embedded.Options{
			MergeAt: func(ctx context.Context, source, target, expectedHead, expectedTarget, message string) (string, error) {
				if err := local(); err != nil {
					return "", err
				}
				return workspace.MergeIntoAt(ctx, origin, source, target, expectedHead, expectedTarget, message, identity)
			},
			Land: func(ctx context.Context, source, target, expectedHead, expectedTarget, commit, message string) (string, error) {
				if err := local(); err != nil {
					return "", err
				}
				return workspace.LandMerge(ctx, origin, source, target, expectedHead, expectedTarget, commit, message, identity)
			},
			CheckTarget: func(ctx context.Context, target string) error {
				if local() != nil {
					return nil // the merge itself says what is wrong
				}
				_, err := workspace.TargetCheckout(ctx, origin, target)
				return err
			},
		})
		if err := tr.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
		if org.sharedDB() {
			if err := checkSharedOrigin(ctx, db, st.Where, origin); err != nil {
				st.Close()
				return nil, err
			}
		}
		org.Tracker = tr
	case workflow.TrackerGitLab:
		g := wf.Tracker.GitLab
		tr, err := gitlab.New(ctx, gitlab.Options{BaseURL: g.URL, Project: g.Project, Token: g.Token, Bot: wf.Tracker.Bot, DB: db,
			Metrics: org.Metrics})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("%s: %w", wfPath, err)
		}
		org.Tracker = tr
		org.TransportEnv = gitlab.GitAuthEnv(g.Token)
		if !isRemoteURL(wf.Repo.URL) {
			// The repository is the GitLab project's, not the local checkout
			// holding the workflow.
			org.Origin, org.cloneURL = "", tr.CloneURL
		}
	default:
		st.Close()
		return nil, fmt.Errorf("%s: tracker kind %q is not supported by this build", wfPath, wf.Tracker.Kind)
	}
	org.Log = eventlog.New(db)
	if err := org.Log.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	org.Desk = &human.Desk{Workflow: wf, Tracker: org.Tracker, Log: org.Log}
	org.Users = human.NewUsers(db)
	if err := org.Users.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	// Written last, once the database is sound and made: home.json is one
	// of the signs that a home was used (homedir.CheckFiles).
	org.Worker = homedir.WorkerID(home, id, st.Dialect == store.Postgres)
	hf := homedir.File{Workflow: wfPath, ID: id.ID, Path: home, Worker: org.Worker}
	if st.Dialect == store.Postgres {
		hf.Database = st.Where
	}
	if err := homedir.WriteFile(home, hf); err != nil {
		st.Close()
		return nil, err
	}
	return org, nil
}

// databaseOf says which database home works on: the options', else
// AGENTORG_DATABASE, else the one home.json recorded, else "" (the home's
// own SQLite file). A home that worked on a PostgreSQL database is not
// opened on another, nor on a SQLite file of its own: its worktrees and
// branches belong to that database's issues.
func databaseOf(home string, o Options) (string, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	target := o.Database
	if target == "" {
		target = getenv("AGENTORG_DATABASE")
	}
	if target != "" && !store.IsURL(target) {
		return "", fmt.Errorf("database %q: give a postgres:// URL (the default, without one, is the home's own SQLite file)", store.Redact(target))
	}
	hf, ok := homedir.ReadFile(home)
	if !ok || hf.Database == "" {
		if _, err := os.Stat(homedir.DB(home)); target != "" && err == nil {
			return "", fmt.Errorf("home %s keeps its state in its own SQLite file; it cannot move to %s: "+
				"give each worker of a shared database a new home (--home)", home, store.Redact(target))
		}
		return target, nil
	}
	if target == "" {
		return "", fmt.Errorf("home %s works on the database %s: pass --database with its URL, or set AGENTORG_DATABASE", home, hf.Database)
	}
	if store.Redact(target) != hf.Database {
		return "", fmt.Errorf("home %s works on the database %s, not %s: give each database its own home (--home)", home, hf.Database, store.Redact(target))
	}
	return target, nil
}

// openDatabase opens the organization's database: the home's own SQLite
// file, after checking that it is sound (then it learns which home it is
// and follows the home if it moved), or the PostgreSQL database target
// names, which many homes (workers) share.
func openDatabase(ctx context.Context, home, target string, notify func(string)) (*store.DB, homedir.Identity, error) {
	if target == "" {
		if err := homedir.CheckFiles(home); err != nil {
			return nil, homedir.Identity{}, err
		}
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, homedir.Identity{}, fmt.Errorf("home %s: %w", home, err)
	}
	if target == "" {
		target = homedir.DB(home)
	}
	st, err := store.Open(ctx, target)
	if err != nil {
		return nil, homedir.Identity{}, err
	}
	var id homedir.Identity
	if st.Dialect == store.Postgres {
		// The identity is the organization's; its path means nothing to
		// the other workers' homes.
		id, err = homedir.Identify(ctx, st.SQL, home)
	} else {
		id, err = identify(ctx, st.SQL, home, notify)
	}
	if err != nil {
		st.Close()
		return nil, homedir.Identity{}, err
	}
	return st, id, nil
}

func identify(ctx context.Context, db *sql.DB, home string, notify func(string)) (homedir.Identity, error) {
	if err := homedir.CheckPages(ctx, db, home, sqlitedb.DefaultBounds); err != nil {
		return homedir.Identity{}, err
	}
	id, err := homedir.Identify(ctx, db, home)
	if err != nil {
		return id, err
	}
	if !homedir.Moved(home, id.Path) {
		return id, nil
	}
	done, err := homedir.Relocate(home, id.Path)
	if err != nil {
		return id, err
	}
	won, err := homedir.SetPath(ctx, db, id.Path, home)
	if err != nil {
		return id, err
	}
	if notify != nil && won {
		what := ""
		if len(done) > 0 {
			what = ": repaired " + strings.Join(done, " and ")
		}
		notify(fmt.Sprintf("the home moved from %s to %s%s", id.Path, home, what))
	}
	id.Path = home
	return id, nil
}

func isRemoteURL(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git@")
}

// Lock takes the home's engine lock: one engine per home, so that a start
// can treat every running job as orphaned by a crash.
func (o *Org) Lock() error {
	if o.lock != nil {
		return nil
	}
	p := filepath.Join(o.Home, "engine.lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(p)
		f.Close()
		return fmt.Errorf("another agentorg engine is running on %s (pid %s); stop it first", o.Home, strings.TrimSpace(string(pid)))
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	o.lock = f
	return nil
}

// EnginePID returns the pid of the engine running on home, or 0. It reads
// the pid the engine wrote into its lock file (cleared when it stops) and
// asks whether that process lives, without touching the lock: a reader
// taking it, even for an instant, could turn a starting engine away.
func EnginePID(home string) int {
	b, err := os.ReadFile(filepath.Join(home, "engine.lock"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0 // it died without clearing its pid (kill -9)
	}
	return pid
}

// Close releases the lock and the database.
func (o *Org) Close() error {
	if o.lock != nil {
		o.lock.Truncate(0) // no engine runs here any more (see EnginePID)
		syscall.Flock(int(o.lock.Fd()), syscall.LOCK_UN)
		o.lock.Close()
		o.lock = nil
	}
	for _, c := range o.closers {
		c()
	}
	o.closers = nil
	return o.Store.Close()
}
