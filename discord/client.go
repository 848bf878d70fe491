// Package discord is the organization's voice in Discord: it posts a
// message when a human is needed (a plan or a merge request waits, an
// issue escalated, E2E failed on the target), edits that one message as
// the issue moves on, and takes approvals and rejections from its buttons
// and slash commands under the same rules as agentorg approve.
//
// The bot connects through Discord's gateway (github.com/bwmarrin/discordgo),
// so it needs no public endpoint. Its token comes from the environment of
// the engine only: agents never see it, logs never print it. Notification
// only setups post through an incoming webhook instead (Discord's own, or
// any Slack-compatible one).
package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/bwmarrin/discordgo"
)

// DefaultAPI is Discord's address; a workflow's discord.api_url replaces it
// (a fake Discord in tests and the demo).
const DefaultAPI = "https://discord.com"

// redirect sends requests meant for Discord to another base URL: discordgo
// builds its endpoints from discord.com at init, so its HTTP client is the
// one place to point it elsewhere without touching its globals.
type redirect struct {
	to   *url.URL
	next http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "discord.com" {
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
		req.Host = r.to.Host
	}
	return r.next.RoundTrip(req)
}

// client returns an HTTP client that reaches api (DefaultAPI or a fake).
func client(api string) (*http.Client, error) {
	if api == "" || strings.TrimRight(api, "/") == DefaultAPI {
		return &http.Client{}, nil
	}
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("discord.api_url %q is not a URL", api)
	}
	return &http.Client{Transport: redirect{to: u, next: http.DefaultTransport}}, nil
}

// newSession opens no connection: it makes the discordgo session the bot
// and doctor use, on api, with the token.
func newSession(token, api string) (*discordgo.Session, error) {
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		return nil, err
	}
	c, err := client(api)
	if err != nil {
		return nil, err
	}
	s.Client = c
	s.Identify.Intents = discordgo.IntentsGuilds // interactions need no intent
	s.StateEnabled = false
	s.ShouldReconnectOnError = true
	s.ShouldRetryOnRateLimit = true
	s.MaxRestRetries = 3
	s.LogLevel = discordgo.LogWarning
	return s, nil
}

// Secrets are taken out of whatever discordgo logs: its messages may quote
// a request URL, which carries a webhook's or an interaction's token.
var secrets redactor

type redactor struct {
	mu    sync.RWMutex // discordgo logs from its own goroutines
	words []string
}

// Add makes s one of the strings never logged.
func (r *redactor) Add(s string) {
	if len(s) >= 8 {
		r.mu.Lock()
		r.words = append(r.words, s)
		r.mu.Unlock()
	}
}

// Redact replaces the secrets in s, and every token-like path segment
// after /webhooks/ID/ or /interactions/ID/.
func (r *redactor) Redact(s string) string {
	r.mu.RLock()
	for _, w := range r.words {
		s = strings.ReplaceAll(s, w, "[redacted]")
	}
	r.mu.RUnlock()
	for _, p := range []string{"/webhooks/", "/interactions/"} {
		for i := 0; ; {
			j := strings.Index(s[i:], p)
			if j < 0 {
				break
			}
			k := i + j + len(p)
			id := strings.IndexByte(s[k:], '/')
			if id < 0 {
				break
			}
			start := k + id + 1
			end := start
			for end < len(s) && !strings.ContainsRune("/?# \"'\n", rune(s[end])) {
				end++
			}
			if end > start {
				s = s[:start] + "[redacted]" + s[end:]
			}
			i = start
		}
	}
	return s
}

func init() {
	// discordgo logs through a package variable: route it through the
	// redactor once for the whole process.
	discordgo.Logger = func(level, _ int, format string, a ...any) {
		log.Print("discord: " + secrets.Redact(fmt.Sprintf(format, a...)))
	}
}

// sendMessage is a channel message as Discord's "Create Message" takes it,
// with the nonce discordgo's MessageSend lacks: with enforce_nonce, Discord
// answers a second send of the same nonce with the first message instead
// of a new one, which makes a retry after a crash harmless.
type sendMessage struct {
	Content         string                            `json:"content,omitempty"`
	Embeds          []*discordgo.MessageEmbed         `json:"embeds,omitempty"`
	Components      []discordgo.MessageComponent      `json:"components,omitempty"`
	AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions,omitempty"`
	Nonce           string                            `json:"nonce,omitempty"`
	EnforceNonce    bool                              `json:"enforce_nonce,omitempty"`
}

// post creates a message in channel through the bot's session.
func post(ctx context.Context, s *discordgo.Session, channel string, m sendMessage) (string, error) {
	ep := discordgo.EndpointChannelMessages(channel)
	body, err := s.RequestWithBucketID(http.MethodPost, ep, m, ep, discordgo.WithContext(ctx))
	if err != nil {
		return "", err
	}
	var got discordgo.Message
	if err := json.Unmarshal(body, &got); err != nil {
		return "", fmt.Errorf("discord: the answer to a new message: %w", err)
	}
	return got.ID, nil
}
