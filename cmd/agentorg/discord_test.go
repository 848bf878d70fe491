package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/discord/discordfake"
	"github.com/agentorg/agentorg/store"
)

// serve with a discord section speaks in Discord as a user would run it:
// the token from the environment (refused without it), the plan's notice
// posted once across restarts, doctor checking the bot.
func TestServeSpeaksInDiscord(t *testing.T) {
	const token = "serve-bot-token-0123456789"
	fake, err := discordfake.Start(discordfake.Options{Token: token, Members: map[string]string{"400000000000000001": "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	o := newScriptedOrg(t, store.SQLite, `
steps:
  - match: {role: pm}
    summary: "Add hello.txt.\n\n## Acceptance criteria\n- [ ] `+"`test -f hello.txt`"+` passes"
`, "true", "true")
	section := fmt.Sprintf("\ndiscord:\n  guild: \"200000000000000001\"\n  channels: {default: \"300000000000000001\"}\n  users: {alice: \"400000000000000001\"}\n  api_url: %s\n", fake.URL())
	f, err := os.OpenFile(o.wf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(section)
	f.Close()
	withToken := append(append([]string{}, o.env...), "DISCORD_BOT_TOKEN="+token)

	if r := run(t, o.dir, o.env, "issue", "new", "--title", "Say hello", "--opt-in", "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: %s", r.stderr)
	}
	if r := run(t, o.dir, o.env, "serve", "--once"); r.code == 0 || !strings.Contains(r.stderr, "discord: $DISCORD_BOT_TOKEN is not set") {
		t.Fatalf("serve without the bot's token: exit %d\n%s", r.code, r.stderr)
	}
	for i := 0; i < 2; i++ { // the second run is a restart: it posts nothing again
		r := run(t, o.dir, withToken, "serve", "--once")
		if r.code != 0 || !strings.Contains(r.stderr, "Discord: the bot posts to guild 200000000000000001") {
			t.Fatalf("serve --once: exit %d\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr+r.stdout, token) {
			t.Fatalf("serve printed the token:\n%s", r.stderr)
		}
		ms := fake.Messages("300000000000000001")
		if len(ms) != 1 || !strings.HasPrefix(ms[0].Embeds[0].Title, "#1 Say hello: plan waits for approval") || len(ms[0].Mentions) != 1 {
			t.Fatalf("run %d: the channel holds %+v", i+1, ms)
		}
	}
	r := run(t, o.dir, withToken, "doctor", "--skip-checks")
	if !strings.Contains(r.stdout, "ok: Discord: the bot can post in #agentorg") || !strings.Contains(r.stdout, "ok: Discord: alice is <@400000000000000001>") {
		t.Fatalf("doctor:\n%s%s", r.stdout, r.stderr)
	}
}

// agentorg demo --discord shows the channel a newcomer would see: alice
// approves each plan from its button, and every message is printed once,
// as it reads after its edits.
func TestDemoInDiscord(t *testing.T) {
	r := run(t, t.TempDir(), nil, "demo", "--discord")
	if r.code != 0 {
		t.Fatalf("demo --discord: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"alice approves the plan of #1 with Approve in Discord: \"Approved #1 at gate plan as alice.\"",
		"Discord #agentorg (a fake Discord at http://127.0.0.1:",
		"#1 Add a Sub function: plan approved  (mentions @alice)",
		"approved by alice via Discord at ",
		"#3 Add Div that refuses division by zero: needs a human  (mentions @alice)",
		"#5 Release: release v0.1.0 approved  (mentions @alice)",
		"OK in ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("demo --discord does not say %q:\n%s", want, r.stdout)
		}
	}
}
