package main

import (
	"bufio"
	"io"
	"net/http"
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

	cmd := exec.Command(bin, "ui", "--http", "127.0.0.1:0")
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
	var url string
	deadline := time.Now().Add(30 * time.Second)
	for url == "" && time.Now().Before(deadline) && lines.Scan() {
		if m := regexp.MustCompile(`dashboard on (http://127\.0\.0\.1:\d+)/ \(read-only\)`).FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatal("ui did not say where it serves")
	}
	get := func(path string) (int, string) {
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
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
