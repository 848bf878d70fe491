// Package demo builds a small sample Go repository and runs the whole
// lifecycle on it with the embedded tracker: four issues are opted in, a
// human (played by the demo through the same code as the CLI) approves plans
// and merge requests, and the engine runs until every issue is at rest. The
// agents are agentorg's scripted agent standing in for a model.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/discord/discordfake"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/timeline"
	"github.com/agentorg/agentorg/workflow"
)

// Options configure a demo run.
type Options struct {
	// Keep is the home to keep for inspection with the CLI afterwards; it
	// must not exist or be empty. Empty: a temporary directory, removed at
	// the end.
	Keep string
	// Agent is the agentorg binary that runs as the scripted agent.
	// Empty: the running executable.
	Agent string
	// CLI, when set, runs that real coding CLI (one of CLIs) in place of
	// the scripted agent, with agentorg's scripted model server playing the
	// model.
	CLI string
	// Discord speaks in a fake Discord (started for the demo) as serve
	// would in a real one: alice approves the plans from its buttons, and
	// the channel is printed at the end.
	Discord bool
	Out     io.Writer
}

// The human the demo plays.
const human = "alice"

// Run runs the demo and returns an error unless all four issues end as
// described: three merged with E2E done (one after a review round), one
// escalated to a human.
func Run(ctx context.Context, o Options) error {
	start := time.Now()
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	home, cleanup, err := prepareHome(o.Keep)
	if err != nil {
		return err
	}
	defer cleanup()
	exe := o.Agent
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return err
		}
	}

	sampleDir := filepath.Join(home, "sample")
	scriptPath := filepath.Join(sampleDir, "model-script.yaml")
	if err := sample.WriteFile(scriptPath, demoScript); err != nil {
		return err
	}
	wfOpts := workflow.DefaultOptions{
		Approvers:    []string{human},
		TargetBranch: "main",
		RepoURL:      "../origin.git", // the bare origin next to the clone
		Check:        "go vet ./... && go test ./...",
		E2E:          "go test -count=1 ./...",
		AgentCommand: []string{exe, "scripted-agent", "--script", scriptPath, "--state", filepath.Join(home, "sessions")},
		// The demo's home holds everything, the agent's script and
		// sessions too: a confined agent reaches them only so.
		Agent: workflow.AgentOptions{Writable: []string{filepath.Join(home, "sessions") + "/", scriptPath}},
	}
	confinement := "on (Landlock): each agent, check and E2E run writes only its own directories"
	if _, err := sandbox.Available(); err != nil {
		// A demo shows the lifecycle anywhere; a real workflow refuses.
		wfOpts.Confinement = workflow.ConfinementOff
		confinement = "off: " + err.Error()
	}
	agents := fmt.Sprintf("agentorg's scripted agent, standing in for a model (script: %s)", scriptPath)
	if o.CLI != "" {
		binary, err := findCLI(o.CLI)
		if err != nil {
			return err
		}
		model := startModel()
		defer model.Close()
		if wfOpts.Agent, err = cliAgent(o.CLI, binary, model.URL(), filepath.Join(home, "agent-home")); err != nil {
			return err
		}
		if o.CLI != BuiltIn {
			// The CLI's HOME lies in the demo's home: its to write.
			wfOpts.Agent.Writable = []string{filepath.Join(home, "agent-home") + "/"}
		}
		agents = fmt.Sprintf("the real %s CLI (%s), with agentorg's scripted model server at %s playing the model", o.CLI, binary, model.URL())
		if o.CLI == BuiltIn {
			agents = fmt.Sprintf("agentorg's built-in agent, with agentorg's scripted model server at %s playing the model", model.URL())
		}
	}
	wfText := workflow.Default(wfOpts)
	// The last stages: a release of what merged, deployed to a staging
	// directory of the demo's home (its deploy writes the version there;
	// its verify reads it back).
	staging := filepath.Join(home, "staging")
	wfText = append(wfText, fmt.Sprintf(`
release:
  agent: coder
environments:
  - name: staging
    auto: release
    deploy: mkdir -p %[1]s && echo "$AGENTORG_VERSION $AGENTORG_COMMIT" > %[1]s/VERSION
    verify: grep -q "^$AGENTORG_VERSION " %[1]s/VERSION
`, staging)...)
	var fake *discordfake.Fake
	if o.Discord {
		var section string
		if fake, section, err = startFake(); err != nil {
			return err
		}
		defer fake.Close()
		wfText = append(wfText, section...)
	}
	// The workflow is repo-owned: it is committed with the sample.
	repo, origin, err := sample.Make(ctx, sampleDir, map[string]string{
		workflow.DefaultPath:   string(wfText),
		".agentorg/.gitignore": "/state\n",
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(home, "sessions"), 0o755); err != nil {
		return err
	}
	baseFiles, err := sample.Git(ctx, origin, "ls-tree", "-r", "--name-only", "main")
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "agentorg demo: an AI engineering organization on a sample Go repository\n")
	fmt.Fprintf(out, "  repository  %s (origin %s)\n  home        %s\n", repo, origin, home)
	fmt.Fprintf(out, "  agents      %s\n", agents)
	fmt.Fprintf(out, "  confinement %s\n", confinement)
	fmt.Fprintf(out, "  human       %s, the approver of both gates\n\n", human)

	org, err := app.Open(ctx, app.Options{Home: home, Workflow: filepath.Join(repo, workflow.DefaultPath)})
	if err != nil {
		return err
	}
	defer org.Close()
	eng, err := org.Engine(ctx, app.EngineOptions{Heartbeat: 500 * time.Millisecond, RetryDelay: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(stopCtx)
	}()

	var dc *discordDemo
	if fake != nil {
		if dc, err = startBot(ctx, org, fake); err != nil {
			return err
		}
		defer dc.bot.Close()
		fmt.Fprintf(out, "  Discord     the bot in #agentorg on a fake Discord at %s; alice approves plans from its buttons\n\n", fake.URL())
	}
	step := func(format string, a ...any) {
		fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	runEngine := func() error {
		step("engine: running every stage that is due")
		if err := eng.RunUntilIdle(ctx); err != nil {
			return err
		}
		issues, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{})
		if err != nil {
			return err
		}
		for _, is := range issues {
			step("  #%d %-40s %s", is.Number, is.Title, strings.Join(is.Labels, ", "))
		}
		return nil
	}

	step("%s opens %d issues and opts them in", human, len(demoIssues))
	var numbers []int64
	for _, spec := range demoIssues {
		is, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: spec.Title, Body: spec.Body, Labels: spec.Labels, Author: human})
		if err != nil {
			return err
		}
		if err := org.Desk.OptIn(ctx, is.Number, human); err != nil {
			return err
		}
		numbers = append(numbers, is.Number)
	}
	if err := runEngine(); err != nil {
		return err
	}
	// The human approves whatever waits at a gate, until nothing does (a
	// merge request sent back to validation would wait for review again).
	// The fourth issue's merge request gets a review first.
	reviewed := false
	for round := 0; round < 6; round++ {
		approved := false
		for _, n := range numbers {
			if n == numbers[3] && !reviewed {
				ok, err := reviewIfWaiting(ctx, org, n, step)
				if err != nil {
					return err
				}
				if ok {
					reviewed, approved = true, true
					continue
				}
			}
			ok, err := approveIfWaiting(ctx, org, dc, n, step)
			if err != nil {
				return err
			}
			approved = approved || ok
		}
		if !approved {
			break
		}
		if err := runEngine(); err != nil {
			return err
		}
	}

	// The release of what merged, and its deployment to staging.
	rel, err := org.Desk.StartRelease(ctx, human)
	if err != nil {
		return err
	}
	step("%s asks for a release: #%d (agentorg release --as %s)", human, rel.Number, human)
	if err := runEngine(); err != nil {
		return err
	}
	if _, err := approveIfWaiting(ctx, org, dc, rel.Number, step); err != nil {
		return err
	}
	if err := runEngine(); err != nil {
		return err
	}

	fmt.Fprintln(out)
	if err := printTimeline(ctx, out, org, append(numbers, rel.Number), start); err != nil {
		return err
	}
	if err := printRelease(ctx, out, org, rel.Number, staging); err != nil {
		return err
	}
	if dc != nil {
		fmt.Fprintln(out)
		if err := dc.print(ctx, out); err != nil {
			return err
		}
	}
	problems, err := verify(ctx, org, origin, numbers, strings.Fields(baseFiles))
	if err != nil {
		return err
	}
	problems = append(problems, verifyRelease(ctx, org, origin, rel.Number, numbers, staging)...)
	fmt.Fprintln(out)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(out, "FAIL:", p)
		}
		return fmt.Errorf("demo: %d issue(s) did not end as expected", len(problems))
	}
	fmt.Fprintf(out, "OK in %.1fs: #%d merged straight through, #%d converged on attempt 2 in the same session (distance 3 -> 0), #%d escalated to a human when the same findings came back, #%d merged after a review round (triage, the fix in the same session, re-validation, replies, the fixed thread resolved, a new approval); #%d released them as v0.1.0 and deployed it to staging.\n",
		time.Since(start).Seconds(), numbers[0], numbers[1], numbers[2], numbers[3], rel.Number)
	if o.Keep != "" {
		fmt.Fprintf(out, "\nState kept in %s. Try:\n  agentorg --home %s issue list\n  agentorg --home %s issue show %d\n  agentorg --home %s events --issue %d\n",
			home, home, home, numbers[1], home, numbers[1])
	}
	return nil
}

