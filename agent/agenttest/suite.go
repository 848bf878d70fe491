// Package agenttest is the contract suite every coding-agent adapter must
// pass, run against the tool's fake (the test binary playing it, see ActAs
// and Fake) and, where the CLI is installed, against the real CLI driven by
// the scripted model server (Real). Like tracker/trackertest, it is written
// only against agentorg.Agent, so that every adapter is held to the same
// behaviour: docs/agent-protocol.md's outcome rules, the bounds of a run,
// usage per run, and what a failed run still returns.
package agenttest

import (
	"bytes"
	"context"
	"errors"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
)

// Rig plays the suite's turns with one adapter and one tool, its fake or
// the real CLI. Each test gets a fresh rig: one directory and one home, so
// that a resume finds its session.
type Rig interface {
	// Agent is the adapter under test with c's binary and default bounds;
	// the rig fills in the binary when c has none, and what else the tool
	// needs (its model, its endpoint).
	Agent(c cli.Config) agentorg.Agent
	// Task is a read-write task in the rig's directory whose run plays
	// turn, with a transcript. A rig that cannot play turn skips the test.
	Task(t *testing.T, turn Turn) agentorg.Task
	// Last is what the tool saw and reported in its last run.
	Last(t *testing.T) Seen
	// Patience is a stall timeout the tool's start-up never trips.
	Patience() time.Duration
	// Home is the tool's own home, where it keeps its state; "" for a
	// fake, whose home holds the fake's state.
	Home() string
}

// Seen is a run as the tool saw it. Fields a rig cannot know are zero.
type Seen struct {
	Argv []string // the arguments
	Env  []string // the whole environment, when the turn asked (Turn.Record)
	// Prompt is what the tool read that holds the prompt: exactly the
	// prompt when PromptExact, else a text that holds it (a request).
	Prompt      string
	PromptExact bool
	// Session is the session id the tool reported before it ended or
	// stopped, "" when it reported none or the rig cannot tell.
	Session string
	// History: the tool had the session's earlier conversation.
	History bool
	// Usage is what the tool reported for this run, counted per run;
	// PricesItself: the tool computes the cost, so Usage has none.
	Usage        agentorg.Usage
	PricesItself bool
	// Ran: the tool ran at all.
	Ran bool
}

// Suite is the contract for one adapter.
type Suite struct {
	Rig func(t *testing.T) Rig
	// AddsEnv are the variables the adapter sets on top of Task.Env.
	AddsEnv []string
	// BadIDs are session ids the adapter refuses to resume, besides "":
	// ids its tool would take for flags or for other sessions.
	BadIDs []string
	// Confine, when set, applies the run confinement to a task: the suite
	// then checks that the tool cannot write outside the task's directory.
	Confine func(t *testing.T, task *agentorg.Task)
}

// Run runs every case, each on a fresh rig.
func (s Suite) Run(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, s Suite, r Rig)
	}{
		{"StartThenResume", testStartThenResume},
		{"ResumeInAnotherDirectory", testResumeElsewhere},
		{"ErrorResult", testErrorResult},
		{"NonZeroExit", testNonZeroExit},
		{"MalformedLines", testMalformedLines},
		{"HugeLines", testHugeLines},
		{"Stall", testStall},
		{"StallAfterReporting", testStallAfterReporting},
		{"HardTimeout", testHardTimeout},
		{"Cancellation", testCancellation},
		{"PromptOnStdinIntact", testPromptIntact},
		{"EnvironmentIsTheTasks", testEnvironment},
		{"ResumeRefusesBadIDs", testBadIDs},
		{"FailuresToStart", testFailuresToStart},
		{"WriteOutsideTheWorktree", testWriteOutside},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, s, s.Rig(t)) })
	}
}

// Usages of the turns: the resume's differs from the start's, so that a
// session total returned as such shows.
var (
	usage1 = agentorg.Usage{InputTokens: 1200, CachedTokens: 200, OutputTokens: 34, CostUSD: 0.0125}
	usage2 = agentorg.Usage{InputTokens: 600, CachedTokens: 100, OutputTokens: 12, CostUSD: 0.005}
)

