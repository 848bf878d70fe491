package discordfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Interaction is an interaction the fake dispatched.
type Interaction struct {
	// ID and Token are the dispatched payload's id and token.
	ID, Token string
	// Type is 2 (APPLICATION_COMMAND), 3 (MESSAGE_COMPONENT) or 5
	// (MODAL_SUBMIT).
	Type                       int
	ChannelID, GuildID, UserID string
	// MessageID is the clicked component's message (type 3).
	MessageID string
	// CustomID is the button's (type 3) or the modal's (type 5) custom id.
	CustomID string
	// Payload is the INTERACTION_CREATE dispatch's d.
	Payload json.RawMessage
}

// Response is what the bot answered to an interaction.
type Response struct {
	// Type is the callback type: 4, 5, 6, 7 or 9.
	Type int
	// Content, Flags, Embeds and Components are the callback's data.
	Content    string
	Flags      int
	Embeds     []Embed
	Components json.RawMessage
	// ModalCustomID and ModalTitle are a type 9 callback's modal.
	ModalCustomID, ModalTitle string
	// MessageID is the message @original refers to: the one a type 4 or 5
	// callback created, or the component's message for types 6 and 7.
	MessageID string
	// Edits counts the PATCHes of @original.
	Edits int
	// Final is @original's content now, after any edits.
	Final string
	// Err says why a callback was refused, such as a late or second one.
	Err string
}

type interaction struct {
	Interaction
	dispatched time.Time
	acked      bool
	resp       Response
	originalID string
	done       chan struct{}
	finished   bool
}

// finish wakes Response's waiters; it is called with f.mu held.
func (in *interaction) finish() {
	if !in.finished {
		in.finished = true
		close(in.done)
	}
}

func (in *interaction) refuse(e *apiError) *apiError {
	in.resp.Err = fmt.Sprintf("%s (%d)", e.Message, e.Code)
	if !in.acked {
		in.finish()
	}
	return e
}

// Click dispatches a button click (type 3 MESSAGE_COMPONENT) by a member on
// a message's component with the custom id.
func (f *Fake) Click(userID, messageID, customID string) (Interaction, error) {
	f.mu.Lock()
	m, ok := f.messages[messageID]
	if !ok {
		f.mu.Unlock()
		return Interaction{}, fmt.Errorf("discordfake: no message %s", messageID)
	}
	c, ok := findComponent(m.Components, customID)
	if !ok {
		f.mu.Unlock()
		return Interaction{}, fmt.Errorf("discordfake: message %s has no component %q", messageID, customID)
	}
	if c.Disabled {
		f.mu.Unlock()
		return Interaction{}, fmt.Errorf("discordfake: component %q of message %s is disabled", customID, messageID)
	}
	msg := f.messageObject(m)
	channelID := m.ChannelID
	f.mu.Unlock()
	data := map[string]any{"custom_id": customID, "component_type": c.Type}
	if c.Type != 2 {
		data["values"] = []string{}
	}
	return f.interact(Interaction{Type: 3, ChannelID: channelID, UserID: userID, MessageID: messageID, CustomID: customID},
		map[string]any{"data": data, "message": msg})
}

// Slash dispatches a /agentorg slash command (type 2 APPLICATION_COMMAND)
// with the subcommand sub and its options: ints are INTEGER (4), strings
// STRING (3), bools BOOLEAN (5) and floats NUMBER (10). An empty sub puts
// the options on the command itself.
func (f *Fake) Slash(userID, channelID, sub string, options map[string]any) (Interaction, error) {
	var opts []any
	for _, name := range sortedKeys(options) {
		v := options[name]
		typ := 3
		switch v.(type) {
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			typ = 4
		case float32, float64:
			typ = 10
		case bool:
			typ = 5
		case string:
		default:
			return Interaction{}, fmt.Errorf("discordfake: option %s has unsupported type %T", name, v)
		}
		opts = append(opts, map[string]any{"name": name, "type": typ, "value": v})
	}
	f.mu.Lock()
	cmdID := ""
	for _, raw := range append(append([]json.RawMessage{}, f.globalCmds...), f.guildCmds...) {
		var c struct{ ID, Name string }
		if json.Unmarshal(raw, &c) == nil && c.Name == "agentorg" {
			cmdID = c.ID
		}
	}
	if cmdID == "" {
		cmdID = f.newIDLocked()
	}
	f.mu.Unlock()
	data := map[string]any{"id": cmdID, "name": "agentorg", "type": 1, "guild_id": f.opts.GuildID}
	if sub != "" {
		sopt := map[string]any{"name": sub, "type": 1}
		if opts != nil {
			sopt["options"] = opts
		}
		data["options"] = []any{sopt}
	} else if opts != nil {
		data["options"] = opts
	}
	return f.interact(Interaction{Type: 2, ChannelID: channelID, UserID: userID}, map[string]any{"data": data})
}

