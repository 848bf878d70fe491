package discord

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/agentorg/agentorg/notify"
	"github.com/agentorg/agentorg/workflow"
)

// message is what a notice becomes in a channel.
type message struct {
	Content    string
	Embed      *discordgo.MessageEmbed
	Components []discordgo.MessageComponent
	Mentions   []string // Discord user ids pinged (on the first post only: edits never ping)
	plain      string   // the notice as plain text, for Slack-compatible webhooks
}

// render turns a notice into a message: an embed with the notice's text
// and fields, the mentions of the people who may act, and, while the
// notice asks a decision that people make here (the embedded tracker),
// Approve and Reject buttons bound to what it shows. On GitLab people act
// in GitLab: the buttons link there instead.
func render(n notify.Notice, cfg workflow.Discord, actHere bool) message {
	m := message{plain: n.PlainText()}
	for _, u := range n.Mentions {
		if id := cfg.Users[u]; id != "" && !slices.Contains(m.Mentions, id) {
			m.Mentions = append(m.Mentions, id)
		}
	}
	var ping []string
	for _, id := range m.Mentions {
		ping = append(ping, "<@"+id+">")
	}
	m.Content = strings.Join(ping, " ")
	e := &discordgo.MessageEmbed{Title: n.Title, URL: n.URL, Description: n.Text, Color: n.Color}
	for _, f := range n.Fields {
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: f.Name, Value: f.Value, Inline: f.Inline})
	}
	if n.Status != "" {
		e.Footer = &discordgo.MessageEmbedFooter{Text: n.Status}
	}
	m.Embed = e
	var row []discordgo.MessageComponent
	if n.Ask != nil && !n.Closed && actHere {
		row = append(row,
			discordgo.Button{Label: "Approve", Style: discordgo.SuccessButton, CustomID: actionID{Verb: "approve", Issue: n.Issue, Gate: n.Ask.Gate, Bind: bind(n.Ask)}.String()},
			discordgo.Button{Label: "Reject", Style: discordgo.DangerButton, CustomID: actionID{Verb: "reject", Issue: n.Issue, Gate: n.Ask.Gate, Bind: bind(n.Ask)}.String()})
	}
	for _, l := range n.Links {
		if len(row) == 5 { // Discord's limit per row
			break
		}
		if strings.HasPrefix(l.URL, "http://") || strings.HasPrefix(l.URL, "https://") {
			row = append(row, discordgo.Button{Label: cut(l.Label, 80), Style: discordgo.LinkButton, URL: l.URL})
		}
	}
	if len(row) > 0 {
		m.Components = []discordgo.MessageComponent{discordgo.ActionsRow{Components: row}}
	} else {
		m.Components = []discordgo.MessageComponent{} // an edit that removes the buttons
	}
	return m
}

// bind is what an action is bound to: the merge request's head or the
// plan's version the message showed.
func bind(a *notify.Ask) string {
	if a.Head != "" {
		return a.Head
	}
	return a.Plan
}

// hash is a digest of what the message shows: a notice is edited only
// when it changes.
func (m message) hash() string {
	b, _ := json.Marshal(struct {
		E *discordgo.MessageEmbed
		C []discordgo.MessageComponent
	}{m.Embed, m.Components})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// send is the message as a new post: it pings its mentions and nobody else.
func (m message) send(nonce string) sendMessage {
	return sendMessage{
		Content:         m.Content,
		Embeds:          []*discordgo.MessageEmbed{m.Embed},
		Components:      m.Components,
		AllowedMentions: &discordgo.MessageAllowedMentions{Users: nonNil(m.Mentions)},
		Nonce:           nonce,
		EnforceNonce:    nonce != "",
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// actionID is a button's or modal's custom_id: what a click asks for and
// what the message showed when it was posted.
type actionID struct {
	Verb  string // approve, reject (the button), reason (the rejection's modal)
	Issue int64
	Gate  string
	Bind  string
}

const idPrefix = "agentorg"

func (a actionID) String() string {
	return fmt.Sprintf("%s:%s:%d:%s:%s", idPrefix, a.Verb, a.Issue, a.Gate, a.Bind)
}

func parseActionID(s string) (actionID, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 5 || parts[0] != idPrefix {
		return actionID{}, fmt.Errorf("%q is not one of agentorg's buttons", s)
	}
	n, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || n < 1 {
		return actionID{}, fmt.Errorf("%q names no issue", s)
	}
	return actionID{Verb: parts[1], Issue: n, Gate: parts[3], Bind: parts[4]}, nil
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
