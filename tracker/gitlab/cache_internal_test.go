package gitlab

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// The tables the adapter keeps in the home's database, on each database:
// the issue copy keeps the newest read of each issue, and the watermarks
// read back to the nanosecond, one per project and per table.
func TestCacheTables(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, d).SQL
			tr := &Tracker{db: db, project: "group/p"}
			other := &Tracker{db: db, project: "group/other"}
			for range 2 { // migrating again is harmless
				if err := tr.migrate(ctx); err != nil {
					t.Fatal(err)
				}
			}

			t1 := time.Date(2026, 12, 7, 10, 0, 0, 5, time.UTC)
			read := func(tr *Tracker, n int64) agentorg.Issue {
				t.Helper()
				var doc string
				if err := db.QueryRowContext(ctx, `SELECT doc FROM gitlab_issues WHERE project = ? AND iid = ?`, tr.project, n).Scan(&doc); err != nil {
					t.Fatal(err)
				}
				var is agentorg.Issue
				if err := json.Unmarshal([]byte(doc), &is); err != nil {
					t.Fatal(err)
				}
				return is
			}
			remember := func(tr *Tracker, is agentorg.Issue) {
				t.Helper()
				if err := tr.remember(ctx, is); err != nil {
					t.Fatal(err)
				}
			}
			big := int64(1<<53 + 1)
			remember(tr, agentorg.Issue{Number: big, Title: "second read", UpdatedAt: t1.Add(time.Second)})
			remember(tr, agentorg.Issue{Number: big, Title: "older read", UpdatedAt: t1}) // a late answer
			if got := read(tr, big); got.Title != "second read" {
				t.Fatalf("an older read replaced a newer one: %+v", got)
			}
			remember(tr, agentorg.Issue{Number: big, Title: "same time, read later", UpdatedAt: t1.Add(time.Second)})
			if got := read(tr, big); got.Title != "same time, read later" {
				t.Fatalf("a read of the same version did not replace: %+v", got)
			}
			remember(tr, agentorg.Issue{Number: big, Title: "newest", Labels: []string{"dev:ready"}, UpdatedAt: t1.Add(time.Hour)})
			remember(other, agentorg.Issue{Number: big, Title: "another project's", UpdatedAt: t1})
			if got := read(tr, big); got.Title != "newest" || !got.HasLabel("dev:ready") || !got.UpdatedAt.Equal(t1.Add(time.Hour)) {
				t.Fatalf("the newest read: %+v", got)
			}
			if got := read(other, big); got.Title != "another project's" {
				t.Fatalf("the other project's issue: %+v", got)
			}

			for _, table := range []string{issueMarks, mrMarks} {
				if w, err := tr.readMark(ctx, table); err != nil || !w.IsZero() {
					t.Fatalf("%s before a sync: %v %v", table, w, err)
				}
			}
			m1 := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC)
			if err := tr.storeMark(ctx, issueMarks, m1); err != nil {
				t.Fatal(err)
			}
			if err := tr.storeMark(ctx, mrMarks, m1.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := tr.storeMark(ctx, issueMarks, m1.Add(time.Hour)); err != nil { // moved on
				t.Fatal(err)
			}
			if w, err := tr.readMark(ctx, issueMarks); err != nil || !w.Equal(m1.Add(time.Hour)) {
				t.Errorf("issue watermark %v, %v; want %v", w, err, m1.Add(time.Hour))
			}
			if w, err := tr.readMark(ctx, mrMarks); err != nil || !w.Equal(m1.Add(time.Minute)) {
				t.Errorf("merge request watermark %v, %v; want %v", w, err, m1.Add(time.Minute))
			}
			if w, err := other.readMark(ctx, issueMarks); err != nil || !w.IsZero() {
				t.Errorf("another project's watermark %v, %v", w, err)
			}
		})
	}
}

// Trackers that start together on one database (workers) create the
// tables once between them.
func TestMigrateConcurrently(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "agentorg.db")
			if d == store.Postgres {
				target = pgtest.New(t)
			}
			const n = 4
			errs := make(chan error, n)
			for range n {
				db, err := store.Open(context.Background(), target)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				tr := &Tracker{db: db.SQL, project: "p"}
				go func() { errs <- tr.migrate(context.Background()) }()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}
