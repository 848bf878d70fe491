package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
	"github.com/agentorg/agentorg/web"
)

// getAs reads a page with c, returning its status and body.
func getAs(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// postAs submits a form with c without following a redirect.
func postAs(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := nc.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// approveForm is the approve form's hidden fields as issue n's page shows
// them to c.
func (f *fixture) approveForm(t *testing.T, c *http.Client, n int64) url.Values {
	t.Helper()
	_, page := getAs(t, c, f.srv.URL+"/issues/"+strconv.FormatInt(n, 10))
	_, form, ok := strings.Cut(page, `class="approve"`)
	if !ok {
		t.Fatalf("#%d's page has no approve form:\n%s", n, page)
	}
	form, _, _ = strings.Cut(form, "</form>")
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(form, -1) {
		v.Set(m[1], m[2])
	}
	return v
}

// refused waits for the page a refused action shows.
func refused(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := afterClick(ctx, `document.querySelector("#problem") !== null`, 10*time.Second); err != nil {
		t.Fatalf("no refusal shown: %v\n%s", err, text(t, ctx, "main"))
	}
}

// mrOf is issue n's merge request.
func (f *fixture) mrOf(t *testing.T, n int64) agentorg.MergeRequest {
	t.Helper()
	mrs, err := f.org.Tracker.ListMRs(context.Background(), agentorg.MRFilter{Issue: n})
	if err != nil || len(mrs) == 0 {
		t.Fatalf("#%d's merge requests: %v %v", n, mrs, err)
	}
	return mrs[len(mrs)-1]
}

// Issue 19: the issue page tells an issue's story: its state and labels,
// every event of the timeline, the plan, the attempts as a table and a
// chart, the merge request at its head, links to the runs' transcripts.
func TestIssuePageShowsItsStory(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	status, page := getAs(t, http.DefaultClient, f.srv.URL+"/issues/1")
	if status != http.StatusOK {
		t.Fatalf("GET /issues/1: %d\n%s", status, page)
	}
	mr := f.mrOf(t, 1)
	attempts, err := f.org.Log.Attempts(ctx, 1)
	if err != nil || len(attempts) != 1 {
		t.Fatalf("attempts of #1: %v %v", attempts, err)
	}
	events, err := f.org.Log.Events(ctx, eventlog.Filter{Issue: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`data-live="/live?issue=1"`,
		"Say hello", `<strong class="state">mr:ready-for-review</strong>`,
		"pm:running → plan:review", "alice approved the plan",
		"Add hello.txt.", // the plan
		`<span class="verdict-GO">GO</span>`, attempts[0].SessionID, attempts[0].CommitSHA[:10],
		`<svg class="chart" role="img"`, `<title id="chart-title">Distance per attempt</title>`, "attempt 1: 0",
		"Acceptance criteria", // the validation report
		"Waits at gate merge", `<code class="sha head" title="` + mr.HeadSHA + `">`,
		`href="/login?next=%2fissues%2f1">Sign in to approve</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("#1's page lacks %q", want)
		}
	}
	if n := strings.Count(page, `<tr class="ev-`); n != len(events) {
		t.Errorf("the timeline has %d rows for %d events", n, len(events))
	}
	links := 0
	for _, run := range distinctRuns(events) {
		if strings.Contains(page, `href="/runs/`+run+`"`) {
			links++
		}
	}
	if links == 0 || links != strings.Count(page, `href="/runs/`) {
		t.Errorf("the page links %d of the runs' transcripts (%d links)", links, strings.Count(page, `href="/runs/`))
	}
	if strings.Contains(page, `action="/issues/1/approve"`) {
		t.Error("a visitor who is not signed in is shown the approve form")
	}
	if t.Failed() {
		t.Log(page)
	}

	if status, page := getAs(t, http.DefaultClient, f.srv.URL+"/issues/99"); status != http.StatusNotFound || !strings.Contains(page, "no issue #99") {
		t.Errorf("GET /issues/99: %d\n%s", status, page)
	}
	if status, _ := getAs(t, http.DefaultClient, f.srv.URL+"/issues/x"); status != http.StatusBadRequest {
		t.Errorf("GET /issues/x: %d", status)
	}
}

// distinctRuns lists the run IDs of events whose transcript is kept.
func distinctRuns(evs []eventlog.Event) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range evs {
		if e.RunID != "" && !seen[e.RunID] {
			seen[e.RunID] = true
			out = append(out, e.RunID)
		}
	}
	return out
}

// Issue 19: alice approves #2's plan from its page in a browser, and the
// engine moves on.
func TestApprovePlanFromTheIssuePage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := browser(t)
	f.signIn(t, ctx, "alice", aliceToken)
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/issues/2"), chromedp.WaitVisible(chromedp.CSS("#approve")))
	if got := text(t, ctx, "#gate-h"); got != "Waits at gate plan" {
		t.Fatalf("the gate's heading: %q", got)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#approve")))
	if err := afterClick(ctx, `!document.querySelector("#approve") && location.pathname === "/issues/2"`, 10*time.Second); err != nil {
		t.Fatalf("the page after approving: %v\n%s", err, text(t, ctx, "main"))
	}
	if strings.Contains(f.labels(t, 2), "plan:review") {
		t.Fatalf("#2 is still at %s", f.labels(t, 2))
	}
	evs, err := f.org.Log.Events(context.Background(), eventlog.Filter{Issue: 2, Kind: eventlog.KindHuman})
	if err != nil || len(evs) != 1 || evs[0].Actor != "alice" || evs[0].Data["identity"] != "dashboard" {
		t.Fatalf("the approval's event: %+v %v", evs, err)
	}
	orgtest.RunUntilIdle(t, f.eng)
	if l := f.labels(t, 2); l == "issue:approved" || strings.Contains(l, "plan:review") {
		t.Fatalf("the engine did not move #2 on from %s", l)
	}
	// The page, live, shows where the engine took it.
	if err := until(ctx, `!document.querySelector(".state").textContent.includes("issue:approved")`, 5*time.Second); err != nil {
		t.Fatalf("the page did not follow: %v", err)
	}
}

// Issue 19: mallory, enrolled but no approver, is refused with the reason
// shown on the page, and the issue still waits.
func TestApproveByMalloryIsRefusedOnThePage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := browser(t)
	f.signIn(t, ctx, "mallory", malloryToken)
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/issues/2"), chromedp.WaitVisible(chromedp.CSS("#approve")),
		chromedp.Click(chromedp.CSS("#approve")))
	refused(t, ctx)
	problem := text(t, ctx, "#problem")
	if !strings.Contains(problem, `mallory may not approve or reject at gate "plan"`) || !strings.Contains(problem, "alice") {
		t.Fatalf("the refusal says %q", problem)
	}
	if l := f.labels(t, 2); l != "plan:review" {
		t.Fatalf("#2 is at %s", l)
	}
	// Over HTTP the refusal is a 403 with the same page.
	c := f.client(t, "mallory", malloryToken)
	status, page := postAs(t, c, f.srv.URL+"/issues/2/approve", f.approveForm(t, c, 2))
	if status != http.StatusForbidden || !strings.Contains(page, "mallory may not approve") || !strings.Contains(page, "<h1>") {
		t.Fatalf("mallory's POST: %d\n%s", status, page)
	}
}

