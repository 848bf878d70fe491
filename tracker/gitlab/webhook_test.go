package gitlab_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentorg/agentorg/tracker/gitlab"
)

func TestWebhook(t *testing.T) {
	var wakes atomic.Int32
	h := &gitlab.Webhook{Secret: "s3cret", Wake: func() { wakes.Add(1) }}
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(method string, headers map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL, strings.NewReader(`{"object_kind":"issue"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	hook := func(token, event, uuid string) map[string]string {
		return map[string]string{"X-Gitlab-Token": token, "X-Gitlab-Event": event, "X-Gitlab-Event-UUID": uuid}
	}
	steps := []struct {
		name    string
		method  string
		headers map[string]string
		code    int
		wakes   int32
	}{
		{"wrong token", "POST", hook("s3cre", "Issue Hook", "u1"), 401, 0},
		{"longer wrong token", "POST", hook("s3cret-and-more", "Issue Hook", "u1"), 401, 0},
		{"no token", "POST", map[string]string{"X-Gitlab-Event": "Issue Hook"}, 401, 0},
		{"not a POST", "GET", hook("s3cret", "Issue Hook", "u1"), 405, 0},
		{"issue event", "POST", hook("s3cret", "Issue Hook", "u1"), 200, 1},
		{"redelivered", "POST", hook("s3cret", "Issue Hook", "u1"), 200, 1},
		{"note event", "POST", hook("s3cret", "Note Hook", "u2"), 200, 2},
		{"merge request event", "POST", hook("s3cret", "Merge Request Hook", "u3"), 200, 3},
		{"pipeline event", "POST", hook("s3cret", "Pipeline Hook", "u4"), 200, 4},
		{"idempotency key wins", "POST", map[string]string{"X-Gitlab-Token": "s3cret", "X-Gitlab-Event": "Issue Hook",
			"X-Gitlab-Event-UUID": "u5", "Idempotency-Key": "u4"}, 200, 4},
		{"an event that changes nothing", "POST", hook("s3cret", "Wiki Page Hook", "u6"), 200, 4},
	}
	for _, s := range steps {
		if code := post(s.method, s.headers); code != s.code {
			t.Fatalf("%s: status %d, want %d", s.name, code, s.code)
		}
		if got := wakes.Load(); got != s.wakes {
			t.Fatalf("%s: %d wakes, want %d", s.name, got, s.wakes)
		}
	}
}

func TestWebhookWithoutSecretRefusesAll(t *testing.T) {
	h := &gitlab.Webhook{Wake: func() { t.Fatal("woken without a secret") }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader("{}")))
	if rec.Code != 401 {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestWakeChannelNeverBlocks(t *testing.T) {
	ch, wake := gitlab.WakeChannel()
	for range 5 {
		wake()
	}
	<-ch
	select {
	case <-ch:
		t.Fatal("five wakes while one was pending made two")
	default:
	}
}