func testStartThenResume(t *testing.T, _ Suite, r Rig) {
	a := r.Agent(cli.Config{})
	task := r.Task(t, Turn{Summary: "Created hello.txt.", Usage: usage1,
		Writes: []File{{"hello.txt", "hello from the scripted model\n"}}})
	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, transcript(task))
	}
	seen := r.Last(t)
	if first.SessionID == "" || first.Summary != "Created hello.txt." || seen.History {
		t.Fatalf("start: result %+v, history %v", first, seen.History)
	}
	wantUsage(t, "start", first.Usage, seen)
	wantFile(t, filepath.Join(task.Dir, "hello.txt"), "hello from the scripted model\n")

	task = r.Task(t, Turn{Summary: "Edited hello.txt after NO-GO.", Usage: usage2,
		Writes: []File{{"hello.txt", "hello again\n"}}})
	task.Attempt = 2
	task.SessionUsage = first.Usage
	second, err := a.Resume(context.Background(), first.SessionID, task)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, transcript(task))
	}
	seen2 := r.Last(t)
	if second.SessionID != first.SessionID || second.Summary != "Edited hello.txt after NO-GO." {
		t.Fatalf("resume: result %+v, start's %+v", second, first)
	}
	if !seen2.History {
		t.Error("the resumed run did not have the session's earlier conversation")
	}
	// This run's usage alone, though some tools report the session's total.
	wantUsage(t, "resume", second.Usage, seen2)
	if seen.PricesItself && first.Usage.InputTokens == second.Usage.InputTokens &&
		(second.Usage.CostUSD < first.Usage.CostUSD*0.99 || second.Usage.CostUSD > first.Usage.CostUSD*1.01) {
		t.Errorf("resume cost %v for the same tokens as the start's %v: not this run's alone", second.Usage.CostUSD, first.Usage.CostUSD)
	}
	wantFile(t, filepath.Join(task.Dir, "hello.txt"), "hello again\n")
	wantStateInStateDirs(t, r.Home(), a)
}

// testResumeElsewhere checks a tool that declares it can resume a session
// from another directory (cli.Facts.ResumeInSameDir false) on its word.
func testResumeElsewhere(t *testing.T, _ Suite, r Rig) {
	a := r.Agent(cli.Config{})
	if f, ok := facts(a); !ok || f.ResumeInSameDir || r.Home() == "" {
		t.Skip("a fake, or a tool that resumes only where the session began")
	}
	task := r.Task(t, Turn{Summary: "Started."})
	first, err := a.Start(context.Background(), task)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, transcript(task))
	}
	task = r.Task(t, Turn{Summary: "Resumed elsewhere."})
	task.Dir = clitest.GitRepo(t)
	second, err := a.Resume(context.Background(), first.SessionID, task)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, transcript(task))
	}
	if second.SessionID != first.SessionID || second.Summary != "Resumed elsewhere." || !r.Last(t).History {
		t.Fatalf("resume elsewhere: %+v (start %+v), history %v", second, first, r.Last(t).History)
	}
}

func testErrorResult(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Error: "scripted refusal: context too long", Usage: usage1})
	res, err := r.Agent(cli.Config{}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "scripted refusal: context too long")
	wantReported(t, res, r.Last(t))
}

func testNonZeroExit(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Summary: "Done.", Usage: usage1, Exit: 3, Stderr: "early noise\nfatal: disk full\n"})
	res, err := r.Agent(cli.Config{}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "exit status 3", "early noise\nfatal: disk full")
	wantReported(t, res, r.Last(t))
}

func testMalformedLines(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Summary: "fine", Usage: usage1, Junk: true})
	res, err := r.Agent(cli.Config{}).Start(context.Background(), task)
	if err != nil {
		t.Fatalf("%v\n%s", err, transcript(task))
	}
	if res.Summary != "fine" {
		t.Errorf("summary %q", res.Summary)
	}
	wantReported(t, res, r.Last(t))
	if !strings.Contains(transcript(task), "{broken") {
		t.Error("a malformed line did not reach the transcript")
	}
}

func testHugeLines(t *testing.T, _ Suite, r Rig) {
	// A line longer than any parser keeps comes first; the summary is
	// longer than bufio.Scanner's default buffer.
	summary := strings.Repeat("z", 1_000_000)
	task := r.Task(t, Turn{Summary: summary, Usage: usage1, Huge: 9_000_000})
	var seen fakecli.Counter
	task.Transcript = &seen
	res, err := r.Agent(cli.Config{}).Start(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != summary {
		t.Errorf("summary of %d bytes, want %d", len(res.Summary), len(summary))
	}
	wantReported(t, res, r.Last(t))
	if seen.N < 10_000_000 {
		t.Errorf("the transcript got %d bytes", seen.N)
	}
}

func testStall(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Stall: true})
	task.StallTimeout = r.Patience() // the task's bound wins over the config's
	var pgid int
	task.OnStart = func(id int) { pgid = id }
	start := time.Now()
	res, err := r.Agent(cli.Config{StallTimeout: time.Hour}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled: no output for "+r.Patience().String())
	if d := time.Since(start); d > r.Patience()+time.Minute {
		t.Errorf("the stall took %s to end", d)
	}
	wantGroupGone(t, pgid)
	if seen := r.Last(t); seen.Session != "" && res.SessionID != seen.Session {
		t.Errorf("session %q, the tool reported %q", res.SessionID, seen.Session)
	}
}