func prepareHome(keep string) (string, func(), error) {
	if keep == "" {
		dir, err := os.MkdirTemp("", "agentorg-demo-")
		if err != nil {
			return "", nil, err
		}
		return dir, func() { os.RemoveAll(dir) }, nil
	}
	abs, err := filepath.Abs(keep)
	if err != nil {
		return "", nil, err
	}
	if entries, err := os.ReadDir(abs); err == nil && len(entries) > 0 {
		return "", nil, fmt.Errorf("demo: %s is not empty; pass a new directory to --keep", abs)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", nil, err
	}
	return abs, func() {}, nil
}

// approveIfWaiting plays the human at a gate, through the CLI's own code.
func approveIfWaiting(ctx context.Context, org *app.Org, dc *discordDemo, n int64, step func(string, ...any)) (bool, error) {
	is, err := org.Tracker.Issue(ctx, n)
	if err != nil {
		return false, err
	}
	approved := false
	for _, g := range org.Workflow.Gates {
		if is.HasLabel(g.Waits) {
			approved = true
			if dc != nil && !g.MergeRequest {
				answer, err := dc.approve(ctx, n)
				if err != nil {
					return false, err
				}
				step("%s approves the plan of #%d with Approve in Discord: %q", human, n, answer)
				continue
			}
			if _, err := org.Desk.Approve(ctx, n, human); err != nil {
				return false, err
			}
			what := "the plan"
			switch {
			case g.MergeRequest:
				what = "the merge request"
			case g.Name == workflow.GateRelease:
				what = "the release notes"
			}
			step("%s approves %s of #%d (agentorg approve %d --as %s)", human, what, n, n, human)
		}
	}
	return approved, nil
}

