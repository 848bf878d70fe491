package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/agentorg/agentorg/workflow"
)

// Finding is one line of agentorg doctor's Discord part.
type Finding struct {
	Level string // "ok", "warning" or "problem"
	What  string
	Fix   string
}

// needed are the permissions the bot needs in each channel it posts to.
var needed = []struct {
	bit  int64
	name string
}{
	{discordgo.PermissionViewChannel, "View Channel"},
	{discordgo.PermissionSendMessages, "Send Messages"},
	{discordgo.PermissionEmbedLinks, "Embed Links"},
	{discordgo.PermissionReadMessageHistory, "Read Message History"},
}

// Doctor checks what the workflow's discord section needs: the secret in
// the environment and, in bot mode, that Discord accepts the token, that
// the bot is in the guild, can post in each channel, and who of the
// mapped people are members and approvers.
func Doctor(ctx context.Context, wf *workflow.Workflow, getenv func(string) string) []Finding {
	d := wf.Discord
	if !d.Enabled() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sec, err := secret(Config{Workflow: wf, Getenv: getenv})
	if err != nil {
		name := d.TokenEnv
		if !d.BotMode() {
			name = d.WebhookEnv
		}
		return []Finding{{Level: "problem", What: err.Error(), Fix: fmt.Sprintf("export %s=… in the environment serve runs in", name)}}
	}
	if !d.BotMode() {
		u, err := url.Parse(sec)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return []Finding{{Level: "problem", What: fmt.Sprintf("$%s is not an http(s) URL", d.WebhookEnv), Fix: "copy the webhook's URL from the channel's Integrations settings"}}
		}
		return []Finding{{Level: "ok", What: fmt.Sprintf("Discord: notifications through a %s webhook on %s (not called: a call would post)", orDefault(d.WebhookKind, "discord"), u.Host)}}
	}
	s, err := newSession(sec, d.APIURL)
	if err != nil {
		return []Finding{{Level: "problem", What: "Discord: " + err.Error()}}
	}
	opt := discordgo.WithContext(ctx)
	me, err := s.User("@me", opt)
	if err != nil {
		return []Finding{{Level: "problem", What: "Discord refused the bot's token: " + secrets.Redact(err.Error()),
			Fix: fmt.Sprintf("copy the token again from the application's Bot page into $%s", d.TokenEnv)}}
	}
	out := []Finding{{Level: "ok", What: fmt.Sprintf("Discord: the token is %s's", me.Username)}}
	invite := fmt.Sprintf("invite the bot: https://discord.com/oauth2/authorize?client_id=%s&scope=bot+applications.commands&permissions=%d", me.ID, permissions())
	guild, err := s.Guild(d.Guild, opt)
	if err != nil {
		return append(out, Finding{Level: "problem", What: fmt.Sprintf("Discord: the bot is not in guild %s (%s)", d.Guild, restReason(err)), Fix: invite})
	}
	out = append(out, Finding{Level: "ok", What: fmt.Sprintf("Discord: the bot is in guild %s (%s)", guild.Name, guild.ID)})
	var channels []string
	for _, c := range d.Channels {
		if !slices.Contains(channels, c) {
			channels = append(channels, c)
		}
	}
	sort.Strings(channels)
	for _, c := range channels {
		ch, err := s.Channel(c, opt)
		if err != nil {
			out = append(out, Finding{Level: "problem", What: fmt.Sprintf("Discord: channel %s: %s", c, restReason(err)), Fix: "put a channel id of the guild under discord.channels (Developer Mode, Copy Channel ID)"})
			continue
		}
		if ch.GuildID != d.Guild {
			out = append(out, Finding{Level: "problem", What: fmt.Sprintf("Discord: channel #%s (%s) is not in guild %s", ch.Name, c, d.Guild), Fix: "use a channel of the workflow's guild"})
			continue
		}
		perms, err := s.UserChannelPermissions(me.ID, c, opt)
		if err != nil {
			out = append(out, Finding{Level: "problem", What: fmt.Sprintf("Discord: the bot's permissions in #%s: %s", ch.Name, restReason(err)), Fix: invite})
			continue
		}
		var missing []string
		for _, p := range needed {
			if perms&p.bit == 0 && perms&discordgo.PermissionAdministrator == 0 {
				missing = append(missing, p.name)
			}
		}
		if len(missing) > 0 {
			out = append(out, Finding{Level: "problem", What: fmt.Sprintf("Discord: the bot lacks %s in #%s", strings.Join(missing, ", "), ch.Name),
				Fix: "give the bot's role those permissions on the channel (Edit Channel, Permissions)"})
			continue
		}
		out = append(out, Finding{Level: "ok", What: fmt.Sprintf("Discord: the bot can post in #%s", ch.Name)})
	}
	approvers := map[string]bool{}
	for _, g := range wf.Gates {
		for _, a := range g.Approvers {
			approvers[a] = true
		}
	}
	users := make([]string, 0, len(d.Users))
	for u := range d.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		id := d.Users[u]
		if _, err := s.GuildMember(d.Guild, id, opt); err != nil {
			out = append(out, Finding{Level: "warning", What: fmt.Sprintf("Discord: %s's account %s is not a member of the guild (%s)", u, id, restReason(err)),
				Fix: "check the id under discord.users (Developer Mode, Copy User ID)"})
			continue
		}
		if !approvers[u] && !anyLevel(wf) {
			out = append(out, Finding{Level: "warning", What: fmt.Sprintf("Discord: %s is mapped but approves at no gate: their buttons will be refused", u)})
			continue
		}
		out = append(out, Finding{Level: "ok", What: fmt.Sprintf("Discord: %s is <@%s>", u, id)})
	}
	for a := range approvers {
		if _, ok := d.Users[a]; !ok {
			out = append(out, Finding{Level: "warning", What: fmt.Sprintf("Discord: approver %s has no Discord id under discord.users: they cannot approve from Discord", a)})
		}
	}
	return out
}

// anyLevel says whether a gate admits by access level, where anyone mapped
// may turn out to be allowed.
func anyLevel(wf *workflow.Workflow) bool {
	for _, g := range wf.Gates {
		if g.MinAccessLevel > 0 {
			return true
		}
	}
	return false
}

func permissions() int64 {
	var p int64
	for _, n := range needed {
		p |= n.bit
	}
	return p
}

// restReason is what Discord said, without the request (its URL may hold
// a token).
func restReason(err error) string {
	var re *discordgo.RESTError
	if errors.As(err, &re) {
		if re.Message != nil && re.Message.Message != "" {
			return fmt.Sprintf("%s, code %d", re.Message.Message, re.Message.Code)
		}
		if re.Response != nil {
			return http.StatusText(re.Response.StatusCode)
		}
	}
	return secrets.Redact(err.Error())
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
