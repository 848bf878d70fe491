package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/workflow"
)

// crashScript makes every agent run last about a second, so that each stage
// stays in its running label long enough for the test to kill the engine
// there. The developer writes a valid file, so that the checks pass. The
// review round has two threads, 1 (a must-fix on twice.go:3) and 2 (a
// question): triage classifies them, and the developer's second attempt is
// the fix. The fix writes the whole file, so that a rerun after a kill
// finds nothing half-applied to trip over.
const crashScript = `
steps:
  - match: {role: pm}
    actions:
      - sleep: 1s
    summary: "Add twice.go with Twice(n int) int.\n\n## Acceptance criteria\n- [ ] ` + "`go test ./...`" + ` passes"
  - match: {role: triage}
    actions:
      - sleep: 1s
    summary: "Two threads.\n\n` + "```" + `json\n{\"threads\": [{\"thread\": \"1\", \"class\": \"must-fix\", \"reason\": \"twice.go:3 does not say how Twice doubles\"}, {\"thread\": \"2\", \"class\": \"question\", \"reason\": \"asks why\", \"answer\": \"Add(n, n) reuses the package's Add.\"}]}\n` + "```" + `"
  - match: {role: developer, attempt: 2, prompt: "twice.go:3"}
    actions:
      - sleep: 1s
      - write:
          path: twice.go
          content: |
            package calc

            // Twice returns n doubled, as Add(n, n).
            func Twice(n int) int { return Add(n, n) }
    summary: Said how Twice doubles (review thread 1).
  - match: {role: developer}
    actions:
      - sleep: 1s
      - write:
          path: twice.go
          content: |
            package calc

            // Twice returns 2n.
            func Twice(n int) int { return Add(n, n) }
    summary: Added Twice.
`

// runningLabels are the stages' running labels: the promise is that a kill
// -9 in any of them is survived.
var runningLabels = []string{"pm:running", "dev:running", "validate:running", "e2e:running"}

// betweenLabels are states where no stage shows it is running but the engine
// may be busy (starting up, picking, merging, enqueueing the next stage). A
// kill the first time one is seen is a bonus: it is not always caught.
var betweenLabels = []string{"issue:approved", "dev:done", "mr:approved", "e2e:ready"}

// reviewRunning are the running labels of the review round: triage, then the
// developer's fix and its re-validation. Each gets a kill of its own, on top
// of the first pass through dev:running and validate:running.
var reviewRunning = []string{"triage:running", "dev:running", "validate:running"}

// crashOrg is an organization driven only through the agentorg binary.
type crashOrg struct {
	dir, home, wf, origin, script string
	env                           []string
	// database is the home's SQLite file, or the PostgreSQL URL every
	// command is given.
	database string
}

// eachDialect runs f as a subtest per database agentorg supports, each
// with an organization of its own (see newScriptedOrg).
func eachDialect(t *testing.T, f func(t *testing.T, d store.Dialect)) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) { f(t, d) })
	}
}

