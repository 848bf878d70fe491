package app

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/dblock"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/transcript/capped"
	"github.com/agentorg/agentorg/workflow"
	"github.com/agentorg/agentorg/workspace"
)

// EngineOptions tune the engine for a use (serve, a one-shot run, tests).
type EngineOptions struct {
	PollInterval time.Duration
	Heartbeat    time.Duration
	StaleAfter   time.Duration
	RetryDelay   time.Duration
	MaxAttempts  int
	// UnavailableDelay is how long a job waits out a tracker outage.
	UnavailableDelay time.Duration
	// Agents overrides adapters by agent name (the benchmark's no-op agent).
	Agents map[string]agentorg.Agent
	// CINoPipeline is how long the ci role and auto-merge wait for a
	// pipeline to appear (zero: role.DefaultCINoPipeline).
	CINoPipeline time.Duration
	// Warn, when set, is told what the engine repaired on its own (a
	// mirror cleaned of what agentorg did not put there).
	Warn func(string)
}

// Engine takes the home's lock and builds the engine over this home.
func (o *Org) Engine(ctx context.Context, eo EngineOptions) (*engine.Engine, error) {
	capMax, err := transcriptMax()
	if err != nil {
		return nil, err
	}
	if err := o.Lock(); err != nil {
		return nil, err
	}
	if err := o.CheckRepository(ctx); err != nil {
		return nil, fmt.Errorf("the engine does not start: %w", err)
	}
	// Open checked a sample of a large database; an engine runs for long,
	// so it checks the whole before it starts (SQLite's own check: a
	// PostgreSQL server keeps its own).
	if o.Store.Dialect == store.SQLite {
		if err := homedir.CheckPages(ctx, o.DB, o.Home, sqlitedb.Bounds{FullPages: math.MaxInt}); err != nil {
			return nil, err
		}
	}
	if o.Origin == "" && o.cloneURL != nil {
		url, err := o.cloneURL(ctx)
		if err != nil {
			return nil, err
		}
		o.Origin = url
	}
	confine, err := o.Confinement()
	if err != nil {
		return nil, fmt.Errorf("the engine does not start: %w", err)
	}
	if confine != nil {
		// Runs' temporary directories in the home, so that the next start
		// clears what a killed engine's runs left (role.RemoveLeftoverCheckouts).
		confine.TempRoot = role.TempRoot(o.Home)
	}
	mirror, err := o.openMirror(ctx)
	if err != nil {
		return nil, err
	}
	agents := map[string]agentorg.Agent{}
	for _, a := range o.Workflow.Agents {
		if ag, ok := eo.Agents[a.Name]; ok {
			agents[a.Name] = ag
			continue
		}
		ag, err := NewAgent(a, o.Home)
		if err != nil {
			return nil, err
		}
		agents[a.Name] = ag
	}
	logFile, err := os.OpenFile(filepath.Join(o.Home, "engine.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	guard := o.guard(mirror, func(msg string) {
		if eo.Warn != nil {
			eo.Warn(msg)
		}
	})
	if err := guard(ctx); err != nil {
		return nil, fmt.Errorf("the engine does not start: %w", err)
	}
	locker, err := o.locker(ctx)
	if err != nil {
		return nil, err
	}
	deps := &role.Deps{
		Locker:        locker,
		Workflow:      o.Workflow,
		Tracker:       o.Tracker,
		Log:           o.Log,
		Agents:        agents,
		Mirror:        mirror,
		Home:          o.Home,
		Identity:      workspace.Identity{Name: o.Workflow.Tracker.Bot, Email: o.Workflow.Tracker.Bot + "@agentorg.invalid"},
		AgentEnv:      AgentEnv,
		CheckEnv:      CheckEnv(),
		CINoPipeline:  eo.CINoPipeline,
		Guard:         guard,
		Owners:        &homedir.Owners{DB: o.DB, Home: o.Home, ID: o.Identity, Worker: o.Worker, Shared: o.Store.Pool != nil},
		TranscriptMax: capMax,
		Confine:       confine,
		Metrics:       o.Metrics,
	}
	return engine.New(ctx, engine.Config{
		DB:               o.DB,
		Pool:             o.Store.Pool,
		Worker:           o.Worker,
		Deps:             deps,
		PollInterval:     eo.PollInterval,
		Heartbeat:        eo.Heartbeat,
		StaleAfter:       eo.StaleAfter,
		RetryDelay:       eo.RetryDelay,
		UnavailableDelay: eo.UnavailableDelay,
		MaxAttempts:      eo.MaxAttempts,
		Logger:           slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Metrics:          o.Metrics,
	})
}

// openMirror opens (the first time: clones) the home's mirror of the
// origin, following the target branch. The first mirror of a large
// repository takes minutes: on a terminal git's progress shows to the
// person waiting (serve, or check --run, often the first to mirror), and
// nothing goes to logs and pipes.
func (o *Org) openMirror(ctx context.Context) (*workspace.Mirror, error) {
	opts := []workspace.MirrorOption{workspace.TransportEnv(o.TransportEnv)}
	if stderrIsTerminal() {
		opts = append(opts, workspace.Progress(os.Stderr))
	}
	mirror, err := workspace.OpenMirror(ctx, homedir.Mirror(o.Home), o.Origin, opts...)
	if err != nil {
		return nil, err
	}
	mirror.Branches = []string{o.Workflow.Repo.TargetBranch}
	return mirror, nil
}

