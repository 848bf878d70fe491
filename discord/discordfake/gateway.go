package discordfake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Gateway close codes the fake uses.
const (
	closeUnknownError         = 4000
	closeUnknownOpcode        = 4001
	closeDecodeError          = 4002
	closeNotAuthenticated     = 4003
	closeAuthenticationFailed = 4004
	closeAlreadyAuthenticated = 4005
)

type session struct {
	id      string
	seq     int64
	events  []event
	conn    *gwConn
	version int
}

type event struct {
	seq   int64
	frame []byte
}

type gwConn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	sess    *session
	ready   bool
	version int
}

func (c *gwConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *gwConn) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.write(b)
}

func (c *gwConn) closeWith(code int, reason string) {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

type gwPayload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s"`
	T  *string         `json:"t"`
}

// serveGateway runs one gateway connection.
func (f *Fake) serveGateway(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &gwConn{ws: ws, version: 9}
	if v, err := strconv.Atoi(r.URL.Query().Get("v")); err == nil {
		c.version = v
	}
	f.gw.Lock()
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		f.gw.Unlock()
		_ = ws.Close()
		return
	}
	f.conns[ws] = true
	f.gw.Unlock()
	defer func() {
		f.gw.Lock()
		delete(f.conns, ws)
		if c.sess != nil && c.sess.conn == c {
			c.sess.conn = nil
		}
		f.gw.Unlock()
		_ = ws.Close()
	}()
	if c.writeJSON(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": f.opts.HeartbeatInterval.Milliseconds()}, "s": nil, "t": nil}) != nil {
		return
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var p gwPayload
		if err := json.Unmarshal(msg, &p); err != nil {
			c.closeWith(closeDecodeError, "Error while decoding payload.")
			return
		}
		switch p.Op {
		case 1: // heartbeat
			if c.writeJSON(map[string]any{"op": 11, "d": nil, "s": nil, "t": nil}) != nil {
				return
			}
		case 2:
			if !f.identify(c, p.D) {
				return
			}
		case 6:
			if !f.resume(c, p.D) {
				return
			}
		case 3, 4, 8: // presence, voice state, request guild members: ignored
			f.gw.Lock()
			authed := c.sess != nil
			f.gw.Unlock()
			if !authed {
				c.closeWith(closeNotAuthenticated, "Not authenticated.")
				return
			}
		default:
			c.closeWith(closeUnknownOpcode, "Unknown opcode.")
			return
		}
	}
}

type identifyData struct {
	Token   string `json:"token"`
	Intents int    `json:"intents"`
	Shard   []int  `json:"shard"`
}

func (f *Fake) identify(c *gwConn, d json.RawMessage) bool {
	var id identifyData
	if err := json.Unmarshal(d, &id); err != nil {
		c.closeWith(closeDecodeError, "Error while decoding payload.")
		return false
	}
	if !f.tokenOK(id.Token) {
		c.closeWith(closeAuthenticationFailed, "Authentication failed.")
		return false
	}
	f.gw.Lock()
	defer f.gw.Unlock()
	if c.sess != nil && c.sess.conn == c && c.ready {
		c.closeWith(closeAlreadyAuthenticated, "Already authenticated.")
		return false
	}
	s := &session{id: randToken(16), version: c.version}
	f.sessions[s.id] = s
	f.current = s
	f.identifies++
	s.conn, c.sess = c, s
	ready := map[string]any{
		"v":                  c.version,
		"user":               f.userObject(f.opts.BotUserID),
		"guilds":             []any{map[string]any{"id": f.opts.GuildID, "unavailable": true}},
		"session_id":         s.id,
		"session_type":       "normal",
		"resume_gateway_url": f.wsURL(),
		"application":        map[string]any{"id": f.opts.AppID, "flags": 0},
		"private_channels":   []any{},
	}
	if len(id.Shard) == 2 {
		ready["shard"] = id.Shard
	}
	f.dispatchLocked(s, "READY", ready)
	if id.Intents&1 != 0 { // GUILDS
		f.dispatchLocked(s, "GUILD_CREATE", f.guildCreate())
	}
	c.ready = s.conn == c
	return c.ready
}

