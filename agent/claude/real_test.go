package claude

import (
	"bytes"
	"context"
	"encoding/json"
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

// These tests run the real Claude Code CLI against the scripted model
// server, with a fresh home and an environment built from scratch.

var usage = modelserver.Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34}

type realRig struct {
	srv   *modelserver.Server
	agent *Agent
	env   []string
	dir   string // a git repository
}

func newRealRig(t *testing.T, cfg Config, steps ...modelserver.Step) *realRig {
	t.Helper()
	cli := clitest.Find(t, "claude")
	srv := modelserver.New(modelserver.Script{Steps: steps, Usage: usage})
	t.Cleanup(srv.Close)
	cfg.Binary = cli
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	return &realRig{
		srv:   srv,
		agent: New(cfg),
		env: clitest.NewHome(t).Env(cli, "ANTHROPIC_BASE_URL="+srv.URL(),
			"ANTHROPIC_API_KEY=not-a-real-key", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"),
		dir: clitest.GitRepo(t),
	}
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

func TestRealStartResumeAndUsage(t *testing.T) {
	r := newRealRig(t, Config{},
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
	// Two requests of 1200 input tokens (200 of them cache reads) and 34
	// output tokens each; Claude Code prices them itself.
	if u := first.Usage; u.InputTokens != 2400 || u.CachedTokens != 400 || u.OutputTokens != 68 || u.CostUSD <= 0 {
		t.Errorf("start usage %+v", u)
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
	// Tokens are per process; total_cost_usd covers the whole session, so
	// this run's cost is the total minus the first run's, the same again.
	if u := second.Usage; u.InputTokens != 2400 || u.CachedTokens != 400 || u.OutputTokens != 68 ||
		u.CostUSD < first.Usage.CostUSD*0.99 || u.CostUSD > first.Usage.CostUSD*1.01 {
		t.Errorf("resume usage %+v, first %+v", u, first.Usage)
	}
	if !strings.Contains(tr.String(), `"permissionMode":"acceptEdits"`) {
		t.Errorf("the resumed run is not in acceptEdits mode:\n%s", tr)
	}
	if got := readFile(t, filepath.Join(r.dir, "hello.txt")); got != "fixed by the scripted model\n" {
		t.Fatalf("hello.txt after resume: %q", got)
	}
	reqs := r.srv.Requests()
	if len(reqs) != nStart+2 {
		t.Fatalf("%d requests after resume, %d before", len(reqs), nStart)
	}
	body := string(reqs[nStart].Body)
	for _, s := range []string{"Issue #7: create hello.txt (STEP-ONE)", `"name":"Write"`, "Created hello.txt.", "NO-GO"} {
		if !strings.Contains(body, s) {
			t.Errorf("the first resumed request lacks %q", s)
		}
	}
	if got := reqs[nStart].Header.Get("X-Claude-Code-Session-Id"); got != first.SessionID {
		t.Errorf("resumed request's session header %q, want %q", got, first.SessionID)
	}
}

func TestRealReadOnlyCannotWrite(t *testing.T) {
	r := newRealRig(t, Config{},
		// With no Write tool declared, the server writes through Bash.
		modelserver.Step{Match: "WRITE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "ro.txt", Content: "must not exist\n"}},
			{Shell: "echo x > ro-shell.txt"},
			{Shell: "ls -a"},
			{Text: "Reviewed."}}},
	)
	task, tr := r.task("Review the change (WRITE)", agentorg.ReadOnly)
	res, err := r.agent.Start(context.Background(), task)
	if err != nil || res.Summary != "Reviewed." {
		t.Fatalf("read-only run: %+v, %v\n%s", res, err, tr)
	}
	for _, f := range []string{"ro.txt", "ro-shell.txt"} {
		if _, err := os.Stat(filepath.Join(r.dir, f)); err == nil {
			t.Errorf("a read-only run wrote %s", f)
		}
	}
	reqs := r.srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests\n%s", len(reqs), tr)
	}
	for _, name := range []string{`"name":"Write"`, `"name":"Edit"`, `"name":"NotebookEdit"`} {
		if strings.Contains(string(reqs[0].Body), name) {
			t.Errorf("a read-only run was offered %s", name)
		}
	}
	// Reading commands still run: the model got the listing.
	if !strings.Contains(string(reqs[3].Body), ".git") {
		t.Errorf("ls -a did not run:\n%s", tr)
	}
}

func TestRealDeniedWriteFailsAReadWriteRun(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.txt") // not under Task.Dir
	r := newRealRig(t, Config{},
		modelserver.Step{Match: "OUTSIDE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: outside, Content: "must not exist\n"}},
			{Text: "Wrote it."}}},
	)
	task, tr := r.task("Write outside (OUTSIDE)", agentorg.ReadWrite)
	res, err := r.agent.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "permission denied for Write")
	if res.SessionID == "" || res.Summary != "Wrote it." || res.Usage.InputTokens == 0 {
		t.Errorf("result on denial %+v\n%s", res, tr)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("Claude Code wrote outside the project")
	}
}

