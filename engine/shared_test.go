package engine

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// handOutAt is handOut with River's attempted_at set to ago before now, by
// the database's clock.
func handOutAt(t *testing.T, db *sql.DB, d store.Dialect, id int64, ago time.Duration) {
	t.Helper()
	handOut(t, db, id)
	q := `UPDATE river_job SET attempted_at = datetime('now', ?, 'subsec') WHERE id = ?`
	arg := any("-" + strconv.FormatFloat(ago.Seconds(), 'f', 3, 64) + " seconds")
	if d == store.Postgres {
		q = `UPDATE river_job SET attempted_at = now() - make_interval(secs => ?) WHERE id = ?`
		arg = ago.Seconds()
	}
	if _, err := db.Exec(q, arg, id); err != nil {
		t.Fatal(err)
	}
}

// On SQLite the engine is alone (the home's lock): at start every running
// job is a dead engine's. On PostgreSQL other engines work the database:
// at start only a claim gone quiet, and a job left unclaimed for long, are
// released; a live claim and a job just handed out are left alone.
func TestStartReleasesOnlyTheDeadWhereOthersWork(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e, db := bareEngine(t, t.TempDir(), d)
		ids := map[string]int64{}
		for i, name := range []string{"live", "dead", "unclaimed-long", "unclaimed-now"} {
			job, err := e.client.Insert(ctx, StageArgs{Issue: int64(i + 1), Stage: "validate"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ids[name] = job.Job.ID
		}
		handOutAt(t, db, d, ids["live"], time.Minute)
		handOutAt(t, db, d, ids["dead"], time.Minute)
		handOutAt(t, db, d, ids["unclaimed-long"], time.Hour)
		handOutAt(t, db, d, ids["unclaimed-now"], 0)
		deadClaim(t, e, db, ids["dead"], 2, "validate", "dead-engine")
		if _, err := db.Exec(`INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, heartbeat_at)
			VALUES (?, 1, 'validate', 'run-live', 'live-engine', 'elsewhere', ?)`, ids["live"], time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}

		n, err := e.reapAtStart(ctx)
		if err != nil {
			t.Fatal(err)
		}
		released := map[store.Dialect][]string{
			store.SQLite:   {"live", "dead", "unclaimed-long", "unclaimed-now"},
			store.Postgres: {"dead", "unclaimed-long"},
		}[d]
		if n != len(released) {
			t.Errorf("released %d jobs, want %d (%v)", n, len(released), released)
		}
		for name, id := range ids {
			want := rivertype.JobStateRunning
			for _, r := range released {
				if r == name {
					want = rivertype.JobStateAvailable
				}
			}
			if j, err := e.client.JobGet(ctx, id); err != nil || j.State != want {
				t.Errorf("the %s job after the start: %+v, %v; want %s", name, j, err, want)
			}
		}
		claims, err := Claims(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if d == store.Postgres && (len(claims) != 1 || claims[0].RunID != "run-live" || claims[0].Host != "elsewhere") {
			t.Errorf("claims after the start: %+v, want the live one", claims)
		}
		if d == store.SQLite && len(claims) != 0 {
			t.Errorf("claims after the start: %+v, want none", claims)
		}
		// The dead claim's run is logged as reaped, and the record says
		// why each job was released.
		var ended string
		if err := db.QueryRow(`SELECT ended FROM agentorg_claim_log WHERE job_id = ?`, ids["dead"]).Scan(&ended); err != nil || ended != "reaped" {
			t.Errorf("the dead claim's run ended %q (%v), want reaped", ended, err)
		}
		evs, err := e.log.Events(ctx, eventlog.Filter{Kind: eventlog.KindClaim})
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, ev := range evs {
			reasons = append(reasons, ev.Reason)
		}
		all := strings.Join(reasons, "\n")
		for _, want := range []string{
			"released job " + strconv.FormatInt(ids["dead"], 10) + ": its worker died (no heartbeat)",
			"released job " + strconv.FormatInt(ids["unclaimed-long"], 10) + ": its worker died",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("no record says %q; the record:\n%s", want, all)
			}
		}
	})
}