func (o *crashOrg) cli(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, o.dir, o.env, args...)
	if r.code != 0 {
		t.Fatalf("agentorg %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (o *crashOrg) cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	r := o.cli(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("agentorg %s --json: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

type crashIssue struct {
	Number int64    `json:"number"`
	State  string   `json:"state"`
	Labels []string `json:"labels"`
}

func (o *crashOrg) issue(t *testing.T, n int64) crashIssue {
	t.Helper()
	var issues []crashIssue
	o.cliJSON(t, &issues, "issue", "list")
	for _, is := range issues {
		if is.Number == n {
			return is
		}
	}
	t.Fatalf("issue #%d is not listed: %+v", n, issues)
	return crashIssue{}
}

// server is one `agentorg serve --once` subprocess.
type server struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid once done is closed
}

func (o *crashOrg) serve(t *testing.T, i int) *server {
	t.Helper()
	s := &server{log: filepath.Join(o.dir, fmt.Sprintf("serve-%02d.log", i)), done: make(chan struct{})}
	f, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	// A file, not a pipe: Wait must not depend on what the children of a
	// killed engine still hold open.
	s.cmd = exec.Command(bin, "serve", "--once")
	s.cmd.Dir = o.dir
	s.cmd.Env = append(baseEnv(), o.env...)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	f.Close()
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	return s
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL); err != nil && !s.exited() {
		t.Fatalf("kill -9 %d: %v", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("serve (pid %d) did not die after SIGKILL", s.cmd.Process.Pid)
	}
}

func (s *server) output() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

func newCrashOrg(t *testing.T, d store.Dialect) *crashOrg {
	t.Helper()
	// Each check also leaves a background child in its process group:
	// only killing the whole group (which a restart must do for a dead
	// engine's check) ends it before its time.
	return newScriptedOrg(t, d, crashScript,
		"("+straySleep+" >/dev/null 2>&1 &); sleep 1 && go test ./...",
		"("+straySleep+" >/dev/null 2>&1 &); sleep 1 && go test -count=1 ./...")
}

// newScriptedOrg is an organization on the sample repository whose agent
// plays script, with the given check and E2E commands, on a database of
// dialect d: the home's SQLite file, or a PostgreSQL database of its own
// (pgtest) that every command is given through AGENTORG_DATABASE.
func newScriptedOrg(t *testing.T, d store.Dialect, scriptText, check, e2e string) *crashOrg {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "crash-script.yaml")
	if err := os.WriteFile(script, []byte(scriptText), 0o644); err != nil {
		t.Fatal(err)
	}
	sessions := filepath.Join(dir, "sessions")
	if err := os.MkdirAll(sessions, 0o755); err != nil {
		t.Fatal(err)
	}
	text := string(workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git",
		Check: check, E2E: e2e,
		AgentCommand: []string{bin, "scripted-agent", "--script", script, "--state", sessions},
		Agent:        workflow.AgentOptions{Writable: []string{sessions + "/"}},
	}))
	repo, origin, err := sample.Make(context.Background(), filepath.Join(dir, "sample"), map[string]string{workflow.DefaultPath: text})
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	wf := filepath.Join(repo, workflow.DefaultPath)
	o := &crashOrg{dir: dir, home: home, wf: wf, origin: origin, script: script,
		database: filepath.Join(home, "agentorg.db"),
		env:      []string{"AGENTORG_HOME=" + home, "AGENTORG_WORKFLOW=" + wf}}
	if d == store.Postgres {
		o.database = pgtest.New(t)
		o.env = append(o.env, "AGENTORG_DATABASE="+o.database)
	}
	return o
}

// straySleep is a command line no other test (nor an earlier run of this
// one) runs, so that the test can find the background children its checks
// leave.
var straySleep = fmt.Sprintf("sleep 47.%06d", time.Now().UnixNano()%1000000)

// procsWhere lists the live processes (pid: command line) for which match
// holds, given the command line and the working directory. It returns nil
// where /proc is not available.

func procsWhere(match func(cmdline, cwd string) bool) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		pid := e.Name()
		if pid == "" || pid[0] < '0' || pid[0] > '9' {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, or a zombie
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
		cwd, _ := os.Readlink(filepath.Join("/proc", pid, "cwd"))
		if match(cmdline, cwd) {
			out = append(out, pid+": "+cmdline)
		}
	}
	return out
}

// atWork names a live agent (its command line holds the script) or check
// (it runs in a checkout of the home) of this organization, or returns "".
func (o *crashOrg) atWork() string {
	checkouts := filepath.Join(o.home, "checkouts") + string(os.PathSeparator)
	for _, p := range procsWhere(func(cmdline, cwd string) bool {
		return strings.Contains(cmdline, o.script) || (strings.HasPrefix(cwd, checkouts) && strings.Contains(cmdline, "sleep 1"))
	}) {
		if strings.Contains(p, o.script) {
			return "the agent"
		}
		return "the check"
	}
	return ""
}