func testStallAfterReporting(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Summary: "Done.", Usage: usage1, Linger: true})
	task.StallTimeout = r.Patience()
	res, err := r.Agent(cli.Config{}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "stalled")
	wantReported(t, res, r.Last(t))
}

func testHardTimeout(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Stall: true})
	var pgid int
	task.OnStart = func(id int) { pgid = id }
	d := r.Patience()
	_, err := r.Agent(cli.Config{Timeout: d}).Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "timed out after "+d.String())
	wantGroupGone(t, pgid)
}

func testCancellation(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Stall: true})
	ctx, cancel := context.WithTimeout(context.Background(), r.Patience())
	defer cancel()
	var pgid int
	task.OnStart = func(id int) { pgid = id }
	_, err := r.Agent(cli.Config{}).Start(ctx, task)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, agentorg.ErrAgent) {
		t.Fatalf("cancellation is not an agent failure: %v", err)
	}
	wantGroupGone(t, pgid)
}

func testPromptIntact(t *testing.T, _ Suite, r Rig) {
	// Far over a pipe's buffer and an argument's limit, under Codex's
	// 1,048,576 characters.
	big := strings.Repeat("Ünïcødé prompt line with \"quotes\" and $vars `ticks` --resume -p --help\n", 8000)
	task := r.Task(t, Turn{Summary: "Read it."})
	task.Prompt = big + task.Prompt // the rig's own prompt stays whole
	if _, err := r.Agent(cli.Config{}).Start(context.Background(), task); err != nil {
		t.Fatalf("%v\n%.2000s", err, transcript(task))
	}
	seen := r.Last(t)
	if seen.PromptExact && seen.Prompt != task.Prompt || !strings.Contains(seen.Prompt, task.Prompt) {
		t.Fatalf("the %d-byte prompt did not reach the tool whole (%d bytes did)", len(task.Prompt), len(seen.Prompt))
	}
	for _, arg := range seen.Argv {
		if strings.Contains(arg, "Ünïcødé") {
			t.Fatal("the prompt is an argument")
		}
	}
}

func testEnvironment(t *testing.T, s Suite, r Rig) {
	t.Setenv("AGENTTEST_CANARY", "leaked")
	task := r.Task(t, Turn{Summary: "ok", Record: true})
	task.Env = append(task.Env, "FOO=bar baz")
	if _, err := r.Agent(cli.Config{}).Start(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	seen := r.Last(t)
	ours := func(env []string) []string {
		return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			return slices.Contains(s.AddsEnv, k)
		})
	}
	if got, want := ours(seen.Env), ours(task.Env); !slices.Equal(got, want) {
		t.Fatalf("the tool's environment\n got %q\nwant %q (plus %v)", seen.Env, task.Env, s.AddsEnv)
	}
}

func testBadIDs(t *testing.T, s Suite, r Rig) {
	task := r.Task(t, Turn{Summary: "ok"})
	a := r.Agent(cli.Config{})
	for _, id := range append([]string{""}, s.BadIDs...) {
		if _, err := a.Resume(context.Background(), id, task); err == nil || errors.Is(err, agentorg.ErrAgent) {
			t.Errorf("resume %q: %v", id, err)
		}
	}
	if r.Last(t).Ran {
		t.Error("the tool ran for a bad session id")
	}
}

func testFailuresToStart(t *testing.T, _ Suite, r Rig) {
	task := r.Task(t, Turn{Summary: "ok"})
	for name, bin := range map[string]string{
		"missing path": filepath.Join(t.TempDir(), "missing"),
		"not in PATH":  "agenttest-no-such-tool",
	} {
		if _, err := r.Agent(cli.Config{Binary: bin}).Start(context.Background(), task); err == nil || errors.Is(err, agentorg.ErrAgent) {
			t.Errorf("%s: %v", name, err)
		}
	}
	task.Dir = ""
	if _, err := r.Agent(cli.Config{}).Start(context.Background(), task); err == nil || errors.Is(err, agentorg.ErrAgent) {
		t.Errorf("no directory: %v", err)
	}
}

