package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/web"
)

// BenchmarkBoardPage renders the board of 1,000 open issues spread over
// the lifecycle's states, each with a few events (docs/dashboard.md has
// the figures):
//
//	go test ./web -run '^$' -bench BoardPage -benchtime 20x
func BenchmarkBoardPage(b *testing.B) {
	org := orgtest.New(b, orgtest.Options{Script: fixtureScript, Check: "true", E2E: "true"})
	ctx := context.Background()
	states := org.Workflow.Lifecycle()
	for i := range 1000 {
		is, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("Issue %d of the benchmark", i+1), Body: "-", Author: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		l := states[i%len(states)]
		if _, err := org.Tracker.UpdateLabels(ctx, is.Number, []string{l}, nil, "agentorg"); err != nil {
			b.Fatal(err)
		}
		for _, reason := range []string{"opted in", "claimed", "moved on"} {
			if err := org.Log.Record(ctx, eventlog.Event{Issue: is.Number, Actor: "agentorg", Kind: eventlog.KindTransition, To: l, Reason: reason}); err != nil {
				b.Fatal(err)
			}
		}
	}
	s, err := web.New(web.Config{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB, Home: org.Home, Users: org.Users})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	size := 0
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "1000 of 1000 open issues") {
			b.Fatalf("%d: %.300s", w.Code, w.Body.String())
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}
