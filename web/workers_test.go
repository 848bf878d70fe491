package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/board/boardtest"
	"github.com/agentorg/agentorg/web"
)

// The board page of a PostgreSQL database two workers share lists them
// with what status says of them: host, beat, what each runs and the open
// issues it holds. (A home's own SQLite has none: TestBoardFiltersWithoutScript.)
func TestBoardListsTheWorkers(t *testing.T) {
	ctx := context.Background()
	sh := boardtest.New(t)
	for range 2 {
		if _, err := sh.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "held", Labels: []string{"dev:ready"}, Author: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	sh.Worker(t, "worker-a", "host-a", now)
	sh.Worker(t, "worker-b", "host-b", now.Add(-10*time.Minute))
	sh.Hold(t, 1, "worker-a")
	sh.Hold(t, 2, "worker-b")
	sh.Run(t, 1, 1, "develop", "worker-a", now.Add(-time.Minute))
	s, err := web.New(web.Config{Workflow: sh.Workflow, Tracker: sh.Tracker, Log: sh.Log, DB: sh.DB.SQL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	status, page := get(t, srv.URL+"/")
	if status != http.StatusOK {
		t.Fatalf("board: %d\n%s", status, page)
	}
	_, workers, ok := strings.Cut(page, `<section class="workers"`)
	workers, _, _ = strings.Cut(workers, "</section>")
	if !ok {
		t.Fatalf("no workers section on the board:\n%s", page)
	}
	for _, want := range []string{
		"1 alive of 2",
		`<th scope="row">worker-a</th><td>host-a</td>`,
		`<a href="/issues/1">#1</a> develop for 1m`,
		`<th scope="row">worker-b</th><td>host-b</td>`,
		"silent for 10m",
		`<a href="/issues/2">#2</a></td>`,
	} {
		if !strings.Contains(workers, want) {
			t.Errorf("the workers section lacks %q:\n%s", want, workers)
		}
	}
	// worker-a holds #1, worker-b runs nothing.
	a, b, _ := strings.Cut(workers, "worker-b")
	if !strings.Contains(a, `<td><a href="/issues/1">#1</a></td>`) || !strings.Contains(b, "<td>nothing</td>") {
		t.Errorf("worker-a should hold #1 and worker-b run nothing:\n%s", workers)
	}
	// #1's card says which worker runs it.
	if !strings.Contains(page, "develop runs on worker-a for 1m") {
		t.Errorf("#1's card does not name its worker:\n%s", page)
	}
}
