package discordfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Discord permission bits the defaults use.
const (
	PermViewChannel            int64 = 1 << 10
	PermSendMessages           int64 = 1 << 11
	PermEmbedLinks             int64 = 1 << 14
	PermReadMessageHistory     int64 = 1 << 16
	PermUseApplicationCommands int64 = 1 << 31
)

// DefaultBotPermissions are the bot role's permissions unless
// Options.BotPermissions says otherwise.
const DefaultBotPermissions = PermViewChannel | PermSendMessages | PermEmbedLinks | PermReadMessageHistory | PermUseApplicationCommands

// FlagEphemeral is the message flag of an ephemeral interaction response.
const FlagEphemeral = 1 << 6

// flagLoading marks the "is thinking..." message of a deferred response.
const flagLoading = 1 << 7

// Options configure a Fake. The zero value is usable.
type Options struct {
	// Token is the bot token accepted as "Authorization: Bot <token>" and in
	// IDENTIFY/RESUME; other tokens get 401 or close code 4004. Empty accepts
	// any token.
	Token string
	// AppID is the application id (default "100000000000000001").
	AppID string
	// BotUserID is the bot user's id (default "100000000000000002"); its
	// username is "agentorg".
	BotUserID string
	// GuildID is the one guild's id (default "200000000000000001").
	GuildID string
	// Channels maps text channel ids to names
	// (default {"300000000000000001": "agentorg"}).
	Channels map[string]string
	// Members maps user ids to usernames: the guild's members besides the
	// bot, who is always one.
	Members map[string]string
	// BotPermissions are the @everyone role's permissions, which is what the
	// bot has (default DefaultBotPermissions).
	BotPermissions int64
	// HeartbeatInterval is sent in HELLO (default 41250ms).
	HeartbeatInterval time.Duration
	// RouteLimit is the number of requests per rate limit bucket per
	// RouteWindow before a 429 (default 50).
	RouteLimit int
	// RouteWindow is the bucket window (default 1s).
	RouteWindow time.Duration
	// GlobalLimit is the number of authorized requests per second across
	// routes before a global 429 (0: no global limit).
	GlobalLimit int
	// InteractionDeadline is how long after dispatch an interaction's
	// callback is accepted (default 3s, as Discord).
	InteractionDeadline time.Duration
}

func (o Options) withDefaults() Options {
	if o.AppID == "" {
		o.AppID = "100000000000000001"
	}
	if o.BotUserID == "" {
		o.BotUserID = "100000000000000002"
	}
	if o.GuildID == "" {
		o.GuildID = "200000000000000001"
	}
	chans := map[string]string{}
	for k, v := range o.Channels {
		chans[k] = v
	}
	if len(chans) == 0 {
		chans["300000000000000001"] = "agentorg"
	}
	o.Channels = chans
	mem := map[string]string{}
	for k, v := range o.Members {
		mem[k] = v
	}
	o.Members = mem
	if o.BotPermissions == 0 {
		o.BotPermissions = DefaultBotPermissions
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 41250 * time.Millisecond
	}
	if o.RouteLimit <= 0 {
		o.RouteLimit = 50
	}
	if o.RouteWindow <= 0 {
		o.RouteWindow = time.Second
	}
	if o.InteractionDeadline <= 0 {
		o.InteractionDeadline = 3 * time.Second
	}
	return o
}

// botUsername is the bot user's username.
const botUsername = "agentorg"

// Embed is Discord's embed object.
type Embed struct {
	Title       string        `json:"title,omitempty"`
	Type        string        `json:"type,omitempty"`
	Description string        `json:"description,omitempty"`
	URL         string        `json:"url,omitempty"`
	Timestamp   string        `json:"timestamp,omitempty"`
	Color       int           `json:"color,omitempty"`
	Footer      *EmbedFooter  `json:"footer,omitempty"`
	Image       *EmbedMedia   `json:"image,omitempty"`
	Thumbnail   *EmbedMedia   `json:"thumbnail,omitempty"`
	Author      *EmbedAuthor  `json:"author,omitempty"`
	Fields      []EmbedField  `json:"fields,omitempty"`
	Provider    *EmbedProvide `json:"provider,omitempty"`
}

// EmbedField is one field of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// EmbedFooter is an embed's footer.
type EmbedFooter struct {
	Text    string `json:"text"`
	IconURL string `json:"icon_url,omitempty"`
}

// EmbedMedia is an embed's image or thumbnail.
type EmbedMedia struct {
	URL    string `json:"url"`
	Height int    `json:"height,omitempty"`
	Width  int    `json:"width,omitempty"`
}

// EmbedAuthor is an embed's author.
type EmbedAuthor struct {
	Name    string `json:"name"`
	URL     string `json:"url,omitempty"`
	IconURL string `json:"icon_url,omitempty"`
}

// EmbedProvide is an embed's provider.
type EmbedProvide struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Message is a message as the fake holds it.
type Message struct {
	ID, ChannelID, Content string
	Embeds                 []Embed
	// Components are the top-level components (action rows) as sent.
	Components []json.RawMessage
	Nonce      string
	// Edits counts the edits (PATCHes, UPDATE_MESSAGE callbacks, @original
	// edits) the message has had.
	Edits int
	// AuthorID is the bot user's id for the bot's and its interaction
	// responses' messages, the webhook's id for webhook messages.
	AuthorID string
	// WebhookID is set for webhook messages and interaction responses (the
	// application id, as Discord does).
	WebhookID string
	// Mentions are the user ids mentioned with <@id> or <@!id>, filtered by
	// allowed_mentions.
	Mentions []string
	Flags    int
	// Attachments are the file names of multipart uploads.
	Attachments     []string
	Created, Edited time.Time
	// InteractionID is the interaction a response or follow-up answers.
	InteractionID string
	// Username is a webhook message's author name.
	Username string
}

