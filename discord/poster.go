package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
)

// poster is where messages go: the bot's channels, or an incoming webhook.
type poster interface {
	// post creates a message and returns its id ("" when the channel
	// gives none: it can then not be edited).
	post(ctx context.Context, channel string, m message, nonce string) (string, error)
	// edit replaces what message id shows.
	edit(ctx context.Context, channel, id string, m message) error
}

// botPoster posts through the bot's session.
type botPoster struct{ s *discordgo.Session }

func (p botPoster) post(ctx context.Context, channel string, m message, nonce string) (string, error) {
	return post(ctx, p.s, channel, m.send(nonce))
}

func (p botPoster) edit(ctx context.Context, channel, id string, m message) error {
	embeds := []*discordgo.MessageEmbed{m.Embed}
	comps := m.Components
	_, err := p.s.ChannelMessageEditComplex(&discordgo.MessageEdit{ID: id, Channel: channel, Embeds: &embeds, Components: &comps},
		discordgo.WithContext(ctx))
	return err
}

// webhookPoster posts through an incoming webhook: Discord's (embeds, and
// edits through the webhook's message route) or a Slack-compatible one
// (plain text; no edits, so a notice is posted once and stays as it was).
type webhookPoster struct {
	url   string
	slack bool
	http  *http.Client
}

func (p webhookPoster) post(ctx context.Context, _ string, m message, _ string) (string, error) {
	if p.slack {
		_, err := p.do(ctx, http.MethodPost, p.url, map[string]string{"text": m.plain})
		return "", err
	}
	u, err := url.Parse(p.url)
	if err != nil {
		return "", fmt.Errorf("the webhook URL does not parse")
	}
	q := u.Query()
	q.Set("wait", "true") // answer with the message, so that it can be edited
	u.RawQuery = q.Encode()
	b, err := p.do(ctx, http.MethodPost, u.String(), m.send(""))
	if err != nil {
		return "", err
	}
	var got discordgo.Message
	if err := json.Unmarshal(b, &got); err != nil {
		return "", fmt.Errorf("the webhook's answer: %w", err)
	}
	return got.ID, nil
}

func (p webhookPoster) edit(ctx context.Context, _, id string, m message) error {
	if p.slack || id == "" {
		return nil
	}
	u, err := url.Parse(p.url)
	if err != nil {
		return fmt.Errorf("the webhook URL does not parse")
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/messages/" + id
	u.RawQuery = ""
	_, err = p.do(ctx, http.MethodPatch, u.String(), map[string]any{
		"embeds": []*discordgo.MessageEmbed{m.Embed}, "components": m.Components,
	})
	return err
}

// do sends one request, waiting out a rate limit's retry_after a few times.
// Errors never quote the URL: it holds the webhook's token.
func (p webhookPoster) do(ctx context.Context, method, u string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("the webhook URL does not parse")
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %s", method, secrets.Redact(err.Error()))
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && try < 5 {
			var rl struct {
				RetryAfter float64 `json:"retry_after"`
			}
			_ = json.Unmarshal(b, &rl)
			wait := time.Duration(rl.RetryAfter * float64(time.Second))
			if wait <= 0 {
				wait = time.Second
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("webhook %s: %s: %s", method, resp.Status, secrets.Redact(strings.TrimSpace(string(b))))
		}
		return b, nil
	}
}
