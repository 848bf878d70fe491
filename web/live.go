package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/agentorg/agentorg/eventlog"
)

// live streams the event log as Server-Sent Events from now on (or from
// Last-Event-ID, after a reconnect): one "change" event per recorded event,
// of one issue with ?issue=N. The pages' script reloads what they show on
// each; a comment every 15 seconds keeps proxies from closing the stream.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	var f eventlog.Filter
	if v := r.URL.Query().Get("issue"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			http.Error(w, fmt.Sprintf("issue must be an issue number, not %q", v), http.StatusBadRequest)
			return
		}
		f.Issue = n
	}
	ctx := r.Context()
	after, err := s.cfg.Log.LastID(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && id > 0 && id < after {
		after = id
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	flusher.Flush()

	events := make(chan eventlog.Event, 64)
	done := make(chan error, 1)
	go func() {
		done <- s.cfg.Log.Follow(ctx, after, f, s.cfg.LiveEvery, func(e eventlog.Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case e := <-events:
			b, _ := json.Marshal(map[string]any{"issue": e.Issue, "kind": e.Kind, "from": e.From, "to": e.To, "reason": e.Reason, "at": e.At})
			fmt.Fprintf(w, "id: %d\nevent: change\ndata: %s\n\n", e.ID, b)
		}
		flusher.Flush()
	}
}
