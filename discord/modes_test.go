package discord_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/discord"
	"github.com/agentorg/agentorg/discord/discordfake"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

// On GitLab people approve in GitLab: the message links there and has no
// Approve button, and /agentorg approve says where to go instead.
func TestOnGitLabTheMessageLinksThere(t *testing.T) {
	fake, err := discordfake.Start(discordfake.Options{Token: token, Members: map[string]string{alice: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	gl := gitlabfake.New(t)
	gl.AddUser("alice", "", false)
	section := fmt.Sprintf("discord:\n  guild: %q\n  api_url: %s\n  channels: {default: %q}\n  users: {alice: %q}\n", guild, fake.URL(), channel, alice)
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", GitLab: gl, Edit: func(s string) string { return s + "\n" + section }})
	t.Setenv("DISCORD_BOT_TOKEN", token)
	e := &env{Org: org, fake: fake}
	e.logs = nil
	e.start(t)
	eng := e.Engine(t, app.EngineOptions{})
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	m := e.only(t, n)
	bs := buttons(t, m)
	want := fmt.Sprintf("%s/%s/-/issues/%d", gl.URL, gl.ProjectPath, n)
	if len(bs) == 0 || strings.Contains(strings.Join(bs, " "), "agentorg:approve") || !strings.Contains(strings.Join(bs, " "), want) {
		t.Fatalf("on GitLab the buttons are %v, want a link to %s and no Approve", bs, want)
	}
	in, err := fake.Slash(alice, channel, "approve", map[string]any{"issue": n})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.answer(t, in); !strings.Contains(r.Final, "approve and reject in GitLab") {
		t.Fatalf("/agentorg approve on GitLab: %+v", r)
	}
	if l := e.labels(t, n); !has(l, "plan:review") {
		t.Fatalf("#%d moved: %v", n, l)
	}
}

// Notification-only mode: an incoming webhook posts the notice and edits it
// as the issue moves on; a Slack-compatible one posts plain text once.
func TestWebhooks(t *testing.T) {
	for _, kind := range []string{"discord", "slack"} {
		t.Run(kind, func(t *testing.T) {
			fake, err := discordfake.Start(discordfake.Options{Token: token})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(fake.Close)
			hook := fake.Webhook(channel)
			if kind == "slack" {
				hook += "/slack"
			}
			t.Setenv("TEAM_WEBHOOK", hook)
			section := "discord:\n  webhook_env: TEAM_WEBHOOK\n  webhook_kind: " + kind + "\n"
			org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: func(s string) string { return s + "\n" + section }})
			e := &env{Org: org, fake: fake}
			e.start(t)
			eng := e.Engine(t, app.EngineOptions{})
			n := e.opened(t, eng, "Say hello")
			e.flush(t)
			ms := fake.Messages(channel)
			if len(ms) != 1 || ms[0].WebhookID == "" {
				t.Fatalf("webhook messages: %+v", ms)
			}
			if kind == "slack" {
				if !strings.Contains(ms[0].Content, fmt.Sprintf("#%d Say hello: plan waits for approval", n)) || !strings.Contains(ms[0].Content, "test -f hello.txt") {
					t.Fatalf("the Slack-compatible message: %q", ms[0].Content)
				}
			}
			if _, err := e.Humans.Approve(context.Background(), n, "alice"); err != nil {
				t.Fatal(err)
			}
			e.flush(t)
			e.flush(t)
			got, _ := fake.Message(ms[0].ID)
			switch {
			case kind == "discord" && (got.Edits == 0 || !strings.Contains(got.Embeds[0].Footer.Text, "approved by alice")):
				t.Fatalf("the webhook's message was not edited to the approval: %+v", got)
			case kind == "slack" && got.Edits != 0:
				t.Fatalf("a Slack-compatible message was edited: %+v", got)
			}
			if len(fake.Messages(channel)) != 1 {
				t.Fatalf("%d messages, want 1", len(fake.Messages(channel)))
			}
		})
	}
}

// doctor says what is wrong with the bot's setup, with a fix.
func TestDoctor(t *testing.T) {
	fake, err := discordfake.Start(discordfake.Options{Token: token, Members: map[string]string{alice: "alice"},
		Channels: map[string]string{channel: "agentorg", "300000000000000002": "quiet"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	section := fmt.Sprintf("discord:\n  guild: %q\n  api_url: %s\n  channels: {default: %q, e2e: \"300000000000000009\"}\n  users: {alice: %q, bob: %q}\n",
		guild, fake.URL(), channel, alice, bob)
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: func(s string) string { return s + "\n" + section }})
	ctx := context.Background()
	say := func(env map[string]string) string {
		var b strings.Builder
		for _, f := range discord.Doctor(ctx, org.Workflow, func(k string) string { return env[k] }) {
			fmt.Fprintf(&b, "%s: %s | %s\n", f.Level, f.What, f.Fix)
		}
		return b.String()
	}
	if got := say(nil); !strings.Contains(got, "problem: discord: $DISCORD_BOT_TOKEN is not set") {
		t.Fatalf("doctor without the token:\n%s", got)
	}
	if got := say(map[string]string{"DISCORD_BOT_TOKEN": "wrong"}); !strings.Contains(got, "problem: Discord refused the bot's token") || strings.Contains(got, "wrong") {
		t.Fatalf("doctor with a wrong token:\n%s", got)
	}
	got := say(map[string]string{"DISCORD_BOT_TOKEN": token})
	for _, want := range []string{
		"ok: Discord: the token is agentorg's",
		"ok: Discord: the bot is in guild",
		"ok: Discord: the bot can post in #agentorg",
		"problem: Discord: channel 300000000000000009: Unknown Channel",
		"ok: Discord: alice is <@" + alice + ">",
		"warning: Discord: bob's account " + bob + " is not a member of the guild",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("doctor does not say %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, token) {
		t.Fatalf("doctor printed the token:\n%s", got)
	}

	// A bot that may view but not post is told which permissions it lacks.
	mute, err := discordfake.Start(discordfake.Options{Token: token, BotPermissions: discordfake.PermViewChannel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mute.Close)
	org.Workflow.Discord.APIURL = mute.URL()
	if got := say(map[string]string{"DISCORD_BOT_TOKEN": token}); !strings.Contains(got, "problem: Discord: the bot lacks Send Messages, Embed Links, Read Message History in #agentorg") {
		t.Fatalf("doctor with a bot that may not post:\n%s", got)
	}
}

// Each kind goes to its channel, a muted kind to none; mentions are the
// gate's approvers only (bob is mapped but approves nowhere).
func TestRoutingAndMute(t *testing.T) {
	const reviews = "300000000000000002"
	fake, err := discordfake.Start(discordfake.Options{Token: token, Members: map[string]string{alice: "alice", bob: "bob"},
		Channels: map[string]string{channel: "agentorg", reviews: "reviews"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	section := fmt.Sprintf("discord:\n  guild: %q\n  api_url: %s\n  channels: {default: %q, merge_request: %q}\n  users: {alice: %q, bob: %q}\n  mute: [plan]\n",
		guild, fake.URL(), channel, reviews, alice, bob)
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: func(s string) string { return s + "\n" + section }})
	t.Setenv("DISCORD_BOT_TOKEN", token)
	e := &env{Org: org, fake: fake}
	e.start(t)
	eng := e.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := e.opened(t, eng, "Say hello")
	if _, err := e.Humans.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	e.flush(t)
	plans, mrs := fake.Messages(channel), fake.Messages(reviews)
	if len(plans) != 0 {
		t.Fatalf("#agentorg holds %+v, but plans are muted", plans)
	}
	if len(mrs) != 1 || !strings.Contains(mrs[0].Embeds[0].Title, "merge request") {
		t.Fatalf("#reviews holds %+v, want the merge request's notice alone", mrs)
	}
	for _, m := range append(plans, mrs...) {
		if len(m.Mentions) != 1 || m.Mentions[0] != alice {
			t.Fatalf("%q mentions %v, want alice alone (bob approves at no gate)", m.Embeds[0].Title, m.Mentions)
		}
	}
}

// Discord invalidates the session on a resume: the bot identifies again
// and goes on answering.
func TestInvalidSessionIdentifiesAgain(t *testing.T) {
	e := newEnv(t, setup{})
	eng := e.Engine(t, app.EngineOptions{})
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	m := e.only(t, n)
	e.fake.InvalidateNextResume()
	e.fake.Drop()
	if err := e.fake.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	in, err := e.fake.Click(alice, m.ID, button(t, m, "Approve"))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.answer(t, in); !strings.Contains(r.Final, "Approved") {
		t.Fatalf("after a new session: %+v", r)
	}
	if e.fake.Identifies() < 2 {
		t.Fatalf("identifies %d, resumes %d: the bot did not identify again", e.fake.Identifies(), e.fake.Resumes())
	}
}

// An E2E notice follows the target: the step of recovery that opens it
// again, recorded on another issue's run, edits the notice too.
func TestE2ENoticeFollowsTheTarget(t *testing.T) {
	e := newEnv(t, setup{})
	ctx := context.Background()
	a, err := e.People.CreateIssue(ctx, agentorg.NewIssue{Title: "Break E2E", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.People.CreateIssue(ctx, agentorg.NewIssue{Title: "Fix E2E", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	red := strings.Repeat("ab", 20)
	if err := e.Log.SetTarget(ctx, eventlog.Target{Branch: "main", Closed: true, RedSHA: red, Since: time.Now(), Reason: "E2E failed twice"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Log.Record(ctx, eventlog.Event{Issue: a.Number, Actor: "agentorg", Kind: eventlog.KindRecover, Reason: "E2E failed twice on main: closed",
		Data: map[string]string{"state": "closed", "target": "main", "head": red}}); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	m := e.only(t, a.Number)
	if m.Embeds[0].Footer == nil || !strings.Contains(m.Embeds[0].Footer.Text, "main closed since") {
		t.Fatalf("the E2E notice while the target is closed: %+v", m.Embeds[0])
	}
	// E2E passes again, in #2's run: the target opens.
	if err := e.Log.SetTarget(ctx, eventlog.Target{Branch: "main", GreenSHA: strings.Repeat("cd", 20)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Log.Record(ctx, eventlog.Event{Issue: b.Number, Actor: "agentorg", Kind: eventlog.KindRecover, Reason: "E2E passed on main: open again",
		Data: map[string]string{"state": "open", "target": "main"}}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the E2E notice edited when the target opened", func() bool {
		got, _ := e.fake.Message(m.ID)
		return got.Edits > 0 && got.Embeds[0].Footer != nil && !strings.Contains(got.Embeds[0].Footer.Text, "closed since")
	})
}
