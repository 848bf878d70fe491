package modelserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is a scripted model server listening on 127.0.0.1.
type Server struct {
	ln   net.Listener
	http *http.Server
	done chan struct{} // closed by Close: stalled and delayed answers give up
	once sync.Once

	mu       sync.Mutex
	script   Script
	requests []Request
	seq      int
}

// Request is one request the server received, with what it chose to answer.
type Request struct {
	API      string // "responses", "chat", "messages", "gemini", "other"
	Path     string
	Header   http.Header // key headers replaced by "<redacted>"
	Body     json.RawMessage
	Decision Decision
}

// Decision is what the server chose for a request.
type Decision struct {
	Step   int    // index of the matched step, -1 for default text / no tools declared
	Action int    // index of the action played, -1 when none was (default text)
	Cwd    string // working directory detected from the request text
	Tool   string // the tool called, "" for text
	Args   string // arguments sent (JSON, or the raw freeform input)
	Text   string // text sent, or the error message of a Fail
}

// New starts a server on 127.0.0.1 with a random port. It panics when it
// cannot listen, like httptest.NewServer: tests have no way around that.
func New(s Script) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("modelserver: listen: %v", err))
	}
	srv := &Server{ln: ln, done: make(chan struct{}), script: s}
	srv.http = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go srv.http.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return srv
}

// URL is the server's base URL, without /v1.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// SetScript replaces the script; requests after it see the new one.
func (s *Server) SetScript(sc Script) {
	s.mu.Lock()
	s.script = sc
	s.mu.Unlock()
}

func (s *Server) currentScript() Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.script
}

// Requests returns every request received so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Close stops the server at once: it closes every connection (an idle
// one a client dialed but never used would hold up a graceful shutdown),
// and stalled or delayed answers give up.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.http.Close() //nolint:errcheck // only the listener's close error
	})
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

func (s *Server) nextID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

var redactedHeaders = []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Api-Key", "Proxy-Authorization"}

func redact(h http.Header) http.Header {
	h = h.Clone()
	for _, k := range redactedHeaders {
		if vs, ok := h[k]; ok {
			for i := range vs {
				vs[i] = "<redacted>"
			}
		}
	}
	return h
}

// maxBody bounds a request body: CLI histories are large, but not this large.
const maxBody = 64 << 20

// ServeHTTP routes by path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	api := "other"
	switch {
	case r.Method == http.MethodPost && path == "/v1/responses":
		api = "responses"
	case r.Method == http.MethodPost && path == "/v1/chat/completions":
		api = "chat"
	case r.Method == http.MethodPost && path == "/v1/messages":
		api = "messages"
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/v1beta/models/") &&
		(strings.HasSuffix(path, ":generateContent") || strings.HasSuffix(path, ":streamGenerateContent")):
		api = "gemini"
	}
	body, err := readBody(r)
	rec := Request{API: api, Path: path, Header: redact(r.Header), Body: rawJSON(body), Decision: Decision{Step: -1, Action: -1}}
	if err != nil {
		s.record(rec)
		writeError(w, api, http.StatusBadRequest, err.Error())
		return
	}
	if api == "other" {
		s.record(rec)
		s.serveOther(w, r, body)
		return
	}
	req, err := parseRequest(api, path, body)
	if err != nil {
		s.record(rec)
		writeError(w, api, http.StatusBadRequest, err.Error())
		return
	}
	sc := s.currentScript()
	plan := decide(sc, req)
	plan.usage = sc.Usage
	rec.Decision = plan.Decision
	s.record(rec)
	s.play(w, r, req, plan)
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, maxBody)
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("request body: %w", err)
		}
		rd = io.LimitReader(zr, maxBody+1) // bound what it inflates to
	default:
		return nil, fmt.Errorf("request body: Content-Encoding %q is not supported", enc)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("request body: larger than %d bytes", maxBody)
	}
	return b, nil
}

// rawJSON keeps a body as JSON: valid JSON as-is, anything else as a string.
func rawJSON(b []byte) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	q, _ := json.Marshal(string(b))
	return q
}

func (s *Server) serveOther(w http.ResponseWriter, r *http.Request, body []byte) {
	path := r.URL.Path
	switch {
	case path == "/_health":
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case r.Method == http.MethodGet && path == "/v1/models":
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "scripted-model", "object": "model", "created": 0, "owned_by": "modelserver",
				"type": "model", "display_name": "Scripted model", "created_at": "2026-01-01T00:00:00Z"},
		}, "has_more": false, "first_id": "scripted-model", "last_id": "scripted-model"})
	case r.Method == http.MethodGet && path == "/v1beta/models":
		writeJSON(w, http.StatusOK, map[string]any{"models": []any{map[string]any{
			"name": "models/scripted-model", "displayName": "Scripted model",
			"supportedGenerationMethods": []string{"generateContent", "streamGenerateContent", "countTokens"},
		}}})
	case r.Method == http.MethodPost && path == "/v1/messages/count_tokens":
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": s.currentScript().Usage.InputTokens})
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/v1beta/models/") && strings.HasSuffix(path, ":countTokens"):
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": s.currentScript().Usage.InputTokens})
	default:
		writeError(w, apiOfPath(path), http.StatusNotFound, fmt.Sprintf("modelserver: no endpoint %s %s", r.Method, path))
	}
}

func apiOfPath(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1beta/"):
		return "gemini"
	case strings.HasPrefix(path, "/v1/messages"):
		return "messages"
	}
	return "responses"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client went away
}

// wait sleeps d, or less when the client leaves or the server closes; it
// reports whether the answer should still be sent.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// hang blocks until the client leaves or the server closes.
func (s *Server) hang(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-s.done:
	}
}
