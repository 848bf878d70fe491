// Package web serves the organization's dashboard: the board, each issue's
// story, run transcripts, the merge train and usage, kept live by
// Server-Sent Events from the event log; /metrics, /healthz and /readyz
// for operators; and, on the embedded tracker, a signed-in person's
// approval or rejection at a gate, under the same rules as the CLI
// (package gate, through package human). Pages are server-rendered HTML
// that reads fine without JavaScript; a few lines of script keep them
// live.
package web

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/workflow"
)

// Config is what the dashboard reads and who may act through it.
type Config struct {
	Workflow *workflow.Workflow
	Tracker  agentorg.Tracker
	Log      *eventlog.Log
	// DB is the engine's database: its jobs and claims.
	DB *sql.DB
	// Home is the state directory: run transcripts live under it.
	Home string
	// Users checks people's credentials on the embedded tracker; nil on
	// GitLab, where people act in GitLab itself (the pages link there).
	Users *human.Users
	// ReadOnly serves pages without any form that acts (agentorg ui).
	ReadOnly bool
	// Auth makes every page need a signed-in person: the address is not
	// loopback. Acting always needs one.
	Auth bool
	// Metrics, when set, serves /metrics. With Auth, a scraper presents
	// MetricsToken as a bearer token (no token: /metrics is refused).
	Metrics      http.Handler
	MetricsToken string
	// Ready says whether the engine is ready to work (/readyz); nil: the
	// dashboard alone is served, and ready once the database answers.
	Ready func(context.Context) error
	// LiveEvery is how often the live stream reads the event log (default
	// 200ms: a transition shows within a second).
	LiveEvery time.Duration
}

// Server is the dashboard's HTTP handler.
type Server struct {
	cfg      Config
	pages    map[string]*template.Template
	sessions *sessions
	mux      *http.ServeMux
}

//go:embed templates/*.html static/*
var files embed.FS

// New builds the dashboard.
func New(cfg Config) (*Server, error) {
	if cfg.Workflow == nil || cfg.Tracker == nil || cfg.Log == nil || cfg.DB == nil {
		return nil, fmt.Errorf("web: Workflow, Tracker, Log and DB are required")
	}
	if cfg.LiveEvery == 0 {
		cfg.LiveEvery = 200 * time.Millisecond
	}
	s := &Server{cfg: cfg, sessions: newSessions(), mux: http.NewServeMux()}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.view(s.boardPage))
	m.HandleFunc("GET /live", s.view(s.live))
	m.HandleFunc("GET /runs/{id}", s.view(s.transcriptPage))
	m.HandleFunc("GET /runs/{id}/raw", s.view(s.transcriptRaw))
	m.HandleFunc("GET /train", s.view(s.trainPage))
	m.HandleFunc("GET /usage", s.view(s.usagePage))
	m.HandleFunc("GET /issues/{n}", s.view(s.issuePage))
	m.HandleFunc("POST /issues/{n}/approve", s.act(s.approveIssue))
	m.HandleFunc("POST /issues/{n}/reject", s.act(s.rejectIssue))
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("GET /login/{code}", s.loginLink)
	m.HandleFunc("POST /logout", s.logout)
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	if s.cfg.Metrics != nil {
		m.HandleFunc("GET /metrics", s.metrics)
	}
	static, _ := fs.Sub(files, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
}

// ServeHTTP serves the dashboard with headers that keep its pages to
// themselves: no framing, no inline script, no referrer to other sites.
// (A referrer policy of no-referrer would make browsers send "Origin:
// null" with the pages' own forms, which sameOrigin refuses.)
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// view wraps a page: with Auth, only a signed-in person sees it.
func (s *Server) view(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Auth && s.sessions.of(r) == nil {
			http.Redirect(w, r, "/login?next="+urlPath(r), http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

// act wraps a form that changes something: a signed-in person, the form's
// CSRF token of their session, and a dashboard that may act.
func (s *Server) act(h func(w http.ResponseWriter, r *http.Request, who *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.ReadOnly {
			s.fail(w, r, http.StatusForbidden, "this dashboard is read-only (agentorg ui): approve with `agentorg approve`, or serve it with `agentorg serve --http`")
			return
		}
		who := s.sessions.of(r)
		if who == nil {
			s.fail(w, r, http.StatusUnauthorized, "sign in to act: approvals need to know who you are")
			return
		}
		if !sameOrigin(r) || !who.validCSRF(r.PostFormValue("csrf")) {
			s.fail(w, r, http.StatusForbidden, "the form's token does not match your session (reload the page and try again)")
			return
		}
		h(w, r, who)
	}
}

// sameOrigin refuses a POST whose Origin (when the browser sends one) is
// another site.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	return strings.TrimPrefix(strings.TrimPrefix(o, "http://"), "https://") == r.Host
}

func urlPath(r *http.Request) string {
	p := r.URL.Path
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	return template.URLQueryEscaper(p)
}

// metrics serves /metrics: open on loopback, and with Auth only to a
// scraper that presents the metrics token (or a signed-in person).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Auth && s.sessions.of(r) == nil {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if s.cfg.MetricsToken == "" || !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.MetricsToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentorg metrics"`)
			http.Error(w, "/metrics needs the metrics token as a bearer token (--metrics-token-env) on a dashboard with --auth", http.StatusUnauthorized)
			return
		}
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := s.cfg.DB.PingContext(ctx)
	if err == nil && s.cfg.Ready != nil {
		err = s.cfg.Ready(ctx)
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready:", err)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Loopback reports whether addr (host:port) binds to loopback only: any
// other address needs Auth.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parsePages parses each page with the layout it fills.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, fmt.Errorf("web: %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}
