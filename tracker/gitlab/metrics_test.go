package gitlab_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// clock is a budget's clock that its sleeps move on, so that a wait is
// waited (and counted) once.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// The tracker counts every request it sends, retries too, by method and
// status, and the waits the rate limit imposes.
func TestMetricsCountGitLabRequestsAndRateLimitWaits(t *testing.T) {
	e := newEnv(t, true)
	m := metrics.New(metrics.Options{})
	c := &clock{now: time.Now()}
	tr, err := gitlab.New(t.Context(), gitlab.Options{BaseURL: e.fake.URL, Project: e.fake.ProjectPath, Token: gitlabfake.Token,
		Bot: "agentorg", Sudo: true, DB: e.db, Budget: &gitlab.Budget{Sleep: c.Sleep, Now: c.Now}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	requests := func(method, code string) float64 {
		return m.Total(metrics.NameTrackerRequests, "tracker", "gitlab", "method", method, "code", code)
	}

	before, _ := e.fake.Requests()
	iss, err := tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "x", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if requests("POST", "201") < 1 {
		t.Fatalf("creating an issue counted no POST 201")
	}
	// Two 429s, then the answer: three GETs, two waits of Retry-After.
	e.fake.Inject(gitlabfake.Fault{Method: "GET", Status: 429, Times: 2, Header: http.Header{"Retry-After": {"3"}}})
	if _, err := tr.Issue(t.Context(), iss.Number); err != nil {
		t.Fatal(err)
	}
	if got := requests("GET", "429"); got != 2 {
		t.Fatalf("GET 429 counted %v times, want 2", got)
	}
	if requests("GET", "200") < 1 {
		t.Fatal("the GET that succeeded was not counted")
	}
	waits := m.Total(metrics.NameTrackerRateLimitWaits, "tracker", "gitlab")
	seconds := m.Total(metrics.NameTrackerRateLimitWaitS, "tracker", "gitlab")
	if waits != 2 || seconds != 6 {
		t.Fatalf("rate-limit waits %v (%v s), want 2 (6 s)", waits, seconds)
	}
	// A spent limit (RateLimit-Remaining: 0) pauses the next request until
	// the reset: one more wait.
	e.fake.SetRateLimit(gitlabfake.RateLimit{Limit: 2000, Remaining: 0, Reset: c.Now().Add(10 * time.Second)})
	if _, err := tr.Issue(t.Context(), iss.Number); err != nil {
		t.Fatal(err)
	}
	e.fake.SetRateLimit(gitlabfake.RateLimit{Limit: 2000, Remaining: 2000})
	if _, err := tr.Issue(t.Context(), iss.Number); err != nil {
		t.Fatal(err)
	}
	waits = m.Total(metrics.NameTrackerRateLimitWaits, "tracker", "gitlab")
	seconds = m.Total(metrics.NameTrackerRateLimitWaitS, "tracker", "gitlab") - 6
	if waits != 3 || seconds <= 9 || seconds > 10 {
		t.Fatalf("after a spent limit: waits %v, the last %v s, want 3 and about 10 s", waits, seconds)
	}
	// Every request the fake saw from this tracker is counted, once.
	after, _ := e.fake.Requests()
	if got := m.Total(metrics.NameTrackerRequests); got != float64(after-before) {
		t.Fatalf("counted %v requests, the fake saw %d", got, after-before)
	}
}