func TestRealCommandsNeedAllowedTools(t *testing.T) {
	// acceptEdits runs file edits and read-only or filesystem commands, but
	// denies any other command (go, make, npm): the run still succeeds, the
	// denial noted in its summary, and a workflow whose developer should run
	// them allows them through Config.Args.
	steps := []modelserver.Step{{Match: "SH", Actions: []modelserver.Action{
		{Shell: "git status --short"},
		{Shell: "echo hi > made-by-shell.txt"},
		{Shell: "go version"},
		{Text: "Ran them."}}}}
	r := newRealRig(t, Config{}, steps...)
	task, tr := r.task("Run the commands (SH)", agentorg.ReadWrite)
	res, err := r.agent.Start(context.Background(), task)
	if err != nil || res.Summary != "Ran them.\n\n(Claude Code denied: Bash)" {
		t.Errorf("result %+v, %v\n%s", res, err, tr)
	}
	if got := readFile(t, filepath.Join(r.dir, "made-by-shell.txt")); got != "hi\n" {
		t.Errorf("made-by-shell.txt: %q", got)
	}
	if !strings.Contains(tr.String(), `"permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_scripted_3","tool_input":{"command":"go version"`) {
		t.Errorf("the denial is not the go command's:\n%s", tr)
	}

	r = newRealRig(t, Config{Args: []string{"--allowedTools", "Bash(go *)"}}, steps...)
	task, tr = r.task("Run the commands (SH)", agentorg.ReadWrite)
	res, err = r.agent.Start(context.Background(), task)
	if err != nil || strings.Contains(res.Summary, "denied") {
		t.Fatalf("with go allowed: %+v, %v\n%s", res, err, tr)
	}
}

func TestRealMaxTurns(t *testing.T) {
	r := newRealRig(t, Config{MaxTurns: 1},
		modelserver.Step{Match: "LONG", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "a.txt", Content: "a\n"}},
			{Write: &modelserver.Write{Path: "b.txt", Content: "b\n"}},
			{Text: "Done."}}},
	)
	task, tr := r.task("A long job (LONG)", agentorg.ReadWrite)
	res, err := r.agent.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "error_max_turns")
	if res.SessionID == "" {
		t.Errorf("no session on max turns: %+v\n%s", res, tr)
	}
}

func TestRealAPIError(t *testing.T) {
	r := newRealRig(t, Config{}, modelserver.Step{Match: "FAIL", Actions: []modelserver.Action{
		{Fail: &modelserver.Fail{Status: 400, Message: "scripted refusal: prompt too long"}}}})
	task, tr := r.task("Do it (FAIL)", agentorg.ReadWrite)
	res, err := r.agent.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "scripted refusal: prompt too long")
	if res.SessionID == "" {
		t.Errorf("no session on failure: %+v\n%s", res, tr)
	}
}

func TestRealStall(t *testing.T) {
	r := newRealRig(t, Config{}, modelserver.Step{Match: "STALL", Actions: []modelserver.Action{{Stall: true}}})
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
	cli := clitest.Find(t, "claude")
	env := clitest.NewHome(t).Env(cli)
	pr := New(Config{}).Probe(context.Background(), env)
	if pr.Problem != "" || pr.Path != cli || !strings.Contains(pr.Version, "Claude Code") {
		b, _ := json.Marshal(pr)
		t.Fatalf("probe of the installed Claude Code: %s", b)
	}
}