// A worker started again on its home (kill -9, then serve) releases at
// once what its last engine left, however fresh the heartbeats: one engine
// runs per home. That is its claims, and the jobs River last handed to it
// that have no claim (it died before it claimed one, or after it ended one
// but before River recorded the end). Another engine's live claim and
// unclaimed job, and its own worker's last engine on another host, are
// left to heartbeats and to unclaimedAfter.
func TestStartReleasesWhatThisWorkersLastEngineLeftAtOnce(t *testing.T) {
	ctx := context.Background()
	e, db := bareEngine(t, t.TempDir(), store.Postgres)
	e.cfg.Worker = "worker-1"
	const last = "last-engine"
	if _, err := db.Exec(`INSERT INTO agentorg_workers (id, host, beat_at, owner) VALUES (?, ?, ?, ?), ('worker-2', ?, ?, 'other-engine')`,
		e.cfg.Worker, e.host, time.Now().UnixMilli(), last, e.host, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for i, c := range []struct{ name, handedTo, claimedBy string }{
		{"claimed", last, last},
		{"left", last, ""},
		{"other's claimed", "other-engine", "other-engine"},
		{"other's unclaimed", "other-engine", ""},
	} {
		job, err := e.client.Insert(ctx, StageArgs{Issue: int64(i + 1), Stage: "validate"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := job.Job.ID
		ids[c.name] = id
		if _, err := db.Exec(`UPDATE river_job SET state = 'running', attempt = attempt + 1, attempted_at = now(),
			attempted_by = array_append(attempted_by, ?) WHERE id = ?`, c.handedTo, id); err != nil {
			t.Fatal(err)
		}
		if c.claimedBy != "" {
			if _, err := db.Exec(`INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, heartbeat_at)
				VALUES (?, ?, 'validate', ?, ?, ?, ?)`, id, i+1, "run-"+c.name, c.claimedBy, e.host, time.Now().UnixMilli()); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := func(n int, released ...string) {
		t.Helper()
		if got, err := e.reapAtStart(ctx); err != nil || got != n {
			t.Fatalf("reapAtStart: released %d, %v; want %d", got, err, n)
		}
		for name, id := range ids {
			state := rivertype.JobStateRunning
			if slices.Contains(released, name) {
				state = rivertype.JobStateAvailable
			}
			if j, err := e.client.JobGet(ctx, id); err != nil || j.State != state {
				t.Errorf("the %s job after the start: %+v, %v; want %s", name, j, err, state)
			}
		}
	}
	// The last engine of this worker ran on another host: not this one's.
	if _, err := db.Exec(`UPDATE agentorg_workers SET host = 'elsewhere' WHERE id = ?`, e.cfg.Worker); err != nil {
		t.Fatal(err)
	}
	want(0)
	if _, err := db.Exec(`UPDATE agentorg_workers SET host = ? WHERE id = ?`, e.host, e.cfg.Worker); err != nil {
		t.Fatal(err)
	}
	want(2, "claimed", "left")
	// The worker's row names this engine from its first beat on.
	if err := e.beatWorker(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := e.lastEngine(ctx); err != nil || got != "" {
		t.Errorf("last engine after this one beat: %q, %v; want none", got, err)
	}
}

// On PostgreSQL a one-shot run (serve --once) started after a kill -9
// found the dead engine's claim still beating and left it; its job runs
// for ever as far as River knows, so the run never goes idle. It releases
// the claim once it goes stale, as the leader of a daemon does.
func TestRunUntilIdleReleasesAClaimThatDiesWhileItWaits(t *testing.T) {
	ctx := context.Background()
	e, db := bareEngine(t, t.TempDir(), store.Postgres)
	id := deadJob(t, e, db, 1, "dead-engine")
	// No River client works the job once it is released: the run waits
	// until ctx ends, and the job must be back in the queue by then.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := e.RunUntilIdle(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RunUntilIdle: %v, want it to wait for the released job", err)
	}
	if j, err := e.client.JobGet(ctx, id); err != nil || j.State != rivertype.JobStateAvailable {
		t.Errorf("the dead claim's job: %+v, %v; want available", j, err)
	}
	if claims, err := Claims(ctx, db); err != nil || len(claims) != 0 {
		t.Errorf("claims: %+v, %v; want the dead one released", claims, err)
	}
}

// A claim reaped meanwhile is not released twice, and one whose worker
// beat meanwhile is not released at all.
func TestReapReleasesAClaimOnlyWhileItIsDead(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e, db := bareEngine(t, t.TempDir(), d)
		id := deadJob(t, e, db, 1, "slow-engine")
		dead, err := e.staleClaims(ctx)
		if err != nil || len(dead) != 1 {
			t.Fatalf("stale claims: %+v, %v", dead, err)
		}
		// Its worker beats before the reaper gets to it: alive.
		if _, err := db.Exec(`UPDATE agentorg_claims SET heartbeat_at = ? WHERE job_id = ?`, time.Now().UnixMilli(), id); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.reapOne(ctx, dead[0], true, true); err != nil || ok {
			t.Fatalf("reap of a claim that beat again: %v, %v; want left alone", ok, err)
		}
		if j, err := e.client.JobGet(ctx, id); err != nil || j.State != rivertype.JobStateRunning {
			t.Fatalf("the job of a live claim: %+v, %v; want running", j, err)
		}
		// Released by another reaper first: nothing left to release.
		if _, err := db.Exec(`DELETE FROM agentorg_claims WHERE job_id = ?`, id); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.reapOne(ctx, dead[0], true, true); err != nil || ok {
			t.Fatalf("reap of a claim already released: %v, %v; want nothing done", ok, err)
		}
	})
}

// One claim per (issue, stage): a second job of a stage the first's live
// claim holds is refused, a dead holder is reaped to make room, and a
// claim's heartbeat finds it gone once another engine released it.
func TestOneClaimPerStage(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e, db := bareEngine(t, t.TempDir(), d)
		a := StageArgs{Issue: 1, Stage: "validate"}
		if ok, err := e.claim(ctx, 101, a, "run-1"); err != nil || !ok {
			t.Fatalf("first claim: %v, %v", ok, err)
		}
		if ok, err := e.claim(ctx, 102, a, "run-2"); err != nil || ok {
			t.Fatalf("a second job's claim of a held stage: %v, %v; want refused", ok, err)
		}
		if held, err := e.beat(ctx, 101, "run-1"); err != nil || !held {
			t.Fatalf("heartbeat of a held claim: %v, %v", held, err)
		}
		// The holder goes quiet past StaleAfter: the next claim reaps it.
		if _, err := db.Exec(`UPDATE agentorg_claims SET heartbeat_at = 0, owner = 'dead-engine' WHERE job_id = 101`); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.claim(ctx, 102, a, "run-2"); err != nil || !ok {
			t.Fatalf("a claim of a stage a dead claim held: %v, %v; want taken", ok, err)
		}
		if held, err := e.beat(ctx, 101, "run-1"); err != nil || held {
			t.Fatalf("heartbeat of a reaped claim: %v, %v; want gone", held, err)
		}
		e.release(ctx, 102, "run-2", endedDone)
		rows, err := db.Query(`SELECT run_id, ended, ended_at IS NOT NULL FROM agentorg_claim_log ORDER BY run_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var run, ended string
			var over bool
			if err := rows.Scan(&run, &ended, &over); err != nil {
				t.Fatal(err)
			}
			got = append(got, run+":"+ended+":"+strconv.FormatBool(over))
		}
		if want := "run-1:reaped:true run-2:done:true"; strings.Join(got, " ") != want {
			t.Fatalf("claim log %v, want %s", got, want)
		}
		if n, err := DoubleClaims(ctx, db); err != nil || n != 0 {
			t.Fatalf("double claims %d, %v; want 0", n, err)
		}
	})
}

// A claim and its row in the claim log come and go together: when the log
// cannot be written (here: its table is away), the claim is not taken, and
// a release does not delete the claim; once the log is back the release
// ends both. (A worker killed between two separate statements, or a
// database restart between them, left the chaos bench a log row that never
// ended while the stage ran again: three double claims in 2,000 issues.)
func TestAClaimAndItsLogEntryGoTogether(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e, db := bareEngine(t, t.TempDir(), d)
		a := StageArgs{Issue: 1, Stage: "merge"}
		claims := func() int {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM agentorg_claims`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		away := func(from, to string) {
			if _, err := db.Exec(`ALTER TABLE ` + from + ` RENAME TO ` + to); err != nil {
				t.Fatal(err)
			}
		}
		away("agentorg_claim_log", "claim_log_away")
		if ok, err := e.claim(ctx, 101, a, "run-1"); err == nil || ok {
			t.Fatalf("a claim without its log: %v, %v; want an error", ok, err)
		}
		if n := claims(); n != 0 {
			t.Fatalf("%d claims left by a claim whose log failed", n)
		}
		away("claim_log_away", "agentorg_claim_log")
		if ok, err := e.claim(ctx, 101, a, "run-1"); err != nil || !ok {
			t.Fatalf("claim: %v, %v", ok, err)
		}
		away("agentorg_claim_log", "claim_log_away")
		if _, err := e.endClaim(ctx, "run-1", endedDone, e.sql.release, 101, "run-1"); err == nil {
			t.Fatal("a release whose log update failed said nothing")
		}
		if n := claims(); n != 1 {
			t.Fatalf("%d claims after a release whose log update failed; want the claim kept", n)
		}
		away("claim_log_away", "agentorg_claim_log")
		e.release(ctx, 101, "run-1", endedDone)
		var ended string
		if err := db.QueryRow(`SELECT ended FROM agentorg_claim_log WHERE run_id = 'run-1' AND ended_at IS NOT NULL`).Scan(&ended); err != nil || ended != endedDone || claims() != 0 {
			t.Fatalf("after the release: log %q (%v), %d claims", ended, err, claims())
		}
	})
}

// DoubleClaims counts pairs of runs of one (issue, stage) that overlapped:
// a run not ended runs until now, runs that follow each other do not
// overlap, nor runs of different stages.
func TestDoubleClaims(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e, db := bareEngine(t, t.TempDir(), d)
		if n, err := DoubleClaims(ctx, db); err != nil || n != 0 {
			t.Fatalf("double claims of an empty log: %d, %v", n, err)
		}
		for _, r := range []struct {
			issue      int64
			stage      string
			start, end int64 // 0 end: not ended
		}{
			{1, "plan", 10, 20}, {1, "plan", 20, 30}, // one after the other
			{2, "plan", 10, 0}, {2, "plan", 15, 18}, // the second inside the first, which runs on
			{3, "plan", 10, 20}, {3, "pick", 10, 20}, // different stages
			{4, "plan", 10, 20}, {4, "plan", 19, 25}, {4, "plan", 5, 40}, // three that overlap pairwise
		} {
			var end any
			if r.end != 0 {
				end = r.end
			}
			if _, err := db.Exec(`INSERT INTO agentorg_claim_log (run_id, job_id, issue, stage, owner, host, started_at, ended_at, ended)
				VALUES (?, 1, ?, ?, 'o', ?, ?, ?, 'done')`, uuid.NewString(), r.issue, r.stage, e.host, r.start, end); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := DoubleClaims(ctx, db); err != nil || n != 4 {
			t.Fatalf("double claims %d, %v; want 4 (one on #2, three on #4)", n, err)
		}
	})
}

// A claims table an older version made, without hosts or workers, gets the
// columns; its claims read with no host and no worker, and two claims of one stage left by a
// failed release keep the newest.
func TestOlderClaimsTableGetsHosts(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE agentorg_claims (
		job_id INTEGER PRIMARY KEY, issue INTEGER NOT NULL, stage TEXT NOT NULL, run_id TEXT NOT NULL,
		owner TEXT NOT NULL, pgid INTEGER NOT NULL DEFAULT 0, heartbeat_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, job := range []int{7, 9} {
		if _, err := db.Exec(`INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, heartbeat_at)
			VALUES (?, 1, 'develop', ?, 'old', 5)`, job, "run-"+strconv.Itoa(job)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // idempotent
		if err := Migrate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := Claims(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 || claims[0].Job != 9 || claims[0].Host != "" || claims[0].Worker != "" {
		t.Fatalf("claims after the migration: %+v, want job 9's, without a host or a worker", claims)
	}
}

// markedPIDs lists the live processes that carry mark (see proc.WithMark).
func markedPIDs(t *testing.T, mark string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == proc.MarkVar+"="+mark {
				out = append(out, pid)
			}
		}
	}
	return out
}

// startMarked starts a long sleep that carries mark, as a run's agent
// does, and waits until it runs; it is killed when the test ends.
func startMarked(t *testing.T, mark string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = proc.Run(proc.WithMark(ctx, mark), proc.Spec{Argv: []string{"sleep", "600"}, Env: proc.BaseEnv()})
	}()
	t.Cleanup(func() {
		cancel()
		proc.KillMarked(func(m string) bool { return m == mark })
		wg.Wait()
	})
	for wait := time.Now().Add(10 * time.Second); len(markedPIDs(t, mark)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("the process marked %s did not start", mark)
		}
	}
}

// The sweep kills this host's processes of a claim this database logged
// and no longer holds (its engine died, another host released it), and no
// others: not a live claim's, not one another host logged, not another
// organization's, not this engine's own.
func TestSweepKillsWhatDeadEnginesOfThisHostLeft(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc")
	}
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		e, db := bareEngine(t, t.TempDir(), d)
		tag := uuid.NewString()[:8]
		logRun := func(owner string, job int64, host string) {
			if _, err := db.Exec(`INSERT INTO agentorg_claim_log (run_id, job_id, issue, stage, owner, host, started_at)
				VALUES (?, ?, 1, 'develop', ?, ?, 0)`, uuid.NewString(), job, owner, host); err != nil {
				t.Fatal(err)
			}
		}
		marks := map[string]string{
			"dead":       claimMark("dead-"+tag, 101),
			"live":       claimMark("live-"+tag, 102),
			"other host": claimMark("far-"+tag, 103),
			"stranger":   claimMark("stranger-"+tag, 104),
			"own":        claimMark(e.owner, 105),
		}
		logRun("dead-"+tag, 101, e.host)
		logRun("live-"+tag, 102, e.host)
		logRun("far-"+tag, 103, "elsewhere")
		logRun(e.owner, 105, e.host)
		if _, err := db.Exec(`INSERT INTO agentorg_claims (job_id, issue, stage, run_id, owner, host, heartbeat_at)
			VALUES (102, 1, 'develop', 'r', ?, ?, 0)`, "live-"+tag, e.host); err != nil {
			t.Fatal(err)
		}
		for _, m := range marks {
			startMarked(t, m)
		}
		killed, err := e.sweep(ctx)
		if err != nil || killed != 1 {
			t.Fatalf("sweep killed %d, %v; want the dead claim's process", killed, err)
		}
		for what, m := range marks {
			if alive := len(markedPIDs(t, m)) > 0; alive == (what == "dead") {
				t.Errorf("the %s claim's process: alive %v after the sweep", what, alive)
			}
		}
	})
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("never: %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// An engine on PostgreSQL's database needs the pgx pool under it (River
// works on it), and one on a SQLite file none.
func TestConfigPoolMatchesTheDatabase(t *testing.T) {
	pg := storetest.Open(t, store.Postgres)
	lite := storetest.Open(t, store.SQLite)
	for _, cfg := range []Config{{DB: pg.SQL}, {DB: lite.SQL, Pool: pg.Pool}} {
		if _, err := New(context.Background(), Config{DB: cfg.DB, Pool: cfg.Pool, Deps: &role.Deps{}}); err == nil ||
			!strings.Contains(err.Error(), "Config.Pool") {
			t.Errorf("New on %s with a pool %v: %v; want refused", store.DialectOf(cfg.DB), cfg.Pool != nil, err)
		}
	}
}