// Submit dispatches a modal submit (type 5 MODAL_SUBMIT) with one text
// input per field, in the order of the field custom ids.
func (f *Fake) Submit(userID, channelID, customID string, fields map[string]string) (Interaction, error) {
	var rows []any
	for _, k := range sortedKeys(fields) {
		rows = append(rows, map[string]any{"type": 1, "components": []any{map[string]any{"type": 4, "custom_id": k, "value": fields[k]}}})
	}
	if rows == nil {
		rows = []any{}
	}
	return f.interact(Interaction{Type: 5, ChannelID: channelID, UserID: userID, CustomID: customID},
		map[string]any{"data": map[string]any{"custom_id": customID, "components": rows}})
}

// interact completes an interaction's payload, records it and dispatches
// INTERACTION_CREATE.
func (f *Fake) interact(in Interaction, extra map[string]any) (Interaction, error) {
	if !f.isMember(in.UserID) {
		return Interaction{}, fmt.Errorf("discordfake: user %s is not a member of the guild", in.UserID)
	}
	if !f.channelExists(in.ChannelID) {
		return Interaction{}, fmt.Errorf("discordfake: no channel %s", in.ChannelID)
	}
	f.mu.Lock()
	in.ID = f.newIDLocked()
	f.mu.Unlock()
	in.Token = "aW50ZXJhY3Rpb246" + in.ID + ":" + randToken(24)
	in.GuildID = f.opts.GuildID
	member := f.memberObject(in.UserID)
	member["permissions"] = strconv.FormatInt(f.opts.BotPermissions, 10)
	d := map[string]any{
		"id":                             in.ID,
		"application_id":                 f.opts.AppID,
		"type":                           in.Type,
		"token":                          in.Token,
		"version":                        1,
		"guild_id":                       in.GuildID,
		"channel_id":                     in.ChannelID,
		"channel":                        f.channelObject(in.ChannelID),
		"member":                         member,
		"app_permissions":                strconv.FormatInt(f.opts.BotPermissions, 10),
		"locale":                         "en-US",
		"guild_locale":                   "en-US",
		"entitlements":                   []any{},
		"authorizing_integration_owners": map[string]any{"0": f.opts.GuildID},
		"context":                        0,
	}
	for k, v := range extra {
		d[k] = v
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return Interaction{}, err
	}
	in.Payload = raw
	rec := &interaction{Interaction: in, done: make(chan struct{})}
	f.gw.Lock()
	defer f.gw.Unlock()
	if f.current == nil {
		return Interaction{}, errNoSession
	}
	f.mu.Lock()
	rec.dispatched = time.Now()
	f.inters[in.ID] = rec
	f.byToken[in.Token] = rec
	f.mu.Unlock()
	f.dispatchLocked(f.current, "INTERACTION_CREATE", json.RawMessage(raw))
	return in, nil
}

// Replay dispatches the very same interaction (same id and token) again,
// as Discord may deliver an event twice.
func (f *Fake) Replay(in Interaction) error {
	f.mu.Lock()
	_, ok := f.inters[in.ID]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("discordfake: no interaction %s", in.ID)
	}
	f.gw.Lock()
	defer f.gw.Unlock()
	if f.current == nil {
		return errNoSession
	}
	f.dispatchLocked(f.current, "INTERACTION_CREATE", in.Payload)
	return nil
}

