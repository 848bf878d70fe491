package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentorg/agentorg/store"
)

// The daemon: it picks up an issue opened while it runs (polling), refuses
// a second engine on the same home, and stops cleanly on SIGTERM.
func TestServeDaemonPollsAndStopsCleanly(t *testing.T) {
	o := newCrashOrg(t, store.SQLite)
	logPath := filepath.Join(o.dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--poll", "200ms")
	cmd.Dir = o.dir
	cmd.Env = append(baseEnv(), o.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	// Wait until the daemon holds the home, then open an issue behind its back.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "serving") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := run(t, o.dir, o.env, "serve", "--once"); r.code == 0 || !strings.Contains(r.stderr, "another agentorg engine is running") {
		t.Fatalf("a second engine on the same home must be refused, got exit %d: %s", r.code, r.stderr)
	}
	if r := run(t, o.dir, o.env, "issue", "new", "--title", "Add Twice", "--opt-in", "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: %s", r.stderr)
	}
	for {
		r := run(t, o.dir, o.env, "issue", "show", "1", "--json")
		var is struct{ Labels []string }
		json.Unmarshal([]byte(r.stdout), &is)
		if strings.Join(is.Labels, ",") == "plan:review" {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the daemon did not plan the new issue; labels %v\n%s", is.Labels, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// status reads beside the running engine: it names it, and says who
	// may pass the gate the plan waits at.
	r := run(t, o.dir, o.env, "status")
	for _, want := range []string{fmt.Sprintf("engine   running (pid %d)", cmd.Process.Pid), "WAITING FOR A HUMAN\n#1 Add Twice\n",
		"at gate plan (plan:review) for ", "alice may approve: an approver can run `agentorg approve 1`"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("status while serve runs lacks %q (exit %d):\n%s%s", want, r.code, r.stdout, r.stderr)
		}
	}
	// alice approves from another shell: the daemon's log shows her
	// approval, and status shows the stages that run on it while they run.
	if r := run(t, o.dir, o.env, "approve", "1", "--as", "alice"); r.code != 0 {
		t.Fatalf("approve: %s", r.stderr)
	}
	waitUntil(t, "status shows a stage running on #1", func() bool {
		r := run(t, o.dir, o.env, "status", "--json")
		var b struct {
			Running []struct {
				Issue int64
				Stage string
				RunID string `json:"run_id"`
			}
		}
		json.Unmarshal([]byte(r.stdout), &b)
		return len(b.Running) == 1 && b.Running[0].Issue == 1 && b.Running[0].Stage != "" && len(b.Running[0].RunID) == 36
	})
	waitUntil(t, "serve logs the approval and the validation", func() bool {
		b, _ := os.ReadFile(logPath)
		return regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d #1 plan:review → issue:approved  alice approved the plan$`).Match(b) &&
			regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d #1 validate:running → mr:ready-for-review  GO on attempt 1`).Match(b)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("serve should exit 0 on SIGTERM: %v\n%s", err, b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// A GitLab webhook wakes the daemon: with an hour between polls, an issue
// opened while it runs is planned only because a webhook with the right
// secret arrived; a wrong secret is refused.
func TestServeWebhookWakesTheEngine(t *testing.T) {
	o := newCrashOrg(t, store.SQLite)
	logPath := filepath.Join(o.dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--poll", "1h", "--webhook-addr", "127.0.0.1:0")
	cmd.Dir = o.dir
	cmd.Env = append(append(baseEnv(), o.env...), "AGENTORG_WEBHOOK_SECRET=hook-secret")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	deadline := time.Now().Add(30 * time.Second)
	hookRE := regexp.MustCompile(`GitLab webhooks on (http://\S+)`)
	var url string
	for {
		b, _ := os.ReadFile(logPath)
		if m := hookRE.FindSubmatch(b); m != nil && strings.Contains(string(b), "serving") {
			url = string(m[1])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := run(t, o.dir, o.env, "issue", "new", "--title", "Add Twice", "--opt-in", "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: %s", r.stderr)
	}
	post := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"object_kind":"issue"}`))
		req.Header.Set("X-Gitlab-Event", "Issue Hook")
		req.Header.Set("X-Gitlab-Token", token)
		req.Header.Set("X-Gitlab-Event-UUID", "delivery-"+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("a webhook with a wrong token: status %d", code)
	}
	if code := post("hook-secret"); code != http.StatusOK {
		t.Fatalf("a webhook with the right token: status %d", code)
	}
	for {
		r := run(t, o.dir, o.env, "issue", "show", "1", "--json")
		var is struct{ Labels []string }
		json.Unmarshal([]byte(r.stdout), &is)
		if strings.Join(is.Labels, ",") == "plan:review" {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the webhook did not wake the daemon; labels %v\n%s", is.Labels, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
