package codex

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// These tests run the real Codex CLI against the scripted model server,
// with a fresh home and an environment built from scratch.

var usage = modelserver.Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34}

type realRig struct {
	srv   *modelserver.Server
	agent *Agent
	env   []string
	dir   string // a git repository
}

func newRealRig(t *testing.T, steps ...modelserver.Step) *realRig {
	t.Helper()
	cli := clitest.Find(t, "codex")
	srv := modelserver.New(modelserver.Script{Steps: steps, Usage: usage})
	t.Cleanup(srv.Close)
	provider := `model_providers.scripted={name="scripted",base_url="` + srv.URL() +
		`/v1",wire_api="responses",env_key="SCRIPTED_API_KEY",request_max_retries=0,stream_max_retries=0}`
	r := &realRig{
		srv: srv,
		agent: New(Config{Binary: cli, Model: "gpt-5.5", Timeout: 3 * time.Minute,
			Args: []string{"-c", provider, "-c", "model_provider=scripted"}}),
		env: clitest.NewHome(t).Env(cli, "SCRIPTED_API_KEY=not-a-real-key"),
		dir: clitest.GitRepo(t),
	}
	return r
}

func (r *realRig) task(prompt string, access agentorg.Access) (agentorg.Task, *bytes.Buffer) {
	var tr bytes.Buffer
	return agentorg.Task{Role: "developer", Issue: 7, Attempt: 1, Dir: r.dir, Prompt: prompt,
		Access: access, Env: r.env, Transcript: &tr}, &tr
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lastBody is the newest request the server received, as text.
func lastBody(t *testing.T, srv *modelserver.Server) string {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("the model server saw no request")
	}
	return string(reqs[len(reqs)-1].Body)
}

func TestRealStartResumeAndUsage(t *testing.T) {
	r := newRealRig(t,
		modelserver.Step{Match: "STEP-ONE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "hello.txt", Content: "hello from the scripted model\n"}},
			{Text: "Created hello.txt."}}},
		modelserver.Step{Match: "NO-GO", Actions: []modelserver.Action{
			{Edit: &modelserver.Edit{Path: "hello.txt", Old: "hello from", New: "fixed by"}},
			{Text: "Fixed hello.txt after NO-GO."}}},
	)
	task, tr := r.task("Issue #7: create hello.txt (STEP-ONE)", agentorg.ReadWrite)
	first, err := r.agent.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, tr)
	}
	if first.SessionID == "" || first.Summary != "Created hello.txt." {
		t.Fatalf("start result %+v\n%s", first, tr)
	}
	// Two requests (the call, then the answer) of 1200/200/34 each.
	if want := (agentorg.Usage{InputTokens: 2400, CachedTokens: 400, OutputTokens: 68}); first.Usage != want {
		t.Errorf("start usage %+v, want %+v", first.Usage, want)
	}
	if got := readFile(t, filepath.Join(r.dir, "hello.txt")); got != "hello from the scripted model\n" {
		t.Fatalf("hello.txt after start: %q", got)
	}
	nStart := len(r.srv.Requests())

	task, tr = r.task("Validation said NO-GO: hello.txt must say fixed", agentorg.ReadWrite)
	task.Attempt = 2
	task.SessionUsage = first.Usage
	second, err := r.agent.Resume(context.Background(), first.SessionID, task)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, tr)
	}
	if second.SessionID != first.SessionID || second.Summary != "Fixed hello.txt after NO-GO." {
		t.Fatalf("resume result %+v (first %+v)\n%s", second, first, tr)
	}
	// Codex reports the thread's total (4800); this run's share is 2400.
	if second.Usage != first.Usage {
		t.Errorf("resume usage %+v, want this run's %+v", second.Usage, first.Usage)
	}
	if got := readFile(t, filepath.Join(r.dir, "hello.txt")); got != "fixed by the scripted model\n" {
		t.Fatalf("hello.txt after resume: %q", got)
	}
	// The resumed requests carry the first run's conversation.
	reqs := r.srv.Requests()
	if len(reqs) != nStart+2 {
		t.Fatalf("%d requests after resume, %d before", len(reqs), nStart)
	}
	body := string(reqs[nStart].Body)
	for _, s := range []string{"Issue #7: create hello.txt (STEP-ONE)", "*** Add File: hello.txt", "Created hello.txt.", "NO-GO"} {
		if !strings.Contains(body, s) {
			t.Errorf("the first resumed request lacks %q", s)
		}
	}
	if got := reqs[nStart].Header.Get("session-id"); got != first.SessionID {
		t.Errorf("resumed request's session-id header %q, want %q", got, first.SessionID)
	}
}

