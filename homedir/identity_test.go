package homedir

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// A home's identity on each database: made once, read back the same,
// its path moved by one process only.
func TestIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		id, err := Identify(ctx, db, "/homes/a")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id.ID) || id.Path != "/homes/a" || id.AdoptThrough != 0 {
			t.Fatalf("a new home's identity: %+v", id)
		}
		// Opened again, from elsewhere: the same identity, and where it was.
		again, err := Identify(ctx, db, "/homes/b")
		if err != nil || again != id {
			t.Fatalf("identified again: %+v, %v; want %+v", again, err, id)
		}
		if won, err := SetPath(ctx, db, "/homes/a", "/homes/b"); err != nil || !won {
			t.Fatalf("SetPath: %v %v", won, err)
		}
		// A second process that saw the old path loses: the path moved.
		if won, err := SetPath(ctx, db, "/homes/a", "/homes/c"); err != nil || won {
			t.Fatalf("SetPath from a stale path: %v %v", won, err)
		}
		if got, _ := Identify(ctx, db, "/homes/b"); got.ID != id.ID || got.Path != "/homes/b" {
			t.Fatalf("after the move: %+v", got)
		}
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM agentorg_home`).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("%d identities, %v", rows, err)
		}
	})
}

// A database an older agentorg made (events, no identity) adopts the
// issues it worked on: up to the highest one its event log names.
func TestIdentityAdoptsWhatTheEventLogWorkedOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		log := eventlog.New(db)
		if err := log.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int64{3, 1 << 40, 7} {
			if err := log.Record(ctx, eventlog.Event{Issue: n, Actor: "bot", Kind: eventlog.KindClaim}); err != nil {
				t.Fatal(err)
			}
		}
		id, err := Identify(ctx, db, "/homes/old")
		if err != nil || id.AdoptThrough != 1<<40 {
			t.Fatalf("identity of an old home: %+v, %v; want adopting through #%d", id, err, int64(1<<40))
		}
	})
	// An event log with no events adopts nothing.
	storetest.Each(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		if err := eventlog.New(db).Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if id, err := Identify(ctx, db, "/homes/empty"); err != nil || id.AdoptThrough != 0 {
			t.Fatalf("identity over an empty event log: %+v, %v", id, err)
		}
	})
}

// Commands that open a new home at once (workers that start together on
// one database) make one identity between them, and all read it.
func TestIdentifyConcurrently(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "agentorg.db")
			if d == store.Postgres {
				target = pgtest.New(t)
			}
			const n = 4
			ids := make(chan Identity, n)
			errs := make(chan error, n)
			for range n {
				db, err := store.Open(context.Background(), target)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				go func() {
					id, err := Identify(context.Background(), db.SQL, "/homes/a")
					ids <- id
					errs <- err
				}()
			}
			seen := map[string]bool{}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
				seen[(<-ids).ID] = true
			}
			if len(seen) != 1 {
				t.Fatalf("%d identities made: %v", len(seen), seen)
			}
		})
	}
}