// Issue 19: an approval is bound to the head the page showed: when the
// merge request moves behind an open page, its Approve is refused and no
// approval is recorded.
func TestApproveOfAStalePageIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	ctx := browser(t)
	f.signIn(t, ctx, "alice", aliceToken)
	mr := f.mrOf(t, 1)
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/issues/1"), chromedp.WaitVisible(chromedp.CSS("#approve")))
	if shown := eval[string](t, ctx, `document.querySelector('.approve input[name="head"]').value`); shown != mr.HeadSHA {
		t.Fatalf("the form carries head %q, the merge request is at %s", shown, mr.HeadSHA)
	}
	// A new commit on the merge request's branch, behind the page (the
	// live script would reload it: stop it, as a page opened before a
	// push and not yet refreshed).
	eval[bool](t, ctx, `(document.body.removeAttribute("data-live"), true)`)
	moved := orgtest.Git(t, f.org.Origin, "commit-tree", mr.HeadSHA+"^{tree}", "-p", mr.HeadSHA, "-m", "another change")
	orgtest.Git(t, f.org.Origin, "update-ref", "refs/heads/"+mr.SourceBranch, moved)
	if _, err := f.org.Tracker.SetMRHead(context.Background(), mr.Number, moved); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#approve")))
	refused(t, ctx)
	problem := text(t, ctx, "#problem")
	if !strings.Contains(problem, "moved to "+moved[:10]+" since it was shown: review the new head") {
		t.Fatalf("the refusal says %q", problem)
	}
	if got := f.mrOf(t, 1); len(got.Approvals) != 0 {
		t.Fatalf("approvals recorded: %+v", got.Approvals)
	}
	if l := f.labels(t, 1); l != "mr:ready-for-review" {
		t.Fatalf("#1 is at %s", l)
	}
	// The refused page shows the new head, and approving it works.
	if shown := eval[string](t, ctx, `document.querySelector('.approve input[name="head"]').value`); shown != moved {
		t.Fatalf("the refused page's form carries head %q, not the new %s", shown, moved)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#approve")))
	if err := afterClick(ctx, `!document.querySelector("#approve")`, 10*time.Second); err != nil {
		t.Fatalf("approving the new head: %v\n%s", err, text(t, ctx, "main"))
	}
	if at := f.mrOf(t, 1).ApprovedAtHead(); len(at) != 1 || at[0].User != "alice" || at[0].SHA != moved {
		t.Fatalf("approvals at head: %+v", at)
	}
}

