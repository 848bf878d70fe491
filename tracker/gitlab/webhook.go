package gitlab

import (
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"net/http"
	"sync"
)

// Webhook receives GitLab's webhooks (issue, note, merge request and
// pipeline events) as hints: each new delivery with the right secret calls
// Wake, so that the engine reads the tracker at once instead of at the next
// poll. The payload is not trusted or used: polling stays the truth, so a
// lost or forged-but-authenticated hook can only cause an early read.
type Webhook struct {
	// Secret is the webhook's secret token (X-Gitlab-Token). Required.
	Secret string
	// Wake asks for an early reconcile; it must not block.
	Wake func()
	// Remember is how many delivery ids are kept to drop redeliveries.
	// Default 4096.
	Remember int

	mu    sync.Mutex
	seen  map[string]struct{}
	order []string
}

// events are the X-Gitlab-Event values that can change what the engine
// should do.
var events = map[string]bool{
	"Issue Hook": true, "Note Hook": true, "Merge Request Hook": true, "Pipeline Hook": true,
	"Confidential Issue Hook": true, "Confidential Note Hook": true, "Job Hook": true,
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
		return
	}
	// Hashes of equal length, compared in constant time: neither the
	// secret's content nor its length leaks through timing.
	got, want := sha256.Sum256([]byte(r.Header.Get("X-Gitlab-Token"))), sha256.Sum256([]byte(h.Secret))
	if h.Secret == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		http.Error(w, "wrong or missing X-Gitlab-Token", http.StatusUnauthorized)
		return
	}
	// The body is not needed; drain a bounded amount so the connection can
	// be reused.
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	id := r.Header.Get("Idempotency-Key")
	if id == "" {
		id = r.Header.Get("X-Gitlab-Event-UUID")
	}
	if id != "" && !h.first(id) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "duplicate delivery\n")
		return
	}
	if events[r.Header.Get("X-Gitlab-Event")] && h.Wake != nil {
		h.Wake()
	}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "ok\n")
}

// first records id and reports whether it is new.
func (h *Webhook) first(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]struct{}{}
	}
	if _, ok := h.seen[id]; ok {
		return false
	}
	limit := h.Remember
	if limit <= 0 {
		limit = 4096
	}
	if len(h.order) >= limit {
		delete(h.seen, h.order[0])
		h.order = h.order[1:]
	}
	h.seen[id] = struct{}{}
	h.order = append(h.order, id)
	return true
}

// WakeChannel returns a channel for engine.Serve and a Wake that never
// blocks: wakes that arrive while one is pending fold into it.
func WakeChannel() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	return ch, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
