package discordfake

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

const testChannel = "300000000000000001"

// rewrite sends https://discord.com requests to the fake.
type rewrite struct{ base *url.URL }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	if r2.URL.Host == "discord.com" {
		r2.URL.Scheme, r2.URL.Host, r2.Host = rw.base.Scheme, rw.base.Host, ""
	}
	return http.DefaultTransport.RoundTrip(r2)
}

func startFake(t *testing.T, o Options) *Fake {
	t.Helper()
	f, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func newSession(t *testing.T, f *Fake) *discordgo.Session {
	t.Helper()
	s, err := discordgo.New("Bot x")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(f.URL())
	s.Client = &http.Client{Transport: rewrite{base}, Timeout: 10 * time.Second}
	s.Identify.Intents = discordgo.IntentsGuilds
	return s
}

func TestDiscordgoInterop(t *testing.T) {
	f := startFake(t, Options{Token: "x", Members: map[string]string{"500000000000000001": "alice"},
		HeartbeatInterval: 250 * time.Millisecond, InteractionDeadline: 10 * time.Second})
	o := f.Options()
	s := newSession(t, f)
	// Handlers copy what they need: discordgo's state rewrites the guilds
	// READY and GUILD_CREATE point to.
	ready := make(chan string, 1)
	s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) {
		ready <- r.User.ID + "/" + strconv.Itoa(len(r.Guilds)) + "/" + strconv.FormatBool(r.SessionID != "")
	})
	guilds := make(chan string, 1)
	s.AddHandler(func(_ *discordgo.Session, g *discordgo.GuildCreate) {
		guilds <- g.ID + "/" + strconv.Itoa(len(g.Channels)) + "/" + strconv.Itoa(len(g.Roles))
	})
	got := make(chan *discordgo.InteractionCreate, 10)
	respErr := make(chan error, 10)
	s.AddHandler(func(s *discordgo.Session, i *discordgo.InteractionCreate) {
		got <- i
		respErr <- s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: "ack " + i.MessageComponentData().CustomID},
		})
	})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case r := <-ready:
		if r != o.BotUserID+"/1/true" {
			t.Fatalf("READY user/guilds/session = %s", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no READY")
	}
	if err := f.WaitConnected(time.Second); err != nil {
		t.Fatal(err)
	}
	// Until GUILD_CREATE, discordgo's state holds READY's unavailable guild
	// without roles, as against Discord.
	select {
	case g := <-guilds:
		if g != o.GuildID+"/1/1" {
			t.Fatalf("GUILD_CREATE id/channels/roles = %s", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no GUILD_CREATE")
	}

	perms, err := s.UserChannelPermissions(o.BotUserID, testChannel)
	if err != nil || perms != DefaultBotPermissions {
		t.Fatalf("UserChannelPermissions = %d, %v; want %d", perms, err, DefaultBotPermissions)
	}
	// Over REST only, as a bot without state would.
	perms, err = newSession(t, f).UserChannelPermissions(o.BotUserID, testChannel)
	if err != nil || perms != DefaultBotPermissions {
		t.Fatalf("REST UserChannelPermissions = %d, %v; want %d", perms, err, DefaultBotPermissions)
	}
	if f.Requests("GET /guilds/{id}/members/{id}") != 1 || f.Requests("GET /channels/{id}") != 1 {
		t.Errorf("routes = %v", f.Routes())
	}

	msg, err := s.ChannelMessageSendComplex(testChannel, &discordgo.MessageSend{
		Content: "hello <@500000000000000001>",
		Embeds:  []*discordgo.MessageEmbed{{Title: "Run", Description: "green", Fields: []*discordgo.MessageEmbedField{{Name: "k", Value: "v"}}}},
		Components: []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: "Approve", Style: discordgo.PrimaryButton, CustomID: "approve"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Author.ID != o.BotUserID || len(msg.Components) != 1 || len(msg.Embeds) != 1 {
		t.Fatalf("sent message = %+v", msg)
	}
	ms := f.Messages(testChannel)
	if len(ms) != 1 || ms[0].ID != msg.ID || ms[0].Content != "hello <@500000000000000001>" ||
		len(ms[0].Mentions) != 1 || ms[0].Embeds[0].Fields[0].Value != "v" {
		t.Fatalf("Messages = %+v", ms)
	}
	if _, err := s.ChannelMessageEdit(testChannel, msg.ID, "hello again"); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message(msg.ID); m.Content != "hello again" || m.Edits != 1 || m.Edited.IsZero() {
		t.Fatalf("edited = %+v", m)
	}

	in, err := f.Click("500000000000000001", msg.ID, "approve")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case i := <-got:
		if i.ID != in.ID || i.Member.User.ID != "500000000000000001" || i.Message.ID != msg.ID {
			t.Fatalf("interaction = %+v", i.Interaction)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no INTERACTION_CREATE")
	}
	if err := <-respErr; err != nil {
		t.Fatal(err)
	}
	r, err := f.Response(in.ID, 5*time.Second)
	if err != nil || r.Type != 4 || r.Content != "ack approve" || r.Final != "ack approve" {
		t.Fatalf("Response = %+v, %v", r, err)
	}
	if n := len(f.Messages(testChannel)); n != 2 {
		t.Fatalf("%d messages after a type 4 response, want 2", n)
	}

	// Drop the connection; an interaction dispatched meanwhile arrives once,
	// on RESUME.
	f.Drop()
	in2, err := f.Click("500000000000000001", msg.ID, "approve")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case i := <-got:
		if i.ID != in2.ID {
			t.Fatalf("got interaction %s, want %s", i.ID, in2.ID)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("interaction dispatched while dropped never arrived")
	}
	if err := <-respErr; err != nil {
		t.Fatal(err)
	}
	if f.Resumes() != 1 || f.Identifies() != 1 {
		t.Fatalf("resumes %d identifies %d, want 1 and 1", f.Resumes(), f.Identifies())
	}
	if _, err := f.Response(in2.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case i := <-got:
		t.Fatalf("interaction %s delivered twice", i.ID)
	case <-time.After(100 * time.Millisecond):
	}

	// An invalidated resume makes discordgo IDENTIFY again.
	f.InvalidateNextResume()
	f.Drop()
	deadline := time.Now().Add(8 * time.Second)
	for f.Identifies() < 2 || !f.Connected() {
		if time.Now().After(deadline) {
			t.Fatalf("no re-IDENTIFY after INVALID_SESSION: identifies %d", f.Identifies())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f.Resumes() != 1 {
		t.Fatalf("resumes = %d, want 1", f.Resumes())
	}
}

func TestDiscordgoRateLimits(t *testing.T) {
	f := startFake(t, Options{Token: "x", RouteLimit: 2, RouteWindow: 200 * time.Millisecond})
	s := newSession(t, f)
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := s.ChannelMessageSend(testChannel, "m"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := len(f.Messages(testChannel)); n != 5 {
		t.Fatalf("%d messages, want 5", n)
	}
	// Five requests at two a window take at least two windows unless the
	// fake answered 429s that discordgo then waited out.
	if f.RateLimited() == 0 && time.Since(start) < 400*time.Millisecond {
		t.Fatalf("five sends in %v without a 429: remaining headers not honoured", time.Since(start))
	}
}