// testWriteOutside is the confinement's case: under Suite.Confine, a write
// inside the task's directory lands and one outside it does not.
func testWriteOutside(t *testing.T, s Suite, r Rig) {
	if s.Confine == nil {
		t.Skip("no confinement to check (Suite.Confine)")
	}
	outside := filepath.Join(t.TempDir(), "outside.txt")
	task := r.Task(t, Turn{Summary: "Wrote both.",
		Writes: []File{{"inside.txt", "in\n"}, {outside, "must not exist\n"}}})
	s.Confine(t, &task)
	_, err := r.Agent(cli.Config{}).Start(context.Background(), task)
	wantFile(t, filepath.Join(task.Dir, "inside.txt"), "in\n")
	if _, serr := os.Stat(outside); serr == nil {
		t.Fatalf("the tool wrote outside its directory (run: %v)", err)
	}
}

// wantReported checks that a run, failed or not, returned what the tool
// reported: its session and its usage.
func wantReported(t *testing.T, res agentorg.Result, seen Seen) {
	t.Helper()
	if res.SessionID == "" || seen.Session != "" && res.SessionID != seen.Session {
		t.Errorf("session %q, the tool reported %q", res.SessionID, seen.Session)
	}
	wantUsage(t, "run", res.Usage, seen)
}

func wantUsage(t *testing.T, what string, got agentorg.Usage, seen Seen) {
	t.Helper()
	want := seen.Usage
	// Costs are sums of floats: a rounding error is no error.
	if seen.PricesItself || math.Abs(got.CostUSD-want.CostUSD) < 1e-9 {
		want.CostUSD = got.CostUSD
	}
	if got != want {
		t.Errorf("%s usage %+v, the tool reported %+v for this run", what, got, want)
	}
}

// facts are what the adapter declares of its tool, if it runs one.
func facts(a agentorg.Agent) (cli.Facts, bool) {
	tl, ok := a.(interface{ Tool() cli.Tool })
	if !ok {
		return cli.Facts{}, false
	}
	return tl.Tool().Facts, true
}

// wantStateInStateDirs checks that every file the tool wrote under its
// home is in a state directory its adapter declares (cli.Facts), which
// the run confinement lets it write; the temporary directory aside.
func wantStateInStateDirs(t *testing.T, home string, a agentorg.Agent) {
	t.Helper()
	f, ok := facts(a)
	if home == "" || !ok {
		return
	}
	declared := append([]string{"tmp"}, f.HomeDirs()...) // clitest's TMPDIR
	var outside []string
	err := filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(home, p)
		if !slices.ContainsFunc(declared, func(dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }) {
			outside = append(outside, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(outside) > 0 {
		t.Errorf("the tool wrote under its home outside the state dirs %q its adapter declares: %q", f.HomeDirs(), outside)
	}
}

// wantGroupGone checks that the run's process group started and that none
// of its processes outlived the run.
func wantGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if pgid <= 0 {
		t.Fatalf("OnStart got process group %d", pgid)
	}
	if live := clitest.LiveInGroup(pgid); len(live) > 0 {
		t.Errorf("processes of group %d outlived the run: %v", pgid, live)
	}
}

func wantFile(t *testing.T, path, content string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != content {
		t.Errorf("%s: %q, %v; want %q", path, b, err, content)
	}
}

// transcript is what a task's transcript holds, if the rig kept it.
func transcript(task agentorg.Task) string {
	if b, ok := task.Transcript.(*bytes.Buffer); ok {
		return b.String()
	}
	return ""
}

// Confined is a Suite.Confine for adapters whose tool may run confined:
// the task's directory writable and nothing else of the machine (the
// runner adds the tool's own state directories). It skips where the
// kernel cannot confine, and fails there under CI=true. The test binary's
// TestMain must start with sandbox.Main (fakecli.Main does).
func Confined(t *testing.T, task *agentorg.Task) {
	sandboxtest.Need(t)
	task.Confine = &agentorg.Confinement{Writable: []string{task.Dir}}
	for _, kv := range task.Env {
		if dir, ok := strings.CutPrefix(kv, fakeEnv+"="); ok {
			// The fake tool's own state, as a real tool's state dirs.
			task.Confine.Writable = append(task.Confine.Writable, dir)
		}
	}
}
