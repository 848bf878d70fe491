package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/discord"
	"github.com/agentorg/agentorg/discord/discordfake"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

func TestMain(m *testing.M) { orgtest.Main(m) }

const (
	token   = "bot-token-for-tests-0123456789"
	guild   = "200000000000000001"
	channel = "300000000000000001"
	alice   = "400000000000000001" // alice's Discord account: an approver
	bob     = "400000000000000002" // bob's: mapped, approves at no gate
	mallory = "400000000000000003" // a member mapped to nobody
)

const script = `
steps:
  - match: {role: pm}
    summary: "Add hello.txt.\n\n## Acceptance criteria\n- [ ] ` + "`test -f hello.txt`" + ` passes"
  - match: {role: developer}
    actions: [{write: {path: hello.txt, content: "hello\n"}}]
    summary: Wrote hello.txt.
`

// env is a discord test's world: an organization, a fake Discord, and the
// bot between them, with what the bot warned about and logged.
type env struct {
	*orgtest.Org
	fake *discordfake.Fake
	bot  *discord.Bot
	mu   sync.Mutex
	warn []string
	logs *bytes.Buffer
}

type setup struct {
	fake    discordfake.Options
	section string // the discord section; "" for bot mode on the fake
	gitlab  bool
}

func newEnv(t *testing.T, s setup) *env {
	t.Helper()
	s.fake.Token = token
	if s.fake.Members == nil {
		s.fake.Members = map[string]string{alice: "alice", bob: "bob", mallory: "mallory"}
	}
	fake, err := discordfake.Start(s.fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	section := s.section
	if section == "" {
		section = fmt.Sprintf("discord:\n  guild: %q\n  api_url: %s\n  channels: {default: %q}\n  users: {alice: %q, bob: %q}\n",
			guild, fake.URL(), channel, alice, bob)
	}
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: func(text string) string { return text + "\n" + section }})
	t.Setenv("DISCORD_BOT_TOKEN", token)
	e := &env{Org: org, fake: fake, logs: &bytes.Buffer{}}
	log.SetOutput(lockedWriter{e})
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	e.start(t)
	return e
}

type lockedWriter struct{ e *env }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(p)
}

func (e *env) start(t *testing.T) {
	t.Helper()
	bot, err := discord.Start(context.Background(), discord.Config{Workflow: e.Workflow, Tracker: e.Tracker, Log: e.Log, DB: e.DB,
		Getenv: os.Getenv, Every: 50 * time.Millisecond, Warn: func(m string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.warn = append(e.warn, m)
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.bot = bot
	t.Cleanup(func() {
		if e.bot != nil {
			e.bot.Close()
		}
	})
}

// flush makes the bot tell everything the log holds now.
func (e *env) flush(t *testing.T) {
	t.Helper()
	if err := e.bot.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// opened creates an issue, opts it in and runs the engine until it waits.
func (e *env) opened(t *testing.T, eng interface{ RunUntilIdle(context.Context) error }, title string) int64 {
	t.Helper()
	ctx := context.Background()
	is, err := e.People.CreateIssue(ctx, agentorg.NewIssue{Title: title, Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := eng.RunUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	return is.Number
}

// buttons returns the custom ids (or URLs, for link buttons) of a message's
// buttons.
func buttons(t *testing.T, m discordfake.Message) []string {
	t.Helper()
	var out []string
	for _, raw := range m.Components {
		var row struct {
			Components []struct {
				Label    string `json:"label"`
				CustomID string `json:"custom_id"`
				URL      string `json:"url"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		for _, c := range row.Components {
			if c.CustomID != "" {
				out = append(out, c.Label+"="+c.CustomID)
			} else {
				out = append(out, c.Label+"="+c.URL)
			}
		}
	}
	return out
}

func button(t *testing.T, m discordfake.Message, label string) string {
	t.Helper()
	for _, b := range buttons(t, m) {
		if l, id, _ := strings.Cut(b, "="); l == label {
			return id
		}
	}
	t.Fatalf("message %s has no %s button: %v", m.ID, label, buttons(t, m))
	return ""
}

// only returns the one message in the channel about issue n.
func (e *env) only(t *testing.T, n int64) discordfake.Message {
	t.Helper()
	var got []discordfake.Message
	for _, m := range e.fake.Messages(channel) {
		if len(m.Embeds) > 0 && strings.HasPrefix(m.Embeds[0].Title, fmt.Sprintf("#%d ", n)) {
			got = append(got, m)
		}
	}
	if len(got) != 1 {
		t.Fatalf("messages about #%d: %d, want 1: %+v", n, len(got), got)
	}
	return got[0]
}

func (e *env) answer(t *testing.T, in discordfake.Interaction) discordfake.Response {
	t.Helper()
	r, err := e.fake.Response(in.ID, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) labels(t *testing.T, n int64) []string {
	t.Helper()
	is, err := e.Tracker.Issue(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return is.Labels
}

func has(labels []string, l string) bool {
	for _, x := range labels {
		if x == l {
			return true
		}
	}
	return false
}

// eventually waits for cond, flushing the bot between looks.
func (e *env) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("timed out waiting for %s; the bot warned:\n%s", what, strings.Join(e.warn, "\n"))
		}
		e.flush(t)
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) events(t *testing.T, n int64, kind string) []eventlog.Event {
	t.Helper()
	evs, err := e.Log.Events(context.Background(), eventlog.Filter{Issue: n})
	if err != nil {
		t.Fatal(err)
	}
	var out []eventlog.Event
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// The plan's notice reaches the channel, mentions its approver, and alice
// approves it with its button: the issue moves on, the approval is
// recorded as hers via Discord with the interaction, and the message is
// edited in place (no buttons left), never posted again.
func TestPlanApprovedFromItsButton(t *testing.T) {
	e := newEnv(t, setup{})
	eng := e.Engine(t, app.EngineOptions{})
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	m := e.only(t, n)
	if len(m.Mentions) != 1 || m.Mentions[0] != alice {
		t.Fatalf("the plan's notice mentions %v, want alice (%s) alone", m.Mentions, alice)
	}
	if !strings.Contains(m.Embeds[0].Description, "test -f hello.txt") {
		t.Fatalf("the notice does not show the plan's criteria:\n%s", m.Embeds[0].Description)
	}
	in, err := e.fake.Click(alice, m.ID, button(t, m, "Approve"))
	if err != nil {
		t.Fatal(err)
	}
	r := e.answer(t, in)
	if r.Type != 5 || r.Flags&64 == 0 || !strings.Contains(r.Final, "Approved #1 at gate plan as alice") {
		t.Fatalf("alice's approval was answered %+v", r)
	}
	if l := e.labels(t, n); !has(l, "dev:ready") && !has(l, "issue:approved") {
		t.Fatalf("#%d after the approval: %v", n, l)
	}
	humans := e.events(t, n, eventlog.KindHuman)
	last := humans[len(humans)-1]
	if last.Actor != "alice" || last.Data["via"] != "Discord" || last.Data["interaction"] != in.ID || !strings.HasSuffix(last.Reason, "via Discord") {
		t.Fatalf("the approval is recorded as %+v", last)
	}
	e.eventually(t, "the notice edited without buttons", func() bool {
		m, _ := e.fake.Message(m.ID)
		return m.Edits > 0 && len(buttons(t, m)) == 0
	})
	e.only(t, n) // edited in place, not posted again
}
