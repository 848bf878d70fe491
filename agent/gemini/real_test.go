package gemini

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// These tests run the real Gemini CLI against the scripted model server.

var realUsage = modelserver.Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34}

// realSetup returns the agent, a task in a fresh git repository, and the
// server. The home is fresh and holds only the settings that select API-key
// auth, as the package comment tells workflows to do.
func realSetup(t *testing.T, sc modelserver.Script, c Config) (*Agent, agentorg.Task, *modelserver.Server, *bytes.Buffer) {
	t.Helper()
	cli := clitest.Find(t, "gemini")
	srv := modelserver.New(sc)
	t.Cleanup(srv.Close)
	home := clitest.NewHome(t)
	if err := os.MkdirAll(filepath.Join(home.Dir, ".gemini"), 0o755); err != nil {
		t.Fatal(err)
	}
	settings := `{"security":{"auth":{"selectedType":"gemini-api-key"}}}`
	if err := os.WriteFile(filepath.Join(home.Dir, ".gemini", "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git := exec.Command("git", "init", "-q", repo)
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	c.Binary = cli
	var transcript bytes.Buffer
	task := agentorg.Task{
		Role: "developer", Issue: 7, Attempt: 1,
		Dir:    repo,
		Access: agentorg.ReadWrite,
		Env: home.Env(cli, "GEMINI_API_KEY=scripted", "GOOGLE_GEMINI_BASE_URL="+srv.URL(),
			"GEMINI_CLI_TRUST_WORKSPACE=true"),
		Transcript: &transcript,
		Timeout:    3 * time.Minute,
	}
	return New(c), task, srv, &transcript
}

// geminiRequests counts the model requests the server got from index from.
func geminiRequests(srv *modelserver.Server, from int) int {
	n := 0
	for _, r := range srv.Requests()[from:] {
		if r.API == "gemini" {
			n++
		}
	}
	return n
}

func TestRealStartResumeUsage(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{
			{Match: "STEP-ONE", Actions: []modelserver.Action{
				{Write: &modelserver.Write{Path: "hello.txt", Content: "hello from the scripted model\n"}},
				{Text: "Created hello.txt."}}},
			{Match: "STEP-TWO", Actions: []modelserver.Action{
				{Edit: &modelserver.Edit{Path: "hello.txt", Old: "hello from the scripted model", New: "hello again"}},
				{Text: "Edited hello.txt after resume."}}},
		},
		Usage: realUsage,
	}
	a, task, srv, transcript := realSetup(t, sc, Config{})
	// A leading "/" would make the CLI run a slash command instead, and drop
	// the prompt from the history a resume restores; "@octocat" names no
	// file: all must reach the model as text.
	task.Prompt = "/help Create hello.txt please (STEP-ONE). cc @octocat"
	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, transcript)
	}
	if first.SessionID == "" || first.Summary != "Created hello.txt." {
		t.Fatalf("start result %+v", first)
	}
	if b, err := os.ReadFile(filepath.Join(task.Dir, "hello.txt")); err != nil || string(b) != "hello from the scripted model\n" {
		t.Fatalf("hello.txt after start: %q, %v", b, err)
	}
	var asText bool
	for _, r := range srv.Requests() {
		if bytes.Contains(r.Body, []byte("/help Create hello.txt please (STEP-ONE). cc @octocat")) {
			asText = true
		}
	}
	if !asText {
		t.Error("no request carried the prompt as text")
	}
	n := geminiRequests(srv, 0)
	if n < 2 {
		t.Fatalf("the server saw %d model requests", n)
	}
	want := agentorg.Usage{InputTokens: int64(n) * 1200, CachedTokens: int64(n) * 200, OutputTokens: int64(n) * 34}
	if first.Usage != want {
		t.Errorf("start usage %+v, want %+v (%d requests)", first.Usage, want, n)
	}

	seen := len(srv.Requests())
	task.Attempt = 2
	task.Prompt = "Validation said NO-GO. Edit hello.txt (STEP-TWO)."
	second, err := a.Resume(context.Background(), first.SessionID, task)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, transcript)
	}
	if second.SessionID != first.SessionID || second.Summary != "Edited hello.txt after resume." {
		t.Fatalf("resume result %+v (first %+v)", second, first)
	}
	if b, _ := os.ReadFile(filepath.Join(task.Dir, "hello.txt")); string(b) != "hello again\n" {
		t.Fatalf("hello.txt after resume: %q", b)
	}
	// Stats are per process: the resume reports its own requests only.
	n2 := geminiRequests(srv, seen)
	if want := (agentorg.Usage{InputTokens: int64(n2) * 1200, CachedTokens: int64(n2) * 200, OutputTokens: int64(n2) * 34}); second.Usage != want {
		t.Errorf("resume usage %+v, want %+v (%d requests)", second.Usage, want, n2)
	}
	// The resumed request carried the first run's conversation.
	var carried bool
	for _, r := range srv.Requests()[seen:] {
		if bytes.Contains(r.Body, []byte("STEP-ONE")) && bytes.Contains(r.Body, []byte("STEP-TWO")) {
			carried = true
		}
	}
	if !carried {
		for _, r := range srv.Requests()[seen:] {
			t.Logf("%s %.3000s", r.Path, r.Body)
		}
		t.Error("no resumed request carried the earlier prompt")
	}

	// From another directory the CLI finds no session: a clear error.
	task.Dir = t.TempDir()
	_, err = a.Resume(context.Background(), first.SessionID, task)
	fakecli.WantAgentErr(t, err, "exit status 42", "only from the directory it was created in")
}

