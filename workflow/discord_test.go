package workflow

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// parseDiscord parses the test base with section appended; markers in the
// result stand where problems or warnings must point.
func parseDiscord(t *testing.T, edits []edit, section string) (*Workflow, error, []Position) {
	t.Helper()
	src, pos := mark(applyEdits(t, readBase(t), edits) + section)
	w, err := Parse("wf.yaml", []byte(src), testEnv)
	return w, err, pos
}

func TestDiscordBotMode(t *testing.T) {
	var looked []string
	env := func(name string) (string, bool) {
		looked = append(looked, name)
		return testEnv(name)
	}
	src := readBase(t) + `discord:
  guild: "100000000000000001"
  channels:
    default: "200000000000000001"
    escalation: 200000000000000002
  users:
    alice: "300000000000000001"
    bob: 300000000000000002
  mute: [digest]
  dashboard_url: https://dash.example.com/
  api_url: http://127.0.0.1:8090/
`
	w, err := Parse("wf.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	want := Discord{
		TokenEnv: "DISCORD_BOT_TOKEN",
		Guild:    "100000000000000001",
		Channels: map[string]string{"default": "200000000000000001", "escalation": "200000000000000002"},
		Users:    map[string]string{"alice": "300000000000000001", "bob": "300000000000000002"},
		Mute:     []string{"digest"},
		// Without the trailing slash, for paths to be appended.
		DashboardURL: "https://dash.example.com",
		APIURL:       "http://127.0.0.1:8090",
	}
	if !reflect.DeepEqual(w.Discord, want) {
		t.Errorf("discord = %+v\nwant %+v", w.Discord, want)
	}
	if len(w.Warnings) != 0 {
		t.Errorf("warnings: %v", w.Warnings)
	}
	if !w.Discord.Enabled() || !w.Discord.BotMode() {
		t.Errorf("Enabled %v, BotMode %v", w.Discord.Enabled(), w.Discord.BotMode())
	}
	// The token is read when the bot starts, not here.
	if slices.ContainsFunc(looked, func(n string) bool { return strings.Contains(n, "DISCORD") }) {
		t.Errorf("Parse looked up %v", looked)
	}

	// Another variable, Discord's own URL by default, and a channel for
	// each kind not muted instead of a default one.
	w, err = Parse("wf.yaml", []byte(readBase(t)+`discord:
  token_env: MY_BOT_TOKEN
  guild: 1
  channels: {plan: 2, merge_request: 3, escalation: 4, e2e: 5}
  mute: [digest]
  users: {alice: 6, bob: 7}
`), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want = Discord{TokenEnv: "MY_BOT_TOKEN", Guild: "1",
		Channels: map[string]string{"plan": "2", "merge_request": "3", "escalation": "4", "e2e": "5"},
		Users:    map[string]string{"alice": "6", "bob": "7"}, Mute: []string{"digest"}, APIURL: "https://discord.com"}
	if !reflect.DeepEqual(w.Discord, want) {
		t.Errorf("discord = %+v\nwant %+v", w.Discord, want)
	}
}

func TestDiscordWebhookMode(t *testing.T) {
	for _, tc := range []struct {
		section string
		want    Discord
	}{
		{
			"discord:\n  webhook_env: DISCORD_WEBHOOK_URL\n  users: {alice: \"42\"}\n  mute: [e2e, digest]\n",
			Discord{WebhookEnv: "DISCORD_WEBHOOK_URL", WebhookKind: "discord", Users: map[string]string{"alice": "42"}, Mute: []string{"e2e", "digest"}},
		},
		{
			"discord:\n  webhook_env: SLACK_HOOK\n  webhook_kind: slack\n  dashboard_url: http://dash:8080\n",
			Discord{WebhookEnv: "SLACK_HOOK", WebhookKind: "slack", DashboardURL: "http://dash:8080"},
		},
	} {
		w, err := Parse("wf.yaml", []byte(readBase(t)+tc.section), testEnv)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(w.Discord, tc.want) {
			t.Errorf("discord = %+v\nwant %+v", w.Discord, tc.want)
		}
		if !w.Discord.Enabled() || w.Discord.BotMode() {
			t.Errorf("Enabled %v, BotMode %v", w.Discord.Enabled(), w.Discord.BotMode())
		}
		// No approvals from a webhook, so no warning about approvers.
		if len(w.Warnings) != 0 {
			t.Errorf("warnings: %v", w.Warnings)
		}
	}
}

func TestDiscordAbsent(t *testing.T) {
	for _, section := range []string{"", "discord:\n", "discord: {}\n"} {
		w, err := Parse("wf.yaml", []byte(readBase(t)+section), testEnv)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(w.Discord, Discord{}) || w.Discord.Enabled() || w.Discord.BotMode() {
			t.Errorf("%q: discord = %+v", section, w.Discord)
		}
	}
}

func TestDiscordProblems(t *testing.T) {
	tests := []struct {
		name    string
		section string
		want    []string
	}{
		{
			name:    "the token itself",
			section: "discord:\n  «token: abcdefghijklmnop.qrstuv\n  guild: 1\n  channels: {default: 2}\n",
			want:    []string{"discord.token: the bot token never goes in the workflow file; put it in $DISCORD_BOT_TOKEN (or name another variable with discord.token_env)"},
		},
		{
			name:    "bot_token",
			section: "discord:\n  «bot_token: $DISCORD_BOT_TOKEN\n  guild: 1\n  channels: {default: 2}\n",
			want:    []string{"discord.bot_token: the bot token never goes in the workflow file; put it in $DISCORD_BOT_TOKEN (or name another variable with discord.token_env)"},
		},
		{
			name:    "the webhook URL itself",
			section: "discord:\n  «webhook_url: https://discord.com/api/webhooks/1/secret\n",
			want:    []string{"discord.webhook_url: the webhook URL never goes in the workflow file (whoever has it can post); put it in an environment variable and name that variable with discord.webhook_env"},
		},
		{
			name:    "variable names",
			section: "discord:\n  token_env: «$DISCORD_BOT_TOKEN\n  guild: 1\n  channels: {default: 2}\n",
			want:    []string{"discord.token_env is the variable's name, without $: write DISCORD_BOT_TOKEN"},
		},
		{
			name:    "a value for a name",
			section: "discord:\n  token_env: «MTIzNDU2.Gh7x-abc\n  guild: 1\n  channels: {default: 2}\n",
			want:    []string{"discord.token_env must name an environment variable (capitals, digits and _, such as DISCORD_BOT_TOKEN), never hold the secret itself"},
		},
		{
			name:    "a webhook value for a name",
			section: "discord:\n  webhook_env: «https://hooks.slack.com/services/T/B/x\n",
			want:    []string{"discord.webhook_env must name an environment variable (capitals, digits and _, such as DISCORD_WEBHOOK_URL), never hold the secret itself"},
		},
		{
			name:    "typo",
			section: "«discord:\n  «gild: 1\n  channels: {default: 2}\n",
			want: []string{
				"discord (bot mode) needs guild: the id of the Discord server the bot posts in",
				`unknown key "gild" in discord (did you mean "guild"?)`,
			},
		},
		{
			name:    "ids and kinds",
			section: "discord:\n  guild: «server\n  channels:\n    default: «general\n    «merge_requests: 3\n  users:\n    alice: «{id: 4}\n    bob: «-5\n  mute: [«digets]\n",
			want: []string{
				`discord.guild must be a Discord id, a number (snowflake) such as "123456789012345678", not the string "server"`,
				`discord.channels.default must be a Discord id, a number (snowflake) such as "123456789012345678", not the string "general"`,
				`unknown notice kind "merge_requests" in discord.channels (known: default, plan, merge_request, escalation, e2e, digest, release, deploy) (did you mean "merge_request"?)`,
				`alice in users in discord must be a string, not a mapping`,
				`discord.users.bob must be a Discord id, a number (snowflake) such as "123456789012345678", not the integer -5`,
				`unknown notice kind "digets" in discord.mute (known: plan, merge_request, escalation, e2e, digest, release, deploy) (did you mean "digest"?)`,
			},
		},
		{
			name:    "one Discord id for two users",
			section: "discord:\n  guild: 1\n  channels: {default: 2}\n  users:\n    alice: 3\n    bob: «3\n",
			want:    []string{`discord.users maps Discord id 3 to both "alice" (line 65) and "bob": an approval from it would be whose?`},
		},
		{
			name:    "URLs",
			section: "discord:\n  guild: 1\n  channels: {default: 2}\n  dashboard_url: «dash.example.com\n  api_url: «ftp://discord.com\n",
			want: []string{
				`discord.dashboard_url must be an absolute http or https URL such as https://agentorg.example.com, not "dash.example.com"`,
				`discord.api_url must be an absolute http or https URL such as http://127.0.0.1:8090, not "ftp://discord.com"`,
			},
		},
		{
			name:    "channels not covering every kind",
			section: "discord:\n  guild: 1\n  «channels: {plan: 2, escalation: 3}\n  mute: [digest]\n",
			want:    []string{"discord (bot mode) has no channel for merge_request or e2e notices: add a default channel under discord.channels, or one for each kind (or mute it)"},
		},
		{
			name:    "no channels at all",
			section: "«discord:\n  token_env: BOT\n  guild: 1\n",
			want:    []string{"discord (bot mode) has no channel for plan, merge_request, escalation, e2e or digest notices: add a default channel under discord.channels, or one for each kind (or mute it)"},
		},
		{
			name:    "bot keys in webhook mode",
			section: "discord:\n  webhook_env: HOOK\n  «token_env: BOT\n  «guild: 1\n  «channels: {default: 2}\n  «api_url: http://x\n",
			want: []string{
				"discord.token_env and discord.webhook_env are two modes; keep one: token_env for a bot (posts, takes approvals), webhook_env for notifications only",
				"discord.guild belongs to bot mode, but discord.webhook_env sets webhook mode (notifications only, posted where the webhook points): remove guild, or remove webhook_env to run a bot",
				"discord.channels belongs to bot mode, but discord.webhook_env sets webhook mode (notifications only, posted where the webhook points): remove channels, or remove webhook_env to run a bot",
				"discord.api_url belongs to bot mode, but discord.webhook_env sets webhook mode (notifications only, posted where the webhook points): remove api_url, or remove webhook_env to run a bot",
			},
		},
		{
			name:    "webhook kinds",
			section: "discord:\n  webhook_env: HOOK\n  webhook_kind: «slak\n",
			want:    []string{`discord.webhook_kind must be discord or slack, not "slak" (did you mean "slack"?)`},
		},
		{
			name:    "users on a slack webhook",
			section: "discord:\n  webhook_env: HOOK\n  webhook_kind: slack\n  «users: {alice: 1}\n",
			want:    []string{"discord.users maps tracker users to Discord ids, which a slack webhook cannot mention: remove users, or use webhook_kind discord"},
		},
		{
			name:    "webhook kind for a bot",
			section: "discord:\n  guild: 1\n  channels: {default: 2}\n  «webhook_kind: discord\n",
			want:    []string{"discord.webhook_kind belongs to webhook mode (discord.webhook_env); a bot always posts to Discord"},
		},
		{
			name:    "no mode",
			section: "«discord:\n  mute: [digest]\n  users: {alice: 1}\n",
			want:    []string{"discord has no way to post: give guild and channels (bot mode, the token in $DISCORD_BOT_TOKEN) or webhook_env (notifications only)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err, marks := parseDiscord(t, nil, tc.section)
			if len(marks) != len(tc.want) {
				t.Fatalf("test has %d markers for %d expected problems", len(marks), len(tc.want))
			}
			if w != nil {
				t.Fatalf("Parse returned a workflow: %+v", w.Discord)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse error = %v (%T), want Problems", err, err)
			}
			var want Problems
			for i, m := range tc.want {
				want = append(want, Problem{File: "wf.yaml", Pos: marks[i], Message: m})
			}
			if !reflect.DeepEqual(ps, want) {
				t.Errorf("problems:\n%v\nwant:\n%v", ps, want)
			}
			// A secret written by mistake is never repeated.
			for _, secret := range []string{"abcdefghijklmnop", "webhooks/1", "MTIzNDU2", "hooks.slack.com"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("a message repeats the secret %q: %v", secret, err)
				}
			}
		})
	}
}

