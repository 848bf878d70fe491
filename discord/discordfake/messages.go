package discordfake

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// payload is a message-like request body: its top-level JSON fields (to
// tell absent from null) and the names of uploaded files.
type payload struct {
	raw   map[string]json.RawMessage
	files []string
}

func (p payload) has(k string) bool {
	v, ok := p.raw[k]
	return ok && string(v) != "null"
}

// present is true for a field given, null included.
func (p payload) present(k string) bool {
	_, ok := p.raw[k]
	return ok
}

func (p payload) decode(k string, v any) *apiError {
	if !p.has(k) {
		return nil
	}
	if err := json.Unmarshal(p.raw[k], v); err != nil {
		return formError(k, "MODEL_TYPE_CONVERT", "Value is not of the right type.")
	}
	return nil
}

// readPayload reads a JSON body or a multipart/form-data one with a
// payload_json part.
func readPayload(r *http.Request) (payload, *apiError) {
	p := payload{raw: map[string]json.RawMessage{}}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return p, errBadJSON()
			}
			if part.FormName() == "payload_json" {
				b, _ := io.ReadAll(io.LimitReader(part, 1<<20))
				if err := json.Unmarshal(b, &p.raw); err != nil {
					return p, errBadJSON()
				}
			} else if part.FileName() != "" {
				p.files = append(p.files, part.FileName())
				_, _ = io.Copy(io.Discard, part)
			}
		}
		return p, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return p, errBadJSON()
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, &p.raw); err != nil {
		return p, errBadJSON()
	}
	return p, nil
}

type allowedMentions struct {
	Parse []string `json:"parse"`
	Users []string `json:"users"`
}

var mentionRE = regexp.MustCompile(`<@!?([0-9]+)>`)

