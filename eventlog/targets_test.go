package eventlog

import (
	"context"
	"testing"
	"time"
)

func TestTargetStartsOpenAndRoundTrips(t *testing.T) {
	l := newLog(t)
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

func TestFlakesCountOncePerHead(t *testing.T) {
	l := newLog(t)
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

func TestIntentRoundTrips(t *testing.T) {
	l := newLog(t)
	ctx := context.Background()
	if _, ok, err := l.Intent(ctx, 3); ok || err != nil {
		t.Fatalf("a new issue has an intent: %v %v", ok, err)
	}
	for _, v := range []struct{ json, source string }{{`{"files":["a.go"]}`, "plan"}, {`{"files":["a.go","b.go"]}`, "attempt 1"}} {
		if err := l.SetIntent(ctx, 3, []byte(v.json), v.source); err != nil {
			t.Fatal(err)
		}
		got, ok, err := l.Intent(ctx, 3)
		if err != nil || !ok || string(got.Intent) != v.json || got.Source != v.source || got.Updated.IsZero() {
			t.Fatalf("got %+v %v %v", got, ok, err)
		}
	}
}
