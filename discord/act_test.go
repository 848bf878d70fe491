package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/discord/discordfake"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// approvals counts the approvals recorded at the gate issue n waited at.
func (e *env) approvals(t *testing.T, n int64, at string) int {
	t.Helper()
	k := 0
	for _, ev := range e.events(t, n, eventlog.KindHuman) {
		if ev.From == at && strings.Contains(ev.Reason, "approved") {
			k++
		}
	}
	return k
}

// Only a mapped approver of the gate acts, only once, only on what the
// message showed; every refusal is an ephemeral answer with its reason,
// recorded in the event log.
func TestRefusedFromDiscord(t *testing.T) {
	e := newEnv(t, setup{})
	eng := e.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	m := e.only(t, n)
	approve := button(t, m, "Approve")

	refused := func(who, want string) {
		t.Helper()
		in, err := e.fake.Click(who, m.ID, approve)
		if err != nil {
			t.Fatal(err)
		}
		r := e.answer(t, in)
		if r.Flags&64 == 0 || !strings.Contains(r.Final+r.Content, want) {
			t.Fatalf("%s's click was answered %+v, want an ephemeral %q", who, r, want)
		}
		if l := e.labels(t, n); !has(l, "plan:review") {
			t.Fatalf("#%d moved on a refused click: %v", n, l)
		}
	}
	refused(mallory, "is not mapped to a tracker user")
	refused(bob, "bob may not approve or reject at gate \"plan\"")

	// alice's click acts once, however often Discord delivers it.
	in, err := e.fake.Click(alice, m.ID, approve)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.answer(t, in); !strings.Contains(r.Final, "Approved") {
		t.Fatalf("alice's click: %+v", r)
	}
	if err := e.fake.Replay(in); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the replay refused", func() bool {
		for _, ev := range e.events(t, n, eventlog.KindRefused) {
			if strings.Contains(ev.Reason, "already handled") && ev.Data["interaction"] == in.ID {
				return true
			}
		}
		return false
	})
	if k := e.approvals(t, n, "plan:review"); k != 1 {
		t.Fatalf("%d approvals recorded for one interaction delivered twice", k)
	}

	refusedNow := func(msgID, id, want string) {
		t.Helper()
		in, err := e.fake.Click(alice, msgID, id)
		if err != nil {
			t.Fatal(err)
		}
		if r := e.answer(t, in); !strings.Contains(r.Final, want) {
			t.Fatalf("a stale button was answered %+v, want %q", r, want)
		}
	}

	// At the merge request's gate, a button bound to a head that moved.
	orgtest.RunUntilIdle(t, eng)
	e.flush(t)
	var mrMsg string
	for _, x := range e.fake.Messages(channel) {
		if strings.Contains(x.Embeds[0].Title, "merge request") {
			mrMsg = x.ID
		}
	}
	if mrMsg == "" {
		t.Fatalf("no merge request notice; labels %v", e.labels(t, n))
	}
	mm, _ := e.fake.Message(mrMsg)
	mrApprove := button(t, mm, "Approve")
	mrs, err := e.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: n})
	if err != nil || len(mrs) != 1 {
		t.Fatalf("merge requests: %v %v", mrs, err)
	}
	if !strings.HasSuffix(mrApprove, mrs[0].HeadSHA) {
		t.Fatalf("the Approve button %q is not bound to the head %s", mrApprove, mrs[0].HeadSHA)
	}
	moved := orgtest.Git(t, e.Origin, "commit-tree", mrs[0].HeadSHA+"^{tree}", "-p", mrs[0].HeadSHA, "-m", "pushed meanwhile")
	if _, err := e.Tracker.SetMRHead(ctx, mrs[0].Number, moved); err != nil {
		t.Fatal(err)
	}
	refusedNow(mrMsg, mrApprove, "moved to "+moved[:10])
	if got, _ := e.Tracker.MR(ctx, mrs[0].Number); len(got.Approvals) != 0 {
		t.Fatalf("a stale button approved: %+v", got.Approvals)
	}
}

