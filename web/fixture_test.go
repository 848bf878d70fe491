package web_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/web"
)

func TestMain(m *testing.M) { orgtest.Main(m) }

// fixtureScript plans with one command criterion and writes one file.
const fixtureScript = `
steps:
  - match: {role: pm}
    summary: "Add hello.txt.\n\n## Acceptance criteria\n- [ ] ` + "`test -f hello.txt`" + ` passes"
  - match: {role: developer}
    actions: [{write: {path: hello.txt, content: "hello\n"}}]
    summary: Wrote hello.txt.
`

// Credentials of the fixture's people: alice approves; mallory is
// enrolled but approves nothing.
const (
	aliceToken   = "alice-credential-for-tests"
	malloryToken = "mallory-credential-for-tests"
)

// fixture is an organization with issues in several states and the
// dashboard over it:
//
//	#1 at mr:ready-for-review (plan approved, developed, validated GO)
//	#2 at plan:review
//	#3 not opted in
type fixture struct {
	org *orgtest.Org
	eng *engine.Engine
	web *web.Server
	srv *httptest.Server
}

func newFixture(t *testing.T, cfg func(*web.Config)) *fixture {
	t.Helper()
	org := orgtest.New(t, orgtest.Options{Script: fixtureScript, Check: "true", E2E: "true"})
	ctx := context.Background()
	for user, tok := range map[string]string{"alice": aliceToken, "mallory": malloryToken} {
		if err := org.Users.Add(ctx, user, tok, "test"); err != nil {
			t.Fatal(err)
		}
	}
	eng := org.Engine(t, app.EngineOptions{})
	newIssue := func(title string, optIn bool) int64 {
		is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: title, Body: "As the plan says.", Author: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if optIn {
			if err := org.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
				t.Fatal(err)
			}
		}
		return is.Number
	}
	first := newIssue("Say hello", true)
	orgtest.RunUntilIdle(t, eng)
	if _, err := org.Humans.Approve(ctx, first, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	newIssue("Say goodbye", true)
	orgtest.RunUntilIdle(t, eng)
	newIssue("Someday, maybe", false)

	c := web.Config{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB, Home: org.Home, Users: org.Users,
		LiveEvery: 100 * time.Millisecond}
	if cfg != nil {
		cfg(&c)
	}
	s, err := web.New(c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &fixture{org: org, eng: eng, web: s, srv: srv}
}

// labels is issue n's labels, joined.
func (f *fixture) labels(t *testing.T, n int64) string {
	t.Helper()
	is, err := f.org.Tracker.Issue(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(is.Labels, ",")
}

// client is an HTTP client with a cookie jar, signed in as user when a
// credential is given.
func (f *fixture) client(t *testing.T, user, credential string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if user != "" {
		res, err := c.PostForm(f.srv.URL+"/login", url.Values{"user": {user}, "credential": {credential}, "next": {"/"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/" {
			t.Fatalf("signing in as %s: %s at %s", user, res.Status, res.Request.URL)
		}
	}
	return c
}

// chromium finds the browser: $AGENTORG_CHROMIUM, else chromium on PATH.
// Without one the browser tests skip, except under CI=true, where .ci/run
// installs it and they fail.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AGENTORG_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium); the browser tests need one")
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns a
// tab's context, bounded to two minutes.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium's own temporary files (it leaves some when killed) go
		// where the test cleans up.
		chromedp.Env("TMPDIR=" + t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs browser steps, failing the test on an error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// text is the text of the first element css selects.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// until waits (at most timeout) for a JavaScript expression to be true.
func until(ctx context.Context, expr string, timeout time.Duration) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond)))
	return err
}

// signIn signs the browser in as user through the sign-in form.
func (f *fixture) signIn(t *testing.T, ctx context.Context, user, credential string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#credential"), credential),
		chromedp.Submit(chromedp.CSS("#credential")),
		chromedp.WaitVisible(chromedp.CSS(".who strong")),
	); err != nil {
		t.Fatalf("signing in as %s: %v", user, err)
	}
}