// A plan that changed since the page was shown is not approved, nor is a
// gate the issue left.
func TestApproveOfAChangedPlanIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t, "alice", aliceToken)
	form := f.approveForm(t, c, 2)
	if _, err := f.org.Tracker.UpsertComment(context.Background(), 2, role.PlanKey(2), agentorg.Marker(role.PlanKey(2))+"\n## Plan for #2\n\nSomething else.", f.org.Workflow.Tracker.Bot); err != nil {
		t.Fatal(err)
	}
	status, page := postAs(t, c, f.srv.URL+"/issues/2/approve", form)
	if status != http.StatusConflict || !strings.Contains(page, "the plan of #2 changed since it was shown") {
		t.Fatalf("approving a changed plan: %d\n%s", status, page)
	}
	form.Set("gate", "merge")
	status, page = postAs(t, c, f.srv.URL+"/issues/2/approve", form)
	if status != http.StatusConflict || !strings.Contains(page, `moved from gate &#34;merge&#34; to gate &#34;plan&#34;`) {
		t.Fatalf("approving at another gate: %d\n%s", status, page)
	}
	if l := f.labels(t, 2); l != "plan:review" {
		t.Fatalf("#2 is at %s", l)
	}
}

// A rejection needs a reason, and sends the issue to the gate's reject
// label with it.
func TestRejectFromTheIssuePage(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t, "alice", aliceToken)
	form := f.approveForm(t, c, 2)
	status, page := postAs(t, c, f.srv.URL+"/issues/2/reject", form)
	if status != http.StatusBadRequest || !strings.Contains(page, "needs a reason") {
		t.Fatalf("a rejection without a reason: %d\n%s", status, page)
	}
	form.Set("reason", "Say it in French.")
	if status, page := postAs(t, c, f.srv.URL+"/issues/2/reject", form); status != http.StatusSeeOther {
		t.Fatalf("rejecting: %d\n%s", status, page)
	}
	g := f.org.Workflow.Gate("plan")
	if l := f.labels(t, 2); l != g.Reject {
		t.Fatalf("#2 is at %s, not %s", l, g.Reject)
	}
	if _, page := getAs(t, c, f.srv.URL+"/issues/2"); !strings.Contains(page, "alice rejected: Say it in French.") {
		t.Fatalf("the timeline lacks the rejection:\n%s", page)
	}
}

// Issue 19: the forms carry CSRF protection: a POST without the session's
// token is refused.
func TestApproveWithoutCSRFTokenIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t, "alice", aliceToken)
	form := f.approveForm(t, c, 2)
	form.Del("csrf")
	if status, _ := postAs(t, c, f.srv.URL+"/issues/2/approve", form); status != http.StatusForbidden {
		t.Fatalf("a POST without the token: %d", status)
	}
	form.Set("csrf", "not-the-token")
	if status, _ := postAs(t, c, f.srv.URL+"/issues/2/approve", form); status != http.StatusForbidden {
		t.Fatalf("a POST with another token: %d", status)
	}
	if status, _ := postAs(t, http.DefaultClient, f.srv.URL+"/issues/2/approve", form); status != http.StatusUnauthorized {
		t.Fatalf("a POST from nobody: %d", status)
	}
	if l := f.labels(t, 2); l != "plan:review" {
		t.Fatalf("#2 is at %s", l)
	}
}

// A read-only dashboard (agentorg ui) shows no form and refuses a POST.
func TestApproveOnAReadOnlyIssuePageIsRefused(t *testing.T) {
	f := newFixture(t, func(c *web.Config) { c.ReadOnly = true })
	c := f.client(t, "alice", aliceToken)
	_, page := getAs(t, c, f.srv.URL+"/issues/2")
	if strings.Contains(page, `action="/issues/2/approve"`) || strings.Contains(page, `action="/issues/2/reject"`) || !strings.Contains(page, "agentorg approve 2") {
		t.Fatalf("the read-only page:\n%s", page)
	}
	if status, _ := postAs(t, c, f.srv.URL+"/issues/2/approve", url.Values{"gate": {"plan"}}); status != http.StatusForbidden {
		t.Fatalf("a POST to a read-only dashboard: %d", status)
	}
	if l := f.labels(t, 2); l != "plan:review" {
		t.Fatalf("#2 is at %s", l)
	}
}

// Issue 19: on GitLab the page never acts as the bot: it links to the
// issue and its merge request in GitLab, where people approve.
func TestIssuePageOnGitLabLinksThere(t *testing.T) {
	fake := gitlabfake.New(t)
	fake.AddUser("alice", "", false)
	org := orgtest.New(t, orgtest.Options{Script: fixtureScript, Check: "true", E2E: "true", GitLab: fake})
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: "Say hello", Body: "As the plan says.", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	s, err := web.New(web.Config{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB, Home: org.Home})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	n := strconv.FormatInt(is.Number, 10)
	_, page := getAs(t, http.DefaultClient, srv.URL+"/issues/"+n)
	want := fake.URL + "/" + fake.ProjectPath + "/-/issues/" + n
	if !strings.Contains(page, `href="`+want+`"`) || strings.Contains(page, "<form method=\"post\" action=\"/issues/") || strings.Contains(page, "Sign in to approve") {
		t.Fatalf("the page on GitLab does not link to %s, or offers to act:\n%s", want, page)
	}
	if status, _ := postAs(t, http.DefaultClient, srv.URL+"/issues/"+n+"/approve", url.Values{"gate": {"plan"}}); status != http.StatusUnauthorized {
		t.Fatalf("a POST on GitLab: %d", status)
	}
}