func TestRealReadOnlyCannotWrite(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{{Match: "*", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "verdict.txt", Content: "GO"}},
			{Text: "GO"}}}},
		Usage: realUsage,
	}
	a, task, srv, transcript := realSetup(t, sc, Config{Model: "gemini-2.5-flash"})
	task.Role = "validator"
	task.Access = agentorg.ReadOnly
	task.Prompt = "Validate the change."
	// --skip-trust alone must trust the worktree.
	env := task.Env[:0:0]
	for _, kv := range task.Env {
		if !strings.HasPrefix(kv, "GEMINI_CLI_TRUST_WORKSPACE=") {
			env = append(env, kv)
		}
	}
	task.Env = env
	_, err := a.Start(context.Background(), task)
	if _, serr := os.Stat(filepath.Join(task.Dir, "verdict.txt")); serr == nil {
		t.Fatalf("a read-only run wrote a file (err %v)\n%s", err, transcript)
	}
	// The write tools were not even declared to the model.
	checked := 0
	for _, r := range srv.Requests() {
		if r.API != "gemini" || !bytes.Contains(r.Body, []byte("functionDeclarations")) {
			continue
		}
		checked++
		for _, tool := range []string{`"write_file"`, `"replace"`, `"run_shell_command"`} {
			if bytes.Contains(r.Body, []byte(tool)) {
				t.Errorf("read-only request declares %s", tool)
			}
		}
		if !bytes.Contains(r.Body, []byte(`"read_file"`)) {
			t.Error("read-only request lacks read_file")
		}
	}
	if checked == 0 {
		t.Fatalf("no request declared tools (run error: %v)\n%s", err, transcript)
	}
}

func TestRealAPIError(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{{Match: "*", Actions: []modelserver.Action{
			{Fail: &modelserver.Fail{Status: 400, Message: "scripted failure: invalid argument"}}}}},
		Usage: realUsage,
	}
	a, task, _, transcript := realSetup(t, sc, Config{Model: "gemini-2.5-flash"})
	task.Prompt = "Do something."
	res, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "scripted failure: invalid argument")
	if res.SessionID == "" {
		t.Errorf("no session id on the error result\n%s", transcript)
	}
}

func TestRealStall(t *testing.T) {
	sc := modelserver.Script{
		Steps: []modelserver.Step{{Match: "*", Actions: []modelserver.Action{{Stall: true}}}},
		Usage: realUsage,
	}
	a, task, _, _ := realSetup(t, sc, Config{Model: "gemini-2.5-flash"})
	task.Prompt = "Do something slowly."
	task.StallTimeout = 5 * time.Second
	var group int
	task.OnStart = func(pgid int) { group = pgid }
	_, err := a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for 5s")
	if err := syscall.Kill(-group, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists: %v", group, err)
	}
}

func TestRealProbe(t *testing.T) {
	cli := clitest.Find(t, "gemini")
	pr := New(Config{Binary: cli}).Probe(context.Background(), clitest.NewHome(t).Env(cli))
	if pr.Problem != "" || pr.Path != cli || !strings.HasPrefix(pr.Version, "0.") {
		t.Fatalf("probe %+v", pr)
	}
}
