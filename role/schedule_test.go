package role_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// planSays is a pm step for issue n whose plan states intent (the lines of
// its "## Intent" block).
func planSays(n int64, intent string) string {
	return fmt.Sprintf("  - match: {role: pm, issue: %d}\n    summary: %s\n", n, yamlText("Do it.\n\n## Intent\n"+intent+"\n"))
}

// develops is a developer step for issue n that writes file, after a
// pause so that runs at once overlap in time.
func develops(n int64, file, content string) string {
	return fmt.Sprintf("  - match: {role: developer, issue: %d}\n    actions: [{sleep: 1s}, {write: {path: %s, content: %s}}]\n    summary: Wrote %s.\n",
		n, file, yamlText(content), file)
}

// openApproved opens issues with bodies, opts them in, and has alice
// approve their plans together; it returns their numbers and the engine.
func openApproved(t *testing.T, org *orgtest.Org, bodies ...string) ([]int64, *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	var ns []int64
	for i, body := range bodies {
		ns = append(ns, optIn(t, org, fmt.Sprintf("Feature %d", i+1), body))
	}
	orgtest.RunUntilIdle(t, eng)
	for _, n := range ns {
		if _, err := org.Humans.Approve(ctx, n, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	return ns, eng
}

// firstEvent is the index in evs of the first event of issue n that
// holds text in its reason (-1: none).
func firstEvent(evs []eventlog.Event, n int64, text string) int {
	return slices.IndexFunc(evs, func(e eventlog.Event) bool { return e.Issue == n && strings.Contains(e.Reason, text) })
}

func allEvents(t *testing.T, org *orgtest.Org) []eventlog.Event {
	t.Helper()
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// concurrency3 lets three developers work at once.
func concurrency3(s string) string {
	return strings.Replace(s, "    concurrency: 2\n", "    concurrency: 3\n", 1)
}

// Issue 20: two issues planned on the same file never develop at once: the
// later waits at dev:ready, saying for which issue and file, and starts
// when the first merged; neither meets a conflict.
func TestPredictTwoIssuesOnOneFileDevelopOneAfterTheOther(t *testing.T) {
	script := "steps:\n" + planSays(1, "- files: shared.txt") + planSays(2, "- files: shared.txt") +
		develops(1, "shared.txt", "one\n") + develops(2, "shared.txt", "one\ntwo\n")
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: concurrency3})
	ns, eng := openApproved(t, org, "First.", "Second.")
	orgtest.RunUntilIdle(t, eng)
	// #1 waits for its review, #2 for #1: the board says so.
	b, err := board.Read(context.Background(), board.Sources{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := b.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "waits for #1: both change shared.txt") || labels(t, org, 2) != "dev:ready" {
		t.Fatalf("#2 at [%s]; status:\n%s", labels(t, org, 2), text.String())
	}
	approveUntilDone(t, org, eng)
	evs := allEvents(t, org)
	wait := firstEvent(evs, 2, "waits for #1: both change shared.txt")
	merged1 := firstEvent(evs, 1, "merged !")
	start2 := firstEvent(evs, 2, "develop claimed the issue")
	if wait < 0 || merged1 < 0 || start2 < merged1 || wait > start2 {
		dumpEvents(t, org)
		t.Fatalf("#2 waited at %d, #1 merged at %d, #2 started developing at %d: want wait < merge < start", wait, merged1, start2)
	}
	for _, n := range ns {
		if got := labels(t, org, n); got != "e2e:done" {
			t.Fatalf("#%d ended with [%s]", n, got)
		}
		for _, a := range attempts(t, org, n) {
			if strings.Contains(findingPaths(a), "conflict:") {
				t.Fatalf("#%d met a conflict: %s", n, distances(attempts(t, org, n)))
			}
		}
	}
	if b := labels(t, org, 2); b != "e2e:done" {
		t.Fatalf("#2: %s", b)
	}
}

// Issue 20: three issues on different files develop together.
func TestPredictThreeIssuesOnDifferentFilesRunTogether(t *testing.T) {
	script := "steps:\n" + planSays(1, "- files: a.txt") + planSays(2, "- files: b.txt") + planSays(3, "- files: c.txt") +
		develops(1, "a.txt", "a\n") + develops(2, "b.txt", "b\n") + develops(3, "c.txt", "c\n")
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: concurrency3})
	_, eng := openApproved(t, org, "A.", "B.", "C.")
	orgtest.RunUntilIdle(t, eng)
	evs := allEvents(t, org)
	firstDone := slices.IndexFunc(evs, func(e eventlog.Event) bool { return e.To == "dev:done" })
	for _, n := range []int64{1, 2, 3} {
		if i := firstEvent(evs, n, "develop claimed the issue"); i < 0 || i > firstDone {
			dumpEvents(t, org)
			t.Fatalf("#%d started developing at event %d, after the first attempt ended (%d): the three did not run together", n, i, firstDone)
		}
		if i := firstEvent(evs, n, "waits for #"); i >= 0 {
			t.Fatalf("#%d waited: %s", n, evs[i].Reason)
		}
	}
}

