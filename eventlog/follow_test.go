package eventlog

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/store"
)

// openTarget opens the log in the database at target (a SQLite file or a
// postgres:// URL), migrated: a second pool on a database another opened.
func openTarget(t *testing.T, target string) *Log {
	t.Helper()
	db, err := store.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l := New(db.SQL)
	if err := l.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestEventsAfterReadsOnlyWhatIsNew(t *testing.T) { eachLog(t, eventsAfterReadsOnlyWhatIsNew) }

func eventsAfterReadsOnlyWhatIsNew(t *testing.T, l *Log) {
	ctx := context.Background()
	if last, err := l.LastID(ctx); err != nil || last != 0 {
		t.Fatalf("LastID of an empty log: %d, %v", last, err)
	}
	for i := 1; i <= 6; i++ {
		if err := l.Record(ctx, Event{Issue: int64(i%2 + 1), Actor: "bot", Kind: KindTransition, Reason: fmt.Sprint("e", i)}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := l.LastID(ctx)
	if err != nil || last != 6 {
		t.Fatalf("LastID: %d, %v", last, err)
	}
	reasons := func(evs []Event) string {
		var rs []string
		for _, e := range evs {
			rs = append(rs, e.Reason)
		}
		return strings.Join(rs, " ")
	}
	for _, c := range []struct {
		after int64
		f     Filter
		limit int
		want  string
	}{
		{2, Filter{}, 0, "e3 e4 e5 e6"},
		{2, Filter{}, 2, "e3 e4"},
		{2, Filter{Issue: 1}, 0, "e4 e6"},
		{6, Filter{}, 0, ""},
	} {
		evs, err := l.EventsAfter(ctx, c.after, c.f, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := reasons(evs); got != c.want {
			t.Errorf("EventsAfter(%d, %+v, %d) = %q, want %q", c.after, c.f, c.limit, got, c.want)
		}
	}
}

// A follower asks for what is new every half second for as long as serve
// runs: its reads must walk the new rows only, by the primary key or the
// (issue, id) index, never the whole table. SQLite's plan, which does not
// depend on the table's size.
func TestEventsAfterUsesAnIndex(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, store.SQLite)
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "INTEGER PRIMARY KEY"},
		{Filter{Issue: 3}, "INDEX agentorg_events_issue"},
	} {
		q, args := listQuery(c.f, 10, followBatch)
		plan, err := sqlitedb.QueryPlan(ctx, l.db, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, c.want) || !strings.Contains(p, "SEARCH") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%+v: plan %q; want a SEARCH using %s and no sort", c.f, p, c.want)
		}
	}
}

// The same on PostgreSQL, whose planner weighs the table's statistics: on
// a table of many events, analyzed, the follower's reads scan the index,
// never the table.
func TestEventsAfterUsesAnIndexOnPostgres(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, store.Postgres)
	if _, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_events (at, issue, actor, kind)
		SELECT '2026-12-07T10:00:00Z', i % 200, 'bot', 'transition' FROM generate_series(1, 50000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := l.db.ExecContext(ctx, `ANALYZE agentorg_events`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "agentorg_events_pkey"},
		{Filter{Issue: 3}, "agentorg_events_issue"},
	} {
		q, args := listQuery(c.f, 49000, followBatch)
		rows, err := l.db.QueryContext(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(line))
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		// An index scan, or a bitmap scan of the index's few new rows
		// (sorted after: they are few), never a scan of the table.
		uses := strings.Contains(p, "Index Scan using "+c.want) || strings.Contains(p, "Bitmap Index Scan on "+c.want)
		if !uses || strings.Contains(p, "Seq Scan") {
			t.Errorf("%+v: plan %q; want a scan of %s, and none of the table", c.f, p, c.want)
		}
	}
}

// Follow sees what another process records (here another pool on the same
// database), and reads once more when told to stop, so nothing recorded
// before the end is missed.
func TestFollowSeesOtherWritersAndDrainsAtTheEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a.db")
		followSeesOtherWriters(t, openTarget(t, path), openTarget(t, path))
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.New(t)
		followSeesOtherWriters(t, openTarget(t, url), openTarget(t, url))
	})
}

func followSeesOtherWriters(t *testing.T, reader, writer *Log) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := writer.Record(ctx, Event{Issue: 1, Actor: "bot", Kind: KindTransition, Reason: "before"}); err != nil {
		t.Fatal(err)
	}
	start, err := reader.LastID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- reader.Follow(ctx, start, Filter{}, 10*time.Millisecond, func(e Event) error {
			got <- e.Reason
			return nil
		})
	}()
	if err := writer.Record(ctx, Event{Issue: 2, Actor: "alice", Kind: KindHuman, Reason: "approved elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r != "approved elsewhere" {
		t.Fatalf("first followed event %q, want the one recorded after the start", r)
	}
	// Recorded, then the follower is stopped at once: the last read finds it.
	if err := writer.Record(ctx, Event{Issue: 2, Actor: "bot", Kind: KindEscalate, Reason: "last words"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(got)
	var rest []string
	for r := range got {
		rest = append(rest, r)
	}
	if strings.Join(rest, ",") != "last words" {
		t.Fatalf("after the stop the follower read %q, want exactly the last event", rest)
	}
}
