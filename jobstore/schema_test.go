package jobstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/sqlitedb"
)

// pinnedRiver is the River release whose schemas (SQLite's and
// PostgreSQL's) the store's statements were written and measured against.
const pinnedRiver = "v0.51.2"

// riverVersion names, for failure messages, the River the schema was
// pinned against: a River upgrade (see go.mod) that breaks an assumption
// fails here, saying which release the statements were written for.
func riverVersion() string { return riverVersionOn("SQLite") }

func riverVersionOn(dialect string) string {
	return "the store's statements were written for River " + pinnedRiver + "'s " + dialect + " schema"
}

// migrated opens a fresh database the way a home does (sqlitedb.Open) and
// runs River's migrations on it (Migrate, as the engine does).
func migrated(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// migratedPostgres makes a PostgreSQL database of the test's own
// (pgtest.New) and runs River's migrations on it (MigratePostgres).
func migratedPostgres(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := postgresPool(t)
	if err := MigratePostgres(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

// postgresPool opens a pool on a fresh PostgreSQL database of the test's
// own, closed when the test ends (before pgtest drops the database).
func postgresPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// River's job table has every column the store's statements name, and the
// indexes their speed rests on. A River upgrade that renames or drops one
// must fail here, not in a running engine.
func TestRiverJobSchema(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)

	// Columns, by the statements that use them: id (Running's join,
	// Requeue), kind (all), state (all), args with its "issue" and "stage"
	// (Counts, Running), attempt (Requeue), attempted_at (Unclaimed: a
	// timestamp as text, in UTC, which unixepoch reads).
	wantColumns(t, db, "river_job", map[string]string{"id": "integer", "kind": "text", "state": "text",
		"args": "blob", "attempt": "integer", "attempted_at": "timestamp"})
	// River's elector writes the leader's client id and the end of its
	// term (Leader).
	wantColumns(t, db, "river_leader", map[string]string{"leader_id": "text", "expires_at": "timestamp"})

	// Indexes: Idle and Running find unfinished jobs by a whole (not
	// partial) index that leads with state; Counts finds a kind's jobs by
	// an index on kind.
	for name, lead := range map[string]string{"river_job_prioritized_fetching_index": "state", "river_job_kind": "kind"} {
		var partial int
		err := db.QueryRowContext(ctx, `SELECT partial FROM pragma_index_list('river_job') WHERE name = ?`, name).Scan(&partial)
		if err != nil {
			t.Errorf("river_job has no index %s (%s): %v", name, riverVersion(), err)
			continue
		}
		if partial != 0 {
			t.Errorf("index %s is partial (%s)", name, riverVersion())
		}
		var first string
		if err := db.QueryRowContext(ctx, `SELECT name FROM pragma_index_info(?) WHERE seqno = 0`, name).Scan(&first); err != nil {
			t.Fatal(err)
		}
		if first != lead {
			t.Errorf("index %s leads with %s, want %s (%s)", name, first, lead, riverVersion())
		}
	}

}

// wantColumns checks that SQLite table has the columns want names, of
// their declared types.
func wantColumns(t *testing.T, db *sql.DB, table string, want map[string]string) {
	t.Helper()
	cols := map[string]string{}
	rows, err := db.QueryContext(t.Context(), `SELECT name, type FROM pragma_table_info(?)`, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols[name] = strings.ToLower(typ)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for name, typ := range want {
		if got, ok := cols[name]; !ok {
			t.Errorf("%s has no column %s (%s); its columns: %v", table, name, riverVersion(), cols)
		} else if got != typ {
			t.Errorf("%s.%s is %q, want %q (%s)", table, name, got, typ, riverVersion())
		}
	}
}

// The idle query names every unfinished state River spells and no finished
// one, and the requeue query spells River's states as River does, in each
// dialect (River added "pending" once; a state added again must be sorted
// here).
func TestStatementsSpellRiversStates(t *testing.T) {
	finished := []rivertype.JobState{rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded}
	for dialect, q := range map[string]*statements{"SQLite": &sqliteStatements, "PostgreSQL": &postgresStatements} {
		for _, s := range rivertype.JobStates() {
			named := strings.Contains(q.idle, "'"+string(s)+"'")
			if unfinished := !slices.Contains(finished, s); named != unfinished {
				t.Errorf("%s's idle query names state %q: %v, want %v (%s)", dialect, s, named, unfinished, riverVersionOn(dialect))
			}
		}
		if !strings.Contains(q.requeue, "'"+string(rivertype.JobStateRunning)+"'") ||
			!strings.Contains(q.requeue, "'"+string(rivertype.JobStateAvailable)+"'") {
			t.Errorf("%s's requeue query does not spell River's states as River does (%s)", dialect, riverVersionOn(dialect))
		}
	}
}

// On PostgreSQL, River's job table has every column the store's statements
// name, of the types they read, and the index the idle query relies on.
func TestRiverJobSchemaPostgres(t *testing.T) {
	ctx := t.Context()
	pool := migratedPostgres(t)

	// Columns, by the statements that use them: id (Running's join,
	// Requeue), kind (all), state (all; River's enum, read as text), args
	// with its "issue" and "stage" (Counts, Running, by ->>, which needs
	// jsonb), attempt (Requeue), attempted_at (Unclaimed, compared with
	// now()).
	wantColumnsPostgres(t, pool, "river_job", map[string]string{"id": "int8", "kind": "text", "state": "river_job_state",
		"args": "jsonb", "attempt": "int2", "attempted_at": "timestamptz"})
	// River's elector writes the leader's client id and the end of its
	// term (Leader).
	wantColumnsPostgres(t, pool, "river_leader", map[string]string{"leader_id": "text", "expires_at": "timestamptz"})

	// Indexes: Idle and Running find unfinished jobs by a whole (not
	// partial) index that leads with state; Counts finds a kind's jobs by
	// an index on kind.
	for name, lead := range map[string]string{"river_job_prioritized_fetching_index": "state", "river_job_kind": "kind"} {
		var def string
		err := pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = 'river_job' AND indexname = $1`, name).Scan(&def)
		if err != nil {
			t.Errorf("river_job has no index %s (%s): %v", name, riverVersionOn("PostgreSQL"), err)
			continue
		}
		if strings.Contains(def, " WHERE ") {
			t.Errorf("index %s is partial: %s (%s)", name, def, riverVersionOn("PostgreSQL"))
		}
		if !strings.Contains(def, "("+lead+",") && !strings.Contains(def, "("+lead+")") {
			t.Errorf("index %s does not lead with %s: %s (%s)", name, lead, def, riverVersionOn("PostgreSQL"))
		}
	}

	// The enum has every state River spells: the statements compare state
	// with them as literals, which PostgreSQL refuses for a value the enum
	// lacks.
	var labels []string
	if err := pool.QueryRow(ctx, `SELECT array_agg(enumlabel::text) FROM pg_enum
		WHERE enumtypid = 'river_job_state'::regtype`).Scan(&labels); err != nil {
		t.Fatal(err)
	}
	for _, s := range rivertype.JobStates() {
		if !slices.Contains(labels, string(s)) {
			t.Errorf("river_job_state lacks %q: %v (%s)", s, labels, riverVersionOn("PostgreSQL"))
		}
	}
}

// wantColumnsPostgres checks that PostgreSQL table has the columns want
// names, of their types.
func wantColumnsPostgres(t *testing.T, pool *pgxpool.Pool, table string, want map[string]string) {
	t.Helper()
	cols := map[string]string{}
	rows, err := pool.Query(t.Context(), `SELECT column_name, udt_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols[name] = typ
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name, typ := range want {
		if got, ok := cols[name]; !ok {
			t.Errorf("%s has no column %s (%s); its columns: %v", table, name, riverVersionOn("PostgreSQL"), cols)
		} else if got != typ {
			t.Errorf("%s.%s is %q, want %q (%s)", table, name, got, typ, riverVersionOn("PostgreSQL"))
		}
	}
}

// The idle query is asked 40 times a second: it searches the index that
// leads with state (few unfinished jobs), not the kind index (every job of
// the kind) nor the whole table.
func TestIdleQuerySearchesTheStateIndex(t *testing.T) {
	db := migrated(t)
	plan, err := sqlitedb.QueryPlan(t.Context(), db, sqliteStatements.idle, "agentorg_stage")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX river_job_prioritized_fetching_index (state=?)") {
		t.Fatalf("idle query plan %q, want a search of river_job_prioritized_fetching_index by state (%s)", plan, riverVersion())
	}
}

// Exists is false on a database River's migrations never ran on, and the
// store's statements are not run there; true once they ran.
func TestExistsOnAFreshDatabase(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		testExists(t, New(db), func(ctx context.Context) error { return Migrate(ctx, db) })
	})
	t.Run("postgres", func(t *testing.T) {
		pool := postgresPool(t)
		testExists(t, New(sqlOver(t, pool).SQL), func(ctx context.Context) error { return MigratePostgres(ctx, pool) })
	})
}

func testExists(t *testing.T, s *Store, migrate func(context.Context) error) {
	if ok, err := s.Exists(t.Context()); err != nil || ok {
		t.Fatalf("Exists on a fresh database: %v, %v; want false", ok, err)
	}
	if err := migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(t.Context()); err != nil || !ok {
		t.Fatalf("Exists once migrated: %v, %v; want true", ok, err)
	}
}
