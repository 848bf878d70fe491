package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/notify"
	"github.com/agentorg/agentorg/workflow"
)

// commands is /agentorg with its subcommands, registered in the guild.
func commands() []*discordgo.ApplicationCommand {
	issue := func(required bool) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionInteger, Name: "issue", Description: "the issue's number", Required: required, MinValue: ptr(1.0)}
	}
	return []*discordgo.ApplicationCommand{{
		Name:        "agentorg",
		Description: "The engineering organization: approve, reject, status",
		Options: []*discordgo.ApplicationCommandOption{
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "approve", Description: "Approve what an issue waits for (its plan, or its merge request at head)",
				Options: []*discordgo.ApplicationCommandOption{issue(true)}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "reject", Description: "Reject what an issue waits for, with the reason the agent is told",
				Options: []*discordgo.ApplicationCommandOption{issue(true),
					{Type: discordgo.ApplicationCommandOptionString, Name: "reason", Description: "what to change", Required: true}}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "status", Description: "The board, or one issue",
				Options: []*discordgo.ApplicationCommandOption{issue(false)}},
		},
	}}
}

func ptr[T any](v T) *T { return &v }

// interactionDeadline bounds the work an interaction starts: Discord takes
// the deferred answer's edit for 15 minutes.
const interactionDeadline = 5 * time.Minute

// interact answers an interaction. Whatever acts is acknowledged at once
// (a deferred, ephemeral answer: Discord wants one within 3 seconds) and
// edited with the outcome when the work is done; only the asker sees it.
func (b *Bot) interact(s *discordgo.Session, i *discordgo.InteractionCreate) {
	ctx, cancel := context.WithTimeout(context.Background(), interactionDeadline)
	defer cancel()
	in := i.Interaction
	uid := discordUser(in)
	d := b.cfg.Workflow.Discord
	if in.GuildID != d.Guild {
		b.reply(s, in, "agentorg answers in its guild only.")
		return
	}
	switch in.Type {
	case discordgo.InteractionMessageComponent:
		a, err := parseActionID(in.MessageComponentData().CustomID)
		if err != nil {
			b.reply(s, in, err.Error())
			return
		}
		switch a.Verb {
		case "approve":
			b.act(ctx, s, in, uid, a, "")
		case "reject":
			// The reason comes from a modal, which must be the answer
			// itself (it cannot follow a deferred one): say no to an
			// unmapped person first, the gate's rules come on submit.
			if _, ok := d.UserByDiscordID(uid); !ok {
				b.reply(s, in, unmapped(uid))
				return
			}
			a.Verb = "reason"
			err := s.InteractionRespond(in, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseModal, Data: &discordgo.InteractionResponseData{
				CustomID: a.String(), Title: cut(fmt.Sprintf("Reject #%d at gate %s", a.Issue, a.Gate), 45),
				Components: []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
					discordgo.TextInput{CustomID: "reason", Label: "What should change?", Style: discordgo.TextInputParagraph, Required: true, MinLength: 1, MaxLength: 4000},
				}}},
			}})
			if err != nil {
				b.cfg.Warn("discord: answering a reject button: " + secrets.Redact(err.Error()))
			}
		default:
			b.reply(s, in, fmt.Sprintf("%q is not one of agentorg's buttons", a.Verb))
		}
	case discordgo.InteractionModalSubmit:
		data := in.ModalSubmitData()
		a, err := parseActionID(data.CustomID)
		if err != nil || a.Verb != "reason" {
			b.reply(s, in, "not one of agentorg's forms")
			return
		}
		a.Verb = "reject"
		b.act(ctx, s, in, uid, a, modalValue(data.Components, "reason"))
	case discordgo.InteractionApplicationCommand:
		data := in.ApplicationCommandData()
		if data.Name != "agentorg" || len(data.Options) != 1 {
			b.reply(s, in, "unknown command")
			return
		}
		sub := data.Options[0]
		var issue int64
		var reason string
		for _, o := range sub.Options {
			switch o.Name {
			case "issue":
				issue = o.IntValue()
			case "reason":
				reason = o.StringValue()
			}
		}
		switch sub.Name {
		case "approve", "reject":
			b.act(ctx, s, in, uid, actionID{Verb: sub.Name, Issue: issue}, reason)
		case "status":
			b.status(ctx, s, in, issue)
		default:
			b.reply(s, in, fmt.Sprintf("unknown subcommand %q: approve, reject or status", sub.Name))
		}
	}
}

// act approves or rejects for the person behind a Discord interaction,
// under the gate's rules, bound to what the message showed (a slash
// command shows nothing: it acts on the issue as it is, like the CLI). A
// replayed interaction acts once.
func (b *Bot) act(ctx context.Context, s *discordgo.Session, in *discordgo.Interaction, uid string, a actionID, reason string) {
	first, err := b.cfg.Log.FirstInteraction(ctx, in.ID, uid)
	if err != nil {
		b.reply(s, in, "Not done: "+err.Error())
		return
	}
	if !first {
		// A replay: Discord refuses a second answer to it, so the first
		// answer stays what the person sees; it is recorded, not acted on.
		b.reply(s, in, b.refuse(ctx, in, uid, a, "this interaction was already handled (a replay): nothing was done again"))
		return
	}
	if err := s.InteractionRespond(in, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}}); err != nil {
		// Too late for Discord: the person sees that it failed; the act is
		// still done (and its outcome told in the channel's message).
		b.cfg.Warn("discord: acknowledging an interaction: " + secrets.Redact(err.Error()))
	}
	answer := b.decide(ctx, in, uid, a, reason)
	if _, err := s.InteractionResponseEdit(in, &discordgo.WebhookEdit{Content: ptr(cut(answer, 2000))}); err != nil {
		b.cfg.Warn("discord: answering an interaction: " + secrets.Redact(err.Error()))
	}
	b.notifier.Wake()
}