// Response waits up to timeout for the bot's callback to an interaction
// and, for a deferred answer (types 5 and 6), for the first edit of
// @original. A refused first callback ends the wait too, with Err set.
func (f *Fake) Response(interactionID string, timeout time.Duration) (Response, error) {
	f.mu.Lock()
	in, ok := f.inters[interactionID]
	f.mu.Unlock()
	if !ok {
		return Response{}, fmt.Errorf("discordfake: no interaction %s", interactionID)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-in.done:
	case <-t.C:
		f.mu.Lock()
		defer f.mu.Unlock()
		if in.acked {
			return f.responseLocked(in), fmt.Errorf("discordfake: interaction %s: deferred (type %d) but @original not edited within %v", interactionID, in.resp.Type, timeout)
		}
		return f.responseLocked(in), fmt.Errorf("discordfake: interaction %s: no callback within %v", interactionID, timeout)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.responseLocked(in)
	if !in.acked {
		return r, errors.New("discordfake: callback refused: " + r.Err)
	}
	return r, nil
}

func (f *Fake) responseLocked(in *interaction) Response {
	r := in.resp
	r.Embeds = append([]Embed(nil), r.Embeds...)
	r.Components = append(json.RawMessage(nil), r.Components...)
	if m, ok := f.messages[in.originalID]; ok {
		r.Final = m.Content
	}
	return r
}

type callbackBody struct {
	Type int             `json:"type"`
	Data json.RawMessage `json:"data"`
}

// callback serves POST /interactions/{id}/{token}/callback.
func (f *Fake) callback(w http.ResponseWriter, r *http.Request, id, token string) *apiError {
	var body callbackBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return errBadJSON()
	}
	p := payload{raw: map[string]json.RawMessage{}}
	if len(body.Data) > 0 && string(body.Data) != "null" {
		if err := json.Unmarshal(body.Data, &p.raw); err != nil {
			return formError("data", "MODEL_TYPE_CONVERT", "Value is not of the right type.")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.inters[id]
	if !ok || in.Token != token {
		return errUnknownInteraction()
	}
	if in.acked {
		return in.refuse(errAcknowledged())
	}
	if time.Since(in.dispatched) > f.opts.InteractionDeadline {
		return in.refuse(errUnknownInteraction())
	}
	invalidType := formError("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid for this interaction.")
	var flags int
	if e := p.decode("flags", &flags); e != nil {
		return in.refuse(e)
	}
	resp := Response{Type: body.Type, Flags: flags}
	_ = p.decode("content", &resp.Content)
	_ = p.decode("embeds", &resp.Embeds)
	if p.has("components") {
		resp.Components = append(json.RawMessage(nil), p.raw["components"]...)
	}
	switch body.Type {
	case 4:
		m := &Message{ChannelID: in.ChannelID, AuthorID: f.opts.BotUserID, WebhookID: f.opts.AppID, InteractionID: in.ID, Flags: flags & (FlagEphemeral | 1<<2 | 1<<12 | 1<<15)}
		if e := f.apply(m, p); e != nil {
			return in.refuse(e)
		}
		f.insertLocked(m, m.Flags&FlagEphemeral == 0)
		in.originalID = m.ID
	case 5:
		m := &Message{ChannelID: in.ChannelID, AuthorID: f.opts.BotUserID, WebhookID: f.opts.AppID, InteractionID: in.ID, Flags: flags&FlagEphemeral | flagLoading}
		f.insertLocked(m, m.Flags&FlagEphemeral == 0)
		in.originalID = m.ID
	case 6, 7:
		m := f.messages[in.MessageID]
		if in.MessageID == "" || m == nil {
			return in.refuse(invalidType)
		}
		if body.Type == 7 {
			edited := m.clone()
			if e := f.apply(&edited, p); e != nil {
				return in.refuse(e)
			}
			edited.Edits++
			edited.Edited = time.Now()
			*m = edited
			resp.Content = m.Content
		}
		in.originalID = m.ID
	case 9:
		if in.Type == 5 {
			return in.refuse(invalidType)
		}
		var comps []json.RawMessage
		_ = p.decode("components", &comps)
		_ = p.decode("custom_id", &resp.ModalCustomID)
		_ = p.decode("title", &resp.ModalTitle)
		switch {
		case resp.ModalCustomID == "" || len(resp.ModalCustomID) > 100:
			return in.refuse(formError("data.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
		case resp.ModalTitle == "" || len([]rune(resp.ModalTitle)) > 45:
			return in.refuse(formError("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length."))
		case len(comps) == 0:
			return in.refuse(formError("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."))
		}
		if e := validateComponents("data.components", comps, true); e != nil {
			return in.refuse(e)
		}
	default:
		return in.refuse(invalidType)
	}
	resp.MessageID = in.originalID
	in.resp = resp
	in.acked = true
	if body.Type != 5 && body.Type != 6 {
		in.finish()
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