func TestRealSandboxPerAccess(t *testing.T) {
	// A path outside the project and outside /tmp (which workspace-write
	// lets Codex write): Codex refuses the patch before touching it.
	outside := fmt.Sprintf("/var/agentorg-codex-test-%d/outside.txt", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(outside)) })
	r := newRealRig(t,
		modelserver.Step{Match: "READ-ONLY", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "ro.txt", Content: "must not exist\n"}},
			{Text: "Reviewed."}}},
		modelserver.Step{Match: "OUTSIDE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: outside, Content: "must not exist\n"}},
			{Text: "Wrote outside."}}},
	)

	// Read-only: the write is refused, and that is not a failure.
	task, tr := r.task("Review the change (READ-ONLY)", agentorg.ReadOnly)
	res, err := r.agent.Start(context.Background(), task)
	if err != nil || res.Summary != "Reviewed." {
		t.Fatalf("read-only start: %+v, %v\n%s", res, err, tr)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "ro.txt")); err == nil {
		t.Fatal("a read-only run wrote a file")
	}
	if !strings.Contains(lastBody(t, r.srv), "writing is blocked by read-only sandbox") {
		t.Errorf("the model was not told the write was blocked:\n%s", tr)
	}

	// The sandbox given before `resume` applies to the resumed run too.
	task, tr = r.task("Review again (READ-ONLY)", agentorg.ReadOnly)
	if _, err := r.agent.Resume(context.Background(), res.SessionID, task); err != nil {
		t.Fatalf("read-only resume: %v\n%s", err, tr)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "ro.txt")); err == nil {
		t.Fatal("a read-only resumed run wrote a file")
	}
	if !strings.Contains(lastBody(t, r.srv), "Review again") || strings.Count(lastBody(t, r.srv), "writing is blocked by read-only sandbox") != 2 {
		t.Errorf("the resumed write was not blocked by the read-only sandbox:\n%s", tr)
	}

	// Read-write: a refused write fails the run even though Codex exits 0.
	task, tr = r.task("Write outside the project (OUTSIDE)", agentorg.ReadWrite)
	res, err = r.agent.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "the sandbox refused: patch rejected: writing outside of the project")
	if res.SessionID == "" || res.Summary != "Wrote outside." {
		t.Errorf("result on refusal %+v\n%s", res, tr)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("Codex wrote outside the project")
	}
}

func TestRealAPIError(t *testing.T) {
	r := newRealRig(t, modelserver.Step{Match: "FAIL", Actions: []modelserver.Action{
		{Fail: &modelserver.Fail{Status: 400, Message: "scripted refusal: context too long"}}}})
	task, tr := r.task("Do it (FAIL)", agentorg.ReadWrite)
	res, err := r.agent.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "scripted refusal: context too long")
	if res.SessionID == "" {
		t.Errorf("no thread id on failure: %+v\n%s", res, tr)
	}
}

func TestRealStall(t *testing.T) {
	r := newRealRig(t, modelserver.Step{Match: "STALL", Actions: []modelserver.Action{{Stall: true}}})
	task, tr := r.task("Think forever (STALL)", agentorg.ReadWrite)
	task.StallTimeout = 3 * time.Second
	var pgid int
	task.OnStart = func(id int) { pgid = id }
	start := time.Now()
	_, err := r.agent.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for 3s")
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the stall took %s to end\n%s", d, tr)
	}
	if pgid <= 0 {
		t.Fatal("OnStart was not called")
	}
	if live := clitest.LiveInGroup(pgid); len(live) > 0 {
		t.Errorf("processes of group %d outlived the run: %v", pgid, live)
	}
}

func TestRealProbe(t *testing.T) {
	cli := clitest.Find(t, "codex")
	env := clitest.NewHome(t).Env(cli)
	pr := New(Config{}).Probe(context.Background(), env)
	if pr.Problem != "" || pr.Path != cli || !strings.HasPrefix(pr.Version, "codex-cli ") {
		b, _ := json.Marshal(pr)
		t.Fatalf("probe of the installed Codex: %s", b)
	}
}