// TestCrashRestartFinishesEveryIssueExactlyOnce kills the engine with
// SIGKILL in every running label of the lifecycle (and, when it catches
// them, in the states between stages), restarts it each time, and checks
// the promise of `agentorg serve`: after a crash a restart finishes every
// issue exactly once, with no duplicate merge request, comment or merge and
// nothing left in a running label.
//
// On the way the issue goes through a review round (a must-fix on a line
// and a question, opened with `agentorg mr comment`), killed again in
// triage:running, in the developer's fix, in its re-validation, and after
// the GO between the round's first reply and the rest: each thread gets
// exactly one reply, the fixed one is resolved once, and it merges once.
//
// It runs on SQLite and on PostgreSQL, each on a database of its own. On
// PostgreSQL other workers may share the database, so a restart releases
// only what its own home's last engine left (engine's reapAtStart). (docs/lifecycle.md I8, F8)
func TestCrashRestartFinishesEveryIssueExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole lifecycle with real processes and real kills")
	}
	eachDialect(t, crashRestartFinishesEveryIssueExactlyOnce)
}

func crashRestartFinishesEveryIssueExactlyOnce(t *testing.T, d store.Dialect) {
	began := time.Now()
	o := newCrashOrg(t, d)

	var created crashIssue
	o.cliJSON(t, &created, "issue", "new", "--title", "Add Twice", "--opt-in", "--as", "alice")
	n := created.Number

	var (
		servers   []*server
		srv       *server
		killedIn  []string // the label each kill landed in, in order
		seen      = map[string]bool{}
		approvals []string
		notMidRun []string // running labels killed before their work was seen
	)
	start := func() {
		srv = o.serve(t, len(servers)+1)
		servers = append(servers, srv)
	}
	t.Cleanup(func() {
		for _, s := range servers {
			if !s.exited() {
				s.kill(t)
			}
		}
	})
	dump := func() string {
		var b strings.Builder
		r := run(t, o.dir, o.env, "events", "--issue", fmt.Sprint(n))
		fmt.Fprintf(&b, "events of #%d:\n%s%s", n, r.stdout, r.stderr)
		for i, s := range servers {
			fmt.Fprintf(&b, "--- serve run %d:\n%s", i+1, s.output())
		}
		return b.String()
	}
	// orphansAfterKill notes what a dead engine left running in its home,
	// before the restart (whose reap may kill it) gets a chance.
	var orphansAfterKill []string
	noteOrphans := func(label string) {
		time.Sleep(100 * time.Millisecond) // let the kernel deliver death signals
		for _, p := range procsWhere(func(cmdline, cwd string) bool {
			return strings.Contains(cmdline, o.script) || strings.HasPrefix(cwd, o.home+string(os.PathSeparator))
		}) {
			orphansAfterKill = append(orphansAfterKill, fmt.Sprintf("after the kill in %s: %s", label, p))
		}
	}

	// The test watches the engine's database directly (reads only: WAL
	// readers never wait for the engine, nor do PostgreSQL's), so that it
	// sees the first reply of a round as soon as it is committed and never
	// waits behind a write.
	db := storetest.OpenTarget(t, o.database)
	watch := embedded.New(db.SQL, embedded.Options{})
	ctx := context.Background()
	countResolutions(t, db)

	var (
		phase    string // "" until the review threads are opened, then "review "
		mrNumber int64
		stalled  bool // the resolution of a thread is stalled (see stallResolutions)
	)
	deadline := time.Now().Add(5 * time.Minute)
	start()
	for {
		if time.Now().After(deadline) {
			t.Fatalf("issue #%d did not reach e2e:done in 5 minutes (kills in %v)\n%s", n, killedIn, dump())
		}
		if srv.exited() {
			if srv.err != nil {
				t.Fatalf("serve run %d failed: %v\n%s", len(servers), srv.err, dump())
			}
			// The engine is idle: the issue waits for a human, or is done.
			is := o.issue(t, n)
			labels := strings.Join(is.Labels, ",")
			if labels == "e2e:done" {
				break
			}
			if labels != "plan:review" && labels != "mr:ready-for-review" {
				t.Fatalf("serve --once left #%d %s with labels [%s] (kills in %v)\n%s", n, is.State, labels, killedIn, dump())
			}
			if labels == "mr:ready-for-review" && phase == "" {
				// The reviewer comments instead of approving: a must-fix
				// on a line and a question start a review round.
				phase = "review "
				var mrs []struct {
					Number int64 `json:"number"`
				}
				o.cliJSON(t, &mrs, "mr", "list")
				if len(mrs) != 1 {
					t.Fatalf("merge requests before the review: %+v", mrs)
				}
				mrNumber = mrs[0].Number
				o.cli(t, "mr", "comment", fmt.Sprint(mrNumber), "--as", "alice", "--file", "twice.go", "--line", "3", "This comment does not say how Twice doubles n.")
				o.cli(t, "mr", "comment", fmt.Sprint(mrNumber), "--as", "alice", "Why Add(n, n) and not 2 * n?")
				stallResolutions(t, db)
				stalled = true
				start()
				continue
			}
			if slices.Contains(approvals, labels) {
				t.Fatalf("#%d is back at %s after it was approved there\n%s", n, labels, dump())
			}
			approvals = append(approvals, labels)
			o.cli(t, "approve", fmt.Sprint(n), "--as", "alice")
			start()
			continue
		}
		// After the GO of the fix, the engine answers the threads: the
		// first reply is committed and the resolution after it stalls, so
		// a kill now lands between the replies.
		if stalled {
			ths, err := watch.Threads(ctx, mrNumber)
			if err != nil {
				t.Fatal(err)
			}
			if len(ths) == 2 && len(botNotes(ths[0])) > 0 {
				srv.kill(t)
				killedIn = append(killedIn, "replies")
				t.Logf("%6.2fs: kill -9 serve run %d after the first reply of the round, while it resolved thread %s", time.Since(began).Seconds(), len(servers), ths[0].ID)
				after, err := watch.Threads(ctx, mrNumber)
				if err != nil {
					t.Fatal(err)
				}
				if len(botNotes(after[0])) != 1 || after[0].Resolved || len(botNotes(after[1])) != 0 {
					t.Errorf("the kill was to land after the first reply and before the resolution and the second reply; threads then: %+v", after)
				}
				unstallResolutions(t, db)
				stalled = false
				noteOrphans("replies")
				start()
				continue
			}
		}
		cur, err := watch.Issue(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range cur.Labels {
			wantKill := slices.Contains(runningLabels, l) || slices.Contains(betweenLabels, l)
			if phase != "" {
				wantKill = wantKill || slices.Contains(reviewRunning, l)
			}
			// The review round's running labels get a kill of their own;
			// any other label, one kill over the whole run.
			key := l
			if phase != "" && slices.Contains(reviewRunning, l) {
				key = phase + l
			}
			if seen[key] || !wantKill {
				continue
			}
			seen[key] = true
			// In a running label, wait until the stage's agent or check
			// is at work, so that the kill lands mid-run rather than
			// between the claim and the work.
			what := "between stages"
			running := slices.Contains(runningLabels, l) || slices.Contains(reviewRunning, l)
			if running {
				what = "before its agent or check started"
				for wait := time.Now().Add(1500 * time.Millisecond); time.Now().Before(wait) && !srv.exited(); time.Sleep(10 * time.Millisecond) {
					if p := o.atWork(); p != "" {
						what = "while " + p + " ran"
						break
					}
				}
			}
			if srv.exited() {
				break // it finished on its own; the next turn handles it
			}
			srv.kill(t)
			killedIn = append(killedIn, key)
			if strings.HasPrefix(what, "before") && procsWhere(func(string, string) bool { return true }) != nil {
				notMidRun = append(notMidRun, key)
			}
			t.Logf("%6.2fs: kill -9 serve run %d with #%d in %s%s, %s", time.Since(began).Seconds(), len(servers), n, phase, strings.Join(cur.Labels, ","), what)
			noteOrphans(key)
			start()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%6.2fs: #%d reached e2e:done after %d serve runs; kills in %v", time.Since(began).Seconds(), n, len(servers), killedIn)
	for _, p := range orphansAfterKill {
		t.Logf("left running by a killed engine: %s", p)
	}

	// Every running label got its kill: otherwise the test proved less than
	// it claims (make that stage's sleep longer rather than drop this).
	for _, l := range runningLabels {
		if !slices.Contains(killedIn, l) {
			t.Errorf("no kill landed in %s (kills in %v): the stage was too quick to catch", l, killedIn)
		}
	}
	if len(notMidRun) > 0 {
		t.Errorf("the kills in %v landed before the stage's agent or check was seen running", notMidRun)
	}
	for _, l := range append(reviewRunning, "replies") {
		if l != "replies" {
			l = "review " + l
		}
		if !slices.Contains(killedIn, l) {
			t.Errorf("no kill landed in the review round's %s (kills in %v)", l, killedIn)
		}
	}
	if want := len(runningLabels) + len(reviewRunning) + 1; len(killedIn) < want {
		t.Errorf("%d kills, want at least %d", len(killedIn), want)
	}

	// The issue is finished: closed, e2e:done only.
	final := o.issue(t, n)
	if final.State != "closed" || strings.Join(final.Labels, ",") != "e2e:done" {
		t.Errorf("#%d ended %s with labels %v, want closed with exactly e2e:done", n, final.State, final.Labels)
	}

	// Exactly one merge request, merged.
	var mrs []struct {
		Number   int64  `json:"number"`
		Issue    int64  `json:"issue"`
		State    string `json:"state"`
		Source   string `json:"source_branch"`
		HeadSHA  string `json:"head_sha"`
		MergeSHA string `json:"merge_sha"`
	}
	o.cliJSON(t, &mrs, "mr", "list")
	if len(mrs) != 1 || mrs[0].Issue != n || mrs[0].State != "merged" {
		t.Fatalf("want exactly one merged merge request for #%d, got %+v", n, mrs)
	}
	mr := mrs[0]
	branch := fmt.Sprintf("agentorg/issue-%d", n)
	if mr.Source != branch {
		t.Errorf("merge request !%d is from %s, want %s", mr.Number, mr.Source, branch)
	}

	// Comments: one plan, one validation report per attempt, one E2E
	// report, and no body twice.
	var show struct {
		Comments []struct {
			Author string `json:"author"`
			Body   string `json:"body"`
		} `json:"comments"`
		Attempts []struct {
			N         int    `json:"n"`
			Verdict   string `json:"verdict"`
			CommitSHA string `json:"commit_sha"`
			SessionID string `json:"session_id"`
		} `json:"attempts"`
		ReviewRounds []struct {
			N      int    `json:"n"`
			Status string `json:"status"`
			Commit string `json:"commit"`
		} `json:"review_rounds"`
	}
	o.cliJSON(t, &show, "issue", "show", fmt.Sprint(n))
	count := func(text string) int {
		k := 0
		for _, c := range show.Comments {
			if strings.Contains(c.Body, text) {
				k++
			}
		}
		return k
	}
	if k := count(fmt.Sprintf("## Plan for #%d", n)); k != 1 {
		t.Errorf("%d plan comments, want exactly 1", k)
	}
	// Crashes must not use up the attempt budget: two developer attempts
	// (the change, then the review fix in the same session), each validated
	// GO, and the fix is what was merged.
	if len(show.Attempts) != 2 || show.Attempts[0].Verdict != "GO" || show.Attempts[1].Verdict != "GO" ||
		show.Attempts[1].SessionID != show.Attempts[0].SessionID || show.Attempts[1].CommitSHA != mr.HeadSHA {
		t.Errorf("attempts %+v; want exactly two, both GO, in one session, the second at the merge request's head %s", show.Attempts, mr.HeadSHA)
	}
	// One review round, answered by the fix.
	if len(show.ReviewRounds) != 1 || show.ReviewRounds[0].Status != "done" || show.ReviewRounds[0].Commit != mr.HeadSHA {
		t.Errorf("review rounds %+v; want one, done, answered by %s", show.ReviewRounds, mr.HeadSHA)
	}
	if k := count("## Review triage, round 1"); k != 1 {
		t.Errorf("%d triage summaries of round 1, want exactly 1", k)
	}
	if k := count("## Review round 1 answered"); k != 1 {
		t.Errorf("%d answers of round 1, want exactly 1", k)
	}
	// Each thread got exactly one reply; only the fixed one is resolved,
	// and it was resolved once (the stalled resolution the kill cut short
	// was never committed).
	var shown struct {
		Threads []agentorg.ReviewThread `json:"threads"`
	}
	o.cliJSON(t, &shown, "mr", "show", fmt.Sprint(mr.Number))
	if len(shown.Threads) != 2 {
		t.Fatalf("threads of !%d: %+v", mr.Number, shown.Threads)
	}
	fixed, question := shown.Threads[0], shown.Threads[1]
	if r := botNotes(fixed); len(r) != 1 || !strings.Contains(r[0], "Fixed in "+mr.HeadSHA) || !fixed.Resolved || fixed.ResolvedBy != "agentorg" {
		t.Errorf("the must-fix thread: resolved %v by %q, bot replies %q; want one reply naming %s, resolved by the bot", fixed.Resolved, fixed.ResolvedBy, r, mr.HeadSHA)
	}
	if r := botNotes(question); len(r) != 1 || !strings.Contains(r[0], "Add(n, n) reuses the package's Add.") || question.Resolved {
		t.Errorf("the question: resolved %v, bot replies %q; want one reply with the answer, left open", question.Resolved, r)
	}
	if got := resolutions(t, db); got != fixed.ID {
		t.Errorf("committed resolutions by thread: %q, want thread %s once", got, fixed.ID)
	}
	notes := map[string]int{}
	for _, th := range shown.Threads {
		for _, nt := range th.Notes {
			if notes[nt.Body]++; notes[nt.Body] == 2 {
				t.Errorf("note posted twice in !%d:\n%s", mr.Number, nt.Body)
			}
		}
	}
	for _, a := range show.Attempts {
		if k := count(fmt.Sprintf("## Validation of attempt %d:", a.N)); k != 1 {
			t.Errorf("%d validation reports for attempt %d, want exactly 1", k, a.N)
		}
	}
	if k := count("## Validation of attempt"); k != len(show.Attempts) {
		t.Errorf("%d validation reports for %d attempts", k, len(show.Attempts))
	}
	if k := count("## E2E "); k != 1 {
		t.Errorf("%d E2E comments, want exactly 1", k)
	}
	if k := count("## E2E passed"); k != 1 {
		t.Errorf("the E2E comment does not say it passed")
	}
	if k := count("## Needs a human"); k != 0 {
		t.Errorf("%d escalation comments after crashes, want none", k)
	}
	bodies := map[string]int{}
	for _, c := range show.Comments {
		bodies[c.Body]++
	}
	for body, k := range bodies {
		if k > 1 {
			t.Errorf("comment posted %d times:\n%s", k, body)
		}
	}

	// The origin: one merge of the branch into main, holding the file.
	git := func(args ...string) string {
		t.Helper()
		out, err := sample.Git(context.Background(), o.origin, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	merges, mergesOfMR := 0, 0
	for _, line := range strings.Split(git("rev-list", "--parents", "main"), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 {
			merges++
			if f[2] == mr.HeadSHA {
				mergesOfMR++
			}
		}
	}
	if mergesOfMR != 1 || merges != 1 {
		t.Errorf("main has %d merge commits, %d of them merging !%d's head %s; want exactly one", merges, mergesOfMR, mr.Number, mr.HeadSHA)
	}
	if got := git("rev-parse", "main"); got != mr.MergeSHA {
		t.Errorf("main is at %s, want the merge commit %s", got, mr.MergeSHA)
	}
	// The embedded forge deletes a merged source branch.
	if refs := git("for-each-ref", "refs/heads/"+branch); refs != "" {
		t.Errorf("origin still has the merged branch %s: %s", branch, refs)
	}
	if files := strings.Fields(git("ls-tree", "-r", "--name-only", "main")); !slices.Contains(files, "twice.go") {
		t.Errorf("main lacks twice.go: %v", files)
	}

	// Each kill in a running label left a claim that the restart released.
	var evs []struct {
		Kind   string `json:"kind"`
		Stage  string `json:"stage"`
		Reason string `json:"reason"`
	}
	o.cliJSON(t, &evs, "events", "--issue", fmt.Sprint(n))
	released := map[string]int{}
	total := 0
	for _, e := range evs {
		if e.Kind == "claim" && strings.Contains(e.Reason, "released job") {
			released[e.Stage]++
			total++
		}
	}
	stageOf := map[string]string{"pm:running": "plan", "dev:running": "develop", "validate:running": "validate", "e2e:running": "e2e",
		"triage:running": "triage", "replies": "validate"}
	inRunning := 0
	for _, l := range killedIn {
		if st, ok := stageOf[strings.TrimPrefix(l, "review ")]; ok {
			inRunning++
			if released[st] == 0 {
				t.Errorf("the kill in %s left no released claim of stage %s (released: %v)", l, st, released)
			}
		}
	}
	if total < inRunning {
		t.Errorf("%d released claims for %d kills in running labels", total, inRunning)
	}
	t.Logf("released claims by stage: %v", released)

	// No agent outlived the engines that ran it.
	if orphans := procsWhere(func(cmdline, _ string) bool { return strings.Contains(cmdline, o.script) }); len(orphans) > 0 {
		t.Errorf("agents still running after the last serve:\n%s", strings.Join(orphans, "\n"))
	}
	// The checks a killed engine was running (and their background
	// children) were killed by the restart, not left to run out.
	if strays := procsWhere(func(cmdline, _ string) bool { return cmdline == straySleep }); len(strays) > 0 {
		t.Errorf("children of checks outlived their killed engine and its restart:\n%s", strings.Join(strays, "\n"))
	}
	// Anything still in the home a few seconds on would run forever.
	var inHome []string
	for wait := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		inHome = procsWhere(func(_, cwd string) bool { return strings.HasPrefix(cwd, o.home+string(os.PathSeparator)) })
		if len(inHome) == 0 || time.Now().After(wait) {
			break
		}
	}
	if len(inHome) > 0 {
		t.Errorf("processes still running in the home after the last serve:\n%s", strings.Join(inHome, "\n"))
	}
	if left, _ := os.ReadDir(filepath.Join(o.home, "checkouts")); len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("checkouts left behind by killed runs: %v", names)
	}
	if t.Failed() {
		t.Log(dump())
	}
	t.Logf("took %s", time.Since(began).Round(time.Millisecond))
}

// botNotes returns the bodies of the bot's notes in a thread, markers
// stripped.
func botNotes(th agentorg.ReviewThread) []string {
	var out []string
	for _, n := range th.Notes {
		if n.Author == "agentorg" {
			out = append(out, agentorg.StripMarkers(n.Body))
		}
	}
	return out
}

// countResolutions records, in a table of the test's own, every committed
// write that resolves a review thread, so that "resolved once" can be told
// from "resolved, again and again" (the tracker keeps only the flag).
func countResolutions(t *testing.T, db *store.DB) {
	t.Helper()
	qs := []string{
		`CREATE TABLE crash_resolutions (n INTEGER PRIMARY KEY, thread INTEGER NOT NULL, by TEXT NOT NULL)`,
		`CREATE TRIGGER crash_count_resolutions AFTER UPDATE OF resolved_by ON tracker_review_threads
		 WHEN NEW.resolved_by <> '' BEGIN INSERT INTO crash_resolutions (thread, by) VALUES (NEW.id, NEW.resolved_by); END`,
	}
	if db.Dialect == store.Postgres {
		qs = []string{
			`CREATE TABLE crash_resolutions (n BIGSERIAL PRIMARY KEY, thread BIGINT NOT NULL, by TEXT NOT NULL)`,
			`CREATE FUNCTION crash_count_resolution() RETURNS trigger LANGUAGE plpgsql AS $$
			 BEGIN INSERT INTO crash_resolutions (thread, by) VALUES (NEW.id, NEW.resolved_by); RETURN NULL; END $$`,
			`CREATE TRIGGER crash_count_resolutions AFTER UPDATE OF resolved_by ON tracker_review_threads
			 FOR EACH ROW WHEN (NEW.resolved_by <> '') EXECUTE FUNCTION crash_count_resolution()`,
		}
	}
	for _, q := range qs {
		if _, err := db.SQL.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// resolutions lists the threads of the committed resolutions, in order.
func resolutions(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.SQL.Query(`SELECT thread FROM crash_resolutions ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, ",")
}

// stallResolutions makes the bot's resolution of a review thread never
// finish: a trigger on it runs a query that would take hours (on SQLite a
// four-way cross join of 1000 rows; on PostgreSQL a sleep) inside the
// engine's own write transaction. The round's first reply, written just
// before, is committed; the resolution and every later reply are not. So a
// kill once the first reply is seen lands in the middle of answering the
// round every time, without a sleep in agentorg's code and without failing
// any call the engine makes.
func stallResolutions(t *testing.T, db *store.DB) {
	t.Helper()
	qs := []string{
		`CREATE TABLE crash_burn (x INTEGER)`,
		`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) INSERT INTO crash_burn SELECT x FROM c`,
		`CREATE TABLE crash_burn_out (n INTEGER)`,
		`CREATE TRIGGER crash_stall_resolution AFTER UPDATE OF resolved_by ON tracker_review_threads
		 WHEN NEW.resolved_by = 'agentorg' BEGIN
		 INSERT INTO crash_burn_out SELECT count(*) FROM crash_burn a, crash_burn b, crash_burn c, crash_burn d; END`,
	}
	if db.Dialect == store.Postgres {
		qs = []string{
			`CREATE FUNCTION crash_stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3600); RETURN NULL; END $$`,
			`CREATE TRIGGER crash_stall_resolution AFTER UPDATE OF resolved_by ON tracker_review_threads
			 FOR EACH ROW WHEN (NEW.resolved_by = 'agentorg') EXECUTE FUNCTION crash_stall()`,
		}
	}
	for _, q := range qs {
		if _, err := db.SQL.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// unstallResolutions drops what stallResolutions made, once the engine that
// was stuck in it is dead.
func unstallResolutions(t *testing.T, db *store.DB) {
	t.Helper()
	qs := []string{`DROP TRIGGER crash_stall_resolution`, `DROP TABLE crash_burn`, `DROP TABLE crash_burn_out`}
	if db.Dialect == store.Postgres {
		// A killed client's backend does not notice until its statement
		// ends: the sleeping one would hold the engine's write lock (see
		// store's pgConn.BeginTx) and the thread's row for an hour.
		qs = []string{
			`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			 WHERE datname = current_database() AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()`,
			`DROP TRIGGER crash_stall_resolution ON tracker_review_threads`,
			`DROP FUNCTION crash_stall()`,
		}
	}
	for _, q := range qs {
		if _, err := db.SQL.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
