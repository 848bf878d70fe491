package discordfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%d body %q: %v", r.status, r.body, err)
	}
	return m
}

// call makes a raw request; path is under URL() unless absolute.
func call(t *testing.T, f *Fake, method, path, auth string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = f.URL() + path
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

func wantErr(t *testing.T, r reply, status int, code float64) map[string]any {
	t.Helper()
	m := r.json(t)
	if r.status != status || m["code"] != code {
		t.Fatalf("got %d %s, want %d code %v", r.status, r.body, status, code)
	}
	return m
}

// gw is a raw gateway client.
type gw struct {
	t   *testing.T
	c   *websocket.Conn
	seq int64
	sid string
}

type frame struct {
	Op int             `json:"op"`
	S  int64           `json:"s"`
	T  string          `json:"t"`
	D  json.RawMessage `json:"d"`
}

func dial(t *testing.T, f *Fake) *gw {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(strings.Replace(f.URL(), "http", "ws", 1)+"/gateway?v=10&encoding=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	g := &gw{t: t, c: c}
	if h := g.read(); h.Op != 10 {
		t.Fatalf("first frame op %d, want HELLO", h.Op)
	}
	return g
}

func (g *gw) read() frame {
	g.t.Helper()
	_ = g.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var fr frame
	if err := g.c.ReadJSON(&fr); err != nil {
		g.t.Fatal(err)
	}
	if fr.Op == 0 {
		if fr.S != g.seq+1 && g.seq != 0 {
			g.t.Fatalf("seq %d after %d", fr.S, g.seq)
		}
		g.seq = fr.S
	}
	return fr
}

func (g *gw) send(op int, d any) {
	g.t.Helper()
	if err := g.c.WriteJSON(map[string]any{"op": op, "d": d}); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gw) identify(token string) {
	g.t.Helper()
	g.send(2, map[string]any{"token": token, "intents": 0, "properties": map[string]any{"os": "linux"}, "compress": true})
	r := g.read()
	if r.T != "READY" {
		g.t.Fatalf("got %s, want READY", r.T)
	}
	var d struct {
		V         int    `json:"v"`
		SessionID string `json:"session_id"`
		Resume    string `json:"resume_gateway_url"`
		App       struct {
			ID string `json:"id"`
		} `json:"application"`
	}
	_ = json.Unmarshal(r.D, &d)
	if d.V != 10 || d.SessionID == "" || !strings.HasPrefix(d.Resume, "ws://") || d.App.ID == "" {
		g.t.Fatalf("READY %s", r.D)
	}
	g.sid = d.SessionID
}

func TestGatewayWire(t *testing.T) {
	f := startFake(t, Options{Token: "secret", Members: map[string]string{"500000000000000001": "alice"}})
	bad := dial(t, f)
	bad.send(2, map[string]any{"token": "wrong", "intents": 0})
	_ = bad.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := bad.c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4004 {
		t.Fatalf("wrong token: %v, want close 4004", err)
	}

	g := dial(t, f)
	g.send(1, nil)
	if r := g.read(); r.Op != 11 {
		t.Fatalf("heartbeat answered with op %d", r.Op)
	}
	g.identify("Bot secret")
	if err := f.WaitConnected(time.Second); err != nil {
		t.Fatal(err)
	}
	msg := call(t, f, "POST", "/api/v10/channels/"+testChannel+"/messages", "Bot secret", map[string]any{
		"content":    "pick",
		"components": []any{map[string]any{"type": 1, "components": []any{map[string]any{"type": 2, "style": 1, "label": "A", "custom_id": "a"}}}},
	}).json(t)
	in1, err := f.Click("500000000000000001", msg["id"].(string), "a")
	if err != nil {
		t.Fatal(err)
	}
	if r := g.read(); r.T != "INTERACTION_CREATE" || !strings.Contains(string(r.D), in1.Token) {
		t.Fatalf("got %s %s", r.T, r.D)
	}
	if _, err := f.Click("500000000000000001", msg["id"].(string), "nope"); err == nil {
		t.Fatal("click on a missing component dispatched")
	}

	// Drop, dispatch twice, RESUME: both replayed in order, then RESUMED.
	last := g.seq
	f.Drop()
	in2, _ := f.Click("500000000000000001", msg["id"].(string), "a")
	in3, _ := f.Slash("500000000000000001", testChannel, "status", map[string]any{"n": 3, "who": "bob"})
	if f.Connected() {
		t.Fatal("connected after Drop")
	}
	g2 := dial(t, f)
	g2.seq = last
	g2.send(6, map[string]any{"token": "Bot secret", "session_id": g.sid, "seq": last})
	for _, want := range []string{in2.ID, in3.ID} {
		r := g2.read()
		var d struct{ ID string }
		_ = json.Unmarshal(r.D, &d)
		if r.T != "INTERACTION_CREATE" || d.ID != want {
			t.Fatalf("replayed %s %s, want interaction %s", r.T, r.D, want)
		}
	}
	if r := g2.read(); r.T != "RESUMED" {
		t.Fatalf("got %s, want RESUMED", r.T)
	}
	if !strings.Contains(string(in3.Payload), `"options":[{"name":"status","options":[{"name":"n","type":4,"value":3},{"name":"who","type":3,"value":"bob"}],"type":1}]`) {
		t.Fatalf("slash payload %s", in3.Payload)
	}

	// An invalidated resume and an unknown session get op 9 d:false.
	f.InvalidateNextResume()
	f.Drop()
	g3 := dial(t, f)
	g3.send(6, map[string]any{"token": "Bot secret", "session_id": g.sid, "seq": g2.seq})
	if r := g3.read(); r.Op != 9 || string(r.D) != "false" {
		t.Fatalf("got op %d %s, want op 9 false", r.Op, r.D)
	}
	g3.identify("secret")
	if f.Identifies() != 2 || f.Resumes() != 1 {
		t.Fatalf("identifies %d resumes %d", f.Identifies(), f.Resumes())
	}
}

func TestREST(t *testing.T) {
	f := startFake(t, Options{Token: "secret"})
	ch := "/api/v9/channels/" + testChannel + "/messages"
	wantErr(t, call(t, f, "GET", "/api/v9/users/@me", "Bot other", nil), 401, 0)
	wantErr(t, call(t, f, "GET", "/api/v9/users/@me", "", nil), 401, 0)
	if r := call(t, f, "GET", "/api/v9/gateway", "", nil).json(t); !strings.HasSuffix(r["url"].(string), "/gateway") {
		t.Fatalf("gateway %v", r)
	}
	wantErr(t, call(t, f, "GET", "/api/v9/channels/1", "Bot secret", nil), 404, 10003)
	wantErr(t, call(t, f, "GET", "/api/v9/guilds/"+f.Options().GuildID+"/members/42", "Bot secret", nil), 404, 10007)
	wantErr(t, call(t, f, "GET", ch+"/42", "Bot secret", nil), 404, 10008)

	// nonce + enforce_nonce: the second send returns the first message.
	body := map[string]any{"content": "once", "nonce": "n-1", "enforce_nonce": true}
	a := call(t, f, "POST", ch, "Bot secret", body).json(t)
	b := call(t, f, "POST", ch, "Bot secret", body).json(t)
	if a["id"] != b["id"] || len(f.Messages(testChannel)) != 1 || a["nonce"] != "n-1" {
		t.Fatalf("dedup: %v %v, %d messages", a["id"], b["id"], len(f.Messages(testChannel)))
	}
	delete(body, "enforce_nonce")
	call(t, f, "POST", ch, "Bot secret", body)
	if n := len(f.Messages(testChannel)); n != 2 {
		t.Fatalf("nonce without enforce_nonce deduplicated: %d messages", n)
	}
	if f.Requests("POST /channels/{id}/messages") != 3 {
		t.Fatalf("routes %v", f.Routes())
	}

	// Limits.
	long := func(n int) string { return strings.Repeat("x", n) }
	for name, body := range map[string]map[string]any{
		"content.":              {"content": long(2001)},
		"embeds.0.title":        {"embeds": []any{map[string]any{"title": long(257)}}},
		"embeds.0.description":  {"embeds": []any{map[string]any{"description": long(4097)}}},
		"embeds.0.fields.0.val": {"embeds": []any{map[string]any{"fields": []any{map[string]any{"name": "n", "value": long(1025)}}}}},
		"embeds.total":          {"embeds": []any{map[string]any{"description": long(4000)}, map[string]any{"description": long(2001)}}},
	} {
		r := call(t, f, "POST", ch, "Bot secret", body)
		m := wantErr(t, r, 400, 50035)
		if m["message"] != "Invalid Form Body" || m["errors"] == nil {
			t.Fatalf("%s: %s", name, r.body)
		}
	}
	fields := []any{}
	for i := 0; i < 26; i++ {
		fields = append(fields, map[string]any{"name": "n", "value": "v"})
	}
	wantErr(t, call(t, f, "POST", ch, "Bot secret", map[string]any{"embeds": []any{map[string]any{"fields": fields}}}), 400, 50035)
	wantErr(t, call(t, f, "POST", ch, "Bot secret", map[string]any{"content": ""}), 400, 50006)

	// Edit.
	e := call(t, f, "PATCH", ch+"/"+a["id"].(string), "Bot secret", map[string]any{"content": "twice"})
	if e.status != 200 || e.json(t)["edited_timestamp"] == nil {
		t.Fatalf("edit: %d %s", e.status, e.body)
	}
	if m, _ := f.Message(a["id"].(string)); m.Content != "twice" || m.Edits != 1 {
		t.Fatalf("edited %+v", m)
	}

	// Commands.
	cmds := call(t, f, "PUT", "/api/v9/applications/"+f.Options().AppID+"/guilds/"+f.Options().GuildID+"/commands", "Bot secret",
		[]any{map[string]any{"name": "agentorg", "description": "agentorg", "options": []any{}}})
	var got []map[string]any
	_ = json.Unmarshal(cmds.body, &got)
	if cmds.status != 200 || len(got) != 1 || got[0]["id"] == nil || len(f.Commands()) != 1 {
		t.Fatalf("commands %d %s", cmds.status, cmds.body)
	}
}

func TestRateLimitWire(t *testing.T) {
	f := startFake(t, Options{Token: "secret", RouteLimit: 2, RouteWindow: time.Minute, GlobalLimit: 4})
	ch := "/api/v9/channels/" + testChannel + "/messages"
	r1 := call(t, f, "POST", ch, "Bot secret", map[string]any{"content": "1"})
	if r1.header.Get("X-RateLimit-Limit") != "2" || r1.header.Get("X-RateLimit-Remaining") != "1" ||
		r1.header.Get("X-RateLimit-Bucket") == "" || !strings.Contains(r1.header.Get("X-RateLimit-Reset"), ".") ||
		r1.header.Get("X-RateLimit-Reset-After") == "" {
		t.Fatalf("headers %v", r1.header)
	}
	call(t, f, "POST", ch, "Bot secret", map[string]any{"content": "2"})
	r3 := call(t, f, "POST", ch, "Bot secret", map[string]any{"content": "3"})
	m := r3.json(t)
	if r3.status != 429 || m["message"] != "You are being rate limited." || m["global"] != false ||
		m["retry_after"].(float64) <= 0 || r3.header.Get("Retry-After") == "" || r3.header.Get("X-RateLimit-Scope") != "user" ||
		r3.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429: %v %s", r3.header, r3.body)
	}
	// Another channel is another bucket; the fifth request is over the global limit.
	if r := call(t, f, "GET", "/api/v9/users/@me", "Bot secret", nil); r.status != 200 {
		t.Fatalf("other bucket %d", r.status)
	}
	g := call(t, f, "GET", "/api/v9/users/@me", "Bot secret", nil)
	gm := g.json(t)
	if g.status != 429 || gm["global"] != true || g.header.Get("X-RateLimit-Global") != "true" {
		t.Fatalf("global 429: %d %v %s", g.status, g.header, g.body)
	}
	if f.RateLimited() != 2 || len(f.Messages(testChannel)) != 2 {
		t.Fatalf("rate limited %d, messages %d", f.RateLimited(), len(f.Messages(testChannel)))
	}
}

func TestInteractionCallbacks(t *testing.T) {
	f := startFake(t, Options{Token: "secret", Members: map[string]string{"500000000000000001": "alice"}, InteractionDeadline: 300 * time.Millisecond})
	g := dial(t, f)
	g.identify("secret")
	u := "500000000000000001"
	cb := func(in Interaction, body any) reply {
		return call(t, f, "POST", "/api/v9/interactions/"+in.ID+"/"+in.Token+"/callback", "", body)
	}

	// Type 4 twice: the second is 40060.
	in, _ := f.Slash(u, testChannel, "status", nil)
	if r := cb(in, map[string]any{"type": 4, "data": map[string]any{"content": "ok"}}); r.status != 204 {
		t.Fatalf("callback %d %s", r.status, r.body)
	}
	wantErr(t, cb(in, map[string]any{"type": 4, "data": map[string]any{"content": "again"}}), 400, 40060)
	r, err := f.Response(in.ID, time.Second)
	if err != nil || r.Content != "ok" || !strings.Contains(r.Err, "40060") {
		t.Fatalf("Response %+v %v", r, err)
	}
	wantErr(t, call(t, f, "POST", "/api/v9/interactions/"+in.ID+"/bad/callback", "", map[string]any{"type": 4}), 404, 10062)

	// Too late: 10062.
	late, _ := f.Slash(u, testChannel, "status", nil)
	time.Sleep(350 * time.Millisecond)
	wantErr(t, cb(late, map[string]any{"type": 4, "data": map[string]any{"content": "late"}}), 404, 10062)
	if r, err := f.Response(late.ID, time.Second); err == nil || !strings.Contains(r.Err, "10062") {
		t.Fatalf("late Response %+v %v", r, err)
	}

	// Deferred, then @original edited: Response waits for the edit.
	d, _ := f.Slash(u, testChannel, "run", map[string]any{"id": 7})
	if r := cb(d, map[string]any{"type": 5}); r.status != 204 {
		t.Fatalf("defer %d %s", r.status, r.body)
	}
	done := make(chan Response, 1)
	go func() { r, _ := f.Response(d.ID, 5*time.Second); done <- r }()
	e := call(t, f, "PATCH", "/api/v9/webhooks/"+f.Options().AppID+"/"+d.Token+"/messages/@original", "", map[string]any{"content": "done"})
	if e.status != 200 {
		t.Fatalf("edit @original %d %s", e.status, e.body)
	}
	if r := <-done; r.Type != 5 || r.Final != "done" || r.Edits != 1 {
		t.Fatalf("deferred Response %+v", r)
	}
	fu := call(t, f, "POST", "/api/v9/webhooks/"+f.Options().AppID+"/"+d.Token+"?wait=true", "", map[string]any{"content": "psst", "flags": 64})
	if fu.status != 200 {
		t.Fatalf("follow-up %d %s", fu.status, fu.body)
	}

	// Component: type 7 edits the message; modal and submit; ephemeral
	// messages stay out of the channel.
	msg := call(t, f, "POST", "/api/v9/channels/"+testChannel+"/messages", "Bot secret", map[string]any{
		"content": "pick", "components": []any{map[string]any{"type": 1, "components": []any{map[string]any{"type": 2, "style": 1, "label": "A", "custom_id": "a"}}}},
	}).json(t)
	c, _ := f.Click(u, msg["id"].(string), "a")
	if r := cb(c, map[string]any{"type": 7, "data": map[string]any{"content": "picked", "components": []any{}}}); r.status != 204 {
		t.Fatalf("update %d %s", r.status, r.body)
	}
	if m, _ := f.Message(msg["id"].(string)); m.Content != "picked" || len(m.Components) != 0 || m.Edits != 1 {
		t.Fatalf("updated %+v", m)
	}
	c2, _ := f.Slash(u, testChannel, "ask", nil)
	modal := map[string]any{"type": 9, "data": map[string]any{"custom_id": "why", "title": "Why?", "components": []any{
		map[string]any{"type": 1, "components": []any{map[string]any{"type": 4, "custom_id": "reason", "style": 2, "label": "Reason"}}}}}}
	if r := cb(c2, modal); r.status != 204 {
		t.Fatalf("modal %d %s", r.status, r.body)
	}
	if r, _ := f.Response(c2.ID, time.Second); r.ModalCustomID != "why" || r.ModalTitle != "Why?" {
		t.Fatalf("modal Response %+v", r)
	}
	s, _ := f.Submit(u, testChannel, "why", map[string]string{"reason": "because"})
	if !strings.Contains(string(s.Payload), `"components":[{"components":[{"custom_id":"reason","type":4,"value":"because"}],"type":1}]`) {
		t.Fatalf("submit payload %s", s.Payload)
	}
	before := len(f.Messages(testChannel))
	if r := cb(s, map[string]any{"type": 4, "data": map[string]any{"content": "noted", "flags": 64}}); r.status != 204 {
		t.Fatalf("ephemeral %d %s", r.status, r.body)
	}
	if r, _ := f.Response(s.ID, time.Second); r.Flags != 64 || r.Final != "noted" || len(f.Messages(testChannel)) != before {
		t.Fatalf("ephemeral Response %+v, %d messages (was %d)", r, len(f.Messages(testChannel)), before)
	}

	// Replay sends the same id and token again.
	if err := f.Replay(s); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for len(seqs) < 2 {
		fr := g.read()
		var d struct{ ID, Token string }
		_ = json.Unmarshal(fr.D, &d)
		if fr.T == "INTERACTION_CREATE" && d.ID == s.ID && d.Token == s.Token {
			seqs = append(seqs, fr.S)
		}
	}
	if seqs[0] >= seqs[1] {
		t.Fatalf("replay seqs %v", seqs)
	}
	wantErr(t, cb(s, map[string]any{"type": 4, "data": map[string]any{"content": "twice"}}), 400, 40060)
}

func TestWebhooks(t *testing.T) {
	f := startFake(t, Options{Token: "secret"})
	hook := f.Webhook(testChannel)
	if !strings.HasPrefix(hook, f.URL()+"/api/webhooks/") {
		t.Fatalf("webhook URL %s", hook)
	}
	if r := call(t, f, "POST", hook, "", map[string]any{"content": "no wait"}); r.status != 204 {
		t.Fatalf("execute %d %s", r.status, r.body)
	}
	r := call(t, f, "POST", hook+"?wait=true", "", map[string]any{"content": "hi", "username": "ci", "embeds": []any{map[string]any{"title": "t"}}})
	m := r.json(t)
	if r.status != 200 || m["webhook_id"] == nil || m["author"].(map[string]any)["username"] != "ci" {
		t.Fatalf("execute wait %d %s", r.status, r.body)
	}
	v9 := strings.Replace(hook, "/api/", "/api/v9/", 1)
	e := call(t, f, "PATCH", v9+"/messages/"+m["id"].(string), "", map[string]any{"content": "edited"})
	if e.status != 200 || e.json(t)["content"] != "edited" {
		t.Fatalf("webhook edit %d %s", e.status, e.body)
	}
	s := call(t, f, "POST", hook+"/slack", "", map[string]any{"text": "from slack"})
	if s.status != 200 || string(s.body) != "ok" {
		t.Fatalf("slack %d %q", s.status, s.body)
	}
	ms := f.Messages(testChannel)
	if len(ms) != 3 || ms[1].Content != "edited" || ms[1].Edits != 1 || ms[2].Content != "from slack" || ms[2].WebhookID == "" {
		t.Fatalf("messages %+v", ms)
	}
	bad := hook[:strings.LastIndex(hook, "/")] + "/nottoken"
	wantErr(t, call(t, f, "POST", bad, "", map[string]any{"content": "x"}), 401, 50027)
	wantErr(t, call(t, f, "POST", f.URL()+"/api/webhooks/1/x", "", map[string]any{"content": "x"}), 404, 10015)
}
