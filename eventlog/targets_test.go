package eventlog

import (
	"context"
	"testing"
	"time"
)

func TestTargetStartsOpenAndRoundTrips(t *testing.T) { eachLog(t, targetStartsOpenAndRoundTrips) }

func targetStartsOpenAndRoundTrips(t *testing.T, l *Log) {
	ctx := context.Background()
	got, err := l.Target(ctx, "main")
	if err != nil || got.Closed || got.Branch != "main" {
		t.Fatalf("a new target: %+v, %v", got, err)
	}
	want := Target{Branch: "main", Closed: true, RedSHA: "r", GreenSHA: "g", Since: time.Now().UTC().Round(time.Millisecond),
		Reason: "E2E failed", Bisected: true, Culprit: "c", CulpritIssue: 2, Partner: "p", PartnerIssue: 1, RevertIssue: 4, SentBack: true}
	if err := l.SetTarget(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err = l.Target(ctx, "main"); err != nil || !got.Since.Equal(want.Since) {
		t.Fatalf("got %+v, %v", got, err)
	}
	got.Since = want.Since
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	want.Closed, want.Reason = false, "E2E passed"
	if err := l.SetTarget(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, _ = l.Target(ctx, "main"); got.Closed || got.Reason != "E2E passed" {
		t.Fatalf("after opening: %+v", got)
	}
	if other, _ := l.Target(ctx, "release"); other.Closed {
		t.Fatal("another branch is closed too")
	}
}

func TestFlakesCountOncePerHead(t *testing.T) { eachLog(t, flakesCountOncePerHead) }

func flakesCountOncePerHead(t *testing.T, l *Log) {
	ctx := context.Background()
	for i, c := range []struct {
		head string
		news bool
	}{{"a", true}, {"a", false}, {"b", true}} {
		news, err := l.AddFlake(ctx, "make e2e", c.head)
		if err != nil || news != c.news {
			t.Fatalf("flake %d at %s: news %v, want %v (%v)", i, c.head, news, c.news, err)
		}
	}
	if n, err := l.Flakes(ctx, "make e2e"); err != nil || n != 2 {
		t.Fatalf("flakes %d, %v; want 2", n, err)
	}
	if n, _ := l.Flakes(ctx, "other"); n != 0 {
		t.Fatalf("another command has %d flakes", n)
	}
}

func TestIntentRoundTrips(t *testing.T) { eachLog(t, intentRoundTrips) }

func intentRoundTrips(t *testing.T, l *Log) {
	ctx := context.Background()
	if all, err := l.Intents(ctx); err != nil || len(all) != 0 {
		t.Fatalf("intents of a new log: %v %v", all, err)
	}
	if err := l.SetPlanned(ctx, 3, []byte(`{"files":["a.go"]}`)); err != nil {
		t.Fatal(err)
	}
	if err := l.SetChanged(ctx, 3, []byte(`{"files":["b.go"]}`), "attempt 1"); err != nil {
		t.Fatal(err)
	}
	if err := l.SetChanged(ctx, 4, []byte(`{"files":["c.go"]}`), "attempt 2"); err != nil {
		t.Fatal(err)
	}
	all, err := l.Intents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := all[3]; string(r.Planned) != `{"files":["a.go"]}` || string(r.Changed) != `{"files":["b.go"]}` || r.Source != "attempt 1" || r.Updated.IsZero() {
		t.Fatalf("#3: %+v", r)
	}
	if r := all[4]; r.Planned != nil || string(r.Changed) != `{"files":["c.go"]}` {
		t.Fatalf("#4: %+v", r)
	}
	if r, ok, err := l.IntentOf(ctx, 3); err != nil || !ok || string(r.Changed) != `{"files":["b.go"]}` {
		t.Fatalf("IntentOf(3): %+v %v %v", r, ok, err)
	}
	if err := l.DeleteIntent(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.IntentOf(ctx, 3); ok {
		t.Fatal("#3's intent is still there")
	}
}