func (m Message) clone() Message {
	c := m
	c.Embeds = append([]Embed(nil), m.Embeds...)
	c.Components = append([]json.RawMessage(nil), m.Components...)
	c.Mentions = append([]string(nil), m.Mentions...)
	c.Attachments = append([]string(nil), m.Attachments...)
	return c
}

// Fake is a running fake Discord.
type Fake struct {
	opts Options
	ln   net.Listener
	srv  *http.Server
	url  string

	mu          sync.Mutex
	closed      bool
	lastID      uint64
	messages    map[string]*Message
	order       map[string][]string // channel id -> message ids, creation order
	requests    map[string]int
	rateLimited int
	buckets     map[string]*window
	global      window
	globalCmds  []json.RawMessage
	guildCmds   []json.RawMessage
	webhooks    map[string]*webhook
	inters      map[string]*interaction
	byToken     map[string]*interaction

	// gateway
	gw             sync.Mutex // serialises dispatches and connection changes
	sessions       map[string]*session
	current        *session
	conns          map[*websocket.Conn]bool
	identifies     int
	resumes        int
	invalidateNext bool
}

type webhook struct {
	ID, Token, ChannelID, Name string
}

// Start starts a fake Discord listening on 127.0.0.1 on a free port.
func Start(opts Options) (*Fake, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("discordfake: listen: %w", err)
	}
	f := &Fake{
		opts:     opts.withDefaults(),
		ln:       ln,
		url:      "http://" + ln.Addr().String(),
		messages: map[string]*Message{},
		order:    map[string][]string{},
		requests: map[string]int{},
		buckets:  map[string]*window{},
		webhooks: map[string]*webhook{},
		inters:   map[string]*interaction{},
		byToken:  map[string]*interaction{},
		sessions: map[string]*session{},
		conns:    map[*websocket.Conn]bool{},
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Close stops the fake: it closes every gateway connection and the listener.
func (f *Fake) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	_ = f.srv.Close()
	f.gw.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.gw.Unlock()
}

// URL is the fake's HTTP base URL, such as http://127.0.0.1:41234, without
// a trailing slash.
func (f *Fake) URL() string { return f.url }

// Options are the options the fake runs with, defaults filled in.
func (f *Fake) Options() Options {
	o := f.opts
	o.Channels = map[string]string{}
	for k, v := range f.opts.Channels {
		o.Channels[k] = v
	}
	o.Members = map[string]string{}
	for k, v := range f.opts.Members {
		o.Members[k] = v
	}
	return o
}

// Messages are the messages everyone sees in a channel (so no ephemeral
// ones), in creation order, with their current content.
func (f *Fake) Messages(channelID string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Message
	for _, id := range f.order[channelID] {
		if m, ok := f.messages[id]; ok {
			out = append(out, m.clone())
		}
	}
	return out
}

// Message is the message with the id, ephemeral ones included.
func (f *Fake) Message(id string) (Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[id]
	if !ok {
		return Message{}, false
	}
	return m.clone(), true
}

// Requests counts the requests received for a route template, such as
// "POST /channels/{id}/messages", "PATCH /channels/{id}/messages/{id}",
// "POST /interactions/{id}/{token}/callback" or
// "PATCH /webhooks/{id}/{token}/messages/@original" (the API version prefix
// left off). Rate-limited and refused requests count too.
func (f *Fake) Requests(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[route]
}

// Routes are the counts of every route template requested.
func (f *Fake) Routes() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.requests {
		out[k] = v
	}
	return out
}

// RateLimited is how many 429s the fake answered.
func (f *Fake) RateLimited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rateLimited
}

// Commands are the application commands registered by the latest bulk
// overwrites, global ones first, each as the fake returned it (with id).
func (f *Fake) Commands() []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]json.RawMessage(nil), f.globalCmds...)
	return append(out, f.guildCmds...)
}

// Webhook creates an incoming webhook posting to the channel and returns its
// URL: URL()+"/api/webhooks/{id}/{token}".
func (f *Fake) Webhook(channelID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &webhook{ID: f.newIDLocked(), Token: randToken(34), ChannelID: channelID, Name: "Captain Hook"}
	f.webhooks[w.ID] = w
	return f.url + "/api/webhooks/" + w.ID + "/" + w.Token
}

// discordEpoch is 2015-01-01T00:00:00Z in milliseconds.
const discordEpoch = 1420070400000

// newIDLocked makes a snowflake later than every earlier one.
func (f *Fake) newIDLocked() string {
	id := uint64(time.Now().UnixMilli()-discordEpoch) << 22
	if id <= f.lastID {
		id = f.lastID + 1
	}
	f.lastID = id
	return strconv.FormatUint(id, 10)
}

func randToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (f *Fake) isMember(userID string) bool {
	if userID == f.opts.BotUserID {
		return true
	}
	_, ok := f.opts.Members[userID]
	return ok
}

func (f *Fake) username(userID string) string {
	if userID == f.opts.BotUserID {
		return botUsername
	}
	return f.opts.Members[userID]
}

var errNoSession = errors.New("discordfake: no gateway session has identified")

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var errNotConnected = errors.New("discordfake: no gateway session connected in time")
