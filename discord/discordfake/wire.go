package discordfake

import (
	"encoding/json"
	"strconv"
	"time"
)

// The JSON objects the fake sends, shaped as Discord documents them.

func (f *Fake) userObject(id string) map[string]any {
	u := map[string]any{
		"id":            id,
		"username":      f.username(id),
		"discriminator": "0",
		"global_name":   nil,
		"avatar":        nil,
		"public_flags":  0,
	}
	if id == f.opts.BotUserID {
		u["bot"] = true
		u["verified"] = true
		u["mfa_enabled"] = false
		u["flags"] = 0
	}
	return u
}

func (f *Fake) memberObject(userID string) map[string]any {
	return map[string]any{
		"user":                         f.userObject(userID),
		"nick":                         nil,
		"avatar":                       nil,
		"roles":                        []string{},
		"joined_at":                    "2024-01-01T00:00:00.000000+00:00",
		"premium_since":                nil,
		"deaf":                         false,
		"mute":                         false,
		"flags":                        0,
		"pending":                      false,
		"communication_disabled_until": nil,
	}
}

func (f *Fake) everyoneRole() map[string]any {
	return map[string]any{
		"id":            f.opts.GuildID,
		"name":          "@everyone",
		"color":         0,
		"hoist":         false,
		"icon":          nil,
		"unicode_emoji": nil,
		"position":      0,
		"permissions":   strconv.FormatInt(f.opts.BotPermissions, 10),
		"managed":       false,
		"mentionable":   false,
		"flags":         0,
	}
}

func (f *Fake) channelObject(id string) map[string]any {
	pos := 0
	for i, k := range sortedKeys(f.opts.Channels) {
		if k == id {
			pos = i
		}
	}
	return map[string]any{
		"id":                    id,
		"type":                  0,
		"guild_id":              f.opts.GuildID,
		"name":                  f.opts.Channels[id],
		"position":              pos,
		"permission_overwrites": []any{},
		"topic":                 nil,
		"nsfw":                  false,
		"last_message_id":       nil,
		"rate_limit_per_user":   0,
		"parent_id":             nil,
		"flags":                 0,
	}
}

func (f *Fake) channelObjects() []any {
	var out []any
	for _, id := range sortedKeys(f.opts.Channels) {
		out = append(out, f.channelObject(id))
	}
	return out
}

// guildObject is the guild as GET /guilds/{id} returns it. The owner is a
// made-up user, so nobody gets every permission for being the owner.
func (f *Fake) guildObject() map[string]any {
	return map[string]any{
		"id":                            f.opts.GuildID,
		"name":                          "agentorg",
		"icon":                          nil,
		"splash":                        nil,
		"discovery_splash":              nil,
		"owner_id":                      "1",
		"afk_channel_id":                nil,
		"afk_timeout":                   300,
		"verification_level":            0,
		"default_message_notifications": 0,
		"explicit_content_filter":       0,
		"roles":                         []any{f.everyoneRole()},
		"emojis":                        []any{},
		"features":                      []string{},
		"mfa_level":                     0,
		"application_id":                nil,
		"system_channel_id":             nil,
		"system_channel_flags":          0,
		"rules_channel_id":              nil,
		"vanity_url_code":               nil,
		"description":                   nil,
		"banner":                        nil,
		"premium_tier":                  0,
		"preferred_locale":              "en-US",
		"public_updates_channel_id":     nil,
		"nsfw_level":                    0,
		"premium_progress_bar_enabled":  false,
		"stickers":                      []any{},
	}
}

// guildCreate is the GUILD_CREATE dispatch's payload.
func (f *Fake) guildCreate() map[string]any {
	g := f.guildObject()
	g["joined_at"] = "2024-01-01T00:00:00.000000+00:00"
	g["large"] = false
	g["unavailable"] = false
	g["member_count"] = len(f.opts.Members) + 1
	g["voice_states"] = []any{}
	members := []any{f.memberObject(f.opts.BotUserID)}
	g["members"] = members
	g["channels"] = f.channelObjects()
	g["threads"] = []any{}
	g["presences"] = []any{}
	g["stage_instances"] = []any{}
	g["guild_scheduled_events"] = []any{}
	return g
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

// messageObject is the message as the REST API returns it.
func (f *Fake) messageObject(m *Message) map[string]any {
	var author map[string]any
	if w, ok := f.webhooks[m.AuthorID]; ok {
		name := m.Username
		if name == "" {
			name = w.Name
		}
		author = map[string]any{"id": w.ID, "username": name, "discriminator": "0000", "avatar": nil, "bot": true, "global_name": nil, "public_flags": 0}
	} else {
		author = f.userObject(m.AuthorID)
	}
	mentions := []any{}
	for _, id := range m.Mentions {
		mentions = append(mentions, f.userObject(id))
	}
	embeds := m.Embeds
	if embeds == nil {
		embeds = []Embed{}
	}
	for i := range embeds {
		if embeds[i].Type == "" {
			embeds[i].Type = "rich"
		}
	}
	comps := m.Components
	if comps == nil {
		comps = []json.RawMessage{}
	}
	atts := []any{}
	for i, name := range m.Attachments {
		atts = append(atts, map[string]any{"id": m.ID + strconv.Itoa(i), "filename": name, "size": 0, "url": f.url + "/attachments/" + m.ChannelID + "/" + m.ID + "/" + name, "proxy_url": f.url + "/attachments/" + name})
	}
	o := map[string]any{
		"id":               m.ID,
		"type":             0,
		"channel_id":       m.ChannelID,
		"author":           author,
		"content":          m.Content,
		"timestamp":        ts(m.Created),
		"edited_timestamp": nil,
		"tts":              false,
		"mention_everyone": false,
		"mentions":         mentions,
		"mention_roles":    []string{},
		"attachments":      atts,
		"embeds":           embeds,
		"components":       comps,
		"pinned":           false,
		"flags":            m.Flags,
	}
	if _, ok := f.opts.Channels[m.ChannelID]; ok {
		o["guild_id"] = f.opts.GuildID
	}
	if !m.Edited.IsZero() {
		o["edited_timestamp"] = ts(m.Edited)
	}
	if m.Nonce != "" {
		o["nonce"] = m.Nonce
	}
	if m.WebhookID != "" {
		o["webhook_id"] = m.WebhookID
	}
	if m.InteractionID != "" {
		o["application_id"] = f.opts.AppID
		if in, ok := f.inters[m.InteractionID]; ok {
			if in.Type == 2 {
				o["type"] = 20
			}
			o["interaction_metadata"] = map[string]any{
				"id":                             in.ID,
				"type":                           in.Type,
				"user":                           f.userObject(in.UserID),
				"authorizing_integration_owners": map[string]any{"0": f.opts.GuildID},
			}
		}
	}
	return o
}
