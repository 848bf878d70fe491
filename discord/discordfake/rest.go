package discordfake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is Discord's JSON error body.
type apiError struct {
	status  int
	Message string         `json:"message"`
	Code    int            `json:"code"`
	Errors  map[string]any `json:"errors,omitempty"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s (%d)", e.status, e.Message, e.Code) }

func errUnauthorized() *apiError { return &apiError{status: 401, Message: "401: Unauthorized"} }
func errNotFound() *apiError     { return &apiError{status: 404, Message: "404: Not Found"} }
func errMethod() *apiError       { return &apiError{status: 405, Message: "405: Method Not Allowed"} }
func errUnknownChannel() *apiError {
	return &apiError{status: 404, Message: "Unknown Channel", Code: 10003}
}
func errUnknownMessage() *apiError {
	return &apiError{status: 404, Message: "Unknown Message", Code: 10008}
}
func errUnknownMember() *apiError {
	return &apiError{status: 404, Message: "Unknown Member", Code: 10007}
}
func errUnknownGuild() *apiError {
	return &apiError{status: 404, Message: "Unknown Guild", Code: 10004}
}
func errUnknownUser() *apiError { return &apiError{status: 404, Message: "Unknown User", Code: 10013} }
func errUnknownWebhook() *apiError {
	return &apiError{status: 404, Message: "Unknown Webhook", Code: 10015}
}
func errUnknownInteraction() *apiError {
	return &apiError{status: 404, Message: "Unknown interaction", Code: 10062}
}
func errAcknowledged() *apiError {
	return &apiError{status: 400, Message: "Interaction has already been acknowledged.", Code: 40060}
}
func errMissingAccess() *apiError {
	return &apiError{status: 403, Message: "Missing Access", Code: 50001}
}
func errMissingPermissions() *apiError {
	return &apiError{status: 403, Message: "Missing Permissions", Code: 50013}
}
func errBadJSON() *apiError {
	return &apiError{status: 400, Message: "400: Bad Request", Code: 50109}
}

// formError is 50035 Invalid Form Body with errors at a dotted path, such
// as "embeds.0.title".
func formError(path, code, msg string) *apiError {
	leaf := map[string]any{"_errors": []any{map[string]any{"code": code, "message": msg}}}
	var node any = leaf
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		node = map[string]any{parts[i]: node}
	}
	return &apiError{status: 400, Message: "Invalid Form Body", Code: 50035, Errors: node.(map[string]any)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *apiError) { writeJSON(w, e.status, e) }

// route is a parsed request path.
type route struct {
	segs     []string // path segments after /api[/vN]
	template string   // "POST /channels/{id}/messages"
	bucket   string   // rate limit bucket key: template + major parameter
	auth     bool     // needs the bot's Authorization
}

func parseRoute(method, path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/api/")
	if !ok {
		return route{}, false
	}
	if v, after, found := strings.Cut(rest, "/"); found && (v == "v9" || v == "v10") {
		rest = after
	} else if v == "v9" || v == "v10" {
		rest = ""
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	tmpl := make([]string, len(segs))
	major := ""
	for i, s := range segs {
		switch {
		case i == 2 && (segs[0] == "webhooks" || segs[0] == "interactions"):
			tmpl[i] = "{token}"
		case isSnowflake(s):
			tmpl[i] = "{id}"
		default:
			tmpl[i] = s
		}
	}
	if len(segs) >= 2 {
		switch segs[0] {
		case "channels", "guilds", "webhooks", "interactions":
			major = segs[1]
		}
	}
	r := route{segs: segs, template: method + " /" + strings.Join(tmpl, "/")}
	r.bucket = r.template + " " + major
	r.auth = len(segs) > 0 && segs[0] != "webhooks" && segs[0] != "interactions" && !(len(segs) == 1 && segs[0] == "gateway")
	return r, true
}

func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// window is a fixed rate limit window.
type window struct {
	start time.Time
	count int
}

// ServeHTTP serves the REST API and the gateway.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/gateway" || r.URL.Path == "/gateway/" {
		f.serveGateway(w, r)
		return
	}
	rt, ok := parseRoute(r.Method, r.URL.Path)
	if !ok {
		writeErr(w, errNotFound())
		return
	}
	f.mu.Lock()
	f.requests[rt.template]++
	f.mu.Unlock()
	if rt.auth && !f.authorized(r.Header.Get("Authorization")) {
		writeErr(w, errUnauthorized())
		return
	}
	if !f.rateLimit(w, rt) {
		return
	}
	if e := f.serveREST(w, r, rt); e != nil {
		writeErr(w, e)
	}
}

func (f *Fake) authorized(h string) bool {
	tok, ok := strings.CutPrefix(h, "Bot ")
	if !ok || tok == "" {
		return false
	}
	return f.opts.Token == "" || tok == f.opts.Token
}

// tokenOK checks a gateway token, with or without the "Bot " prefix.
func (f *Fake) tokenOK(tok string) bool {
	tok = strings.TrimPrefix(tok, "Bot ")
	if tok == "" {
		return false
	}
	return f.opts.Token == "" || tok == f.opts.Token
}

// rateLimit counts the request in its bucket (and globally for bot
// routes), sets Discord's rate limit headers and, past a limit, answers 429.
func (f *Fake) rateLimit(w http.ResponseWriter, rt route) bool {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if rt.auth && f.opts.GlobalLimit > 0 {
		g := &f.global
		if now.Sub(g.start) >= time.Second {
			g.start, g.count = now, 0
		}
		if g.count >= f.opts.GlobalLimit {
			f.rateLimited++
			after := g.start.Add(time.Second).Sub(now).Seconds()
			h := w.Header()
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(after))))
			h.Set("X-RateLimit-Global", "true")
			h.Set("X-RateLimit-Scope", "global")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": round3(after), "global": true})
			return false
		}
		g.count++
	}
	b := f.buckets[rt.bucket]
	if b == nil {
		b = &window{}
		f.buckets[rt.bucket] = b
	}
	if now.Sub(b.start) >= f.opts.RouteWindow {
		b.start, b.count = now, 0
	}
	reset := b.start.Add(f.opts.RouteWindow)
	after := reset.Sub(now).Seconds()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(f.opts.RouteLimit))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(reset.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(round3(after), 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", bucketHash(rt.template))
	if b.count >= f.opts.RouteLimit {
		f.rateLimited++
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(after))))
		h.Set("X-RateLimit-Scope", "user")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": round3(after), "global": false})
		return false
	}
	b.count++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(f.opts.RouteLimit-b.count))
	return true
}

func round3(x float64) float64 { return math.Ceil(x*1000) / 1000 }

func bucketHash(template string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(template))
	return fmt.Sprintf("%016x", h.Sum64())
}

// serveREST dispatches a request that passed auth and rate limits.
func (f *Fake) serveREST(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	s := rt.segs
	n := len(s)
	m := r.Method
	is := func(method string, parts ...string) bool {
		if n != len(parts) || m != method {
			return false
		}
		for i, p := range parts {
			if p != "*" && p != s[i] {
				return false
			}
		}
		return true
	}
	switch {
	case is("GET", "gateway"):
		writeJSON(w, 200, map[string]any{"url": f.wsURL()})
	case is("GET", "gateway", "bot"):
		writeJSON(w, 200, map[string]any{"url": f.wsURL(), "shards": 1, "session_start_limit": map[string]any{"total": 1000, "remaining": 1000 - f.Identifies(), "reset_after": 86400000, "max_concurrency": 1}})
	case is("GET", "users", "@me"):
		writeJSON(w, 200, f.userObject(f.opts.BotUserID))
	case is("GET", "users", "*"):
		if !f.isMember(s[1]) {
			return errUnknownUser()
		}
		writeJSON(w, 200, f.userObject(s[1]))
	case n >= 2 && s[0] == "guilds" && s[1] != f.opts.GuildID:
		return errUnknownGuild()
	case is("GET", "guilds", "*"):
		writeJSON(w, 200, f.guildObject())
	case is("GET", "guilds", "*", "roles"):
		writeJSON(w, 200, []any{f.everyoneRole()})
	case is("GET", "guilds", "*", "channels"):
		writeJSON(w, 200, f.channelObjects())
	case is("GET", "guilds", "*", "members", "*"):
		if !f.isMember(s[3]) {
			return errUnknownMember()
		}
		writeJSON(w, 200, f.memberObject(s[3]))
	case n >= 2 && s[0] == "channels" && !f.channelExists(s[1]):
		return errUnknownChannel()
	case n >= 2 && s[0] == "channels" && f.opts.BotPermissions&PermViewChannel == 0:
		return errMissingAccess()
	case is("GET", "channels", "*"):
		writeJSON(w, 200, f.channelObject(s[1]))
	case is("POST", "channels", "*", "messages"):
		return f.createChannelMessage(w, r, s[1])
	case is("GET", "channels", "*", "messages"):
		return f.listMessages(w, r, s[1])
	case is("GET", "channels", "*", "messages", "*"):
		return f.getMessage(w, s[1], s[3])
	case is("PATCH", "channels", "*", "messages", "*"):
		return f.editChannelMessage(w, r, s[1], s[3])
	case is("DELETE", "channels", "*", "messages", "*"):
		return f.deleteMessage(w, s[1], s[3], f.opts.BotUserID)
	case n >= 2 && s[0] == "applications" && s[1] != f.opts.AppID:
		return &apiError{status: 404, Message: "Unknown Application", Code: 10002}
	case is("PUT", "applications", "*", "commands"):
		return f.overwriteCommands(w, r, "")
	case is("GET", "applications", "*", "commands"):
		writeJSON(w, 200, f.commandList(false))
	case n == 5 && s[0] == "applications" && s[2] == "guilds" && s[3] != f.opts.GuildID:
		return errUnknownGuild()
	case is("PUT", "applications", "*", "guilds", "*", "commands"):
		return f.overwriteCommands(w, r, s[3])
	case is("GET", "applications", "*", "guilds", "*", "commands"):
		writeJSON(w, 200, f.commandList(true))
	case is("POST", "interactions", "*", "*", "callback"):
		return f.callback(w, r, s[1], s[2])
	case n >= 3 && s[0] == "webhooks":
		return f.serveWebhook(w, r, s)
	default:
		if f.knownPath(s) {
			return errMethod()
		}
		return errNotFound()
	}
	return nil
}

// knownPath tells a wrong method on a served path from an unserved path.
func (f *Fake) knownPath(s []string) bool {
	p := strings.Join(s, "/")
	for _, pre := range []string{"gateway", "users/", "guilds/", "channels/", "applications/", "interactions/", "webhooks/"} {
		if strings.HasPrefix(p, pre) || p == strings.TrimSuffix(pre, "/") {
			return true
		}
	}
	return false
}

func (f *Fake) wsURL() string {
	return "ws" + strings.TrimPrefix(f.url, "http") + "/gateway"
}

func (f *Fake) channelExists(id string) bool {
	_, ok := f.opts.Channels[id]
	return ok
}
