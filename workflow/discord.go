package workflow

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Discord is where the organization speaks to humans and hears their
// approvals (zero value: it does not). Bot mode (a token) posts through the
// gateway bot and takes approvals from buttons and slash commands; webhook
// mode (webhook_env) only posts.
//
// Neither secret is ever in the workflow file, which is committed: the file
// names the environment variables that hold them, and only the names are
// kept here. They are read when the bot starts (and by doctor), not when
// the workflow is loaded, so that commands which send nothing never need
// them.
type Discord struct {
	// TokenEnv is the variable holding the bot token: bot mode. Default
	// DefaultDiscordTokenEnv when the section has guild or channels and no
	// webhook_env.
	TokenEnv string
	// WebhookEnv is the variable holding an incoming webhook URL:
	// notification-only mode.
	WebhookEnv string
	// WebhookKind is WebhookDiscord (the default in webhook mode) or
	// WebhookSlack (any Slack-compatible incoming webhook: plain text, no
	// edits). "" in bot mode.
	WebhookKind string
	// Guild is the id of the guild (server) the bot posts in; bot mode.
	Guild string
	// Channels maps a notice kind (DiscordKinds) to a channel id;
	// "default" serves the kinds not listed. Bot mode.
	Channels map[string]string
	// Users maps a tracker user to their Discord user id (snowflake): whom
	// to mention, and who a button press or slash command comes from. Each
	// Discord id is mapped once.
	Users map[string]string
	// Mute lists the notice kinds not sent.
	Mute []string
	// DashboardURL is the dashboard's base URL, for links in messages (""
	// none); no trailing slash.
	DashboardURL string
	// APIURL is Discord's base URL, DefaultDiscordAPIURL unless set (a
	// fake's address in tests and the demo); no trailing slash. Bot mode
	// only: a webhook's URL is whole.
	APIURL string
}

// Discord settings' defaults and values.
const (
	DefaultDiscordTokenEnv = "DISCORD_BOT_TOKEN"
	DefaultDiscordAPIURL   = "https://discord.com"
	WebhookDiscord         = "discord"
	WebhookSlack           = "slack"
	// DiscordDefaultChannel is the key of Discord.Channels for the notice
	// kinds without a channel of their own.
	DiscordDefaultChannel = "default"
)

// DiscordKinds are the kinds of notice sent to humans. Package notify names
// the same strings; they are the keys of discord.channels and the values of
// discord.mute.
var DiscordKinds = []string{"plan", "merge_request", "escalation", "e2e", "digest", "release", "deploy"}

// Enabled reports whether the organization speaks on Discord (or a
// Slack-compatible webhook) at all.
func (d Discord) Enabled() bool { return d.TokenEnv != "" || d.WebhookEnv != "" }

// BotMode reports whether a bot posts, so that approvals from Discord are
// possible.
func (d Discord) BotMode() bool { return d.TokenEnv != "" && d.WebhookEnv == "" }

// Channel is the channel id for a notice kind: its own, else the default
// one ("" when neither is set). It does not look at Mute.
func (d Discord) Channel(kind string) string {
	if c, ok := d.Channels[kind]; ok {
		return c
	}
	return d.Channels[DiscordDefaultChannel]
}

// Muted reports whether notices of kind are not sent.
func (d Discord) Muted(kind string) bool { return slices.Contains(d.Mute, kind) }

// UserByDiscordID is the tracker user mapped to a Discord user id: who
// pressed a button or ran a slash command. ok is false for anyone not in
// Users, whose actions must count for nothing.
func (d Discord) UserByDiscordID(id string) (user string, ok bool) {
	if id == "" {
		return "", false
	}
	for u, did := range d.Users {
		if did == id {
			return u, true
		}
	}
	return "", false
}

