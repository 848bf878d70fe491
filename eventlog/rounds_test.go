package eventlog

import (
	"context"
	"testing"
)

// A round survives a restart as it was left: starting it again returns the
// stored one, and its decisions round-trip.
func TestReviewRoundsRoundTrip(t *testing.T) { eachLog(t, reviewRoundsRoundTrip) }

func reviewRoundsRoundTrip(t *testing.T, l *Log) {
	ctx := context.Background()
	if _, ok, err := l.OpenRound(ctx, 4); err != nil || ok {
		t.Fatalf("open round before any: %v %v", ok, err)
	}
	r, err := l.StartRound(ctx, Round{Issue: 4, N: 1, MR: 2, Head: "abc", Status: RoundTriaging,
		Threads: []RoundThread{{ID: "7", Path: "a.go", Line: 3, Quote: "q"}}})
	if err != nil || r.Started.IsZero() || len(r.Threads) != 1 {
		t.Fatalf("start: %+v %v", r, err)
	}
	r.Status, r.Attempt = RoundFixing, 2
	r.Threads[0].Decision = ThreadDecision{Thread: "7", Class: "must-fix", Reason: "bug"}
	if err := l.UpdateRound(ctx, r); err != nil {
		t.Fatal(err)
	}
	again, err := l.StartRound(ctx, Round{Issue: 4, N: 1, MR: 2, Head: "other", Status: RoundTriaging})
	if err != nil || again.Head != "abc" || again.Status != RoundFixing || again.Attempt != 2 || again.Threads[0].Decision.Class != "must-fix" {
		t.Fatalf("restarted round: %+v %v", again, err)
	}
	open, ok, err := l.OpenRound(ctx, 4)
	if err != nil || !ok || open.N != 1 {
		t.Fatalf("open round: %+v %v %v", open, ok, err)
	}
	open.Status = RoundDone
	if err := l.UpdateRound(ctx, open); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.OpenRound(ctx, 4); ok {
		t.Fatal("a done round is not open")
	}
	if err := l.UpdateRound(ctx, Round{Issue: 4, N: 9}); err == nil {
		t.Fatal("updating a missing round succeeded")
	}
}