// Issue 20: dependencies across three issues are honoured in order: #1
// depends on #2, which depends on #3.
func TestDependenciesAcrossThreeIssuesMergeInOrder(t *testing.T) {
	script := "steps:\n  - match: {role: pm}\n    summary: Do it.\n" +
		develops(1, "a.txt", "a\n") + develops(2, "b.txt", "b\n") + develops(3, "c.txt", "c\n")
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: concurrency3})
	_, eng := openApproved(t, org, "This depends on #2.", "Depends on #3.", "Nothing first.")
	approveUntilDone(t, org, eng)
	evs := allEvents(t, org)
	m1, m2, m3 := firstEvent(evs, 1, "merged !"), firstEvent(evs, 2, "merged !"), firstEvent(evs, 3, "merged !")
	if m1 < 0 || m2 < 0 || m3 < 0 || !(m3 < m2 && m2 < m1) {
		dumpEvents(t, org)
		t.Fatalf("merges at %d (#1), %d (#2), %d (#3): want #3, #2, #1", m1, m2, m3)
	}
	if i := firstEvent(evs, 1, "waits for #2: #1 depends on it"); i < 0 {
		t.Fatal("#1 never said it waits for #2")
	}
}

// Issue 20: an overlap no plan predicted is caught live: #2's change
// touches the file #1 is changing, and both issues' records say so.
func TestOverlapNotPredictedIsCaughtLive(t *testing.T) {
	script := "steps:\n" + planSays(1, "- files: a.txt") + planSays(2, "- files: b.txt") +
		develops(1, "a.txt", "a\n") +
		"  - match: {role: developer, issue: 2}\n    actions: [{sleep: 1s}, {write: {path: b.txt, content: \"b\\n\"}}, {write: {path: a.txt, content: \"mine\\n\"}}]\n    summary: Wrote b.txt, and a.txt.\n"
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: concurrency3})
	_, eng := openApproved(t, org, "A.", "B.")
	orgtest.RunUntilIdle(t, eng)
	for _, n := range []int64{1, 2} {
		evs := eventsOf(t, org, n, eventlog.KindOverlap)
		if len(evs) != 1 || !strings.Contains(evs[0].Reason, "#2's change (attempt 1) touches a.txt, which #1 is changing too; no plan predicted it") {
			dumpEvents(t, org)
			t.Fatalf("#%d overlap events %+v", n, evs)
		}
	}
}

// Issue 20: with parallel.overlap pause, the later issue of an unpredicted
// overlap waits at its next attempt until the earlier one merged.
func TestOverlapPausesTheLaterIssueAtItsNextAttempt(t *testing.T) {
	script := "steps:\n" + planSays(1, "- files: a.txt") + planSays(2, "- files: b.txt") +
		develops(1, "a.txt", "a\n") +
		"  - match: {role: developer, issue: 2, attempt: 1}\n    actions: [{sleep: 1s}, {write: {path: b.txt, content: \"b\\n\"}}, {write: {path: a.txt, content: \"mine\\n\"}}, {write: {path: fail.txt, content: \"x\\n\"}}]\n    summary: Wrote b.txt and a.txt, and left fail.txt.\n" +
		"  - match: {role: developer, issue: 2}\n    actions: [{delete: fail.txt}]\n    summary: Removed fail.txt.\n"
	edit := func(s string) string {
		return strings.Replace(concurrency3(s), "parallel:\n  predict: true\n  by_package: false   # true: files in one directory overlap too\n  overlap: warn\n",
			"parallel:\n  overlap: pause\n", 1)
	}
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "test ! -f fail.txt", E2E: "true", Edit: edit})
	if org.Workflow.Parallel.Overlap != "pause" {
		t.Fatalf("parallel %+v", org.Workflow.Parallel)
	}
	// #1 starts developing first: its plan is approved first.
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	for _, title := range []string{"A", "B"} {
		optIn(t, org, title, title+".")
	}
	orgtest.RunUntilIdle(t, eng)
	for _, n := range []int64{1, 2} {
		if _, err := org.Humans.Approve(ctx, n, "alice"); err != nil {
			t.Fatal(err)
		}
		orgtest.RunUntilIdle(t, eng)
	}
	waits := eventsOf(t, org, 2, eventlog.KindWait)
	if got := labels(t, org, 2); got != "dev:ready" || len(waits) == 0 || !strings.Contains(waits[len(waits)-1].Reason, "waits for #1: both change a.txt") {
		dumpEvents(t, org)
		t.Fatalf("#2 at [%s], waits %+v", got, waits)
	}
	if n := len(attempts(t, org, 2)); n != 1 {
		t.Fatalf("#2 has %d attempts while paused", n)
	}
	approveUntilDone(t, org, eng)
	evs := allEvents(t, org)
	if merged, second := firstEvent(evs, 1, "merged !"), firstEvent(evs, 2, "attempt 2"); merged < 0 || second < merged {
		t.Fatalf("#1 merged at %d, #2's attempt 2 at %d", merged, second)
	}
}
