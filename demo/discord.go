package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/discord"
	"github.com/agentorg/agentorg/discord/discordfake"
)

// The fake Discord the demo speaks to with --discord: one guild, one
// channel, and alice's account.
const (
	demoToken   = "demo-bot-token-not-a-real-one"
	demoGuild   = "200000000000000001"
	demoChannel = "300000000000000001"
	aliceID     = "400000000000000001"
)

// discordDemo is the demo's Discord: a fake Discord and the bot that speaks to
// it, through which alice approves.
type discordDemo struct {
	fake *discordfake.Fake
	bot  *discord.Bot
}

// startFake starts the fake Discord and returns the workflow's discord
// section pointing at it.
func startFake() (*discordfake.Fake, string, error) {
	fake, err := discordfake.Start(discordfake.Options{Token: demoToken, GuildID: demoGuild,
		Channels: map[string]string{demoChannel: "agentorg"}, Members: map[string]string{aliceID: human}})
	if err != nil {
		return nil, "", err
	}
	section := fmt.Sprintf("\ndiscord:\n  guild: %q\n  channels: {default: %q}\n  users: {%s: %q}\n  api_url: %s\n",
		demoGuild, demoChannel, human, aliceID, fake.URL())
	return fake, section, nil
}

// startBot connects the bot to the fake, as serve does.
func startBot(ctx context.Context, org *app.Org, fake *discordfake.Fake) (*discordDemo, error) {
	bot, err := discord.Start(ctx, discord.Config{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB,
		Getenv: func(k string) string {
			if k == org.Workflow.Discord.TokenEnv {
				return demoToken
			}
			return ""
		}})
	if err != nil {
		return nil, err
	}
	return &discordDemo{fake: fake, bot: bot}, nil
}

// approve plays alice pressing Approve on the notice about issue n, and
// returns the bot's answer to her.
func (c *discordDemo) approve(ctx context.Context, n int64) (string, error) {
	if err := c.bot.Flush(ctx); err != nil {
		return "", err
	}
	prefix := fmt.Sprintf("#%d ", n)
	msgs := c.fake.Messages(demoChannel)
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if len(m.Embeds) == 0 || !strings.HasPrefix(m.Embeds[0].Title, prefix) {
			continue
		}
		for _, raw := range m.Components {
			var row struct {
				Components []struct {
					CustomID string `json:"custom_id"`
				} `json:"components"`
			}
			if err := json.Unmarshal(raw, &row); err != nil {
				return "", err
			}
			for _, b := range row.Components {
				if !strings.HasPrefix(b.CustomID, "agentorg:approve:") {
					continue
				}
				in, err := c.fake.Click(aliceID, m.ID, b.CustomID)
				if err != nil {
					return "", err
				}
				r, err := c.fake.Response(in.ID, 10*time.Second)
				if err != nil {
					return "", err
				}
				return r.Final, nil
			}
		}
	}
	return "", fmt.Errorf("no message in #agentorg offers to approve #%d", n)
}

// print shows the channel as the demo leaves it: each message once, as it
// reads after its edits.
func (c *discordDemo) print(ctx context.Context, out io.Writer) error {
	if err := c.bot.Flush(ctx); err != nil {
		return err
	}
	msgs := c.fake.Messages(demoChannel)
	fmt.Fprintf(out, "Discord #agentorg (a fake Discord at %s): %d messages, each edited in place as its issue moved on\n", c.fake.URL(), len(msgs))
	for _, m := range msgs {
		if len(m.Embeds) == 0 {
			continue
		}
		e := m.Embeds[0]
		fmt.Fprintf(out, "\n  %s", e.Title)
		if len(m.Mentions) > 0 {
			fmt.Fprintf(out, "  (mentions @%s)", human)
		}
		fmt.Fprintf(out, "  [%d edits]\n", m.Edits)
		if e.Footer != nil {
			fmt.Fprintf(out, "    %s\n", e.Footer.Text)
		}
	}
	return nil
}
