package eventlog

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/sqlitedb"
)

func openLog(t *testing.T, path string) *Log {
	t.Helper()
	db, err := sqlitedb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l := New(db)
	if err := l.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestEventsAfterReadsOnlyWhatIsNew(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), "a.db"))
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
// (issue, id) index, never the whole table.
func TestEventsAfterUsesAnIndex(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), "a.db"))
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

// Follow sees what another process records (here another pool on the same
// file), and reads once more when told to stop, so nothing recorded before
// the end is missed.
func TestFollowSeesOtherWritersAndDrainsAtTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	reader, writer := openLog(t, path), openLog(t, path)
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