// transcriptMax is the cap on each run's transcript: AGENTORG_TRANSCRIPT_MAX
// (32MiB, 512KiB, bytes), else capped.DefaultMax.
func transcriptMax() (int64, error) {
	v := os.Getenv("AGENTORG_TRANSCRIPT_MAX")
	if v == "" {
		return capped.DefaultMax, nil
	}
	n, err := capped.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("AGENTORG_TRANSCRIPT_MAX: %w", err)
	}
	return n, nil
}

// AgentEnv is an agent's environment, built from scratch: PATH, HOME, LANG
// and TMPDIR, plus exactly what the workflow passes on. No tracker token.
func AgentEnv(a *workflow.Agent) []string {
	env := proc.BaseEnv()
	keys := make([]string, 0, len(a.Env))
	for k := range a.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+a.Env[k])
	}
	return env
}

// CheckEnv is the environment of checks and the E2E command: the base one
// plus the Go toolchain's settings, so that `go test` finds its modules and
// proxy as the user configured them. The build cache is the checks' own
// (CheckGoCache): agents write the user's, and `go test` trusts what it
// finds in its cache, test results included, so an agent that wrote a
// result there could make a failing test pass.
func CheckEnv() []string {
	env := proc.BaseEnv()
	for _, k := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN", "CI"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if c := CheckGoCache(); c != "" {
		env = append(env, "GOCACHE="+c)
		env = append(env, checkModules(filepath.Join(filepath.Dir(c), "go-mod"))...)
		env = append(env, checkPackageCaches(filepath.Dir(c))...)
	}
	return env
}

// checkPackageCaches are the JavaScript package managers' caches of
// checks and the E2E command, beside their Go caches: a check installs a
// package's dependencies in its clean checkout (npm ci), and the user's
// caches (~/.npm, ...) are the agents', which a confined check may not
// write. npm, pnpm and yarn check each package against the lockfile's
// integrity hash as they install it.
func checkPackageCaches(dir string) []string {
	return []string{"npm_config_cache=" + filepath.Join(dir, "npm"), "npm_config_store_dir=" + filepath.Join(dir, "pnpm-store"),
		"YARN_CACHE_FOLDER=" + filepath.Join(dir, "yarn")}
}

// checkModules is the module settings of checks and the E2E command: a
// module cache of their own, mods, beside their build cache, fed from the user's
// download cache as a proxy (then the user's own proxy). Agents may write
// the user's module cache, and the go command trusts an extracted module
// as it finds it; a module fetched through a proxy is checked against
// go.sum (and the checksum database) first, so a tampered one fails a
// check instead of passing it. Nothing when the go command is missing
// (a repository that is not Go's).
func checkModules(mods string) []string {
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOPROXY").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !filepath.IsAbs(lines[0]) {
		return nil
	}
	if os.MkdirAll(mods, 0o755) != nil {
		return nil
	}
	proxy := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(lines[0], "cache", "download"))}).String()
	if user := strings.TrimSpace(lines[1]); user != "" {
		proxy += "," + user
	}
	return []string{"GOMODCACHE=" + mods, "GOPROXY=" + proxy}
}

// CheckGoCache is the Go build cache of checks and the E2E command,
// shared by the homes of this user and written by nothing else: under
// $XDG_STATE_HOME (~/.local/state), which no agent may write, while they
// may write the user's caches (~/.cache). "" when the user turned the
// cache off (GOCACHE=off), or no such directory can be made.
func CheckGoCache() string {
	if os.Getenv("GOCACHE") == "off" {
		return ""
	}
	state := stateDir(os.Getenv)
	if state == "" {
		return ""
	}
	dir := filepath.Join(state, "agentorg", "checks", "go-build")
	if os.MkdirAll(dir, 0o755) != nil {
		return ""
	}
	return dir
}

// stderrIsTerminal says whether stderr is a character device: a terminal,
// or /dev/null, where progress costs nothing either.
func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// locker is where merge and E2E runs take turns: in this process on a
// home's own SQLite (one engine per home), in the database on PostgreSQL,
// so that every worker's runs on one target take turns. Its pool is its
// own (see store.DB.LockPool), sized for every merge and E2E run of this
// process waiting at once.
func (o *Org) locker(ctx context.Context) (dblock.Locker, error) {
	if o.Store.Pool == nil {
		return dblock.Local(), nil
	}
	var n int32 = 1
	for _, st := range o.Workflow.Stages {
		if st.Role == agentorg.RoleMerge || st.Role == agentorg.RoleE2E {
			n += int32(max(st.Concurrency, 1))
		}
	}
	pool, err := o.Store.LockPool(ctx, n)
	if err != nil {
		return nil, err
	}
	o.closers = append(o.closers, pool.Close)
	return dblock.Postgres(pool), nil
}