// reviewIfWaiting plays the human reviewing a merge request that waits for
// approval: a must-fix comment on a line of the change and a question, the
// way `agentorg mr comment` posts them. It reports whether it reviewed.
func reviewIfWaiting(ctx context.Context, org *app.Org, n int64, step func(string, ...any)) (bool, error) {
	is, err := org.Tracker.Issue(ctx, n)
	if err != nil {
		return false, err
	}
	g := org.Workflow.GateWaiting(firstGateLabel(org.Workflow, is))
	if g == nil || !g.MergeRequest {
		return false, nil
	}
	mrs, err := org.Tracker.ListMRs(ctx, agentorg.MRFilter{Issue: n, State: agentorg.MROpen})
	if err != nil || len(mrs) == 0 {
		return false, err
	}
	mr := mrs[len(mrs)-1].Number
	if _, err := org.Desk.Comment(ctx, mr, human, "abs.go", 3, absMustFix); err != nil {
		return false, err
	}
	step("%s reviews !%d: %q on abs.go:3 (agentorg mr comment %d --as %s --file abs.go --line 3 ...)", human, mr, absMustFix, mr, human)
	if _, err := org.Desk.Comment(ctx, mr, human, "", 0, absQuestion); err != nil {
		return false, err
	}
	step("%s asks on !%d: %q", human, mr, absQuestion)
	return true, nil
}