// Reject asks for the reason in a modal; the rejection sends the issue
// back with that reason as the agent's feedback, said to come from Discord.
func TestRejectedWithAReasonFromAModal(t *testing.T) {
	e := newEnv(t, setup{})
	eng := e.Engine(t, app.EngineOptions{})
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	m := e.only(t, n)
	in, err := e.fake.Click(alice, m.ID, button(t, m, "Reject"))
	if err != nil {
		t.Fatal(err)
	}
	r := e.answer(t, in)
	if r.Type != 9 || r.ModalCustomID == "" {
		t.Fatalf("the Reject button was answered %+v, want a modal", r)
	}
	sub, err := e.fake.Submit(alice, channel, r.ModalCustomID, map[string]string{"reason": "Name the file greeting.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.answer(t, sub); !strings.Contains(r.Final, "Rejected #1 at gate plan as alice") {
		t.Fatalf("the modal's submit was answered %+v", r)
	}
	if l := e.labels(t, n); has(l, "plan:review") {
		t.Fatalf("#%d still waits after the rejection: %v", n, l)
	}
	cs, err := e.Tracker.Comments(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	last := cs[len(cs)-1].Body
	if !strings.Contains(last, "by alice via Discord") || !strings.Contains(last, "Name the file greeting.txt") {
		t.Fatalf("the rejection's comment: %s", last)
	}
}

// The slash commands act on the issue as it is, under the same rules, and
// status answers with the digest.
func TestSlashCommands(t *testing.T) {
	e := newEnv(t, setup{})
	eng := e.Engine(t, app.EngineOptions{})
	n := e.opened(t, eng, "Say hello")
	slash := func(who, sub string, opts map[string]any) discordfake.Response {
		t.Helper()
		in, err := e.fake.Slash(who, channel, sub, opts)
		if err != nil {
			t.Fatal(err)
		}
		return e.answer(t, in)
	}
	if r := slash(alice, "approve", map[string]any{"issue": 99}); !strings.Contains(r.Final, "Not approved") {
		t.Fatalf("approving an issue that does not exist: %+v", r)
	}
	if r := slash(bob, "approve", map[string]any{"issue": n}); !strings.Contains(r.Final, "bob may not approve") {
		t.Fatalf("bob's /agentorg approve: %+v", r)
	}
	if r := slash(alice, "reject", map[string]any{"issue": n, "reason": "Too vague"}); !strings.Contains(r.Final, "Rejected #1") {
		t.Fatalf("alice's /agentorg reject: %+v", r)
	}
	digest := func(opts map[string]any) discordfake.Embed {
		t.Helper()
		r := slash(alice, "status", opts)
		m, ok := e.fake.Message(r.MessageID)
		if r.Flags&64 == 0 || !ok || len(m.Embeds) != 1 {
			t.Fatalf("/agentorg status %v: %+v, %+v", opts, r, m)
		}
		return m.Embeds[0]
	}
	if d := digest(nil); !strings.Contains(d.Title+d.Description+fmt.Sprint(d.Fields), "#1") {
		t.Fatalf("/agentorg status does not show #1: %+v", d)
	}
	if d := digest(map[string]any{"issue": n}); !strings.Contains(d.Title, "#1") {
		t.Fatalf("/agentorg status 1: %+v", d)
	}
	if got := len(e.fake.Commands()); got != 1 {
		t.Fatalf("%d commands registered, want /agentorg alone", got)
	}
}

// The gateway drops while alice approves: the click dispatched while the
// bot is away reaches it when it resumes, and acts once.
func TestApprovalAcrossAGatewayDrop(t *testing.T) {
	e := newEnv(t, setup{fake: discordfake.Options{HeartbeatInterval: 500 * time.Millisecond}})
	eng := e.Engine(t, app.EngineOptions{})
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	m := e.only(t, n)
	e.fake.Drop()
	in, err := e.fake.Click(alice, m.ID, button(t, m, "Approve"))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.answer(t, in); !strings.Contains(r.Final, "Approved") {
		t.Fatalf("the approval across the drop: %+v", r)
	}
	if e.fake.Resumes() < 1 {
		t.Fatalf("the bot did not resume (identifies %d, resumes %d)", e.fake.Identifies(), e.fake.Resumes())
	}
	if err := e.fake.Replay(in); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if k := e.approvals(t, n, "plan:review"); k != 1 {
		t.Fatalf("%d approvals across the drop, want 1", k)
	}
}

// A burst of transitions under tight rate limits: every notice is posted
// once and ends showing the issue as it is, edited in place.
func TestBurstUnderRateLimits(t *testing.T) {
	e := newEnv(t, setup{fake: discordfake.Options{RouteLimit: 3, RouteWindow: 300 * time.Millisecond, GlobalLimit: 8}})
	eng := e.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	var ns []int64
	for i := 0; i < 12; i++ {
		is, err := e.People.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("Task %d", i), Author: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, is.Number)
	}
	orgtest.RunUntilIdle(t, eng)
	for _, n := range ns {
		if _, err := e.Humans.Approve(ctx, n, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	last, err := e.Log.LastID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last < 50 {
		t.Fatalf("only %d events: not a burst of 50 transitions", last)
	}
	e.eventually(t, "every notice showing its approval", func() bool {
		for _, n := range ns {
			m := e.only(t, n)
			if m.Embeds[0].Footer == nil || !strings.Contains(m.Embeds[0].Footer.Text, "approved by alice") || len(buttons(t, m)) != 0 {
				t.Logf("#%d: footer %+v, buttons %v, edits %d", n, m.Embeds[0].Footer, buttons(t, m), m.Edits)
				return false
			}
		}
		return true
	})
	if e.fake.RateLimited() == 0 {
		t.Fatal("no request was rate limited: the test proves nothing")
	}
	if got := len(e.fake.Messages(channel)); got != len(ns) {
		t.Fatalf("%d messages for %d notices", got, len(ns))
	}
}

// A restart posts nothing twice: the notices already sent are edited, the
// one recorded but not known to be sent (a crash between the post and its
// record) is sent again with its nonce, which Discord answers with the
// first message.
func TestRestartPostsNothingTwice(t *testing.T) {
	e := newEnv(t, setup{})
	eng := e.Engine(t, app.EngineOptions{})
	ctx := context.Background()
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	first := e.only(t, n)
	// This issue goes no further than its merge request's gate.
	e.bot.Close()
	e.bot = nil

	// While the bot is away: alice approves from the CLI, and a second
	// issue waits, whose notice was posted but not recorded as sent.
	if _, err := e.Humans.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	n2 := e.opened(t, eng, "Say goodbye")
	evs, err := e.Log.Events(ctx, eventlog.Filter{Issue: n2})
	if err != nil {
		t.Fatal(err)
	}
	var opening eventlog.Event
	for _, ev := range evs {
		if ev.To == "plan:review" {
			opening = ev
		}
	}
	rec, _, err := e.Log.AddNotice(ctx, eventlog.Notice{Key: fmt.Sprintf("plan:%d:%d", n2, opening.ID), Issue: n2, Kind: "plan",
		OpenedBy: opening.ID, Channel: channel, Nonce: "crashed-mid-post-0001"})
	if err != nil {
		t.Fatal(err)
	}
	postAsBot(t, e.fake, fmt.Sprintf("#%d Say goodbye: plan waits for approval", n2), rec.Nonce)

	e.start(t)
	e.eventually(t, "the first notice edited to its approval", func() bool {
		m, _ := e.fake.Message(first.ID)
		return m.Embeds[0].Footer != nil && strings.Contains(m.Embeds[0].Footer.Text, "approved by alice")
	})
	e.eventually(t, "the merge request's notice", func() bool { return len(e.titled(fmt.Sprintf("#%d Say hello: merge request", n))) == 1 })
	for _, title := range []string{fmt.Sprintf("#%d Say hello: plan", n), fmt.Sprintf("#%d Say goodbye: plan", n2)} {
		if got := e.titled(title); len(got) != 1 {
			t.Fatalf("%d messages titled %q after the restart, want 1", len(got), title)
		}
	}
	sent, ok, err := e.Log.NoticeOf(ctx, rec.Key)
	if err != nil || !ok || sent.MessageID == "" {
		t.Fatalf("the notice sent before the crash is not recorded as sent: %+v %v", sent, err)
	}
}

// The token is nowhere: not in the home (database, transcripts), not in
// what the bot logged or warned about, not in an agent's environment.
func TestTokenStaysSecret(t *testing.T) {
	e := newEnv(t, setup{})
	eng := e.Engine(t, app.EngineOptions{})
	n := e.opened(t, eng, "Say hello")
	e.flush(t)
	m := e.only(t, n)
	in, _ := e.fake.Click(alice, m.ID, button(t, m, "Approve"))
	e.answer(t, in)
	orgtest.RunUntilIdle(t, eng)
	e.flush(t)
	e.mu.Lock()
	said := e.logs.String() + strings.Join(e.warn, "\n")
	e.mu.Unlock()
	if strings.Contains(said, token) {
		t.Fatalf("the token was logged:\n%s", said)
	}
	filepath.WalkDir(e.Home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), token) {
			t.Errorf("the token is in %s", p)
		}
		return nil
	})
	for _, a := range e.Workflow.Agents {
		for _, kv := range app.AgentEnv(&a) {
			if strings.Contains(kv, token) || strings.HasPrefix(kv, "DISCORD_BOT_TOKEN=") {
				t.Fatalf("agent %s's environment holds the token", a.Name)
			}
		}
	}
}

// postAsBot creates a message as the bot would have before a crash: over
// Discord's REST API, with a nonce.
func postAsBot(t *testing.T, fake *discordfake.Fake, title, nonce string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"embeds": []map[string]string{{"title": title}}, "nonce": nonce, "enforce_nonce": true})
	req, err := http.NewRequest(http.MethodPost, fake.URL()+"/api/v9/channels/"+channel+"/messages", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting as the bot: %s", resp.Status)
	}
}

// titled returns the messages whose embed's title starts with prefix.
func (e *env) titled(prefix string) []discordfake.Message {
	var out []discordfake.Message
	for _, m := range e.fake.Messages(channel) {
		if len(m.Embeds) > 0 && strings.HasPrefix(m.Embeds[0].Title, prefix) {
			out = append(out, m)
		}
	}
	return out
}
