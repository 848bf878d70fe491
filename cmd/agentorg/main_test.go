package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/sandbox"
)

// bin is the agentorg binary built once for these tests: they run it as a
// user would, in real subprocesses.
var bin string

func TestMain(m *testing.M) {
	sandbox.Main() // sandbox.Available probes through the test binary
	dir, err := os.MkdirTemp("", "agentorg-cli-test-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "agentorg")
	// The people these tests act as keep their credentials here, never in
	// the machine's own ~/.config.
	credentials = filepath.Join(dir, "credentials.json")
	// The homes made by default go under XDG_STATE_HOME: this one, removed
	// at the end, never the machine's. The checks' Go build cache beside
	// them stays the machine's, warm.
	stateHome = filepath.Join(dir, "state")
	if err := linkChecksCache(stateHome); err != nil {
		panic(err)
	}
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building agentorg: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs agentorg with args; env entries are added to a clean environment.
func run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// credentials is the test people's credentials file (see human.Users).
var credentials string

// stateHome is the XDG_STATE_HOME of agentorg in these tests.
var stateHome string

// linkChecksCache makes state/agentorg/checks a link to the checks' cache
// of the machine's own state directory.
func linkChecksCache(state string) error {
	own := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(own) {
		home, err := os.UserHomeDir()
		if err != nil {
			return os.MkdirAll(state, 0o755)
		}
		own = filepath.Join(home, ".local", "state")
	}
	checks := filepath.Join(own, "agentorg", "checks")
	if err := os.MkdirAll(checks, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(state, "agentorg"), 0o755); err != nil {
		return err
	}
	return os.Symlink(checks, filepath.Join(state, "agentorg", "checks"))
}

func baseEnv() []string {
	env := []string{"AGENTORG_CREDENTIALS=" + credentials, "XDG_STATE_HOME=" + stateHome}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"init", "--help"}, {"check", "--help"}, {"issue", "--help"}, {"issue", "new", "--help"},
		{"issue", "list", "--help"}, {"issue", "show", "--help"}, {"issue", "close", "--help"},
		{"label", "add", "--help"}, {"label", "remove", "--help"}, {"approve", "--help"}, {"reject", "--help"},
		{"mr", "list", "--help"}, {"mr", "show", "--help"}, {"mr", "comment", "--help"}, {"mr", "reply", "--help"}, {"mr", "resolve", "--help"}, {"events", "--help"}, {"serve", "--help"},
		{"demo", "--help"}, {"bench", "--help"}, {"labels", "sync", "--help"}, {"doctor", "--help"}, {"status", "--help"}, {"logs", "--help"}, {"fsck", "--help"}, {"gc", "--help"}, {"ui", "--help"}, {"release", "--help"}, {"release", "list", "--help"}, {"release", "show", "--help"}, {"deploy", "--help"}, {"deploy", "approve", "--help"}, {"deploy", "status", "--help"},
	} {
		r := run(t, t.TempDir(), nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("agentorg %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func TestDemoKeepThenInspectWithTheCLI(t *testing.T) {
	home, stdout := keptDemo(t)
	if !strings.Contains(stdout, "scripted agent, standing in for a model") {
		t.Error("the demo must say that a scripted agent stands in for the model")
	}

	r := run(t, t.TempDir(), nil, "--home", home, "issue", "list", "--json")
	var issues []struct {
		Number int64
		State  string
		Labels []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &issues); err != nil {
		t.Fatalf("issue list --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	want := map[int64]string{1: "closed e2e:done,feature", 2: "closed e2e:done,feature", 3: "open feature,needs:human", 4: "closed e2e:done,feature", 5: "closed deploy:done"}
	if len(issues) != 5 {
		t.Fatalf("want 4 issues and a release, got %+v", issues)
	}
	for _, is := range issues {
		slices.Sort(is.Labels)
		if got := is.State + " " + strings.Join(is.Labels, ","); got != want[is.Number] {
			t.Errorf("#%d: %s, want %s", is.Number, got, want[is.Number])
		}
	}

	r = run(t, t.TempDir(), nil, "--home", home, "events", "--issue", "2", "--json")
	var evs []struct {
		Kind string
		Data map[string]string
	}
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		t.Fatalf("events --json: %v", err)
	}
	var verdicts, sessions []string
	for _, e := range evs {
		if e.Kind == "verdict" {
			verdicts = append(verdicts, e.Data["verdict"])
			sessions = append(sessions, e.Data["session"])
		}
	}
	// A third GO comes when #1 merged first: main moved, #2 was rebased and
	// validated again, in the same session's record.
	if v := strings.Join(verdicts, " "); (v != "NO-GO GO" && v != "NO-GO GO GO") || sessions[0] == "" || sessions[0] != sessions[1] || sessions[len(sessions)-1] != sessions[0] {
		t.Fatalf("issue 2 verdicts %v with sessions %v; want NO-GO then GO in one session", verdicts, sessions)
	}

	// usage adds up the agents' runs: #2's developer runs reported
	// 1700+2600 input and 190+60 output tokens (the demo's script).
	r = run(t, t.TempDir(), nil, "--home", home, "usage", "--json")
	type tokens struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	}
	var usage struct {
		Runs []struct {
			Issue int64
			Role  string
		}
		Issues []struct {
			Issue int64
			Runs  int
			Usage tokens
		}
		Total tokens
	}
	if err := json.Unmarshal([]byte(r.stdout), &usage); err != nil {
		t.Fatalf("usage --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	var sumIn int64
	roles := map[string]bool{}
	for _, iu := range usage.Issues {
		sumIn += iu.Usage.InputTokens
		if iu.Issue == 2 && (iu.Usage.InputTokens != 4300 || iu.Usage.OutputTokens != 250) {
			t.Errorf("#2 usage %+v, want 4300 input and 250 output tokens", iu)
		}
	}
	for _, run := range usage.Runs {
		roles[run.Role] = true
	}
	if sumIn != usage.Total.InputTokens || !roles["pm"] || !roles["developer"] || !roles["validator"] {
		t.Errorf("usage: total %d input vs per-issue sum %d; roles with runs %v (want pm, developer, validator)", usage.Total.InputTokens, sumIn, roles)
	}

	// The target branch holds the merged work, the release's CHANGELOG,
	// and nothing else; the release is tagged and runs in staging.
	out, err := exec.Command("git", "-C", filepath.Join(home, "sample", "origin.git"), "ls-tree", "-r", "--name-only", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(out))
	wantFiles := ".agentorg/.gitignore .agentorg/workflow.yaml .gitignore CHANGELOG.md README.md abs.go abs_test.go calc.go calc_test.go go.mod mul.go mul_test.go sub.go sub_test.go"
	if strings.Join(got, " ") != wantFiles {
		t.Fatalf("main holds\n  %s\nwant\n  %s", strings.Join(got, " "), wantFiles)
	}
	r = run(t, t.TempDir(), nil, "--home", home, "release", "list")
	if !strings.Contains(r.stdout, "v0.1.0  published") || !strings.Contains(r.stdout, "#1, #2, #4") {
		t.Fatalf("release list:\n%s%s", r.stdout, r.stderr)
	}
	r = run(t, t.TempDir(), nil, "--home", home, "deploy", "status")
	if !strings.Contains(r.stdout, "staging  0.1.0") || !strings.Contains(r.stdout, "0.1.0 succeeded") {
		t.Fatalf("deploy status:\n%s%s", r.stdout, r.stderr)
	}

	// issue show prints the demo's timeline: the states with their
	// reasons, then the attempts with verdict, distance and findings.
	r = run(t, t.TempDir(), nil, "--home", home, "issue", "show", "2")
	for _, want := range []string{"\ntimeline (time since the issue was opened, ", "  dev:ready              NO-GO on attempt 1 (distance 3): back to the developer's session (agentorg)\n",
		"\n  attempt 1: NO-GO distance 3, commit ", "\n             - criterion:Mul(a, b) returns a * b\n", "\n  attempt 2: GO    distance 0, commit "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("issue show 2 lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, t.TempDir(), nil, "--home", home, "issue", "show", "3", "--json")
	var shown struct {
		Attempts []struct {
			N        int
			Verdict  string
			Distance int
			Findings []struct{ Key string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
		t.Fatalf("issue show --json: %v\n%s", err, r.stdout)
	}
	if len(shown.Attempts) != 2 || shown.Attempts[1].Verdict != "NO-GO" || shown.Attempts[1].Distance != 3 || len(shown.Attempts[1].Findings) != 3 {
		t.Fatalf("issue 3 attempts: %+v", shown.Attempts)
	}

	r = run(t, t.TempDir(), nil, "--home", home, "mr", "list", "--json")
	var mrs []struct{ State string }
	// Three issues' merge requests, and the release's CHANGELOG change.
	if err := json.Unmarshal([]byte(r.stdout), &mrs); err != nil || len(mrs) != 4 || mrs[0].State != "merged" || mrs[1].State != "merged" || mrs[2].State != "merged" || mrs[3].State != "merged" {
		t.Fatalf("mr list: %v %s", err, r.stdout)
	}

	// #4's merge request carries the review: the fixed thread resolved by
	// the bot with the commit, the question answered and open.
	var mr4 int
	for i, m := range mrs {
		_ = m
		r = run(t, t.TempDir(), nil, "--home", home, "mr", "show", fmt.Sprint(i+1), "--json")
		var shown struct {
			Issue   int64
			Threads []struct {
				ID       string
				Path     string
				Resolved bool
				Notes    []struct{ Author, Body string }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
			t.Fatalf("mr show --json: %v\n%s", err, r.stdout)
		}
		if shown.Issue != 4 {
			continue
		}
		mr4 = i + 1
		th := shown.Threads
		if len(th) != 2 || th[0].Path != "abs.go" || !th[0].Resolved || th[1].Resolved || len(th[0].Notes) != 2 || th[0].Notes[1].Author != "agentorg" ||
			!strings.Contains(th[0].Notes[1].Body, "Fixed in ") || !strings.Contains(th[1].Notes[1].Body, "calc works on int") {
			t.Fatalf("#4's review threads: %+v", th)
		}
	}
	if mr4 == 0 {
		t.Fatal("no merge request of #4")
	}
	r = run(t, t.TempDir(), nil, "--home", home, "issue", "show", "4")
	if !strings.Contains(r.stdout, "review rounds:") || !strings.Contains(r.stdout, "abs.go:3  must-fix") || !strings.Contains(r.stdout, "question") {
		t.Errorf("issue show 4 lacks its review round:\n%s", r.stdout)
	}
	// Review threads from the CLI: comment on a line, reply, resolve, show.
	n := fmt.Sprint(mr4)
	for _, args := range [][]string{
		{"user", "add", "bob", "--as", "alice"},
		{"mr", "comment", n, "--as", "bob", "--file", "abs.go", "--line", "4", "Nice."},
		{"mr", "reply", n, "3", "--as", "alice", "Thanks."},
		{"mr", "resolve", n, "3", "--as", "alice"},
	} {
		if r = run(t, t.TempDir(), nil, append([]string{"--home", home}, args...)...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	r = run(t, t.TempDir(), nil, "--home", home, "mr", "show", n)
	for _, want := range []string{"thread 1 on abs.go:3 (resolved by agentorg)", "thread 2 (open)", "thread 3 on abs.go:4 (resolved by alice)", "bob, ", "    Nice.", "    Thanks."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("mr show lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "agentorg:review") {
		t.Errorf("mr show leaks markers:\n%s", r.stdout)
	}
	if r = run(t, t.TempDir(), nil, "--home", home, "mr", "comment", n, "--as", "bob", "--file", "abs.go", "Where?"); r.code == 0 || !strings.Contains(r.stderr, "--file and --line go together") {
		t.Errorf("a file without a line: exit %d, %s", r.code, r.stderr)
	}
	// Only a reviewer reopens a thread: bob is enrolled, but no reviewer.
	if r = run(t, t.TempDir(), nil, "--home", home, "mr", "resolve", n, "3", "--reopen", "--as", "bob"); r.code == 0 ||
		!strings.Contains(r.stderr, "bob may not reopen review thread 3 on !"+n+": only a reviewer may (alice)") {
		t.Errorf("bob reopening a thread: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r = run(t, t.TempDir(), nil, "--home", home, "mr", "resolve", n, "3", "--reopen", "--as", "alice"); r.code != 0 || !strings.Contains(r.stdout, "alice reopened thread 3") {
		t.Errorf("alice reopening a thread: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCheckReportsEveryProblemWithPositions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "workflow.yaml")
	text := `version: 1
opt_in: agentorg
escalation: needs:human
labels:
  - name: agentorg
  - name: needs:human
  - name: plan:review
agents:
  coder: {kind: command, command: [x]}
stages:
  plan: {role: pm, agent: ghost, on: agentorg, success: plan:review, colour: red}
  develop: {role: developer, agent: coder, on: dev:ready, success: dev:done}
gates:
  plan: {waits: plan:review, approve: plan:review, approvers: []}
prompts:
  pm: "{{.Issue.Titel}}"
  developer: "x"
  fix: "x"
`
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, nil, "check", p)
	if r.code != 1 {
		t.Fatalf("check should fail with exit 1, got %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		p + ":11:", // unknown key colour, agent ghost
		"colour",
		"ghost",
		"dev:ready", // label used but never defined
		"approvers", // gate without approvers
		"Titel",     // template error
		p + ":16:",  // ... at the template's line
		"never",     // a stage nothing can reach
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestAgentsReportsFoundAndMissing(t *testing.T) {
	dir := userRepo(t, "main", map[string]string{"go.mod": "module x\n"})
	if r := run(t, dir, gitIsolation(), "init", "--approver", "bob", "--agent-command", "no-such-agent-program"); r.code != 0 {
		t.Fatalf("init: %s%s", r.stdout, r.stderr)
	}
	wfPath := filepath.Join(dir, ".agentorg", "workflow.yaml")
	b, _ := os.ReadFile(wfPath)
	codex := clitest.Find(t, "codex")
	extra := "agents:\n" +
		"  real:\n    kind: codex\n    binary: " + codex + "\n" +
		"  gone:\n    kind: claude\n    binary: /nonexistent/claude\n"
	text := strings.Replace(string(b), "agents:\n", extra, 1)
	if err := os.WriteFile(wfPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, nil, "agents", "--json")
	if r.code != 1 {
		t.Fatalf("agents with missing programs should exit 1, got %d: %s%s", r.code, r.stdout, r.stderr)
	}
	var reports []struct {
		Name, Kind, Path, Version, Problem, Fix string
		OK                                      bool
	}
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
		t.Fatalf("agents --json: %v\n%s", err, r.stdout)
	}
	byName := map[string]int{}
	for i, rep := range reports {
		byName[rep.Name] = i
	}
	if len(reports) != 3 {
		t.Fatalf("want 3 agents, got %+v", reports)
	}
	if rep := reports[byName["real"]]; !rep.OK || rep.Path != codex || !strings.Contains(rep.Version, "0.169.0") {
		t.Errorf("real codex should be found with its version: %+v", rep)
	}
	for _, name := range []string{"gone", "command"} {
		if rep := reports[byName[name]]; rep.OK || rep.Problem == "" || rep.Fix == "" {
			t.Errorf("%s should be reported missing with a fix: %+v", name, rep)
		}
	}
	r = run(t, dir, nil, "agents")
	if r.code != 1 || !strings.Contains(r.stdout, "PROBLEM") || !strings.Contains(r.stdout, "fix:") {
		t.Errorf("agents (text) should show the problems and fixes, exit 1; got %d:\n%s", r.code, r.stdout)
	}
}