var (
	discordKeys = []string{"token_env", "webhook_env", "webhook_kind", "guild", "channels", "users", "mute", "dashboard_url", "api_url"}
	// discordSecretKeys are where someone might write a secret itself;
	// each is refused with where it goes instead.
	discordSecretKeys = []string{"token", "bot_token", "webhook_url", "webhook"}
	// discordEnvRE is an environment variable name as shells write them.
	discordEnvRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	// snowflakeRE is a Discord id: a number, 17 to 20 digits in practice;
	// shorter ones are accepted for tests.
	snowflakeRE = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// discord reads the discord section. The mode follows from the keys
// written: webhook_env (or a refused webhook_url) is webhook mode; token_env,
// guild or channels (or a refused token) bot mode. Keys of the other mode
// are refused rather than ignored, so that nobody waits for approvals a
// webhook cannot take.
func (d *decoder) discord(e entry, dc *Discord) {
	keys := map[string]Position{}
	known := append(slices.Clone(discordKeys), discordSecretKeys...)
	d.object(e.v, "discord", e.keyPos, known, nil, func(f entry) {
		keys[f.key] = f.keyPos
		switch f.key {
		case "token", "bot_token":
			// The value is never read, let alone repeated in a message.
			d.errorf(f.keyPos, "discord.%s: the bot token never goes in the workflow file; put it in $%s (or name another variable with discord.token_env)", f.key, DefaultDiscordTokenEnv)
		case "webhook_url", "webhook":
			d.errorf(f.keyPos, "discord.%s: the webhook URL never goes in the workflow file (whoever has it can post); put it in an environment variable and name that variable with discord.webhook_env", f.key)
		case "token_env":
			dc.TokenEnv = d.envName(f.v, "discord.token_env", DefaultDiscordTokenEnv)
		case "webhook_env":
			dc.WebhookEnv = d.envName(f.v, "discord.webhook_env", "DISCORD_WEBHOOK_URL")
		case "webhook_kind":
			dc.WebhookKind = d.oneOf(f.v, "discord.webhook_kind", []string{WebhookDiscord, WebhookSlack})
		case "guild":
			dc.Guild = d.snowflake(f.v, "discord.guild")
		case "channels":
			dc.Channels = d.discordChannels(f.v)
		case "users":
			dc.Users = d.discordUsers(f.v)
		case "mute":
			its, _ := d.items(f.v)
			for _, it := range its {
				k := d.str(it)
				if !contains(DiscordKinds, k) {
					d.errorf(it.pos, "unknown notice kind %q in discord.mute (known: %s)%s", k, strings.Join(DiscordKinds, ", "), suggest(k, DiscordKinds))
					continue
				}
				dc.Mute = append(dc.Mute, k)
			}
		case "dashboard_url":
			dc.DashboardURL = d.httpURL(f.v, "discord.dashboard_url", "https://agentorg.example.com")
		case "api_url":
			dc.APIURL = d.httpURL(f.v, "discord.api_url", "http://127.0.0.1:8090")
		}
	})
	if len(keys) == 0 {
		return // "discord:" alone: nothing is sent
	}
	has := func(names ...string) bool {
		return slices.ContainsFunc(names, func(k string) bool { _, ok := keys[k]; return ok })
	}
	switch {
	case has("webhook_env", "webhook_url", "webhook"):
		if p, ok := keys["token_env"]; ok {
			d.errorf(p, "discord.token_env and discord.webhook_env are two modes; keep one: token_env for a bot (posts, takes approvals), webhook_env for notifications only")
		}
		for _, k := range []string{"guild", "channels", "api_url"} {
			if p, ok := keys[k]; ok {
				d.errorf(p, "discord.%s belongs to bot mode, but discord.webhook_env sets webhook mode (notifications only, posted where the webhook points): remove %s, or remove webhook_env to run a bot", k, k)
			}
		}
		if dc.WebhookKind == "" {
			dc.WebhookKind = WebhookDiscord
		}
		if p, ok := keys["users"]; ok && dc.WebhookKind == WebhookSlack {
			d.errorf(p, "discord.users maps tracker users to Discord ids, which a slack webhook cannot mention: remove users, or use webhook_kind discord")
		}
	case has("token_env", "token", "bot_token", "guild", "channels"):
		if p, ok := keys["webhook_kind"]; ok {
			d.errorf(p, "discord.webhook_kind belongs to webhook mode (discord.webhook_env); a bot always posts to Discord")
		}
		if dc.TokenEnv == "" && !has("token_env") {
			dc.TokenEnv = DefaultDiscordTokenEnv
		}
		if !has("guild") {
			d.errorf(e.keyPos, "discord (bot mode) needs guild: the id of the Discord server the bot posts in")
		}
		if _, ok := dc.Channels[DiscordDefaultChannel]; !ok {
			var missing []string
			for _, k := range DiscordKinds {
				if k == "release" || k == "deploy" {
					continue // only with a release section: checked with it
				}
				if _, ok := dc.Channels[k]; !ok && !dc.Muted(k) {
					missing = append(missing, k)
				}
			}
			if len(missing) > 0 {
				pos, ok := keys["channels"]
				if !ok {
					pos = e.keyPos
				}
				d.errorf(pos, "discord (bot mode) has no channel for %s notices: add a default channel under discord.channels, or one for each kind (or mute it)", orList(missing))
			}
		}
		if dc.APIURL == "" {
			dc.APIURL = DefaultDiscordAPIURL
		}
	default:
		d.errorf(e.keyPos, "discord has no way to post: give guild and channels (bot mode, the token in $%s) or webhook_env (notifications only)", DefaultDiscordTokenEnv)
	}
}

// envName reads the name of an environment variable that holds a secret.
// The value is never repeated in a message: it may be the secret itself.
func (d *decoder) envName(v value, what, example string) string {
	s := d.str(v)
	if discordEnvRE.MatchString(s) {
		return s
	}
	if m := envRefRE.FindStringSubmatch(s); m != nil && discordEnvRE.MatchString(m[1]+m[2]) {
		d.errorf(v.pos, "%s is the variable's name, without $: write %s", what, m[1]+m[2])
		return ""
	}
	switch v.node.(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		return "" // reported by str
	}
	d.errorf(v.pos, "%s must name an environment variable (capitals, digits and _, such as %s), never hold the secret itself", what, example)
	return ""
}

// snowflake reads a Discord id; "" when it is not one (reported).
func (d *decoder) snowflake(v value, what string) string {
	switch v.node.(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		d.str(v) // reports it
		return ""
	}
	s := d.str(v)
	if !snowflakeRE.MatchString(s) {
		d.errorf(v.pos, "%s must be a Discord id, a number (snowflake) such as \"123456789012345678\", not %s", what, describe(v.node))
		return ""
	}
	return s
}

// discordChannels reads discord.channels: notice kind (or "default") ->
// channel id.
func (d *decoder) discordChannels(v value) map[string]string {
	entries, _ := d.mapping(v)
	out := map[string]string{}
	known := append([]string{DiscordDefaultChannel}, DiscordKinds...)
	for _, c := range entries {
		if !contains(known, c.key) {
			d.errorf(c.keyPos, "unknown notice kind %q in discord.channels (known: %s)%s", c.key, strings.Join(known, ", "), suggest(c.key, known))
			continue
		}
		// Kept even when wrong (""), so that a bad id is not also
		// reported as a missing channel.
		out[c.key] = d.snowflake(c.v, "discord.channels."+c.key)
	}
	return out
}

// discordUsers reads discord.users: tracker user -> Discord user id. A
// Discord id mapped to two users is refused: an approval from it would be
// nobody's in particular.
func (d *decoder) discordUsers(v value) map[string]string {
	entries, _ := d.mapping(v)
	out := map[string]string{}
	first := map[string]entry{}
	for _, u := range entries {
		id := d.snowflake(u.v, fmt.Sprintf("discord.users.%s", u.key))
		if id == "" {
			continue
		}
		if f, dup := first[id]; dup {
			d.errorf(u.v.pos, "discord.users maps Discord id %s to both %q (line %d) and %q: an approval from it would be whose?", id, f.key, f.keyPos.Line, u.key)
			continue
		}
		first[id] = u
		out[u.key] = id
	}
	return out
}

// httpURL reads an absolute http or https URL, without its trailing slash.
func (d *decoder) httpURL(v value, what, example string) string {
	s := d.str(v)
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(v.pos, "%s must be an absolute http or https URL such as %s, not %q", what, example, s)
		return ""
	}
	return strings.TrimRight(s, "/")
}

// checkDiscord warns, in bot mode, of each gate approver without a Discord
// id: they can still approve in the tracker, not from Discord.
func (d *decoder) checkDiscord(w *Workflow) {
	if !w.Discord.BotMode() {
		return
	}
	for _, g := range w.Gates {
		if d.implied[at("gates", g.Name, "approvers")] {
			continue // the other gates' approvers, warned about there
		}
		for i, a := range g.Approvers {
			if _, ok := w.Discord.Users[a]; !ok {
				d.warnf(d.valPos[at("gates", g.Name, "approvers", fmt.Sprint(i))], "approver %q of gate %q has no Discord id in discord.users: they cannot approve from Discord", a, g.Name)
			}
		}
	}
}
