package notify_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/notify"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/role"
)

func TestMain(m *testing.M) { orgtest.Main(m) }

// script plans with command criteria; "Break" gets a criterion the
// developer never meets, so it escalates.
const script = `
steps:
  - match: {role: pm, title: "Break"}
    summary: "Write the missing file.\n\n## Acceptance criteria\n- [ ] ` + "`test -f missing.txt`" + ` passes"
  - match: {role: pm}
    summary: "Add hello.txt.\n\nIt says hello.\n\n## Acceptance criteria\n- [ ] ` + "`test -f hello.txt`" + ` passes\n- [ ] ` + "`grep -q hello hello.txt`" + ` passes"
  - match: {role: developer}
    actions: [{write: {path: hello.txt, content: "hello\n"}}]
    summary: Wrote hello.txt.
`

// opening is the newest event of issue n that opens a notice of kind.
func opening(t *testing.T, log *eventlog.Log, src notify.Sources, n int64, kind string) eventlog.Event {
	t.Helper()
	evs, err := log.Events(context.Background(), eventlog.Filter{Issue: n})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if k, ok := notify.Opens(src.Workflow, evs[i]); ok && k == kind {
			return evs[i]
		}
	}
	t.Fatalf("no event of #%d opens a %s notice", n, kind)
	return eventlog.Event{}
}

