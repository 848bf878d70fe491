package gitlab_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// waits records the budget's waits instead of sleeping them.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

func withBudget(t *testing.T, e *env, b *gitlab.Budget) *gitlab.Tracker {
	t.Helper()
	tr, err := gitlab.New(t.Context(), gitlab.Options{BaseURL: e.fake.URL, Project: e.fake.ProjectPath, Token: gitlabfake.Token,
		Bot: "agentorg", Sudo: true, DB: e.db, Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestRetryAfterIsWaitedOut(t *testing.T) {
	e := newEnv(t, true)
	w := &waits{}
	tr := withBudget(t, e, &gitlab.Budget{Sleep: w.sleep})
	iss, err := tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "x", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.Inject(gitlabfake.Fault{Method: "GET", Status: 429, Times: 2, Header: http.Header{"Retry-After": {"7"}}})
	before, _ := e.fake.Requests()
	got, err := tr.Issue(t.Context(), iss.Number)
	if err != nil {
		t.Fatalf("after two 429s: %v", err)
	}
	if got.Number != iss.Number {
		t.Fatalf("got issue %+v", got)
	}
	after, _ := e.fake.Requests()
	if after-before != 3 {
		t.Fatalf("%d requests for one read through two 429s, want 3", after-before)
	}
	// Each 429 is waited out for its Retry-After.
	n := 0
	for _, d := range w.all() {
		if d == 7*time.Second {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("waits %v, want two of 7s (Retry-After)", w.all())
	}
}

func TestPostIsRetriedOn429ButNotOn5xx(t *testing.T) {
	e := newEnv(t, true)
	w := &waits{}
	tr := withBudget(t, e, &gitlab.Budget{Sleep: w.sleep})
	iss, err := tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "x", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// A 429 is answered before GitLab does anything: the note is posted on retry.
	e.fake.Inject(gitlabfake.Fault{Method: "POST", Status: 429, Times: 1})
	if _, err := tr.AddComment(t.Context(), iss.Number, "after a 429", "alice"); err != nil {
		t.Fatal(err)
	}
	// A 502 on a POST may have landed: no blind retry, a clean error.
	e.fake.Inject(gitlabfake.Fault{Method: "POST", Status: 502, Times: 1})
	before, _ := e.fake.Requests()
	_, err = tr.AddComment(t.Context(), iss.Number, "after a 502", "alice")
	after, _ := e.fake.Requests()
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("POST answered 502: err %v", err)
	}
	if after-before != 1 {
		t.Fatalf("a POST answered 502 was sent %d times", after-before)
	}
	cs, err := tr.Comments(t.Context(), iss.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Body != "after a 429" {
		t.Fatalf("comments %+v", cs)
	}
}

func TestOutageOfReadsIsRetriedThenGivesUpCleanly(t *testing.T) {
	e := newEnv(t, true)
	w := &waits{}
	tr := withBudget(t, e, &gitlab.Budget{Sleep: w.sleep, MaxRetries: 3})
	iss, err := tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "x", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.Inject(gitlabfake.Fault{Method: "GET", Status: 503, Times: 3})
	if _, err := tr.Issue(t.Context(), iss.Number); err != nil {
		t.Fatalf("three 503s then success: %v", err)
	}
	for _, d := range w.all() {
		if d <= 0 || d > 30*time.Second {
			t.Fatalf("backoff waits %v out of bounds", w.all())
		}
	}
	e.fake.Inject(gitlabfake.Fault{Method: "GET", Status: 503, Times: 10})
	before, _ := e.fake.Requests()
	_, err = tr.Issue(t.Context(), iss.Number)
	after, _ := e.fake.Requests()
	if err == nil || errors.Is(err, agentorg.ErrNotFound) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a long outage gave %v", err)
	}
	if after-before != 4 {
		t.Fatalf("%d tries, want 1 + MaxRetries (3)", after-before)
	}
}

func TestSpentRateLimitPausesEveryone(t *testing.T) {
	e := newEnv(t, true)
	w := &waits{}
	now := time.Unix(1_800_000_000, 0)
	b := &gitlab.Budget{Sleep: w.sleep, Now: func() time.Time { return now }}
	tr := withBudget(t, e, b)
	iss, err := tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "x", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SetRateLimit(gitlabfake.RateLimit{Limit: 600, Remaining: 0, Reset: now.Add(42 * time.Second)})
	if _, err := tr.Issue(t.Context(), iss.Number); err != nil {
		t.Fatal(err)
	}
	if len(w.all()) != 0 {
		t.Fatalf("waited %v before learning the limit was spent", w.all())
	}
	// The next request, from another tracker sharing the budget, waits for the reset.
	other := withBudget(t, e, b)
	if _, err := other.Issue(t.Context(), iss.Number); err != nil {
		t.Fatal(err)
	}
	if got := w.all(); len(got) == 0 || got[0] != 42*time.Second {
		t.Fatalf("waits %v, want 42s until RateLimit-Reset first", got)
	}
}

// countingTransport records how many requests are in flight at most.
type countingTransport struct {
	base      http.RoundTripper
	in, maxIn atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.in.Add(1)
	for {
		m := c.maxIn.Load()
		if n <= m || c.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	defer c.in.Add(-1)
	return c.base.RoundTrip(r)
}

func TestConcurrencyIsBounded(t *testing.T) {
	e := newEnv(t, true)
	ct := &countingTransport{base: http.DefaultTransport}
	tr, err := gitlab.New(t.Context(), gitlab.Options{BaseURL: e.fake.URL, Project: e.fake.ProjectPath, Token: gitlabfake.Token,
		Bot: "agentorg", Sudo: true, DB: e.db, Budget: &gitlab.Budget{MaxConcurrent: 2}, HTTPClient: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "x", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := tr.Issue(t.Context(), iss.Number); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m := ct.maxIn.Load(); m > 2 || m < 1 {
		t.Fatalf("%d requests in flight at once, the budget allows 2", m)
	}
}

// A Retry-After longer than MaxWait is not waited out inside the call: the
// call fails as ErrUnavailable at once, and the next request waits it out.
func TestLongRetryAfterFailsFastAndPausesEveryone(t *testing.T) {
	e := newEnv(t, true)
	w := &waits{}
	now := time.Unix(1_800_000_000, 0)
	tr := withBudget(t, e, &gitlab.Budget{Sleep: w.sleep, Now: func() time.Time { return now }})
	iss, err := tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: "x", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.Inject(gitlabfake.Fault{Method: "GET", Status: 429, Times: 1, Header: http.Header{"Retry-After": {"3600"}}})
	before, _ := e.fake.Requests()
	_, err = tr.Issue(t.Context(), iss.Number)
	after, _ := e.fake.Requests()
	if !errors.Is(err, agentorg.ErrUnavailable) || after-before != 1 {
		t.Fatalf("a 429 asking for an hour: %v after %d requests, want ErrUnavailable after 1", err, after-before)
	}
	if len(w.all()) != 0 {
		t.Fatalf("waited %v inside the call", w.all())
	}
	if _, err := tr.Issue(t.Context(), iss.Number); err != nil {
		t.Fatal(err)
	}
	if got := w.all(); len(got) != 1 || got[0] != time.Hour {
		t.Fatalf("the next request waited %v, want one hour", got)
	}
}
