package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Issue 19: `agentorg ui` serves the dashboard on a home, read-only, on
// loopback; another address needs --auth.
func TestUIServesTheDashboardOnLoopbackOnly(t *testing.T) {
	o := newHomeOrg(t, t.TempDir(), "steps: []\n", "true")
	o.must(t, "issue", "new", "--title", "Look at me", "--as", "alice")

	r := o.try(t, "ui", "--http", "0.0.0.0:0")
	if r.code == 0 || !strings.Contains(r.stderr, "--http 0.0.0.0:0 is not a loopback address") || !strings.Contains(r.stderr, "add --auth") {
		t.Fatalf("ui off loopback without --auth: exit %d\n%s", r.code, r.stderr)
	}

	url, _ := dashboard(t, o, `dashboard on (http://127\.0\.0\.1:\d+)/ \(read-only\)`, "ui", "--http", "127.0.0.1:0")
	get := func(path string) (int, string) { return httpGet(t, http.DefaultClient, url+path) }
	if code, body := get("/"); code != 200 || !strings.Contains(body, "read-only") {
		t.Fatalf("/: %d\n%s", code, body)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "agentorg_jobs{") {
		t.Fatalf("/metrics: %d\n%.500s", code, body)
	}
	res, err := http.PostForm(url+"/issues/1/approve", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a POST to a read-only dashboard: %s", res.Status)
	}
}

// dashboard starts agentorg with args and returns the first submatch of
// the first output line that matches want (where it serves), and the rest
// of its output as it comes.
func dashboard(t *testing.T, o *homeOrg, want string, args ...string) (string, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = o.dir, append(baseEnv(), o.env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	re := regexp.MustCompile(want)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && lines.Scan() {
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			return m[1], lines
		}
	}
	t.Fatalf("agentorg %s did not print %s", strings.Join(args, " "), want)
	return "", nil
}

func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Issue 19: serve --http serves the dashboard beside the engine, ready once
// the engine read the tracker; --as prints a one-time sign-in link, and the
// person signed in by it sees the gate's forms on an issue's page.
func TestServeHTTPServesTheDashboardBesideTheEngine(t *testing.T) {
	o := newHomeOrg(t, t.TempDir(), "steps:\n  - match: {role: pm}\n    summary: plan\n", "true")
	o.must(t, "issue", "new", "--title", "Plan me", "--opt-in", "--as", "alice")
	url, lines := dashboard(t, o, `dashboard on (http://127\.0\.0\.1:\d+)/$`, "serve", "--poll", "200ms", "--http", "127.0.0.1:0", "--as", "alice")
	var link string
	for link == "" && lines.Scan() {
		if m := regexp.MustCompile(`sign in as alice \(once, within 10 minutes\): (http://\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			link = m[1]
		}
	}
	go func() {
		for lines.Scan() { // keep serve's output flowing
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := httpGet(t, http.DefaultClient, url+"/readyz")
		if code == 200 && strings.TrimSpace(body) == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	jar, _ := cookiejar.New(nil)
	alice := &http.Client{Jar: jar}
	if code, body := httpGet(t, alice, link); code != 200 || !strings.Contains(body, "Signed in as <strong>alice</strong>") {
		t.Fatalf("the sign-in link: %d\n%.400s", code, body)
	}
	if code, _ := httpGet(t, alice, link); code != http.StatusUnauthorized {
		t.Fatalf("the sign-in link worked twice: %d", code)
	}
	for time.Now().Before(deadline) {
		if _, body := httpGet(t, alice, url+"/issues/1"); strings.Contains(body, `action="/issues/1/approve"`) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the plan never waited at its gate with an approve form on the page")
}
