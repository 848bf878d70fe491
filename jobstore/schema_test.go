package jobstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"github.com/agentorg/agentorg/sqlitedb"
)

// pinnedRiver is the River release whose SQLite schema the store's
// statements were written and measured against.
const pinnedRiver = "v0.51.2"

// riverVersion names, for failure messages, the River the schema was
// pinned against: a River upgrade (see go.mod) that breaks an assumption
// fails here, saying which release the statements were written for.
func riverVersion() string {
	return "the store's statements were written for River " + pinnedRiver + "'s SQLite schema"
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

// River's job table has every column the store's statements name, and the
// indexes their speed rests on. A River upgrade that renames or drops one
// must fail here, not in a running engine.
func TestRiverJobSchema(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)

	// Columns, by the statements that use them: id (Running's join,
	// Requeue), kind (all), state (all), args with its "stage" (Counts),
	// attempt (Requeue).
	cols := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT name, type FROM pragma_table_info('river_job')`)
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
	for name, typ := range map[string]string{"id": "integer", "kind": "text", "state": "text", "args": "blob", "attempt": "integer"} {
		if got, ok := cols[name]; !ok {
			t.Errorf("river_job has no column %s (%s); its columns: %v", name, riverVersion(), cols)
		} else if got != typ {
			t.Errorf("river_job.%s is %q, want %q (%s)", name, got, typ, riverVersion())
		}
	}

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

	// The states River spells, and which of them are unfinished: the idle
	// query names the unfinished ones (River added "pending" once; a state
	// added again must be sorted here).
	finished := []rivertype.JobState{rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded}
	for _, s := range rivertype.JobStates() {
		named := strings.Contains(idleQuery, "'"+string(s)+"'")
		if unfinished := !slices.Contains(finished, s); named != unfinished {
			t.Errorf("idleQuery names state %q: %v, want %v (%s)", s, named, unfinished, riverVersion())
		}
	}
	if !strings.Contains(requeueQuery, "'"+string(rivertype.JobStateRunning)+"'") ||
		!strings.Contains(requeueQuery, "'"+string(rivertype.JobStateAvailable)+"'") {
		t.Errorf("requeueQuery does not spell River's states as River does (%s)", riverVersion())
	}
}

// The idle query is asked 40 times a second: it searches the index that
// leads with state (few unfinished jobs), not the kind index (every job of
// the kind) nor the whole table.
func TestIdleQuerySearchesTheStateIndex(t *testing.T) {
	db := migrated(t)
	plan, err := sqlitedb.QueryPlan(t.Context(), db, idleQuery, "agentorg_stage")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX river_job_prioritized_fetching_index (state=?)") {
		t.Fatalf("idle query plan %q, want a search of river_job_prioritized_fetching_index by state (%s)", plan, riverVersion())
	}
}

// Exists is false on a database River's migrations never ran on, and the
// store's statements are not run there.
func TestExistsOnAFreshDatabase(t *testing.T) {
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db)
	if ok, err := s.Exists(context.Background()); err != nil || ok {
		t.Fatalf("Exists on a fresh database: %v, %v; want false", ok, err)
	}
	if err := Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(context.Background()); err != nil || !ok {
		t.Fatalf("Exists once migrated: %v, %v; want true", ok, err)
	}
}