// In bot mode an approver without a Discord id can approve in the tracker
// only: a warning says so, at the approver.
func TestDiscordApproverWithoutID(t *testing.T) {
	w, err, pos := parseDiscord(t, []edit{{"approvers: [alice, bob]", "approvers: [alice, «bob]"}},
		"discord:\n  guild: 1\n  channels: {default: 2}\n  users: {alice: 3}\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Problems{{File: "wf.yaml", Pos: pos[0], Message: `approver "bob" of gate "merge" has no Discord id in discord.users: they cannot approve from Discord`}}
	if !reflect.DeepEqual(w.Warnings, want) {
		t.Errorf("warnings = %v\nwant %v", w.Warnings, want)
	}
}

func TestDiscordLookups(t *testing.T) {
	d := Discord{
		TokenEnv: "T",
		Channels: map[string]string{"default": "1", "escalation": "2"},
		Users:    map[string]string{"alice": "10", "bob": "11"},
		Mute:     []string{"digest"},
	}
	for kind, want := range map[string]string{"escalation": "2", "plan": "1", "digest": "1"} {
		if got := d.Channel(kind); got != want {
			t.Errorf("Channel(%s) = %q, want %q", kind, got, want)
		}
	}
	if (Discord{Channels: map[string]string{"plan": "1"}}).Channel("e2e") != "" || (Discord{}).Channel("plan") != "" {
		t.Error("no channel and no default must give \"\"")
	}
	if !d.Muted("digest") || d.Muted("plan") || (Discord{}).Muted("digest") {
		t.Error("Muted")
	}
	if u, ok := d.UserByDiscordID("11"); !ok || u != "bob" {
		t.Errorf("UserByDiscordID(11) = %q, %v", u, ok)
	}
	for _, id := range []string{"12", ""} {
		if u, ok := d.UserByDiscordID(id); ok {
			t.Errorf("UserByDiscordID(%q) = %q", id, u)
		}
	}
	if !slices.Equal(DiscordKinds, []string{"plan", "merge_request", "escalation", "e2e", "digest", "release", "deploy"}) {
		t.Errorf("DiscordKinds = %v: package notify names the same kinds", DiscordKinds)
	}
}

// The default workflow's commented example is a valid section, and left
// commented the default sends nothing.
func TestDefaultDiscordExample(t *testing.T) {
	data := string(Default(DefaultOptions{Approvers: []string{"alice"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}))
	w, err := Parse("wf.yaml", []byte(data), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w.Discord.Enabled() {
		t.Errorf("the default workflow enables Discord: %+v", w.Discord)
	}
	lines := strings.Split(data, "\n")
	i := slices.Index(lines, "# discord:")
	if i < 0 {
		t.Fatal("no commented discord example in the default workflow")
	}
	for j := i; j < len(lines) && strings.HasPrefix(lines[j], "#"); j++ {
		if j > i && !strings.HasPrefix(lines[j], "#   ") {
			t.Fatalf("line %q of the example is not indented", lines[j])
		}
		lines[j] = strings.TrimPrefix(lines[j], "# ")
	}
	w, err = Parse("wf.yaml", []byte(strings.Join(lines, "\n")), testEnv)
	if err != nil {
		t.Fatalf("the example does not parse: %v", err)
	}
	want := Discord{TokenEnv: "DISCORD_BOT_TOKEN", Guild: "123456789012345678",
		Channels: map[string]string{"default": "123456789012345679", "escalation": "123456789012345680"},
		Users:    map[string]string{"alice": "223456789012345678"}, Mute: []string{"digest"},
		DashboardURL: "https://agentorg.example.com", APIURL: "https://discord.com"}
	if !reflect.DeepEqual(w.Discord, want) || len(w.Warnings) != 0 {
		t.Errorf("discord = %+v, warnings %v\nwant %+v", w.Discord, w.Warnings, want)
	}
}