// mentions are the members mentioned in content as allowed_mentions allows.
func (f *Fake) mentions(content string, am *allowedMentions) []string {
	var out []string
	for _, sm := range mentionRE.FindAllStringSubmatch(content, -1) {
		id := sm[1]
		if !f.isMember(id) || slices.Contains(out, id) {
			continue
		}
		if am != nil && !slices.Contains(am.Parse, "users") && !slices.Contains(am.Users, id) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// apply sets a message's fields from a payload: the fields given replace
// the message's, as in an edit. Flags are the caller's business.
func (f *Fake) apply(m *Message, p payload) *apiError {
	if p.present("content") {
		m.Content = ""
		if e := p.decode("content", &m.Content); e != nil {
			return e
		}
	}
	if p.present("embeds") {
		m.Embeds = nil
		if e := p.decode("embeds", &m.Embeds); e != nil {
			return e
		}
	}
	if p.present("components") {
		m.Components = nil
		if e := p.decode("components", &m.Components); e != nil {
			return e
		}
	}
	if len(p.files) > 0 {
		m.Attachments = append(m.Attachments, p.files...)
	}
	var am *allowedMentions
	if p.has("allowed_mentions") {
		am = &allowedMentions{}
		if e := p.decode("allowed_mentions", am); e != nil {
			return e
		}
	}
	if p.present("content") || p.present("allowed_mentions") {
		m.Mentions = f.mentions(m.Content, am)
	}
	return validateMessage(m)
}

// validateMessage checks Discord's documented limits.
func validateMessage(m *Message) *apiError {
	if utf8.RuneCountInString(m.Content) > 2000 {
		return formError("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
	}
	if len(m.Embeds) > 10 {
		return formError("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
	}
	total := 0
	n := utf8.RuneCountInString
	for i, e := range m.Embeds {
		at := "embeds." + strconv.Itoa(i) + "."
		if n(e.Title) > 256 {
			return formError(at+"title", "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")
		}
		if n(e.Description) > 4096 {
			return formError(at+"description", "BASE_TYPE_MAX_LENGTH", "Must be 4096 or fewer in length.")
		}
		if len(e.Fields) > 25 {
			return formError(at+"fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
		total += n(e.Title) + n(e.Description)
		for j, fl := range e.Fields {
			fat := at + "fields." + strconv.Itoa(j) + "."
			if fl.Name == "" {
				return formError(fat+"name", "BASE_TYPE_REQUIRED", "This field is required")
			}
			if fl.Value == "" {
				return formError(fat+"value", "BASE_TYPE_REQUIRED", "This field is required")
			}
			if n(fl.Name) > 256 {
				return formError(fat+"name", "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")
			}
			if n(fl.Value) > 1024 {
				return formError(fat+"value", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.")
			}
			total += n(fl.Name) + n(fl.Value)
		}
		if e.Footer != nil {
			if n(e.Footer.Text) > 2048 {
				return formError(at+"footer.text", "BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.")
			}
			total += n(e.Footer.Text)
		}
		if e.Author != nil {
			if n(e.Author.Name) > 256 {
				return formError(at+"author.name", "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")
			}
			total += n(e.Author.Name)
		}
	}
	if total > 6000 {
		return formError("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
	}
	if e := validateComponents("components", m.Components, false); e != nil {
		return e
	}
	if m.Content == "" && len(m.Embeds) == 0 && len(m.Components) == 0 && len(m.Attachments) == 0 && m.Flags&flagLoading == 0 {
		return &apiError{status: 400, Message: "Cannot send an empty message", Code: 50006}
	}
	return nil
}

type component struct {
	Type       int               `json:"type"`
	CustomID   *string           `json:"custom_id"`
	Style      int               `json:"style"`
	Label      string            `json:"label"`
	URL        string            `json:"url"`
	Disabled   bool              `json:"disabled"`
	Components []json.RawMessage `json:"components"`
	Value      string            `json:"value"`
	Title      string            `json:"title"`
}

// validateComponents checks action rows of buttons and selects (or, in a
// modal, of text inputs).
func validateComponents(at string, rows []json.RawMessage, modal bool) *apiError {
	if len(rows) > 5 {
		return formError(at, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
	}
	seen := map[string]bool{}
	for i, raw := range rows {
		rat := at + "." + strconv.Itoa(i)
		var row component
		if err := json.Unmarshal(raw, &row); err != nil {
			return formError(rat, "MODEL_TYPE_CONVERT", "Value is not of the right type.")
		}
		if row.Type != 1 {
			return formError(rat+".type", "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (1,).")
		}
		if len(row.Components) == 0 || len(row.Components) > 5 {
			return formError(rat+".components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
		}
		for j, craw := range row.Components {
			cat := rat + ".components." + strconv.Itoa(j)
			var c component
			if err := json.Unmarshal(craw, &c); err != nil {
				return formError(cat, "MODEL_TYPE_CONVERT", "Value is not of the right type.")
			}
			switch {
			case modal && c.Type != 4, !modal && c.Type == 4, c.Type < 2 || c.Type > 8:
				return formError(cat+".type", "COMPONENT_TYPE_INVALID", "Component type is invalid here.")
			case c.Type == 2 && c.Style == 5:
				if c.URL == "" {
					return formError(cat+".url", "BASE_TYPE_REQUIRED", "This field is required")
				}
				if c.CustomID != nil {
					return formError(cat+".custom_id", "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED", "A link button cannot have a custom id")
				}
			case c.Type == 2 && (c.Style < 1 || c.Style > 6):
				return formError(cat+".style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
			case c.Type == 2 && utf8.RuneCountInString(c.Label) > 80:
				return formError(cat+".label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
			case c.Type != 2 && len(row.Components) > 1:
				return formError(rat+".components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 1 in length.")
			}
			if c.Type == 2 && c.Style == 5 || c.Type == 2 && c.Style == 6 {
				continue
			}
			if c.CustomID == nil || *c.CustomID == "" {
				return formError(cat+".custom_id", "BASE_TYPE_REQUIRED", "This field is required")
			}
			if utf8.RuneCountInString(*c.CustomID) > 100 {
				return formError(cat+".custom_id", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
			}
			if seen[*c.CustomID] {
				return formError(cat+".custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
			}
			seen[*c.CustomID] = true
		}
	}
	return nil
}

// findComponent finds the component with the custom id in a message.
func findComponent(rows []json.RawMessage, customID string) (component, bool) {
	for _, raw := range rows {
		var row component
		if json.Unmarshal(raw, &row) != nil {
			continue
		}
		for _, craw := range row.Components {
			var c component
			if json.Unmarshal(craw, &c) == nil && c.CustomID != nil && *c.CustomID == customID {
				return c, true
			}
		}
	}
	return component{}, false
}

// nonceOf reads a nonce given as a string or an integer.
func nonceOf(p payload) (string, *apiError) {
	if !p.has("nonce") {
		return "", nil
	}
	raw := strings.TrimSpace(string(p.raw["nonce"]))
	var s string
	if strings.HasPrefix(raw, `"`) {
		if json.Unmarshal([]byte(raw), &s) != nil {
			return "", formError("nonce", "MODEL_TYPE_CONVERT", "Value is not of the right type.")
		}
	} else {
		if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
			return "", formError("nonce", "NUMBER_TYPE_COERCE", "Value is not int.")
		}
		s = raw
	}
	if len(s) > 25 {
		return "", formError("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
	}
	return s, nil
}

// nonceWindow is how long enforce_nonce remembers a nonce.
const nonceWindow = 5 * time.Minute

// insertLocked stores a new message; listed messages show in the channel.
func (f *Fake) insertLocked(m *Message, listed bool) {
	m.ID = f.newIDLocked()
	m.Created = time.Now()
	f.messages[m.ID] = m
	if listed {
		f.order[m.ChannelID] = append(f.order[m.ChannelID], m.ID)
	}
}

func (f *Fake) createChannelMessage(w http.ResponseWriter, r *http.Request, channelID string) *apiError {
	if f.opts.BotPermissions&PermSendMessages == 0 {
		return errMissingPermissions()
	}
	p, e := readPayload(r)
	if e != nil {
		return e
	}
	nonce, e := nonceOf(p)
	if e != nil {
		return e
	}
	var enforce bool
	if e := p.decode("enforce_nonce", &enforce); e != nil {
		return e
	}
	m := &Message{ChannelID: channelID, AuthorID: f.opts.BotUserID, Nonce: nonce}
	if e := p.decode("flags", &m.Flags); e != nil {
		return e
	}
	m.Flags &= 1<<2 | 1<<12 | 1<<15 // SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2
	if e := f.apply(m, p); e != nil {
		return e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if enforce && nonce != "" {
		for _, old := range f.messages {
			if old.Nonce == nonce && old.AuthorID == m.AuthorID && time.Since(old.Created) < nonceWindow {
				writeJSON(w, 200, f.messageObject(old))
				return nil
			}
		}
	}
	f.insertLocked(m, true)
	writeJSON(w, 200, f.messageObject(m))
	return nil
}

func (f *Fake) listMessages(w http.ResponseWriter, r *http.Request, channelID string) *apiError {
	q := r.URL.Query()
	limit := 50
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return formError("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
		}
		limit = n
	}
	before, after := q.Get("before"), q.Get("after")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []any{}
	ids := f.order[channelID]
	for i := len(ids) - 1; i >= 0 && len(out) < limit; i-- {
		id := ids[i]
		if before != "" && !idLess(id, before) || after != "" && !idLess(after, id) {
			continue
		}
		if m, ok := f.messages[id]; ok {
			out = append(out, f.messageObject(m))
		}
	}
	writeJSON(w, 200, out)
	return nil
}

func idLess(a, b string) bool {
	x, _ := strconv.ParseUint(a, 10, 64)
	y, _ := strconv.ParseUint(b, 10, 64)
	return x < y
}

func (f *Fake) getMessage(w http.ResponseWriter, channelID, id string) *apiError {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[id]
	if !ok || m.ChannelID != channelID || m.Flags&FlagEphemeral != 0 {
		return errUnknownMessage()
	}
	writeJSON(w, 200, f.messageObject(m))
	return nil
}

func (f *Fake) editChannelMessage(w http.ResponseWriter, r *http.Request, channelID, id string) *apiError {
	p, e := readPayload(r)
	if e != nil {
		return e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[id]
	if !ok || m.ChannelID != channelID || m.Flags&FlagEphemeral != 0 {
		return errUnknownMessage()
	}
	if m.AuthorID != f.opts.BotUserID {
		return &apiError{status: 403, Message: "Cannot edit a message authored by another user", Code: 50005}
	}
	return f.editLocked(w, m, p)
}

// editLocked edits a message in place and answers with it.
func (f *Fake) editLocked(w http.ResponseWriter, m *Message, p payload) *apiError {
	edited := m.clone()
	if p.has("flags") {
		var fl int
		if e := p.decode("flags", &fl); e != nil {
			return e
		}
		edited.Flags = edited.Flags&^(1<<2) | fl&(1<<2) // only SUPPRESS_EMBEDS changes
	}
	edited.Flags &^= flagLoading
	if e := f.apply(&edited, p); e != nil {
		return e
	}
	edited.Edits++
	edited.Edited = time.Now()
	*m = edited
	writeJSON(w, 200, f.messageObject(m))
	return nil
}

func (f *Fake) deleteMessage(w http.ResponseWriter, channelID, id, authorID string) *apiError {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[id]
	if !ok || m.ChannelID != channelID {
		return errUnknownMessage()
	}
	if m.AuthorID != authorID {
		return errMissingPermissions()
	}
	f.deleteLocked(m)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (f *Fake) deleteLocked(m *Message) {
	delete(f.messages, m.ID)
	ids := f.order[m.ChannelID]
	if i := slices.Index(ids, m.ID); i >= 0 {
		f.order[m.ChannelID] = slices.Delete(ids, i, i+1)
	}
}

// overwriteCommands is the bulk overwrite of global (guildID "") or guild
// application commands.
func (f *Fake) overwriteCommands(w http.ResponseWriter, r *http.Request, guildID string) *apiError {
	var cmds []map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&cmds); err != nil {
		return errBadJSON()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.globalCmds
	if guildID != "" {
		old = f.guildCmds
	}
	oldIDs := map[string]string{}
	for _, raw := range old {
		var c struct{ ID, Name string }
		_ = json.Unmarshal(raw, &c)
		oldIDs[c.Name] = c.ID
	}
	var out []json.RawMessage
	for i, c := range cmds {
		name, _ := c["name"].(string)
		if name == "" || utf8.RuneCountInString(name) > 32 {
			return formError(strconv.Itoa(i)+".name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
		}
		typ, _ := c["type"].(float64)
		if typ == 0 {
			c["type"] = 1
			typ = 1
		}
		if d, _ := c["description"].(string); typ == 1 && (d == "" || utf8.RuneCountInString(d) > 100) {
			return formError(strconv.Itoa(i)+".description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
		}
		id := oldIDs[name]
		if id == "" {
			id = f.newIDLocked()
		}
		c["id"] = id
		c["application_id"] = f.opts.AppID
		c["version"] = f.newIDLocked()
		if guildID != "" {
			c["guild_id"] = guildID
		}
		b, _ := json.Marshal(c)
		out = append(out, b)
	}
	if guildID != "" {
		f.guildCmds = out
	} else {
		f.globalCmds = out
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	writeJSON(w, 200, out)
	return nil
}

func (f *Fake) commandList(guild bool) []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.globalCmds
	if guild {
		l = f.guildCmds
	}
	return append([]json.RawMessage{}, l...)
}