// refuse records that an interaction was refused, and why, and says so.
func (b *Bot) refuse(ctx context.Context, in *discordgo.Interaction, uid string, a actionID, why string) string {
	log := b.cfg.Log
	done := "Not approved"
	if a.Verb == "reject" {
		done = "Not rejected"
	}
	who, ok := b.cfg.Workflow.Discord.UserByDiscordID(uid)
	if !ok {
		who = "discord:" + uid
	}
	_ = log.Record(ctx, eventlog.Event{Issue: a.Issue, Actor: who, Kind: eventlog.KindRefused,
		Reason: fmt.Sprintf("%s via Discord: %s", strings.ToLower(done), why),
		Data:   map[string]string{"via": "Discord", "interaction": in.ID, "discord_user": uid}})
	_ = log.InteractionOutcome(ctx, in.ID, why)
	return done + ": " + why
}

// decide does what the interaction asks and says how it went.
func (b *Bot) decide(ctx context.Context, in *discordgo.Interaction, uid string, a actionID, reason string) string {
	wf, log := b.cfg.Workflow, b.cfg.Log
	user, mapped := wf.Discord.UserByDiscordID(uid)
	refuse := func(why string) string { return b.refuse(ctx, in, uid, a, why) }
	if !mapped {
		return refuse(unmapped(uid))
	}
	if wf.Tracker.Kind == workflow.TrackerGitLab {
		return refuse("on GitLab people approve and reject in GitLab itself (the message links there): agentorg never acts as a person in GitLab")
	}
	if a.Issue < 1 {
		return refuse("name the issue: /agentorg approve issue:N")
	}
	desk := &human.Desk{Workflow: wf, Tracker: b.cfg.Tracker, Log: log, Identity: "discord", Via: "Discord",
		Data: map[string]string{"interaction": in.ID, "discord_user": uid}}
	var shown *human.Shown
	if a.Gate != "" {
		shown = &human.Shown{Gate: a.Gate}
		if g := wf.Gate(a.Gate); g != nil && g.MergeRequest {
			shown.Head = a.Bind
		} else {
			shown.Plan = a.Bind
		}
	}
	var g *workflow.Gate
	var err error
	switch {
	case a.Verb == "approve" && shown != nil:
		g, err = desk.ApproveShown(ctx, a.Issue, user, *shown)
	case a.Verb == "approve":
		g, err = desk.Approve(ctx, a.Issue, user)
	case strings.TrimSpace(reason) == "":
		return refuse("a rejection needs a reason: it is what the agent is told to change")
	case shown != nil:
		g, err = desk.RejectShown(ctx, a.Issue, user, reason, *shown)
	default:
		g, err = desk.Reject(ctx, a.Issue, user, reason)
	}
	if err != nil {
		var moved *human.MovedError
		var notAllowed *human.NotAllowedError
		if errors.As(err, &moved) || errors.As(err, &notAllowed) || errors.Is(err, agentorg.ErrNotFound) {
			return refuse(err.Error())
		}
		return refuse("it failed: " + err.Error())
	}
	outcome := fmt.Sprintf("Approved #%d at gate %s as %s.", a.Issue, g.Name, user)
	if a.Verb == "reject" {
		outcome = fmt.Sprintf("Rejected #%d at gate %s as %s; the agent is given your reason.", a.Issue, g.Name, user)
	}
	_ = log.InteractionOutcome(ctx, in.ID, outcome)
	return outcome
}

// status answers /agentorg status [N] with the digest, to the asker only.
func (b *Bot) status(ctx context.Context, s *discordgo.Session, in *discordgo.Interaction, issue int64) {
	if err := s.InteractionRespond(in, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}}); err != nil {
		b.cfg.Warn("discord: acknowledging /agentorg status: " + secrets.Redact(err.Error()))
		return
	}
	edit := &discordgo.WebhookEdit{}
	n, err := notify.Digest(ctx, b.notifier.src, issue)
	if err != nil {
		edit.Content = ptr("The status could not be read: " + err.Error())
	} else {
		m := render(n, b.cfg.Workflow.Discord, false)
		edit.Embeds = &[]*discordgo.MessageEmbed{m.Embed}
	}
	if _, err := s.InteractionResponseEdit(in, edit); err != nil {
		b.cfg.Warn("discord: answering /agentorg status: " + secrets.Redact(err.Error()))
	}
}

// reply answers an interaction at once, to the asker only.
func (b *Bot) reply(s *discordgo.Session, in *discordgo.Interaction, text string) {
	err := s.InteractionRespond(in, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: cut(text, 2000), Flags: discordgo.MessageFlagsEphemeral}})
	if err != nil {
		b.cfg.Warn("discord: answering an interaction: " + secrets.Redact(err.Error()))
	}
}

func discordUser(in *discordgo.Interaction) string {
	if in.Member != nil && in.Member.User != nil {
		return in.Member.User.ID
	}
	if in.User != nil {
		return in.User.ID
	}
	return ""
}

func unmapped(uid string) string {
	return fmt.Sprintf("your Discord account (%s) is not mapped to a tracker user: a maintainer adds it under discord.users in the workflow", uid)
}

// modalValue is the text typed into a modal's input id.
func modalValue(rows []discordgo.MessageComponent, id string) string {
	for _, r := range rows {
		row, ok := r.(*discordgo.ActionsRow)
		if !ok {
			continue
		}
		for _, c := range row.Components {
			if t, ok := c.(*discordgo.TextInput); ok && t.CustomID == id {
				return t.Value
			}
		}
	}
	return ""
}
