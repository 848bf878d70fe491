package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
)

// recoverCrashScript: three issues each add a file; #2's first attempt
// also leaves broken.txt, which E2E refuses, and its second removes it.
const recoverCrashScript = `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, issue: 2, attempt: 1}
    actions: [{write: {path: b.txt, content: "b\n"}}, {write: {path: broken.txt, content: "oops\n"}}]
    summary: Added b.
  - match: {role: developer, issue: 2}
    actions: [{delete: broken.txt}]
    summary: Removed what broke E2E.
  - match: {role: developer, issue: 1}
    actions: [{write: {path: a.txt, content: "a\n"}}]
    summary: Added a.
  - match: {role: developer, issue: 3}
    actions: [{write: {path: c.txt, content: "c\n"}}]
    summary: Added c.
`

// Issue 17: serve is killed with SIGKILL while it bisects and while it
// merges the revert; the restarts finish the recovery, and each thing
// happens once: one closure, one culprit, one revert issue merged once,
// each bisect step run once. On SQLite and on PostgreSQL. (docs/lifecycle.md I19, F10)
func TestBisectAndRevertSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the recovery with real processes and real kills")
	}
	eachDialect(t, bisectAndRevertSurviveKill)
}

func bisectAndRevertSurviveKill(t *testing.T, d store.Dialect) {
	// Slow enough to be killed in: each E2E run and each check.
	o := newScriptedOrg(t, d, recoverCrashScript, "sleep 1", "sleep 0.5; test ! -f broken.txt")
	var ns []int64
	for i := range 3 {
		var is crashIssue
		o.cliJSON(t, &is, "issue", "new", "--title", fmt.Sprintf("Feature %d", i+1), "--opt-in", "--as", "alice")
		ns = append(ns, is.Number)
	}
	db := storetest.OpenTarget(t, o.database)
	watch := embedded.New(db.SQL, embedded.Options{})
	log := eventlog.New(db.SQL)
	ctx := context.Background()

	var servers []*server
	t.Cleanup(func() {
		for _, s := range servers {
			if !s.exited() {
				s.kill(t)
			}
		}
	})
	var killedIn []string
	killed := func(what string) bool { return slices.Contains(killedIn, what) }
	deadline := time.Now().Add(5 * time.Minute)
	srv := o.serve(t, 1)
	servers = append(servers, srv)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the recovery did not end in 5 minutes (kills in %v)\n%s", killedIn, srv.output())
		}
		time.Sleep(20 * time.Millisecond)
		evs, err := log.Events(ctx, eventlog.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		bisecting, culprit := false, false
		for _, e := range evs {
			if e.Kind != eventlog.KindRecover {
				continue
			}
			bisecting = bisecting || strings.Contains(e.Reason, "the oldest commit the bisect looks at") || strings.HasPrefix(e.Reason, "bisect: E2E passes at ") && !strings.Contains(e.Reason, "which merged")
			culprit = culprit || strings.Contains(e.Reason, "which merged")
		}
		restart := false
		if bisecting && !culprit && !killed("bisect") && !srv.exited() {
			srv.kill(t)
			killedIn = append(killedIn, "bisect")
			restart = true
			// The closure shows, and says what may land.
			if st := o.cli(t, "status").stdout; !strings.Contains(st, "target   main CLOSED since") {
				t.Errorf("status while main is closed:\n%s", st)
			}
		}
		if !killed("revert merge") && !srv.exited() && mergeRunning(t, db, 4) {
			srv.kill(t)
			killedIn = append(killedIn, "revert merge")
			restart = true
		}
		if !restart && !srv.exited() {
			continue
		}
		if !restart {
			// At rest: alice approves whatever waits; nothing waits: done.
			approved := 0
			open, err := watch.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen})
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range open {
				if is.HasLabel("plan:review") || is.HasLabel("mr:ready-for-review") {
					o.cli(t, "approve", fmt.Sprint(is.Number), "--as", "alice")
					approved++
				}
			}
			if approved == 0 {
				break
			}
		}
		srv = o.serve(t, len(servers)+1)
		servers = append(servers, srv)
	}
	if !killed("bisect") || !killed("revert merge") {
		t.Fatalf("the kills landed in %v; want the bisect and the revert's merge", killedIn)
	}

	evs, err := log.Events(ctx, eventlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	count := func(match func(e eventlog.Event) bool) int {
		n := 0
		for _, e := range evs {
			if match(e) {
				n++
			}
		}
		return n
	}
	recovered := func(text string) int {
		return count(func(e eventlog.Event) bool { return e.Kind == eventlog.KindRecover && strings.Contains(e.Reason, text) })
	}
	if n := recovered("main is closed"); n != 1 {
		t.Errorf("main closed %d times", n)
	}
	if n := count(func(e eventlog.Event) bool {
		return e.Kind == eventlog.KindRecover && strings.HasPrefix(e.Reason, "bisect: ") && strings.Contains(e.Reason, "which merged #2")
	}); n != 1 {
		t.Errorf("the culprit was named %d times", n)
	}
	if n := recovered("opened to revert #2"); n != 1 {
		t.Errorf("the revert was opened %d times", n)
	}
	if n := recovered("main is open again"); n != 1 {
		t.Errorf("main opened %d times", n)
	}
	steps := map[string]int{}
	for _, e := range evs {
		if c := e.Data["commit"]; e.Kind == eventlog.KindRecover && c != "" {
			steps[c]++
		}
	}
	for c, n := range steps {
		if n != 1 {
			t.Errorf("E2E ran %d times on %.10s during the bisect", n, c)
		}
	}
	if n := count(func(e eventlog.Event) bool {
		return e.Issue == 4 && e.Kind == eventlog.KindMerge && e.Data["merge_sha"] != ""
	}); n != 1 {
		t.Errorf("the revert merged %d times", n)
	}
	if _, err := watch.Issue(ctx, 5); err == nil {
		t.Error("a second revert issue #5 exists")
	}
	for _, n := range append(ns, 4) {
		is, err := watch.Issue(ctx, n)
		if err != nil || is.State != agentorg.IssueClosed || strings.Join(is.Labels, ",") != "e2e:done" {
			t.Errorf("#%d ended %s with [%s], %v", n, is.State, strings.Join(is.Labels, ","), err)
		}
	}
	mrs, err := watch.ListMRs(ctx, agentorg.MRFilter{Issue: 2})
	if err != nil || len(mrs) != 2 || mrs[1].State != agentorg.MRMerged {
		t.Errorf("#2's merge requests: %+v, %v", mrs, err)
	}
	if t.Failed() {
		r := run(t, o.dir, o.env, "events")
		t.Logf("kills in %v\n%s", killedIn, r.stdout)
	}
}

// mergeRunning reports whether a merge job of issue n runs now, from
// River's table: the merge stage shows no label of its own while it runs.
// It reads River's table itself rather than through package jobstore: it
// only observes, and by the job's own args, since a job runs before its
// claim (which jobstore's Running reads the issue from) is written.
func mergeRunning(t *testing.T, db *store.DB, n int64) bool {
	t.Helper()
	q := `SELECT count(*) FROM river_job WHERE state = 'running' AND json_extract(args, '$.issue') = ? AND json_extract(args, '$.stage') = 'merge'`
	if db.Dialect == store.Postgres {
		q = `SELECT count(*) FROM river_job WHERE state = 'running' AND (args->>'issue')::bigint = ? AND args->>'stage' = 'merge'`
	}
	var c int
	err := db.SQL.QueryRow(q, n).Scan(&c)
	if err != nil && (strings.Contains(err.Error(), "no such ") || strings.Contains(err.Error(), "does not exist")) {
		return false // serve has not made (or migrated) River's table yet
	}
	if err != nil {
		t.Fatal(err)
	}
	return c > 0
}
