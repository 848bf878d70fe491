package engine

import (
	"context"
	"testing"
	"time"

	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// gc prunes the claim log's claims that ended before the retention and the
// workers gone since; a running claim and a beating worker stay, however
// old, and a dry run only counts.
func TestPruneClaims(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := storetest.Open(t, d)
		if p, err := PruneClaims(ctx, db.SQL, time.Now(), false); err != nil || p != (Pruned{}) {
			t.Fatalf("a database no engine ran on: %+v, %v", p, err)
		}
		if err := Migrate(ctx, db.SQL, db.Pool); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		old, recent := now.Add(-48*time.Hour).UnixMilli(), now.Add(-time.Hour).UnixMilli()
		for i, c := range []struct {
			started int64
			ended   any
		}{
			{old, old + 1000},     // ended long ago: goes
			{old, nil},            // began long ago, runs still: stays
			{old, recent},         // ended within the retention: stays
			{recent, recent + 10}, // recent: stays
		} {
			if _, err := db.SQL.ExecContext(ctx, `INSERT INTO agentorg_claim_log (run_id, job_id, issue, stage, owner, host, started_at, ended_at, ended)
				VALUES (?, ?, 1, 'develop', 'w', 'h', ?, ?, 'done')`, "run-"+string(rune('a'+i)), i, c.started, c.ended); err != nil {
				t.Fatal(err)
			}
		}
		for id, beat := range map[string]int64{"gone": old, "alive": recent} {
			if _, err := db.SQL.ExecContext(ctx, `INSERT INTO agentorg_workers (id, host, beat_at) VALUES (?, 'h', ?)`, id, beat); err != nil {
				t.Fatal(err)
			}
		}
		before := now.Add(-24 * time.Hour)
		want := Pruned{Claims: 4, ClaimsGone: 1, Workers: 2, WorkersGone: 1}
		for _, dry := range []bool{true, false} {
			if p, err := PruneClaims(ctx, db.SQL, before, dry); err != nil || p != want {
				t.Fatalf("dry run %v: %+v, %v; want %+v", dry, p, err, want)
			}
		}
		if p, err := PruneClaims(ctx, db.SQL, before, false); err != nil || p != (Pruned{Claims: 3, Workers: 1}) {
			t.Fatalf("after the prune: %+v, %v", p, err)
		}
		var runs []string
		rows, err := db.SQL.QueryContext(ctx, `SELECT run_id FROM agentorg_claim_log ORDER BY run_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var r string
			rows.Scan(&r)
			runs = append(runs, r)
		}
		if len(runs) != 3 || runs[0] != "run-b" {
			t.Fatalf("claims left %v, want run-b, run-c, run-d", runs)
		}
	})
}