// firstGateLabel returns the first label of the issue some gate waits on.
func firstGateLabel(w *workflow.Workflow, is agentorg.Issue) string {
	for _, l := range is.Labels {
		if w.GateWaiting(l) != nil {
			return l
		}
	}
	return ""
}

func printTimeline(ctx context.Context, out io.Writer, org *app.Org, numbers []int64, start time.Time) error {
	fmt.Fprintln(out, "Timeline")
	for _, n := range numbers {
		is, err := org.Tracker.Issue(ctx, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\n#%d %s (%s)\n", is.Number, is.Title, is.State)
		if err := timeline.Write(ctx, out, org.Tracker, org.Log, n, timeline.Since(start)); err != nil {
			return err
		}
	}
	return nil
}

// verify checks that the four issues ended as the demo promises.
func verify(ctx context.Context, org *app.Org, origin string, numbers []int64, baseFiles []string) ([]string, error) {
	var problems []string
	wf := org.Workflow
	e2eDone := wf.StagesWithRole(agentorg.RoleE2E)[0].Success
	want := func(cond bool, format string, a ...any) {
		if !cond {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
	}
	attempts := map[int64][]eventlog.Attempt{}
	issues := map[int64]agentorg.Issue{}
	for _, n := range numbers {
		is, err := org.Tracker.Issue(ctx, n)
		if err != nil {
			return nil, err
		}
		issues[n] = is
		if attempts[n], err = org.Log.Attempts(ctx, n); err != nil {
			return nil, err
		}
	}
	one, two, three, four := numbers[0], numbers[1], numbers[2], numbers[3]
	for _, n := range []int64{one, two, four} {
		is := issues[n]
		want(is.State == agentorg.IssueClosed && sameSet(is.Labels, e2eDone, "feature"),
			"#%d should be closed with only %s and its kind, is %s with %v", n, e2eDone, is.State, is.Labels)
	}
	// Both merge through the merge train: whichever merges second finds
	// main moved, and the train validates it on top of the moved main (its
	// checks run on the very tree that lands) before it merges, under the
	// approval of the reviewed commit.
	for _, n := range []int64{one, two} {
		cs, err := org.Tracker.Comments(ctx, n)
		if err != nil {
			return nil, err
		}
		trained := false
		for _, c := range cs {
			trained = trained || strings.Contains(c.Body, "## Validated in a merge train: **GO**")
		}
		want(trained, "#%d should be validated GO in a merge train before it merged", n)
	}
	// #4 merges last, after a review round; main moved under it, so the
	// merge queue may validate it once more before merging.
	if as := attempts[four]; len(as) > 2 && as[len(as)-1].Agent == "engine" {
		want(as[len(as)-1].Verdict == eventlog.GO, "#%d re-validation before merging should be GO", four)
		attempts[four] = as[:len(as)-1]
	}
	problems = append(problems, verifyReview(ctx, org, four, attempts[four])...)
	want(verdicts(attempts[one]) == "GO", "#%d attempts should be GO, are %s", one, verdicts(attempts[one]))
	want(verdicts(attempts[two]) == "NO-GO GO", "#%d attempts should be NO-GO GO, are %s", two, verdicts(attempts[two]))
	if as := attempts[two]; len(as) == 2 {
		want(as[0].SessionID != "" && as[0].SessionID == as[1].SessionID, "#%d attempts should share one agent session, have %q and %q", two, as[0].SessionID, as[1].SessionID)
	}
	is3 := issues[three]
	want(is3.State == agentorg.IssueOpen && sameSet(is3.Labels, wf.Escalation, "feature"),
		"#%d should be open with only %s and its kind, is %s with %v", three, wf.Escalation, is3.State, is3.Labels)
	if as := attempts[two]; len(as) == 2 {
		want(as[0].Distance == 3 && as[1].Distance == 0, "#%d distance should fall 3 -> 0, is %d -> %d", two, as[0].Distance, as[1].Distance)
		want(strings.Contains(as[0].Report, "| 1 | Mul(a, b) returns a * b | **unmet** | validator agent: mul.go:4 returns a + b"),
			"#%d attempt 1 report should hold the validator agent's unmet verdict:\n%s", two, as[0].Report)
		want(strings.Contains(as[0].Report, "| 2 | `go test ./...` passes | **unmet** | command:"),
			"#%d attempt 1 report should hold the command criterion's verdict:\n%s", two, as[0].Report)
	}
	want(verdicts(attempts[three]) == "NO-GO NO-GO", "#%d should stop after 2 NO-GO attempts with the same findings, has %s", three, verdicts(attempts[three]))
	esc, err := org.Log.Events(ctx, eventlog.Filter{Issue: three, Kind: eventlog.KindEscalate})
	if err != nil {
		return nil, err
	}
	want(len(esc) > 0 && strings.Contains(esc[len(esc)-1].Reason, "same findings came back"),
		"#%d should be escalated because the same findings came back, events %+v", three, esc)

	// The target branch holds the sample plus the three merged changes and
	// the release's CHANGELOG, and nothing else.
	files, err := sample.Git(ctx, origin, "ls-tree", "-r", "--name-only", "main")
	if err != nil {
		return nil, err
	}
	expected := append(slices.Clone(baseFiles), "CHANGELOG.md", "abs.go", "abs_test.go", "mul.go", "mul_test.go", "sub.go", "sub_test.go")
	sort.Strings(expected)
	got := strings.Fields(files)
	sort.Strings(got)
	want(slices.Equal(got, expected), "main should hold %v, holds %v", expected, got)
	return problems, nil
}

// verifyReview checks the review round of issue n: the must-fix fixed in
// the developer's same session and validated GO, the thread answered with
// that commit and resolved, the question answered and left open.
func verifyReview(ctx context.Context, org *app.Org, n int64, as []eventlog.Attempt) []string {
	var problems []string
	want := func(cond bool, format string, a ...any) {
		if !cond {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
	}
	want(verdicts(as) == "GO GO", "#%d attempts should be GO (the first review) then GO (the review fix), are %s", n, verdicts(as))
	if len(as) != 2 {
		return problems
	}
	want(as[0].SessionID != "" && as[0].SessionID == as[1].SessionID, "#%d review fix should resume the developer's session, has %q and %q", n, as[0].SessionID, as[1].SessionID)
	rounds, err := org.Log.Rounds(ctx, n)
	if err != nil {
		return append(problems, err.Error())
	}
	want(len(rounds) == 1 && rounds[0].Status == eventlog.RoundDone && rounds[0].Commit == as[1].CommitSHA,
		"#%d should have one review round answered by attempt 2's commit %.10s, has %+v", n, as[1].CommitSHA, rounds)
	if len(rounds) != 1 {
		return problems
	}
	ts, err := org.Tracker.(agentorg.ReviewThreads).Threads(ctx, rounds[0].MR)
	if err != nil {
		return append(problems, err.Error())
	}
	replies := func(th agentorg.ReviewThread) []string {
		var out []string
		for _, note := range th.Notes {
			if note.Author == org.Workflow.Tracker.Bot {
				out = append(out, note.Body)
			}
		}
		return out
	}
	want(len(ts) == 2, "#%d's merge request should have 2 review threads, has %d", n, len(ts))
	if len(ts) == 2 {
		fix, q := replies(ts[0]), replies(ts[1])
		want(ts[0].Resolved && len(fix) == 1 && strings.Contains(fix[0], "Fixed in "+as[1].CommitSHA),
			"#%d must-fix thread should be resolved with one reply naming %s: resolved %v, replies %q", n, as[1].CommitSHA, ts[0].Resolved, fix)
		want(!ts[1].Resolved && len(q) == 1 && strings.Contains(q[0], "calc works on int throughout"),
			"#%d question should be answered once and left open: resolved %v, replies %q", n, ts[1].Resolved, q)
	}
	return problems
}

func verdicts(as []eventlog.Attempt) string {
	var vs []string
	for _, a := range as {
		vs = append(vs, a.Verdict)
	}
	return strings.Join(vs, " ")
}

// sameSet reports whether labels are exactly want, in any order.
func sameSet(labels []string, want ...string) bool {
	return slices.Equal(slices.Sorted(slices.Values(labels)), slices.Sorted(slices.Values(want)))
}