type resumeData struct {
	Token     string `json:"token"`
	SessionID string `json:"session_id"`
	Seq       int64  `json:"seq"`
}

func (f *Fake) resume(c *gwConn, d json.RawMessage) bool {
	var rd resumeData
	if err := json.Unmarshal(d, &rd); err != nil {
		c.closeWith(closeDecodeError, "Error while decoding payload.")
		return false
	}
	if !f.tokenOK(rd.Token) {
		c.closeWith(closeAuthenticationFailed, "Authentication failed.")
		return false
	}
	f.gw.Lock()
	defer f.gw.Unlock()
	s := f.sessions[rd.SessionID]
	if f.invalidateNext && s != nil {
		f.invalidateNext = false
		delete(f.sessions, s.id)
		if f.current == s {
			f.current = nil
		}
		s = nil
	}
	if s == nil {
		return c.writeJSON(map[string]any{"op": 9, "d": false, "s": nil, "t": nil}) == nil
	}
	if old := s.conn; old != nil && old != c {
		old.sess = nil
		_ = old.ws.Close()
	}
	s.conn, c.sess = c, s
	for _, e := range s.events {
		if e.seq > rd.Seq {
			if c.write(e.frame) != nil {
				s.conn = nil
				return false
			}
		}
	}
	f.resumes++
	f.current = s
	f.dispatchLocked(s, "RESUMED", map[string]any{})
	c.ready = s.conn == c
	return c.ready
}

// dispatchLocked records a dispatch in the session and sends it if the
// session is connected. f.gw is held.
func (f *Fake) dispatchLocked(s *session, t string, d any) {
	s.seq++
	frame, err := json.Marshal(map[string]any{"op": 0, "t": t, "s": s.seq, "d": d})
	if err != nil {
		panic(err)
	}
	s.events = append(s.events, event{seq: s.seq, frame: frame})
	if c := s.conn; c != nil {
		if c.write(frame) != nil {
			s.conn = nil
			_ = c.ws.Close()
		}
	}
}

// Connected is true while a session is identified or resumed on an open
// connection and its READY or RESUMED was sent.
func (f *Fake) Connected() bool {
	f.gw.Lock()
	defer f.gw.Unlock()
	return f.current != nil && f.current.conn != nil && f.current.conn.ready
}

// WaitConnected waits until Connected, or fails after timeout.
func (f *Fake) WaitConnected(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !f.Connected() {
		if time.Now().After(deadline) {
			return errNotConnected
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Drop closes the current session's connection abruptly, with no close
// frame, as a network failure would. The session stays resumable: what is
// dispatched while it is gone is replayed on RESUME.
func (f *Fake) Drop() {
	f.gw.Lock()
	defer f.gw.Unlock()
	if s := f.current; s != nil && s.conn != nil {
		c := s.conn
		s.conn = nil
		c.sess = nil
		_ = c.ws.Close()
	}
}

// Reconnect sends op 7 RECONNECT on the current connection, asking the
// client to reconnect and resume.
func (f *Fake) Reconnect() {
	f.gw.Lock()
	defer f.gw.Unlock()
	if s := f.current; s != nil && s.conn != nil {
		_ = s.conn.writeJSON(map[string]any{"op": 7, "d": nil, "s": nil, "t": nil})
	}
}

// InvalidateNextResume makes the next RESUME fail with op 9 INVALID_SESSION
// d:false: the session is forgotten and the client must IDENTIFY again.
func (f *Fake) InvalidateNextResume() {
	f.gw.Lock()
	defer f.gw.Unlock()
	f.invalidateNext = true
}

// Identifies counts the successful IDENTIFYs.
func (f *Fake) Identifies() int {
	f.gw.Lock()
	defer f.gw.Unlock()
	return f.identifies
}

// Resumes counts the successful RESUMEs.
func (f *Fake) Resumes() int {
	f.gw.Lock()
	defer f.gw.Unlock()
	return f.resumes
}
