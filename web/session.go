package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A person signs in with their name and their credential (the token `agentorg
// user add` kept in their credentials file), checked against its hash in
// the home, or with a one-time link `agentorg serve --http --as NAME`
// prints for whoever started it (their credential checked at the
// terminal). A session is a random cookie, HttpOnly and SameSite=Strict;
// each form carries the session's CSRF token.

const (
	sessionCookie = "agentorg_session"
	sessionTTL    = 12 * time.Hour
	linkTTL       = 10 * time.Minute
)

type session struct {
	user    string
	csrf    string
	expires time.Time
}

func (s *session) validCSRF(tok string) bool {
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrf)) == 1
}

// sessions are kept in memory: a restart signs everyone out.
type sessions struct {
	mu    sync.Mutex
	byID  map[string]*session
	links map[string]linkCode
}

type linkCode struct {
	user    string
	expires time.Time
}

func newSessions() *sessions {
	return &sessions{byID: map[string]*session{}, links: map[string]linkCode{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) start(w http.ResponseWriter, r *http.Request, user string) {
	id := randomToken()
	ss.mu.Lock()
	ss.byID[id] = &session{user: user, csrf: randomToken(), expires: time.Now().Add(sessionTTL)}
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
}

// of returns the request's live session, or nil.
func (ss *sessions) of(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[c.Value]
	if s == nil {
		return nil
	}
	if time.Now().After(s.expires) {
		delete(ss.byID, c.Value)
		return nil
	}
	return s
}

func (ss *sessions) end(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss.mu.Lock()
		delete(ss.byID, c.Value)
		ss.mu.Unlock()
	}
}

// LoginLink returns a path that signs user in once, within ten minutes:
// for the person who started the dashboard, whose credential the command
// checked.
func (s *Server) LoginLink(user string) string {
	code := randomToken()
	s.sessions.mu.Lock()
	s.sessions.links[code] = linkCode{user: user, expires: time.Now().Add(linkTTL)}
	s.sessions.mu.Unlock()
	return "/login/" + code
}

type loginData struct {
	Next, User, Problem string
	CanSignIn           bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", "Sign in", loginData{Next: safeNext(r.URL.Query().Get("next")), CanSignIn: s.cfg.Users != nil})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	user, token := strings.TrimSpace(r.PostFormValue("user")), strings.TrimSpace(r.PostFormValue("credential"))
	d := loginData{Next: next, User: user, CanSignIn: s.cfg.Users != nil}
	if s.cfg.Users == nil {
		d.Problem = "people sign in to GitLab, not here: act on the issue or merge request in GitLab"
		s.render(w, r, http.StatusForbidden, "login", "Sign in", d)
		return
	}
	ok, err := s.cfg.Users.Verify(r.Context(), user, token)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		d.Problem = "that name and credential do not match a person enrolled in this home (`agentorg user list` shows who is)"
		s.render(w, r, http.StatusUnauthorized, "login", "Sign in", d)
		return
	}
	s.sessions.start(w, r, user)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) loginLink(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	s.sessions.mu.Lock()
	l, ok := s.sessions.links[code]
	delete(s.sessions.links, code) // once
	s.sessions.mu.Unlock()
	if !ok || time.Now().After(l.expires) {
		s.render(w, r, http.StatusUnauthorized, "login", "Sign in",
			loginData{Next: "/", CanSignIn: s.cfg.Users != nil, Problem: "that sign-in link was used already or has expired: sign in with your credential, or start the dashboard again with --as"})
		return
	}
	s.sessions.start(w, r, l.user)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if who := s.sessions.of(r); who != nil && who.validCSRF(r.PostFormValue("csrf")) {
		s.sessions.end(r)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeNext keeps a redirect on this site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}
