package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg/eventfmt"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/workflow"
)

// The demo's kept home, built once for the tests that read it: the demo
// takes seconds, and what it leaves (four issues through the lifecycle, one
// escalated) is what status, events and logs have to show. Tests that add
// to a home work on a copy (copyHome).
var keptHome struct {
	once         sync.Once
	home, stdout string
	err          error
}

func keptDemo(t *testing.T) (home, stdout string) {
	t.Helper()
	keptHome.once.Do(func() {
		keptHome.home = filepath.Join(filepath.Dir(bin), "demo-home")
		cmd := exec.Command(bin, "demo", "--keep", keptHome.home)
		cmd.Env = baseEnv()
		out, err := cmd.CombinedOutput()
		keptHome.stdout = string(out)
		if err != nil {
			keptHome.err = err
		}
	})
	if keptHome.err != nil {
		t.Fatalf("demo --keep: %v\n%s", keptHome.err, keptHome.stdout)
	}
	return keptHome.home, keptHome.stdout
}

// copyHome copies the kept demo's home for a test that changes it.
func copyHome(t *testing.T) string {
	t.Helper()
	home, _ := keptDemo(t)
	dst := filepath.Join(t.TempDir(), "home")
	if out, err := exec.Command("cp", "-a", home, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy the demo's home: %v\n%s", err, out)
	}
	// The copy is a moved home: its first command repairs it, and says so.
	if r := run(t, t.TempDir(), nil, "--home", dst, "status"); r.code != 0 || !strings.Contains(r.stderr, "the home moved from") {
		t.Fatalf("the first command in the copied home: exit %d\n%s", r.code, r.stderr)
	}
	return dst
}

// fits fails the test for every line of out wider than width columns.
func fits(t *testing.T, what, out string, width int) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if n := eventfmt.Width(l); n > width {
			t.Errorf("%s: a line of %d columns (more than %d):\n%s", what, n, width, l)
		}
	}
}

