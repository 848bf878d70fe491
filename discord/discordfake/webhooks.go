package discordfake

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// interactionTokenTTL is how long an interaction token works for
// @original edits and follow-ups.
const interactionTokenTTL = 15 * time.Minute

func errInvalidWebhookToken() *apiError {
	return &apiError{status: 401, Message: "Invalid Webhook Token", Code: 50027}
}

// serveWebhook serves /webhooks/{id}/{token}[/...]: interaction tokens
// (id = application id) and incoming webhooks.
func (f *Fake) serveWebhook(w http.ResponseWriter, r *http.Request, s []string) *apiError {
	f.mu.Lock()
	in := f.byToken[s[2]]
	wh := f.webhooks[s[1]]
	f.mu.Unlock()
	if s[1] == f.opts.AppID {
		if in == nil {
			return errUnknownWebhook()
		}
		if time.Since(in.dispatched) > interactionTokenTTL {
			return errInvalidWebhookToken()
		}
		return f.serveInteractionWebhook(w, r, in, s[3:])
	}
	if wh == nil {
		return errUnknownWebhook()
	}
	if wh.Token != s[2] {
		return errInvalidWebhookToken()
	}
	rest := s[3:]
	switch {
	case len(rest) == 0 && r.Method == "GET":
		writeJSON(w, 200, map[string]any{"id": wh.ID, "type": 1, "guild_id": f.opts.GuildID, "channel_id": wh.ChannelID, "name": wh.Name, "avatar": nil, "token": wh.Token, "application_id": nil})
	case len(rest) == 0 && r.Method == "POST":
		return f.executeWebhook(w, r, wh)
	case len(rest) == 1 && rest[0] == "slack" && r.Method == "POST":
		return f.executeSlack(w, r, wh)
	case len(rest) == 2 && rest[0] == "messages":
		f.mu.Lock()
		defer f.mu.Unlock()
		m := f.messages[rest[1]]
		if m == nil || m.WebhookID != wh.ID {
			return errUnknownMessage()
		}
		return f.webhookMessageLocked(w, r, m)
	default:
		return errNotFound()
	}
	return nil
}

// webhookMessageLocked serves GET, PATCH and DELETE of a webhook's message.
func (f *Fake) webhookMessageLocked(w http.ResponseWriter, r *http.Request, m *Message) *apiError {
	switch r.Method {
	case "GET":
		writeJSON(w, 200, f.messageObject(m))
	case "PATCH":
		p, e := readPayload(r)
		if e != nil {
			return e
		}
		return f.editLocked(w, m, p)
	case "DELETE":
		f.deleteLocked(m)
		w.WriteHeader(http.StatusNoContent)
	default:
		return errMethod()
	}
	return nil
}

func wantWait(r *http.Request) bool {
	v := r.URL.Query().Get("wait")
	return v == "true" || v == "1" || v == "True"
}

func (f *Fake) executeWebhook(w http.ResponseWriter, r *http.Request, wh *webhook) *apiError {
	p, e := readPayload(r)
	if e != nil {
		return e
	}
	m := &Message{ChannelID: wh.ChannelID, AuthorID: wh.ID, WebhookID: wh.ID}
	if e := p.decode("username", &m.Username); e != nil {
		return e
	}
	if e := p.decode("flags", &m.Flags); e != nil {
		return e
	}
	m.Flags &= 1<<2 | 1<<12
	// Components need an application-owned webhook; Discord drops them here.
	delete(p.raw, "components")
	if e := f.apply(m, p); e != nil {
		return e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.insertLocked(m, true)
	if !wantWait(r) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, 200, f.messageObject(m))
	return nil
}

// slackBody is the part of Slack's incoming webhook format the fake maps.
type slackBody struct {
	Text        string `json:"text"`
	Username    string `json:"username"`
	Attachments []struct {
		Title     string `json:"title"`
		TitleLink string `json:"title_link"`
		Text      string `json:"text"`
		Pretext   string `json:"pretext"`
		Color     string `json:"color"`
		Footer    string `json:"footer"`
		Fields    []struct {
			Title string `json:"title"`
			Value string `json:"value"`
			Short bool   `json:"short"`
		} `json:"fields"`
	} `json:"attachments"`
}

func (f *Fake) executeSlack(w http.ResponseWriter, r *http.Request, wh *webhook) *apiError {
	var b slackBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil {
		return errBadJSON()
	}
	m := &Message{ChannelID: wh.ChannelID, AuthorID: wh.ID, WebhookID: wh.ID, Content: b.Text, Username: b.Username}
	for _, a := range b.Attachments {
		e := Embed{Title: a.Title, URL: a.TitleLink, Description: a.Text}
		if c, err := strconv.ParseInt(strings.TrimPrefix(a.Color, "#"), 16, 32); err == nil {
			e.Color = int(c)
		}
		if a.Footer != "" {
			e.Footer = &EmbedFooter{Text: a.Footer}
		}
		for _, fl := range a.Fields {
			e.Fields = append(e.Fields, EmbedField{Name: fl.Title, Value: fl.Value, Inline: fl.Short})
		}
		m.Embeds = append(m.Embeds, e)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m.Mentions = f.mentions(m.Content, nil)
	if e := validateMessage(m); e != nil {
		return e
	}
	f.insertLocked(m, true)
	if wantWait(r) {
		writeJSON(w, 200, f.messageObject(m))
		return nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
	return nil
}

// serveInteractionWebhook serves follow-ups and @original for an
// interaction token.
func (f *Fake) serveInteractionWebhook(w http.ResponseWriter, r *http.Request, in *interaction, rest []string) *apiError {
	switch {
	case len(rest) == 0 && r.Method == "POST":
		return f.followup(w, r, in)
	case len(rest) == 2 && rest[0] == "messages":
		f.mu.Lock()
		defer f.mu.Unlock()
		if !in.acked {
			return errUnknownMessage()
		}
		var m *Message
		original := rest[1] == "@original"
		if original {
			m = f.messages[in.originalID]
		} else if mm := f.messages[rest[1]]; mm != nil && mm.InteractionID == in.ID {
			m = mm
		}
		if m == nil {
			return errUnknownMessage()
		}
		if r.Method != "PATCH" {
			return f.webhookMessageLocked(w, r, m)
		}
		p, e := readPayload(r)
		if e != nil {
			return e
		}
		if e := f.editLocked(w, m, p); e != nil {
			return e
		}
		if original {
			in.resp.Edits++
			in.finish()
		}
		return nil
	default:
		return errNotFound()
	}
}

func (f *Fake) followup(w http.ResponseWriter, r *http.Request, in *interaction) *apiError {
	p, e := readPayload(r)
	if e != nil {
		return e
	}
	m := &Message{ChannelID: in.ChannelID, AuthorID: f.opts.BotUserID, WebhookID: f.opts.AppID, InteractionID: in.ID}
	if e := p.decode("flags", &m.Flags); e != nil {
		return e
	}
	m.Flags &= FlagEphemeral | 1<<2 | 1<<12 | 1<<15
	if e := f.apply(m, p); e != nil {
		return e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !in.acked {
		return errUnknownWebhook()
	}
	f.insertLocked(m, m.Flags&FlagEphemeral == 0)
	writeJSON(w, 200, f.messageObject(m))
	return nil
}
