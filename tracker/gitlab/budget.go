package gitlab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/agentorg/agentorg/metrics"
)

// Budget is the request budget of one token: at most MaxConcurrent requests
// at once, a pause for everyone when GitLab says the limit is spent
// (RateLimit-Remaining: 0 until RateLimit-Reset, or a 429's Retry-After),
// and retries with jittered exponential backoff on 429 and 5xx.
//
// A request is retried only when it cannot have taken effect twice: reads
// and idempotent writes (GET, HEAD, PUT, DELETE) on 429, 5xx and transport
// errors; POST only on 429, which GitLab answers before doing anything. A POST
// whose fate is unknown is returned as an error, and the caller's guards
// (markers, find-before-create) make the engine's retry safe.
type Budget struct {
	// MaxConcurrent bounds requests in flight. Default 4.
	MaxConcurrent int
	// MaxRetries bounds the retries of one request. Default 6.
	MaxRetries int
	// BaseDelay and MaxDelay bound the backoff when GitLab gives no wait.
	// Defaults 500 ms and 30 s.
	BaseDelay, MaxDelay time.Duration
	// MaxWait is the longest Retry-After or RateLimit-Reset waited out
	// within one request; a longer one fails the request (after pausing
	// everyone that long). Default 2 minutes.
	MaxWait time.Duration
	// Sleep waits (tests record the waits instead of sleeping them).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock. Default time.Now.
	Now func() time.Time

	once        sync.Once
	sem         chan struct{}
	mu          sync.Mutex
	pausedUntil time.Time
}

var (
	budgetsMu sync.Mutex
	budgets   = map[[32]byte]*Budget{}
)

// SharedBudget returns the process-wide budget of a token on an instance, so
// that every tracker and command in the process shares it.
func SharedBudget(baseURL, token string) *Budget {
	key := sha256.Sum256([]byte(baseURL + "\x00" + token))
	budgetsMu.Lock()
	defer budgetsMu.Unlock()
	b := budgets[key]
	if b == nil {
		b = &Budget{}
		budgets[key] = b
	}
	return b
}

func (b *Budget) init() {
	b.once.Do(func() {
		if b.MaxConcurrent <= 0 {
			b.MaxConcurrent = 4
		}
		if b.MaxRetries <= 0 {
			b.MaxRetries = 6
		}
		if b.BaseDelay <= 0 {
			b.BaseDelay = 500 * time.Millisecond
		}
		if b.MaxDelay <= 0 {
			b.MaxDelay = 30 * time.Second
		}
		if b.MaxWait <= 0 {
			b.MaxWait = 2 * time.Minute
		}
		if b.Sleep == nil {
			b.Sleep = sleep
		}
		if b.Now == nil {
			b.Now = time.Now
		}
		b.sem = make(chan struct{}, b.MaxConcurrent)
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Transport returns a RoundTripper that sends through base under the budget.
func (b *Budget) Transport(base http.RoundTripper) http.RoundTripper {
	return b.transport(base, nil)
}

// transport is Transport telling m of each request sent and each wait for
// the rate limit (the budget is shared by a process's trackers; the
// metrics are one organization's).
func (b *Budget) transport(base http.RoundTripper, m *metrics.Metrics) http.RoundTripper {
	b.init()
	return &budgetTransport{b: b, base: base, m: m}
}

type budgetTransport struct {
	b    *Budget
	base http.RoundTripper
	m    *metrics.Metrics
}

// metricsTracker is the tracker label of this adapter's metrics.
const metricsTracker = "gitlab"

func (bt *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b := bt.b
	ctx := req.Context()
	// The body is kept so that a retry can send it again.
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	idempotent := req.Method != http.MethodPost && req.Method != http.MethodPatch
	for attempt := 0; ; attempt++ {
		waited, err := b.waitPause(ctx)
		bt.m.RateLimitWait(metricsTracker, waited)
		if err != nil {
			return nil, err
		}
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r := req.Clone(ctx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := bt.base.RoundTrip(r)
		code := 0
		if err == nil {
			code = resp.StatusCode
		}
		bt.m.TrackerRequest(metricsTracker, req.Method, code)
		if err == nil {
			b.noteLimits(resp)
			// The slot is held until the body is read and closed.
			resp.Body = &releaser{ReadCloser: resp.Body, release: func() { <-b.sem }}
		} else {
			<-b.sem
		}
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		retry, wait := b.decide(resp, err, idempotent, attempt)
		if !retry || attempt >= b.MaxRetries {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			bt.m.RateLimitWait(metricsTracker, wait)
		}
		if err := b.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// releaser gives the request's slot back when the body is closed.
type releaser struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *releaser) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}

// waitPause waits out a pause another request learnt of, and says how
// long it waited (a pause is always for the rate limit).
func (b *Budget) waitPause(ctx context.Context) (time.Duration, error) {
	b.mu.Lock()
	until := b.pausedUntil
	b.mu.Unlock()
	if d := until.Sub(b.Now()); d > 0 {
		return d, b.Sleep(ctx, d)
	}
	return 0, nil
}

func (b *Budget) pause(until time.Time) {
	b.mu.Lock()
	if until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
	b.mu.Unlock()
}

// noteLimits pauses everyone until the reset when the limit is spent.
func (b *Budget) noteLimits(resp *http.Response) {
	rem := resp.Header.Get("RateLimit-Remaining")
	if rem == "" {
		return
	}
	if n, err := strconv.Atoi(rem); err == nil && n <= 0 {
		if reset := b.resetTime(resp.Header); !reset.IsZero() {
			b.pause(reset)
		}
	}
}

// resetTime reads RateLimit-Reset (Unix seconds).
func (b *Budget) resetTime(h http.Header) time.Time {
	if v := h.Get("RateLimit-Reset"); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
			return time.Unix(s, 0)
		}
	}
	return time.Time{}
}

// retryAfter reads Retry-After: seconds or an HTTP date.
func (b *Budget) retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(b.Now()), 0), true
	}
	return 0, false
}

// decide says whether to retry and after how long.
func (b *Budget) decide(resp *http.Response, err error, idempotent bool, attempt int) (bool, time.Duration) {
	backoff := func() time.Duration {
		d := b.BaseDelay << min(attempt, 16)
		if d > b.MaxDelay || d <= 0 {
			d = b.MaxDelay
		}
		// Full jitter, never less than half: clients that failed together
		// do not come back together.
		return d/2 + rand.N(d/2+1)
	}
	if err != nil {
		return idempotent, backoff()
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, ok := b.retryAfter(resp.Header)
		if !ok {
			if reset := b.resetTime(resp.Header); !reset.IsZero() {
				wait, ok = max(reset.Sub(b.Now()), 0), true
			}
		}
		if !ok {
			wait = backoff()
		}
		b.pause(b.Now().Add(wait))
		// A long wait is not spent inside one call: everyone pauses, and
		// the caller hears that GitLab is unavailable (the engine then
		// waits too, without holding a worker in a request).
		return wait <= b.MaxWait, wait
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		if !idempotent {
			return false, 0
		}
		if wait, ok := b.retryAfter(resp.Header); ok {
			return true, wait
		}
		return true, backoff()
	}
	return false, 0
}

// String describes the budget for diagnostics (never the token).
func (b *Budget) String() string {
	b.init()
	return fmt.Sprintf("gitlab budget: %d concurrent, %d retries", b.MaxConcurrent, b.MaxRetries)
}