func TestStatusShowsTheBoard(t *testing.T) {
	home, _ := keptDemo(t)
	r := run(t, t.TempDir(), nil, "--home", home, "status")
	if r.code != 0 {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fits(t, "status", r.stdout, 100)
	for _, want := range []string{
		"engine   not running",
		"issues   1 open: 0 running, 0 waiting for a human, 1 escalated",
		"\nneeds:human  1     #3\n",
		"RUNNING NOW: nothing",
		"\n#3     2 of 3   3              ", // attempt 2 of the budget's 3, distance 3
		"ESCALATED\n#3 Add Div that refuses division by zero",
		"the same findings came back",
		"`agentorg logs --issue 3`",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, t.TempDir(), nil, "--home", home, "status", "--json")
	var b struct {
		EnginePID int `json:"engine_pid"`
		States    []struct {
			Label  string
			Issues []int64
		}
		Running   []any
		Budgets   []struct{ Issue, Attempt, Attempts, Distance int }
		Escalated []struct {
			Issue  int64
			Reason string
			RunID  string `json:"run_id"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	var labels []string
	for _, s := range b.States {
		labels = append(labels, s.Label)
	}
	// Lifecycle order: from opt-in along the main road, the escalation last.
	if got := strings.Join(labels, " "); !strings.HasPrefix(got, "agentorg pm:running plan:review issue:approved dev:ready") ||
		!strings.HasSuffix(got, "needs:human") {
		t.Errorf("states out of lifecycle order: %s", got)
	}
	if b.EnginePID != 0 || len(b.Running) != 0 || len(b.Escalated) != 1 || b.Escalated[0].Issue != 3 ||
		!strings.Contains(b.Escalated[0].Reason, "same findings") || b.Escalated[0].RunID == "" {
		t.Errorf("status --json: engine %d, running %v, escalated %+v", b.EnginePID, b.Running, b.Escalated)
	}
	if len(b.Budgets) != 1 || b.Budgets[0].Issue != 3 || b.Budgets[0].Attempt != 2 || b.Budgets[0].Attempts != 3 || b.Budgets[0].Distance != 3 {
		t.Errorf("status --json budgets: %+v; want #3 at attempt 2 of 3, distance 3", b.Budgets)
	}
}

func TestEventsFitsAHundredColumns(t *testing.T) {
	home, _ := keptDemo(t)
	r := run(t, t.TempDir(), nil, "--home", home, "events")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "TIME ") {
		t.Fatalf("events: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fits(t, "events", r.stdout, 100)
	if !regexp.MustCompile(`\n\d\d:\d\d:\d\d  #2     transition  agentorg  dev:done → validate:running\s+validate claimed the[^\n]*…\n`).MatchString(r.stdout) {
		t.Errorf("events lacks #2's validation claim, cut with …:\n%s", r.stdout)
	}
	// --wide keeps the whole reason and the run id; --json is unchanged.
	r = run(t, t.TempDir(), nil, "--home", home, "events", "--wide", "--issue", "3")
	if !strings.Contains(r.stdout, "criterion:`go test ./...` passes)") || !regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`).MatchString(r.stdout) {
		t.Errorf("events --wide lacks full reasons or run ids:\n%s", r.stdout)
	}
	r = run(t, t.TempDir(), nil, "--home", home, "events", "--json", "--issue", "3")
	var evs []struct{ Issue int64 }
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil || len(evs) == 0 {
		t.Fatalf("events --json: %v\n%s", err, r.stdout)
	}
}

// events --follow prints what another process records while it runs, with
// --issue and --json too, and an interrupt ends it with exit status 0.
func TestEventsFollowPrintsNewEventsUntilInterrupted(t *testing.T) {
	home := copyHome(t)
	start := func(args ...string) (*exec.Cmd, *lockedOutput) {
		cmd := exec.Command(bin, append([]string{"--home", home, "events", "--follow"}, args...)...)
		cmd.Env = baseEnv()
		out := &lockedOutput{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, out
	}
	text, textOut := start()
	js, jsonOut := start("--issue", "6", "--json")
	// The text follower first prints the log as it is.
	waitUntil(t, "the follower prints the existing events", func() bool { return strings.Contains(textOut.String(), "E2E passed") })

	if r := run(t, t.TempDir(), nil, "--home", home, "issue", "new", "--title", "Add Pow", "--opt-in", "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: %s", r.stderr)
	}
	waitUntil(t, "both followers print the new issue's opt-in", func() bool {
		return strings.Contains(textOut.String(), "#6     transition  alice     - → agentorg") &&
			strings.Contains(jsonOut.String(), `"reason":"opted in by alice"`)
	})
	// A person whose name is written in Japanese: two columns a character,
	// in the actor's column and in the reason, and the rows still fit.
	if r := run(t, t.TempDir(), nil, "--home", home, "user", "add", "山田太郎さん", "--as", "alice"); r.code != 0 {
		t.Fatalf("user add: %s", r.stderr)
	}
	if r := run(t, t.TempDir(), nil, "--home", home, "label", "add", "6", "feature", "--as", "山田太郎さん"); r.code != 0 {
		t.Fatalf("label add: %s", r.stderr)
	}
	waitUntil(t, "the follower prints the label added in Japanese", func() bool { return strings.Contains(textOut.String(), "山田太郎さん added") })
	for _, c := range []*exec.Cmd{text, js} {
		if err := c.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(); err != nil {
			t.Errorf("events --follow %v after an interrupt: %v; want exit 0", c.Args[4:], err)
		}
	}
	fits(t, "events --follow", textOut.String(), 100)
	r := run(t, t.TempDir(), nil, "--home", home, "events")
	fits(t, "events", r.stdout, 100)
	lines := strings.Split(strings.TrimSpace(jsonOut.String()), "\n")
	for _, l := range lines {
		var e struct{ Issue int64 }
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Issue != 6 {
			t.Errorf("events --follow --issue 6 --json printed %q (%v); want one JSON object of #6 per line", l, err)
		}
	}
}

func TestLogsPrintsTranscripts(t *testing.T) {
	home, _ := keptDemo(t)
	r := run(t, t.TempDir(), nil, "--home", home, "events", "--json")
	var evs []struct {
		Issue int64
		Stage string
		RunID string `json:"run_id"`
		Kind  string
		Data  map[string]string
	}
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		t.Fatal(err)
	}
	var devRun string
	ids := map[string]bool{}
	for _, e := range evs {
		if e.RunID != "" {
			ids[e.RunID] = true
		}
		if e.Issue == 2 && e.Kind == "agent" && e.Stage == "develop" && e.Data["attempt"] == "1" {
			devRun = e.RunID
		}
	}
	if devRun == "" {
		t.Fatal("no developer run of #2's attempt 1 in the events")
	}

	// A prefix names the run, as with git.
	r = run(t, t.TempDir(), nil, "--home", home, "logs", devRun[:8])
	if r.code != 0 || !strings.HasPrefix(r.stdout, "=== #2, develop, attempt 1, run "+devRun+", ") ||
		!strings.Contains(r.stdout, "playing step") {
		t.Fatalf("logs %s: exit %d\n%s%s", devRun[:8], r.code, r.stdout, r.stderr)
	}

	// A prefix that starts several runs is refused, naming them.
	byFirst := map[string][]string{}
	for id := range ids {
		byFirst[id[:1]] = append(byFirst[id[:1]], id)
	}
	var prefix string
	for p, runs := range byFirst {
		if len(runs) > 1 && (prefix == "" || p < prefix) {
			prefix = p
		}
	}
	if prefix == "" {
		t.Fatal("the demo's run ids share no first character") // 30-odd uuids always do
	}
	r = run(t, t.TempDir(), nil, "--home", home, "logs", prefix)
	if r.code != 1 || !strings.Contains(r.stderr, "ambiguous") {
		t.Fatalf("logs %s (ambiguous): exit %d\n%s", prefix, r.code, r.stderr)
	}
	sort.Strings(byFirst[prefix])
	for _, id := range byFirst[prefix][:min(len(byFirst[prefix]), 10)] {
		if !strings.Contains(r.stderr, id) {
			t.Errorf("the ambiguous prefix's error does not list %s:\n%s", id, r.stderr)
		}
	}
	r = run(t, t.TempDir(), nil, "--home", home, "logs", "zzzz")
	if r.code != 1 || !strings.Contains(r.stderr, `no run id starts with "zzzz"`) || !regexp.MustCompile(`\n  [0-9a-f-]{36}  #\d `).MatchString(r.stderr) {
		t.Fatalf("logs zzzz: exit %d\n%s", r.code, r.stderr)
	}

	// An issue's runs in order, each under its header; a run that wrote no
	// transcript says so.
	r = run(t, t.TempDir(), nil, "--home", home, "logs", "--issue", "2")
	headers := regexp.MustCompile(`(?m)^=== #2, (\w+)(, attempt \d)*, run [0-9a-f-]{36}, [0-9-]+ [0-9:]+ ===$`).FindAllStringSubmatch(r.stdout, -1)
	var stages []string
	for _, h := range headers {
		stages = append(stages, h[1])
	}
	if got := strings.Join(stages, " "); !strings.HasPrefix(got, "plan pick develop validate develop validate") {
		t.Errorf("logs --issue 2 runs: %s; want plan, pick, then develop and validate twice", got)
	}
	if !strings.Contains(r.stdout, "(no transcript: ") {
		t.Errorf("logs --issue 2 should say that pick wrote no transcript:\n%s", r.stdout)
	}

	r = run(t, t.TempDir(), nil, "--home", home, "logs", "--issue", "2", "--attempt", "2")
	hs := regexp.MustCompile(`(?m)^=== .*$`).FindAllString(r.stdout, -1)
	if r.code != 0 || len(hs) < 2 || !strings.Contains(hs[0], ", develop, attempt 2, ") || !strings.Contains(hs[1], ", validate, attempt 2") {
		t.Fatalf("logs --issue 2 --attempt 2: exit %d, headers %q\n%s", r.code, hs, r.stderr)
	}
	for _, h := range hs {
		if !strings.Contains(h, "attempt 2") {
			t.Errorf("logs --attempt 2 printed a run of another attempt: %s", h)
		}
	}
	if r = run(t, t.TempDir(), nil, "--home", home, "logs", "--issue", "2", "--attempt", "9"); r.code != 1 || !strings.Contains(r.stderr, "no runs of attempt 9; its attempts are 1, 2") {
		t.Errorf("logs --attempt 9: exit %d %s", r.code, r.stderr)
	}
}

// onceScript plans every issue; the developer writes a working Pow for
// issue 1 and, for issue 2, a Neg whose test fails the same way every time.
const onceScript = `
steps:
  - match: {role: pm}
    summary: "Add the function.\n\n## Acceptance criteria\n- [ ] ` + "`go test ./...`" + ` passes"
  - match: {role: developer, issue: 1}
    actions:
      - write: {path: twice.go, content: "package calc\n\n// Twice returns 2n.\nfunc Twice(n int) int { return Add(n, n) }\n"}
    summary: Added Twice.
  - match: {role: developer, issue: 2}
    actions:
      - write: {path: neg.go, content: "package calc\n\n// Neg returns -n.\nfunc Neg(n int) int { return n }\n"}
      - write: {path: neg_test.go, content: "package calc\n\nimport \"testing\"\n\nfunc TestNeg(t *testing.T) {\n\tif Neg(2) != -2 {\n\t\tt.Fatal(\"Neg(2) != -2\")\n\t}\n}\n"}
    summary: Added Neg.
`

// serve --once logs each transition to stderr, ends with a summary, and
// exits 1 when an issue was escalated during the run, else 0.
func TestServeOnceSummarisesAndFailsOnEscalation(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script.yaml")
	if err := os.WriteFile(script, []byte(onceScript), 0o644); err != nil {
		t.Fatal(err)
	}
	text := string(workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git", Check: "go test ./...", E2E: "go test ./...",
		AgentCommand: []string{bin, "scripted-agent", "--script", script, "--state", filepath.Join(dir, "sessions")},
		Agent:        workflow.AgentOptions{Writable: []string{filepath.Join(dir, "sessions") + "/"}},
	}))
	repo, _, err := sample.Make(context.Background(), filepath.Join(dir, "sample"), map[string]string{workflow.DefaultPath: text})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "sessions"), 0o755)
	env := []string{"AGENTORG_HOME=" + filepath.Join(dir, "home"), "AGENTORG_WORKFLOW=" + filepath.Join(repo, workflow.DefaultPath)}
	for _, title := range []string{"Add Twice", "Add Neg"} {
		if r := run(t, dir, env, "issue", "new", "--title", title, "--opt-in", "--as", "alice"); r.code != 0 {
			t.Fatalf("issue new: %s", r.stderr)
		}
	}
	approve := func(n string) {
		t.Helper()
		if r := run(t, dir, env, "approve", n, "--as", "alice"); r.code != 0 {
			t.Fatalf("approve %s: %s", n, r.stderr)
		}
	}

	// Both plans wait for alice: nothing broke.
	r := run(t, dir, env, "serve", "--once")
	if r.code != 0 {
		t.Fatalf("serve --once (plans): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Summary: 2 issue(s) moved.", "  waiting    #1 Add Twice (plan:review)", "at gate plan; alice may approve: an approver can run `agentorg approve 1`"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the plans' summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d #1 agentorg → pm:running  plan claimed the issue \(job \d+, try 1\)$`).MatchString(r.stderr) ||
		!regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d #2 pm:running → plan:review  plan posted for approval`).MatchString(r.stderr) {
		t.Errorf("serve's log lacks the plans' transitions:\n%s", r.stderr)
	}

	// #2's fix never converges: escalated, exit 1, and the summary says why
	// and where the transcripts are.
	approve("1")
	approve("2")
	r = run(t, dir, env, "serve", "--once")
	if r.code != 1 {
		t.Fatalf("serve --once with an escalation: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"  waiting    #1 Add Twice (mr:ready-for-review)", "  escalated  #2 Add Neg (needs:human)",
		"the same findings came back", "`agentorg status`", "`agentorg logs --issue 2`"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the escalation's summary lacks %q:\n%s", want, r.stdout)
		}
	}
	fits(t, "serve --once's summary", r.stdout, 100)
	if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d #2 validate:running → needs:human  validation did not converge: the same findings came back`).MatchString(r.stderr) {
		t.Errorf("serve's log lacks the escalation:\n%s", r.stderr)
	}

	// #1 merges, nothing breaks: exit 0; the log as JSON, one event a line.
	approve("1")
	r = run(t, dir, env, "serve", "--once", "--log-format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "  done       #1 Add Twice (e2e:done)") || strings.Contains(r.stdout, "#2") {
		t.Fatalf("serve --once merging #1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var moves []string
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		var e struct {
			Issue    int64
			Kind     string
			From, To string
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("serve --log-format json printed %q: %v", sc.Text(), err)
		}
		if e.Kind == "transition" {
			moves = append(moves, e.From+">"+e.To)
		}
	}
	if got := strings.Join(moves, " "); !strings.Contains(got, "mr:approved>e2e:ready e2e:ready>e2e:running e2e:running>e2e:done") {
		t.Errorf("serve's JSON log transitions: %s", got)
	}
	if r := run(t, dir, env, "serve", "--once", "--log-format", "yaml"); r.code == 0 || !strings.Contains(r.stderr, "--log-format must be text or json") {
		t.Errorf("an unknown log format: exit %d %s", r.code, r.stderr)
	}
}

func TestNewCommandsHelpHasExamples(t *testing.T) {
	for _, args := range [][]string{{"status"}, {"logs"}, {"events"}, {"serve"}, {"issue", "show"}} {
		r := run(t, t.TempDir(), nil, append(args, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:\n  agentorg "+args[0]) {
			t.Errorf("agentorg %s --help has no example:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
}

// lockedOutput is a subprocess's output, read while it is written.
type lockedOutput struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitUntil polls cond until it holds, failing the test after a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
}
