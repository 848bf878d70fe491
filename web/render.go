package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/agentorg/agentorg/board"
)

// page is what the layout needs besides the page's own data.
type page struct {
	Title    string
	User     string // the signed-in person, "" for none
	CSRF     string
	ReadOnly bool
	CanSign  bool   // people sign in here (the embedded tracker)
	Live     string // the stream this page follows ("" for none)
	Target   string
	Now      time.Time
	Data     any
}

// render writes page name with data, in the layout. The page follows the
// whole event log's stream, or the one its data's liveStream method names.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t, ok := s.pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	p := page{Title: title, ReadOnly: s.cfg.ReadOnly, CanSign: s.cfg.Users != nil, Target: s.cfg.Workflow.Repo.TargetBranch,
		Now: time.Now(), Data: data, Live: "/live"}
	if l, ok := data.(interface{ liveStream() string }); ok {
		p.Live = l.liveStream()
	}
	if who := s.sessions.of(r); who != nil {
		p.User, p.CSRF = who.user, who.csrf
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		http.Error(w, "web: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fail answers with a page that says what went wrong.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, why string) {
	s.render(w, r, status, "error", http.StatusText(status), why)
}

var funcs = template.FuncMap{
	"short": func(sha string) string {
		if len(sha) > 10 {
			return sha[:10]
		}
		return sha
	},
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return board.Ago(now, t)
	},
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("15:04:05")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"join":     strings.Join,
	"lower":    strings.ToLower,
	"usd":      func(v float64) string { return fmt.Sprintf("$%.2f", v) },
	"int64":    func(n int) int64 { return int64(n) },
	"markdown": markdown,
}