// build builds the notice twice, checks both are the same and within the
// limits, and returns it.
func build(t *testing.T, src notify.Sources, e eventlog.Event) notify.Notice {
	t.Helper()
	n, err := notify.Build(context.Background(), src, e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := notify.Build(context.Background(), src, e)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(n, again) {
		t.Fatalf("Build twice on an unchanged issue differs:\n%+v\n%+v", n, again)
	}
	within(t, n)
	return n
}

// within checks the notice's limits.
func within(t *testing.T, n notify.Notice) {
	t.Helper()
	r := func(s string) int { return len([]rune(s)) }
	total := r(n.Title) + r(n.Text) + r(n.Status)
	if r(n.Title) > notify.MaxTitle || r(n.Text) > notify.MaxText || len(n.Fields) > notify.MaxFields {
		t.Fatalf("notice over its limits: title %d, text %d runes, %d fields", r(n.Title), r(n.Text), len(n.Fields))
	}
	for _, f := range n.Fields {
		if r(f.Name) > notify.MaxFieldName || r(f.Value) > notify.MaxFieldValue {
			t.Fatalf("field %q over its limits", f.Name)
		}
		total += r(f.Name) + r(f.Value)
	}
	if total > notify.MaxTotal {
		t.Fatalf("notice of %d runes, more than %d", total, notify.MaxTotal)
	}
}

// field is the value of the notice's field called name.
func field(t *testing.T, n notify.Notice, name string) string {
	t.Helper()
	for _, f := range n.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	t.Fatalf("notice %s has no field %q: %+v", n.Key, name, n.Fields)
	return ""
}

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// TestNotices runs a small organization through a plan, a merge request
// and an escalation, and reads the notices each opened as the issues move.
func TestNotices(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	src := notify.Sources{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB, DashboardURL: "http://dash.example/"}
	newIssue := func(title string) int64 {
		is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: title, Body: "As the plan says.", Author: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if err := org.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
			t.Fatal(err)
		}
		return is.Number
	}

	// A plan waits.
	hello := newIssue("Say hello")
	orgtest.RunUntilIdle(t, eng)
	planOpened := opening(t, org.Log, src, hello, notify.KindPlan)
	p := build(t, src, planOpened)
	version, err := gate.PlanVersion(ctx, org.Tracker, hello)
	if err != nil || version == "" {
		t.Fatalf("PlanVersion = %q, %v", version, err)
	}
	if p.Key != "plan:1:"+itoa(planOpened.ID) || p.Kind != notify.KindPlan || p.Issue != hello {
		t.Errorf("key %q, kind %q, issue %d", p.Key, p.Kind, p.Issue)
	}
	if p.Title != "#1 Say hello: plan waits for approval" {
		t.Errorf("title %q", p.Title)
	}
	contains(t, "the plan notice's text", p.Text, "Add hello.txt.", "1. `test -f hello.txt` passes", "2. `grep -q hello hello.txt` passes", "from the plan")
	if strings.Contains(p.Text, "agentorg approve") || strings.Contains(p.Text, "Session") || strings.Contains(p.Text, "It says hello") {
		t.Errorf("the plan's text holds its footer or more than its summary:\n%s", p.Text)
	}
	contains(t, "the budget", field(t, p, "Budget"), "3 attempts")
	if p.Ask == nil || p.Ask.Gate != "plan" || p.Ask.Plan != version || p.Ask.Head != "" || p.Closed {
		t.Errorf("an open plan's Ask = %+v, closed %v; want gate plan at version %s", p.Ask, p.Closed, version)
	}
	if p.Color != notify.ColorWaiting || !reflect.DeepEqual(p.Mentions, []string{"alice"}) {
		t.Errorf("color %x, mentions %v", p.Color, p.Mentions)
	}
	contains(t, "the status", p.Status, "waits for alice since ")
	if p.URL != "http://dash.example/issues/1" || len(p.Links) != 1 || p.Links[0].URL != p.URL {
		t.Errorf("URL %q, links %+v", p.URL, p.Links)
	}
	contains(t, "PlainText", p.PlainText(), p.Title, "Status: waits for alice", "1. `test -f hello.txt` passes", "@alice", "Dashboard: http://dash.example/issues/1")

	// The plan is approved: the notice closes and names the approver.
	if _, err := org.Humans.Approve(ctx, hello, "alice"); err != nil {
		t.Fatal(err)
	}
	p = build(t, src, planOpened)
	if p.Ask != nil || !p.Closed || p.Color != notify.ColorDone {
		t.Errorf("an approved plan's notice: Ask %+v, closed %v, color %x", p.Ask, p.Closed, p.Color)
	}
	if p.Title != "#1 Say hello: plan approved" {
		t.Errorf("an approved plan's title %q", p.Title)
	}
	contains(t, "the approved plan's status", p.Status, "approved by alice at ", "now issue:approved")

	// The change is validated and waits at the merge request's gate.
	orgtest.RunUntilIdle(t, eng)
	mrOpened := opening(t, org.Log, src, hello, notify.KindMergeRequest)
	m := build(t, src, mrOpened)
	mrs, err := org.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: hello})
	if err != nil || len(mrs) != 1 {
		t.Fatalf("merge requests of #1: %v, %v", mrs, err)
	}
	head := mrs[0].HeadSHA
	if m.Ask == nil || m.Ask.Gate != "merge" || m.Ask.Head != head {
		t.Errorf("the merge request's Ask = %+v, want gate merge at %s", m.Ask, head)
	}
	contains(t, "the merge request's text", m.Text, "!1", "GO", "✅ 1. `test -f hello.txt` passes", "✅ 2. `grep -q hello hello.txt` passes")
	contains(t, "the size", field(t, m, "Size"), "1 file changed")
	contains(t, "the head", field(t, m, "Head"), head[:10])
	contains(t, "the distances", field(t, m, "Distance per attempt"), "0")
	contains(t, "the criteria", field(t, m, "Criteria"), "2 of 2 met")
	contains(t, "the checks", field(t, m, "Checks"), "✅ test")
	contains(t, "the review", field(t, m, "Review"), "0 rounds")

	// Approved through a channel at the head shown: closed, approver named.
	if _, err := org.Humans.ApproveShown(ctx, hello, "alice", human.Shown{Gate: m.Ask.Gate, Head: m.Ask.Head}); err != nil {
		t.Fatal(err)
	}
	m = build(t, src, mrOpened)
	if m.Ask != nil || !m.Closed {
		t.Errorf("an approved merge request's notice: Ask %+v, closed %v", m.Ask, m.Closed)
	}
	contains(t, "the approved merge request's status", m.Status, "approved by alice at ", "now mr:approved")
	orgtest.RunUntilIdle(t, eng)
	m = build(t, src, mrOpened)
	t.Logf("the merge request's notice, merged:\n%s", m.PlainText())
	contains(t, "the merged merge request's status", m.Status, "approved by alice", "merged as !1")

	// An issue that never converges is escalated.
	broken := newIssue("Break it")
	orgtest.RunUntilIdle(t, eng)
	if _, err := org.Humans.Approve(ctx, broken, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	esc := build(t, src, opening(t, org.Log, src, broken, notify.KindEscalation))
	t.Logf("the escalation's notice:\n%s", esc.PlainText())
	if esc.Title != "#2 Break it: needs a human" || esc.Ask != nil || esc.Closed || esc.Color != notify.ColorFailed {
		t.Errorf("escalation: title %q, Ask %+v, closed %v, color %x", esc.Title, esc.Ask, esc.Closed, esc.Color)
	}
	contains(t, "the escalation's text", esc.Text, "**Why:**", "`agentorg logs --issue 2`", "test -f missing.txt")
	contains(t, "the attempts", field(t, esc, "Attempts"), "1: NO-GO, distance 2", "2: NO-GO, distance 2")
	contains(t, "the escalation's status", esc.Status, "waits for a person at `needs:human`")
	if !reflect.DeepEqual(esc.Mentions, []string{"alice"}) {
		t.Errorf("escalation mentions %v", esc.Mentions)
	}

	// A huge plan is cut to the limits, and its Ask names the new version.
	goodbye := newIssue("Say goodbye")
	orgtest.RunUntilIdle(t, eng)
	var huge strings.Builder
	huge.WriteString(agentorg.Marker(role.PlanKey(goodbye)) + "\n## Plan for #3\n\n" + strings.Repeat("A long summary line that goes on. ", 400) + "\n\n## Acceptance criteria\n")
	for i := 0; i < 200; i++ {
		huge.WriteString("- [ ] `test -f file" + itoa(int64(i)) + ".txt` passes and says a great deal about why\n")
	}
	if _, err := org.Tracker.UpsertComment(ctx, goodbye, role.PlanKey(goodbye), huge.String(), "agentorg"); err != nil {
		t.Fatal(err)
	}
	big := build(t, src, opening(t, org.Log, src, goodbye, notify.KindPlan))
	contains(t, "the huge plan's text", big.Text, "(cut)")
	v, _ := gate.PlanVersion(ctx, org.Tracker, goodbye)
	if big.Ask == nil || big.Ask.Plan != v {
		t.Errorf("the huge plan's Ask = %+v, want version %s", big.Ask, v)
	}

	// E2E fails on the target: the recovery's closing event opens the
	// notice, with the output recorded at the head and the culprit.
	red := strings.Repeat("f", 40)
	if err := org.Tracker.SetCheck(ctx, agentorg.CheckResult{SHA: red, Name: "e2e-rerun", Status: agentorg.CheckFailed,
		Output: "--- FAIL: TestHello\nhello.txt says bye\n", At: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := org.Log.SetTarget(ctx, eventlog.Target{Branch: "main", Closed: true, RedSHA: red, Since: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		Bisected: true, Culprit: head, CulpritIssue: hello, RevertIssue: 9, Reason: "E2E passes at aaa and fails at bbb, which merged #1"}); err != nil {
		t.Fatal(err)
	}
	if err := org.Log.Record(ctx, eventlog.Event{Issue: hello, Stage: "e2e", Actor: "agentorg", Kind: eventlog.KindRecover,
		Reason: "main is closed: E2E failed at fffffff, and again when run once more", Data: map[string]string{"target": "main", "state": "closed", "head": red}}); err != nil {
		t.Fatal(err)
	}
	e2eOpened := opening(t, org.Log, src, hello, notify.KindE2E)
	e := build(t, src, e2eOpened)
	t.Logf("the E2E notice:\n%s", e.PlainText())
	if e.Title != "#1 Say hello: E2E failed on main" || e.Closed || e.Color != notify.ColorFailed {
		t.Errorf("E2E notice: title %q, closed %v, color %x", e.Title, e.Closed, e.Color)
	}
	contains(t, "the E2E notice's text", e.Text, "`true` failed on `main` at `ffffffffff`", "hello.txt says bye")
	contains(t, "the culprit", field(t, e, "Culprit"), "which merged #1")
	contains(t, "the recovery", field(t, e, "Recovery"), "#9 reverts #1")
	contains(t, "the E2E status", e.Status, "main closed since 2026-01-02 03:04 UTC", "revert #9")
	if err := org.Log.SetTarget(ctx, eventlog.Target{Branch: "main", GreenSHA: head, Since: time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), Reason: "E2E passed"}); err != nil {
		t.Fatal(err)
	}
	e = build(t, src, e2eOpened)
	if !e.Closed || e.Color != notify.ColorDone {
		t.Errorf("E2E notice once the target opened: closed %v, color %x, status %q", e.Closed, e.Color, e.Status)
	}
	contains(t, "the E2E status once open", e.Status, "main open again since 2026-01-02 04:00 UTC")

	// The digests.
	d, err := notify.Digest(ctx, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	within(t, d)
	if d.Key != "digest:board" || d.Kind != notify.KindDigest || !d.Closed {
		t.Errorf("board digest: key %q, kind %q, closed %v", d.Key, d.Kind, d.Closed)
	}
	contains(t, "the board digest", d.PlainText(), "#3 Say goodbye: gate plan waits for alice", "#2 Break it: ", "`plan:review`: #3", "`needs:human`: #2")
	di, err := notify.Digest(ctx, src, broken)
	if err != nil {
		t.Fatal(err)
	}
	within(t, di)
	contains(t, "#2's digest", di.PlainText(), "#2 Break it: needs:human", "Escalated: ", "2: NO-GO, distance 2", "Distance per attempt: 2 → 2", "Last events:")
	if _, err := notify.Digest(ctx, notify.Sources{Workflow: src.Workflow, Tracker: src.Tracker, Log: src.Log, Now: func() time.Time { return time.Unix(0, 0) }}, 0); err == nil {
		t.Error("a board digest without the engine's database should say it needs one")
	}
}

func itoa(k int64) string { return strconv.FormatInt(k, 10) }
