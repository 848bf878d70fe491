package eventlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// The event log's contract: what every exported method of *Log gives back,
// held on each database agentorg runs on (SQLite and PostgreSQL), each case
// on a fresh database. The cases read values back, not errors only:
// round trips, order, upserts and idempotence, empty and missing values,
// times to the nanosecond, int64 values past 32 and 53 bits.

// clock is a log's clock: each reading is one second after the last, from
// base (whole seconds: the stored texts all have the same width).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var base = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// last is the clock's last reading.
func (c *clock) last() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func TestContract(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, l *Log, c *clock)
	}{
		{"Migrate", contractMigrate},
		{"Events", contractEvents},
		{"Follow", contractFollow},
		{"Runs", contractRuns},
		{"Retention", contractRetention},
		{"Attempts", contractAttempts},
		{"Rounds", contractRounds},
		{"CheckCache", contractCheckCache},
		{"JudgementCache", contractJudgementCache},
		{"Targets", contractTargets},
		{"Intents", contractIntents},
		{"Notices", contractNotices},
		{"Cursors", contractCursors},
		{"Interactions", contractInteractions},
		{"Releases", contractReleases},
		{"Deployments", contractDeployments},
	}
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					l := openLog(t, d)
					clk := &clock{t: base}
					l.now = clk.now
					c.run(t, l, clk)
				})
			}
		})
	}
}

// Large values: Unix milliseconds (past 32 bits), and an issue number past
// 2^53, which a float64 (a JSON number read carelessly) cannot hold.
const (
	unixMillis = int64(1_796_630_400_123)
	bigIssue   = int64(1<<53 + 1)
)

func contractMigrate(t *testing.T, l *Log, _ *clock) {
	ctx := context.Background()
	if err := l.Record(ctx, Event{Issue: 1, Actor: "bot", Kind: KindClaim}); err != nil {
		t.Fatal(err)
	}
	// Migrating again keeps what is there.
	if err := l.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if evs, err := l.Events(ctx, Filter{}); err != nil || len(evs) != 1 {
		t.Fatalf("after migrating again: %d events, %v", len(evs), err)
	}
	for _, col := range []string{"findings", "left_out", "work_sha", "found_by"} {
		ok, err := hasColumnNow(ctx, l, "agentorg_attempts", col)
		if err != nil || !ok {
			t.Errorf("column %s: %v %v", col, ok, err)
		}
	}
	if ok, err := hasColumnNow(ctx, l, "agentorg_attempts", "no_such_column"); err != nil || ok {
		t.Errorf("a missing column found: %v %v", ok, err)
	}
}

func hasColumnNow(ctx context.Context, l *Log, table, col string) (bool, error) {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	return l.hasColumn(ctx, tx, table, col)
}

func contractEvents(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	if _, ok, err := l.LastEvent(ctx, 1); err != nil || ok {
		t.Fatalf("LastEvent of an empty log: %v %v", ok, err)
	}
	if id, err := l.LastID(ctx); err != nil || id != 0 {
		t.Fatalf("LastID of an empty log: %d %v", id, err)
	}
	// An explicit time, to the nanosecond, in another zone: read back in UTC.
	at := time.Date(2026, 12, 7, 11, 12, 13, 123456789, time.FixedZone("UTC+2", 2*3600))
	data := map[string]string{"role": "developer", "quote": `it's "done"`, "unicode": "ünïcödé ✓", "empty": ""}
	want := []Event{
		{At: at, Issue: 1, Stage: "develop", RunID: "run-1", Actor: "bot", Kind: KindTransition, From: "dev:ready", To: "dev:running", Reason: "claimed", Data: data},
		{Issue: bigIssue, Actor: "alice", Kind: KindHuman, Reason: "approved ? yes"},       // At from the clock, no data
		{Issue: 1, Actor: "bot", Kind: KindVerdict, Reason: "", Data: map[string]string{}}, // empty data reads back as none
		{Issue: 2, Actor: "bot", Kind: KindTransition, Reason: "line one\nline two\ttab", From: "a", To: "b"},
		{Issue: 1, Actor: "bot", Kind: KindTransition, Reason: "last of #1"},
	}
	for i, e := range want {
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.At.IsZero() {
			want[i].At = c.last()
		}
		want[i].At = want[i].At.UTC()
		if len(e.Data) == 0 {
			want[i].Data = nil
		}
	}
	all, err := l.Events(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("%d events, want %d", len(all), len(want))
	}
	for i, e := range all {
		if i > 0 && e.ID <= all[i-1].ID {
			t.Errorf("ids not increasing: %d after %d", e.ID, all[i-1].ID)
		}
		w := want[i]
		w.ID = e.ID
		if e.At.Location() != time.UTC {
			t.Errorf("event %d: time in %v, want UTC", i, e.At.Location())
		}
		if !reflect.DeepEqual(e, w) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, e, w)
		}
	}
	if !all[0].At.Equal(at) || all[0].At.Nanosecond() != 123456789 {
		t.Errorf("time %v, want %v to the nanosecond", all[0].At, at)
	}

	reasons := func(evs []Event) string {
		var rs []string
		for _, e := range evs {
			rs = append(rs, fmt.Sprintf("%d:%s", e.Issue, e.Kind))
		}
		return strings.Join(rs, " ")
	}
	big := fmt.Sprint(bigIssue)
	for _, f := range []struct {
		f    Filter
		want string
	}{
		{Filter{Issue: 1}, "1:transition 1:verdict 1:transition"},
		{Filter{Kind: KindTransition}, "1:transition 2:transition 1:transition"},
		{Filter{Issue: 1, Kind: KindVerdict}, "1:verdict"},
		{Filter{Issue: bigIssue}, big + ":human"},
		{Filter{Issue: 3}, ""},
		{Filter{Kind: KindMerge}, ""},
	} {
		evs, err := l.Events(ctx, f.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := reasons(evs); got != f.want {
			t.Errorf("Events(%+v) = %q, want %q", f.f, got, f.want)
		}
	}

	last, ok, err := l.LastEvent(ctx, 1)
	if err != nil || !ok || last.Reason != "last of #1" || last.ID != all[4].ID {
		t.Errorf("LastEvent(1) = %+v %v %v", last, ok, err)
	}
	if last, ok, _ := l.LastEvent(ctx, bigIssue); !ok || last.Actor != "alice" {
		t.Errorf("LastEvent(%d) = %+v %v", bigIssue, last, ok)
	}
	if _, ok, err := l.LastEvent(ctx, 99); err != nil || ok {
		t.Errorf("LastEvent of an issue without events: %v %v", ok, err)
	}
	if id, err := l.LastID(ctx); err != nil || id != all[4].ID {
		t.Errorf("LastID = %d %v, want %d", id, err, all[4].ID)
	}

	// EventsAfter: what follows an id, filtered, at most limit.
	for _, x := range []struct {
		after int64
		f     Filter
		limit int
		want  string
	}{
		{all[1].ID, Filter{}, 0, "1:verdict 2:transition 1:transition"},
		{all[1].ID, Filter{}, 2, "1:verdict 2:transition"},
		{all[0].ID, Filter{Issue: 1}, 0, "1:verdict 1:transition"},
		{all[0].ID, Filter{Issue: 1, Kind: KindTransition}, 1, "1:transition"},
		{0, Filter{Issue: bigIssue}, 0, big + ":human"},
		{all[4].ID, Filter{}, 0, ""},
	} {
		evs, err := l.EventsAfter(ctx, x.after, x.f, x.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := reasons(evs); got != x.want {
			t.Errorf("EventsAfter(%d, %+v, %d) = %q, want %q", x.after, x.f, x.limit, got, x.want)
		}
	}
	// An error's text can carry a command's bytes: kept as U+FFFD.
	if err := l.Record(ctx, Event{Issue: 4, Actor: "bot", Kind: KindError, Reason: "exit 1: \x00\xffok"}); err != nil {
		t.Fatalf("recording raw bytes: %v", err)
	}
	if e, _, _ := l.LastEvent(ctx, 4); e.Reason != "exit 1: \uFFFD\uFFFDok" {
		t.Errorf("raw reason read back as %q", e.Reason)
	}
}

func contractFollow(t *testing.T, l *Log, _ *clock) {
	ctx := context.Background()
	// More than one batch is waiting: the follower reads them all, in order.
	n := followBatch + 3
	for i := 1; i <= n; i++ {
		if err := l.Record(ctx, Event{Issue: int64(i%3 + 1), Actor: "bot", Kind: KindTransition, Reason: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel() // stopped already: Follow reads once, then returns
	var got []string
	if err := l.Follow(stopped, 0, Filter{}, time.Hour, func(e Event) error {
		got = append(got, e.Reason)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != n || got[0] != "1" || got[n-1] != fmt.Sprint(n) {
		t.Fatalf("a stopped follower read %d events (%v … %v), want all %d in order", len(got), first(got), lastOf(got), n)
	}
	for i, r := range got {
		if r != fmt.Sprint(i+1) {
			t.Fatalf("event %d read as %q", i+1, r)
		}
	}
	// A filter, and an id to start after: event n-6's.
	all, err := l.Events(ctx, Filter{})
	if err != nil || len(all) != n {
		t.Fatalf("Events: %d, %v", len(all), err)
	}
	got = nil
	if err := l.Follow(stopped, all[n-7].ID, Filter{Issue: 1}, time.Hour, func(e Event) error {
		got = append(got, e.Reason)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprint(n - 5), fmt.Sprint(n - 2)}; n%3 != 2 || !reflect.DeepEqual(got, want) {
		t.Errorf("following #1 after event %d: %v, want %v", n-6, got, want)
	}
	// fn's error ends the follow, and Follow returns it.
	stop := errors.New("enough")
	seen := 0
	err = l.Follow(ctx, 0, Filter{}, time.Millisecond, func(e Event) error {
		seen++
		if seen == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 2 {
		t.Errorf("Follow returned %v after %d events, want fn's error after 2", err, seen)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func lastOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func contractRuns(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	record := func(e Event) time.Time {
		t.Helper()
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		return c.last()
	}
	u1 := agentorg.Usage{InputTokens: 5_000_000_000, CachedTokens: 3, OutputTokens: unixMillis, CostUSD: 1.25}
	u2 := agentorg.Usage{InputTokens: 10, OutputTokens: 1, CostUSD: 0.5}
	aStart := record(Event{Issue: 1, Stage: "develop", RunID: "run-a", Actor: "bot", Kind: KindClaim})
	record(Event{Issue: 1, Stage: "develop", RunID: "run-a", Actor: "coder", Kind: KindAgent,
		Data: WithUsage(map[string]string{"role": "developer", "session": "s-1"}, u1)})
	bStart := record(Event{Issue: bigIssue, Stage: "validate", RunID: "run-b", Actor: "bot", Kind: KindClaim})
	record(Event{Issue: 0, Actor: "bot", Kind: KindHousekeep}) // no run
	// run-a goes on: its later events do not change what names it.
	record(Event{Issue: 2, Stage: "merge", RunID: "run-a", Actor: "bot", Kind: KindTransition})
	cStart := record(Event{Issue: 3, Stage: "review", RunID: "xrun-c", Actor: "triager", Kind: KindAgent,
		Data: WithUsage(map[string]string{"role": "triage"}, u2)})
	record(Event{Issue: 3, Stage: "review", RunID: "xrun-c", Actor: "triager", Kind: KindAgent, Data: WithUsage(nil, u2)})

	type ref struct {
		ID    string
		Issue int64
		Stage string
		At    time.Time
	}
	refs := func(rs []RunRef) []ref {
		out := []ref{}
		for _, r := range rs {
			out = append(out, ref{r.ID, r.Issue, r.Stage, r.At})
		}
		return out
	}
	a := ref{"run-a", 1, "develop", aStart}
	b := ref{"run-b", bigIssue, "validate", bStart}
	x := ref{"xrun-c", 3, "review", cStart}
	for _, f := range []struct {
		prefix string
		limit  int
		want   []ref
	}{
		{"", 10, []ref{x, a, b}}, // newest first, by their last events
		{"", 2, []ref{x, a}},
		{"run-", 10, []ref{a, b}},
		{"run-b", 10, []ref{b}},
		{"run-bb", 10, []ref{}},
		{"x", 10, []ref{x}},
		{"%", 10, []ref{}}, // a prefix, not a pattern
	} {
		rs, err := l.FindRuns(ctx, f.prefix, f.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := refs(rs); !reflect.DeepEqual(got, f.want) {
			t.Errorf("FindRuns(%q, %d) = %+v, want %+v", f.prefix, f.limit, got, f.want)
		}
	}

	// AgentRuns: the runs with an agent event, by their first one.
	ars, err := l.AgentRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	aAgent := ref{"run-a", 1, "develop", aStart.Add(time.Second)}
	if got, want := refs(ars), []ref{aAgent, x}; !reflect.DeepEqual(got, want) {
		t.Errorf("AgentRuns = %+v, want %+v", got, want)
	}

	// Runs and Usage read the agent events back, usage and all.
	runs, err := l.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantRuns := []Run{
		{Issue: 1, Stage: "develop", Role: "developer", Agent: "coder", Session: "s-1", RunID: "run-a", At: aStart.Add(time.Second), Usage: u1},
		{Issue: 3, Stage: "review", Role: "triage", Agent: "triager", RunID: "xrun-c", At: cStart, Usage: u2},
		{Issue: 3, Stage: "review", Agent: "triager", RunID: "xrun-c", At: cStart.Add(time.Second), Usage: u2},
	}
	if !reflect.DeepEqual(runs, wantRuns) {
		t.Errorf("Runs(0):\n got %+v\nwant %+v", runs, wantRuns)
	}
	if runs, err := l.Runs(ctx, 3); err != nil || len(runs) != 2 {
		t.Errorf("Runs(3): %d runs, %v", len(runs), err)
	}
	if runs, err := l.Runs(ctx, 2); err != nil || len(runs) != 0 {
		t.Errorf("Runs(2): %+v, %v; #2 has no agent event", runs, err)
	}
	rep, err := l.Usage(ctx, 0, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	total := u1.Add(u2).Add(u2)
	if rep.Total != total || len(rep.Issues) != 2 || rep.Issues[1].Runs != 2 || len(rep.Days) != 1 || rep.Days[0].Day != "2026-12-07" {
		t.Errorf("Usage: %+v, want total %+v", rep, total)
	}
	if rep, _ := l.Usage(ctx, 1, time.UTC); rep.Total != u1 || len(rep.Runs) != 1 {
		t.Errorf("Usage(1): %+v", rep)
	}
}

func contractRetention(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	old := base.Add(-48 * time.Hour)
	cut := base.Add(-24 * time.Hour)
	for _, e := range []Event{
		{At: old, Issue: 1, RunID: "old-1", Actor: "bot", Kind: KindClaim},
		{At: old, Issue: bigIssue, RunID: "old-big", Actor: "bot", Kind: KindClaim},
		{At: old, Issue: 3, RunID: "old-3", Actor: "bot", Kind: KindClaim},
		{At: old, Issue: 3, Actor: "bot", Kind: KindTransition},
		{Issue: 3, RunID: "new-3", Actor: "bot", Kind: KindClaim}, // now: kept by time
	} {
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tree := range []string{"t-old", "t-keep"} {
		c.t = old // cache entries made long ago
		if err := l.CacheCheck(ctx, tree, "def", CheckRun{Passed: true}); err != nil {
			t.Fatal(err)
		}
		if err := l.CacheJudgement(ctx, tree, "q", "yes"); err != nil {
			t.Fatal(err)
		}
	}
	c.t = base
	if err := l.CacheCheck(ctx, "t-new", "def", CheckRun{}); err != nil {
		t.Fatal(err)
	}
	r := Retention{Before: cut, Keep: []int64{1, bigIssue}, KeepTrees: []string{"t-keep"}}

	kept, err := l.RunsKept(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"old-1": 1, "old-big": bigIssue, "new-3": 3}; !reflect.DeepEqual(kept, want) {
		t.Errorf("RunsKept = %v, want %v", kept, want)
	}
	if kept, err := l.RunsKept(ctx, Retention{Before: cut}); err != nil || !reflect.DeepEqual(kept, map[string]int64{"new-3": 3}) {
		t.Errorf("RunsKept with nothing to keep = %v %v", kept, err)
	}

	want := Pruned{Events: 5, Checks: 3, Judgements: 2, EventsGone: 2, ChecksGone: 1, JudgesGone: 1}
	dry, err := l.Prune(ctx, r, true)
	if err != nil || dry != want {
		t.Fatalf("dry run: %+v %v, want %+v", dry, err, want)
	}
	if again, _ := l.Prune(ctx, r, true); again != want {
		t.Fatalf("a dry run removed something: then %+v", again)
	}
	if got, err := l.Prune(ctx, r, false); err != nil || got != want {
		t.Fatalf("prune: %+v %v, want %+v", got, err, want)
	}
	if got, _ := l.Prune(ctx, r, true); got != (Pruned{Events: 3, Checks: 2, Judgements: 1}) {
		t.Errorf("after the prune: %+v", got)
	}
	evs, _ := l.Events(ctx, Filter{})
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.RunID)
	}
	if got := strings.Join(ids, ","); got != "old-1,old-big,new-3" {
		t.Errorf("events left: %s", got)
	}
	for tree, want := range map[string]bool{"t-old": false, "t-keep": true, "t-new": true} {
		if _, ok, err := l.CachedCheck(ctx, tree, "def"); err != nil || ok != want {
			t.Errorf("check cache of %s after the prune: %v %v, want %v", tree, ok, err, want)
		}
	}
	if _, ok, _ := l.CachedJudgement(ctx, "t-old", "q"); ok {
		t.Error("the old judgement was kept")
	}
	if _, ok, _ := l.CachedJudgement(ctx, "t-keep", "q"); !ok {
		t.Error("the kept tree's judgement went")
	}
	// Nothing to keep: everything old goes.
	if got, err := l.Prune(ctx, Retention{Before: cut}, false); err != nil || got.EventsGone != 2 || got.ChecksGone != 1 || got.JudgesGone != 1 {
		t.Errorf("prune keeping nothing: %+v %v", got, err)
	}
}

func contractAttempts(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	if as, err := l.Attempts(ctx, 1); err != nil || len(as) != 0 {
		t.Fatalf("attempts of a new issue: %v %v", as, err)
	}
	if _, ok, err := l.LastAttempt(ctx, 1); err != nil || ok {
		t.Fatalf("LastAttempt of a new issue: %v %v", ok, err)
	}
	// Started out of order: listed by n, as numbers (10 after 2).
	for _, n := range []int{2, 10, 1} {
		a, err := l.StartAttempt(ctx, Attempt{Issue: bigIssue, N: n, RunID: fmt.Sprint("r", n), Agent: "coder", SessionID: ""})
		if err != nil {
			t.Fatal(err)
		}
		if a.N != n || a.Distance != -1 || a.Verdict != "" || len(a.Findings) != 0 || len(a.LeftOut) != 0 || !a.FinishedAt.IsZero() || !a.StartedAt.Equal(c.last()) {
			t.Fatalf("attempt %d as started: %+v", n, a)
		}
	}
	// Starting again returns the stored attempt, unchanged.
	again, err := l.StartAttempt(ctx, Attempt{Issue: bigIssue, N: 2, RunID: "other", Agent: "other"})
	if err != nil || again.RunID != "r2" || again.Agent != "coder" || !again.StartedAt.Equal(base.Add(time.Second)) {
		t.Fatalf("attempt 2 started again: %+v %v", again, err)
	}
	as, err := l.Attempts(ctx, bigIssue)
	if err != nil || len(as) != 3 || as[0].N != 1 || as[1].N != 2 || as[2].N != 10 {
		t.Fatalf("attempts: %+v %v", as, err)
	}

	u := agentorg.Usage{InputTokens: 5_000_000_000, CachedTokens: 7, OutputTokens: 1, CostUSD: 0.125}
	if err := l.SetFailure(ctx, bigIssue, 1, "coder", "sess-1", "stalled", u); err != nil {
		t.Fatal(err)
	}
	if err := l.SetSession(ctx, bigIssue, 1, "coder2", "", "did it", u); err != nil { // "" keeps the session
		t.Fatal(err)
	}
	if err := l.SetLeftOut(ctx, bigIssue, 1, []string{"build.log", "ünï.tmp"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetWork(ctx, bigIssue, 1, "work1"); err != nil {
		t.Fatal(err)
	}
	if err := l.SetCommit(ctx, bigIssue, 1, "commit1"); err != nil {
		t.Fatal(err)
	}
	fs := []Finding{{Key: "check:test", Text: "`go test` failed"}, {Key: "target:lint", Text: "red on main", Target: true}, {Key: "criterion:1", Text: "unmet"}}
	if err := l.SetVerdict(ctx, bigIssue, 1, "validate", NOGO, fs, "## report\n"); err != nil {
		t.Fatal(err)
	}
	verdictAt := c.last()
	a, ok, err := l.LastAttempt(ctx, bigIssue)
	if err != nil || !ok || a.N != 10 {
		t.Fatalf("LastAttempt: %+v %v %v", a, ok, err)
	}
	as, _ = l.Attempts(ctx, bigIssue)
	want := Attempt{Issue: bigIssue, N: 1, RunID: "r1", Agent: "coder2", SessionID: "sess-1", CommitSHA: "commit1", WorkSHA: "work1",
		Verdict: NOGO, FoundBy: "validate", Distance: 2, Findings: fs, Report: "## report\n", Summary: "did it", Usage: u.Add(u),
		LeftOut: []string{"build.log", "ünï.tmp"}, StartedAt: base.Add(3 * time.Second), FinishedAt: verdictAt}
	if !reflect.DeepEqual(as[0], want) {
		t.Errorf("attempt 1:\n got %+v\nwant %+v", as[0], want)
	}
	if as[0].Work() != "work1" || !reflect.DeepEqual(as[0].FindingKeys(), []string{"check:test", "criterion:1"}) || len(as[0].TargetFindings()) != 1 {
		t.Errorf("attempt 1's derived values: %q %v %v", as[0].Work(), as[0].FindingKeys(), as[0].TargetFindings())
	}
	// Nil lists are stored as empty ones; GO with no findings is distance 0.
	if err := l.SetLeftOut(ctx, bigIssue, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.SetVerdict(ctx, bigIssue, 2, "merge", GO, nil, ""); err != nil {
		t.Fatal(err)
	}
	as, _ = l.Attempts(ctx, bigIssue)
	if as[0].LeftOut == nil || len(as[0].LeftOut) != 0 {
		t.Errorf("left out after nil: %#v", as[0].LeftOut)
	}
	if a := as[1]; a.Verdict != GO || a.Distance != 0 || a.Findings == nil || len(a.Findings) != 0 || a.FoundBy != "merge" || a.Work() != "" {
		t.Errorf("attempt 2 after GO: %+v", a)
	}
	// Another issue's attempts are its own.
	if as, _ := l.Attempts(ctx, 1); len(as) != 0 {
		t.Errorf("#1 has %d attempts", len(as))
	}
	// Updating an attempt that does not exist says so.
	for name, err := range map[string]error{
		"SetSession": l.SetSession(ctx, 1, 1, "a", "s", "x", agentorg.Usage{}),
		"SetFailure": l.SetFailure(ctx, bigIssue, 3, "a", "s", "x", agentorg.Usage{}),
		"SetLeftOut": l.SetLeftOut(ctx, 1, 1, nil),
		"SetWork":    l.SetWork(ctx, 1, 1, "x"),
		"SetCommit":  l.SetCommit(ctx, 1, 1, "x"),
		"SetVerdict": l.SetVerdict(ctx, 1, 1, "validate", GO, nil, ""),
	} {
		if !errors.Is(err, agentorg.ErrNotFound) {
			t.Errorf("%s of a missing attempt: %v, want ErrNotFound", name, err)
		}
	}

	// FirstAttempts: when each issue's first attempt started.
	if _, err := l.StartAttempt(ctx, Attempt{Issue: 5, N: 1, RunID: "r", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	firsts, err := l.FirstAttempts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64]time.Time{bigIssue: base.Add(time.Second), 5: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}; !reflect.DeepEqual(firsts, want) {
		t.Errorf("FirstAttempts = %v, want %v", firsts, want)
	}
}

func contractRounds(t *testing.T, l *Log, _ *clock) {
	ctx := context.Background()
	if rs, err := l.Rounds(ctx, 4); err != nil || len(rs) != 0 {
		t.Fatalf("rounds of a new issue: %v %v", rs, err)
	}
	if _, ok, err := l.OpenRound(ctx, 4); err != nil || ok {
		t.Fatalf("open round before any: %v %v", ok, err)
	}
	threads := []RoundThread{{ID: "7", Path: "a.go", Line: 3, Quote: "why \"this\"?"}, {ID: "8", Quote: "ünïcödé"}}
	r, err := l.StartRound(ctx, Round{Issue: 4, N: 1, MR: unixMillis, Head: "abc", Status: RoundTriaging, Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	want := Round{Issue: 4, N: 1, MR: unixMillis, Head: "abc", Status: RoundTriaging, Threads: threads, Started: base.Add(time.Second)}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("started round:\n got %+v\nwant %+v", r, want)
	}
	r.Status, r.Attempt, r.Commit = RoundFixing, 2, "fix"
	r.Threads[0].Decision = ThreadDecision{Thread: "7", Class: "must-fix", Accept: true, Reason: "bug", Answer: "fixed", Title: "t"}
	if err := l.UpdateRound(ctx, r); err != nil {
		t.Fatal(err)
	}
	again, err := l.StartRound(ctx, Round{Issue: 4, N: 1, MR: 2, Head: "other", Status: RoundTriaging})
	if err != nil || !reflect.DeepEqual(again, r) {
		t.Fatalf("restarted round:\n got %+v %v\nwant %+v", again, err, r)
	}
	if _, err := l.StartRound(ctx, Round{Issue: 4, N: 2, MR: 2, Head: "def", Status: RoundTriaging}); err != nil {
		t.Fatal(err)
	}
	rs, err := l.Rounds(ctx, 4)
	if err != nil || len(rs) != 2 || rs[0].N != 1 || rs[1].N != 2 || rs[1].Threads != nil {
		t.Fatalf("rounds: %+v %v", rs, err)
	}
	open, ok, err := l.OpenRound(ctx, 4)
	if err != nil || !ok || open.N != 2 {
		t.Fatalf("open round: %+v %v %v", open, ok, err)
	}
	open.Status = RoundDone
	if err := l.UpdateRound(ctx, open); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.OpenRound(ctx, 4); ok {
		t.Fatal("a done round is open")
	}
	if err := l.UpdateRound(ctx, Round{Issue: 4, N: 9}); err == nil {
		t.Fatal("updating a missing round succeeded")
	}
}

func contractCheckCache(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	if _, ok, err := l.CachedCheck(ctx, "tree", "def"); err != nil || ok {
		t.Fatalf("an empty cache: %v %v", ok, err)
	}
	runs := map[string]CheckRun{
		"pass": {Passed: true, ExitCode: 0, Output: "ok\n", Duration: 3*time.Hour + 7*time.Millisecond},
		"fail": {Passed: false, ExitCode: 2, Reason: "exit status 2", Output: "FAIL: it's \"broken\"\n✗ ünïcödé\n"},
		"kill": {Passed: false, ExitCode: -1, Reason: "timed out"},
	}
	for def, r := range runs {
		if err := l.CacheCheck(ctx, "tree", def, r); err != nil {
			t.Fatal(err)
		}
		at := c.last()
		got, ok, err := l.CachedCheck(ctx, "tree", def)
		r.At = at
		if err != nil || !ok || got != r {
			t.Errorf("%s:\n got %+v %v %v\nwant %+v", def, got, ok, err, r)
		}
	}
	// The first outcome stays.
	if err := l.CacheCheck(ctx, "tree", "pass", CheckRun{Passed: false, ExitCode: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.CachedCheck(ctx, "tree", "pass"); !got.Passed || got.Duration != runs["pass"].Duration {
		t.Errorf("the first outcome was replaced: %+v", got)
	}
	// Unless a person ran it again.
	if err := l.RecacheCheck(ctx, "tree", "pass", CheckRun{Passed: false, ExitCode: 1, Reason: "exit status 1"}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.CachedCheck(ctx, "tree", "pass"); got.Passed || got.ExitCode != 1 || got.Reason != "exit status 1" || got.Duration != 0 {
		t.Errorf("the outcome run again was not kept: %+v", got)
	}
	if _, ok, _ := l.CachedCheck(ctx, "other", "pass"); ok {
		t.Error("another tree's outcome")
	}
	// A command's output is bytes: a NUL and bytes that are not UTF-8 are
	// kept as U+FFFD (PostgreSQL's text holds neither), on every database.
	raw := CheckRun{ExitCode: 1, Reason: "bad \xff byte", Output: "a\x00b\xc3(c\n"}
	if err := l.CacheCheck(ctx, "tree", "raw", raw); err != nil {
		t.Fatalf("caching raw output: %v", err)
	}
	got, ok, err := l.CachedCheck(ctx, "tree", "raw")
	if err != nil || !ok || got.Output != "a\uFFFDb\uFFFD(c\n" || got.Reason != "bad \uFFFD byte" {
		t.Errorf("raw output read back as %q, reason %q (%v %v)", got.Output, got.Reason, ok, err)
	}
}

func contractJudgementCache(t *testing.T, l *Log, _ *clock) {
	ctx := context.Background()
	if _, ok, err := l.CachedJudgement(ctx, "tree", "q"); err != nil || ok {
		t.Fatalf("an empty cache: %v %v", ok, err)
	}
	for _, x := range []struct{ tree, key, answer string }{
		{"tree", "q", `{"met":true}`},
		{"tree", "q2", ""}, // an empty answer is an answer
		{"tree2", "q", "no"},
		{"tree", "q", "replaced?"}, // the first one stays
	} {
		if err := l.CacheJudgement(ctx, x.tree, x.key, x.answer); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []struct{ tree, key, want string }{{"tree", "q", `{"met":true}`}, {"tree", "q2", ""}, {"tree2", "q", "no"}} {
		if got, ok, err := l.CachedJudgement(ctx, x.tree, x.key); err != nil || !ok || got != x.want {
			t.Errorf("judgement %s/%s = %q %v %v, want %q", x.tree, x.key, got, ok, err, x.want)
		}
	}
	if _, ok, _ := l.CachedJudgement(ctx, "tree2", "q2"); ok {
		t.Error("a judgement nobody cached")
	}
}

func contractTargets(t *testing.T, l *Log, _ *clock) {
	ctx := context.Background()
	got, err := l.Target(ctx, "main")
	if err != nil || got != (Target{Branch: "main"}) {
		t.Fatalf("a new target: %+v, %v", got, err)
	}
	want := Target{Branch: "main", Closed: true, RedSHA: "r", GreenSHA: "g", Since: time.Date(2026, 12, 7, 1, 2, 3, 999999999, time.UTC),
		Reason: "E2E failed", Bisected: true, Culprit: "c", CulpritIssue: bigIssue, Partner: "p", PartnerIssue: 1, RevertIssue: unixMillis, SentBack: true}
	if err := l.SetTarget(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err = l.Target(ctx, "main"); err != nil || got != want {
		t.Fatalf("got  %+v, %v\nwant %+v", got, err, want)
	}
	// An upsert: every field replaced, a zero time kept as none.
	open := Target{Branch: "main", Reason: "E2E passed"}
	if err := l.SetTarget(ctx, open); err != nil {
		t.Fatal(err)
	}
	if got, _ = l.Target(ctx, "main"); got != open {
		t.Fatalf("after opening: %+v", got)
	}
	if other, _ := l.Target(ctx, "release"); other != (Target{Branch: "release"}) {
		t.Fatalf("another branch: %+v", other)
	}

	for i, x := range []struct {
		command, head string
		news          bool
	}{{"make e2e", "a", true}, {"make e2e", "a", false}, {"make e2e", "b", true}, {"other", "a", true}} {
		news, err := l.AddFlake(ctx, x.command, x.head)
		if err != nil || news != x.news {
			t.Fatalf("flake %d (%s at %s): news %v, want %v (%v)", i, x.command, x.head, news, x.news, err)
		}
	}
	for cmd, want := range map[string]int{"make e2e": 2, "other": 1, "none": 0} {
		if n, err := l.Flakes(ctx, cmd); err != nil || n != want {
			t.Errorf("Flakes(%q) = %d %v, want %d", cmd, n, err, want)
		}
	}
}

func contractIntents(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	if all, err := l.Intents(ctx); err != nil || len(all) != 0 {
		t.Fatalf("intents of a new log: %v %v", all, err)
	}
	if _, ok, err := l.IntentOf(ctx, 3); err != nil || ok {
		t.Fatalf("IntentOf before any: %v %v", ok, err)
	}
	planned := []byte(`{"files":["a.go","ünï/ö.go"],"depends":[2]}`)
	if err := l.SetPlanned(ctx, 3, planned); err != nil {
		t.Fatal(err)
	}
	if err := l.SetChanged(ctx, 3, []byte(`{"files":["b.go"]}`), "attempt 1"); err != nil {
		t.Fatal(err)
	}
	changedAt := c.last()
	if err := l.SetChanged(ctx, bigIssue, []byte(`{"files":["c.go"]}`), "attempt 2"); err != nil {
		t.Fatal(err)
	}
	want3 := IntentRow{Issue: 3, Planned: planned, Changed: []byte(`{"files":["b.go"]}`), Source: "attempt 1", Updated: changedAt}
	wantBig := IntentRow{Issue: bigIssue, Changed: []byte(`{"files":["c.go"]}`), Source: "attempt 2", Updated: c.last()}
	all, err := l.Intents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64]IntentRow{3: want3, bigIssue: wantBig}; !reflect.DeepEqual(all, want) {
		t.Fatalf("Intents:\n got %+v\nwant %+v", all, want)
	}
	if r, ok, err := l.IntentOf(ctx, 3); err != nil || !ok || !reflect.DeepEqual(r, want3) {
		t.Fatalf("IntentOf(3) = %+v %v %v", r, ok, err)
	}
	// Planning again replaces the plan and keeps what changed.
	if err := l.SetPlanned(ctx, 3, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := l.IntentOf(ctx, 3); string(r.Planned) != `{}` || string(r.Changed) != `{"files":["b.go"]}` || r.Source != "attempt 1" || !r.Updated.Equal(c.last()) {
		t.Fatalf("after planning again: %+v", r)
	}
	// An empty plan reads back as none.
	if err := l.SetPlanned(ctx, bigIssue, nil); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := l.IntentOf(ctx, bigIssue); r.Planned != nil || string(r.Changed) != `{"files":["c.go"]}` {
		t.Fatalf("#%d after an empty plan: %+v", bigIssue, r)
	}
	if err := l.DeleteIntent(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.IntentOf(ctx, 3); ok {
		t.Fatal("#3's intent is still there")
	}
	if all, _ := l.Intents(ctx); len(all) != 1 {
		t.Fatalf("after the delete: %v", all)
	}
	if err := l.DeleteIntent(ctx, 3); err != nil {
		t.Fatalf("deleting what is gone: %v", err)
	}
}

func contractNotices(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	if _, ok, err := l.NoticeOf(ctx, "k"); err != nil || ok {
		t.Fatalf("NoticeOf before any: %v %v", ok, err)
	}
	at := time.Date(2026, 12, 7, 9, 0, 0, 5, time.UTC)
	add := func(n Notice, wantNew bool) Notice {
		t.Helper()
		got, isNew, err := l.AddNotice(ctx, n)
		if err != nil || isNew != wantNew {
			t.Fatalf("AddNotice(%s): new %v, want %v (%v)", n.Key, isNew, wantNew, err)
		}
		return got
	}
	a := Notice{Key: "issue/2/approve", Issue: 2, Kind: "approve", OpenedBy: unixMillis, Channel: "c1", Nonce: "n1", At: at}
	if got := add(a, true); got != a {
		t.Fatalf("AddNotice returned %+v, want %+v", got, a)
	}
	b := add(Notice{Key: "issue/2/b", Issue: 2, Kind: "merge", OpenedBy: 5, Channel: "c1", Nonce: "n2"}, true)
	if !b.At.Equal(c.last()) {
		t.Errorf("default time %v, want %v", b.At, c.last())
	}
	closed := add(Notice{Key: "issue/3/x", Issue: bigIssue, Kind: "x", OpenedBy: 5, Channel: "c2", Nonce: "n3", MessageID: "m0", Closed: true, At: at}, true)
	aa := add(Notice{Key: "issue/2/a", Issue: 2, Kind: "x", OpenedBy: 5, Channel: "c1", Nonce: "n4", At: at}, true)
	// The same key again: the stored notice, unchanged.
	if got := add(Notice{Key: a.Key, Issue: 9, Kind: "other", Nonce: "n9", At: at}, false); got != a {
		t.Fatalf("AddNotice of a known key returned %+v, want the stored %+v", got, a)
	}
	if got, ok, err := l.NoticeOf(ctx, closed.Key); err != nil || !ok || got != closed {
		t.Fatalf("NoticeOf(closed) = %+v %v %v", got, ok, err)
	}
	// Not final ones, by the event that opened them, then by key.
	keys := func(ns []Notice) string {
		var ks []string
		for _, n := range ns {
			ks = append(ks, n.Key)
		}
		return strings.Join(ks, " ")
	}
	if ns, err := l.Notices(ctx, 0); err != nil || keys(ns) != "issue/2/a issue/2/b issue/2/approve" {
		t.Fatalf("Notices(0) = %q %v", keys(ns), err)
	}
	if ns, err := l.Notices(ctx, bigIssue); err != nil || len(ns) != 0 {
		t.Fatalf("Notices of the closed one's issue: %q %v", keys(ns), err)
	}
	if err := l.NoticeSent(ctx, a.Key, "msg-1", "h1", false); err != nil {
		t.Fatal(err)
	}
	if err := l.NoticeSent(ctx, aa.Key, "msg-2", "h2", true); err != nil {
		t.Fatal(err)
	}
	got, _, _ := l.NoticeOf(ctx, a.Key)
	a.MessageID, a.Hash = "msg-1", "h1"
	if got != a {
		t.Fatalf("after NoticeSent: %+v, want %+v", got, a)
	}
	if got, _, _ := l.NoticeOf(ctx, aa.Key); !got.Closed || got.MessageID != "msg-2" {
		t.Fatalf("closed by NoticeSent: %+v", got)
	}
	if ns, _ := l.Notices(ctx, 2); keys(ns) != "issue/2/b issue/2/approve" {
		t.Fatalf("Notices(2) after one closed: %q", keys(ns))
	}
}

func contractCursors(t *testing.T, l *Log, _ *clock) {
	ctx := context.Background()
	if id, ok, err := l.Cursor(ctx, "discord"); err != nil || ok || id != 0 {
		t.Fatalf("a cursor never set: %d %v %v", id, ok, err)
	}
	for _, id := range []int64{0, 7, math.MaxInt64, 3} { // set, moved, and moved back
		if err := l.SetCursor(ctx, "discord", id); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := l.Cursor(ctx, "discord"); err != nil || !ok || got != id {
			t.Fatalf("cursor after SetCursor(%d): %d %v %v", id, got, ok, err)
		}
	}
	if _, ok, _ := l.Cursor(ctx, "other"); ok {
		t.Fatal("another follower's cursor is set")
	}
}

func contractInteractions(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	var at time.Time // when i-1 was first answered
	for i, want := range []bool{true, false, false} {
		first, err := l.FirstInteraction(ctx, "i-1", "alice")
		if err != nil || first != want {
			t.Fatalf("FirstInteraction, time %d: %v %v, want %v", i+1, first, err, want)
		}
		if i == 0 {
			at = c.last()
		}
	}
	if first, err := l.FirstInteraction(ctx, "i-2", "bob"); err != nil || !first {
		t.Fatalf("another interaction: %v %v", first, err)
	}
	if err := l.InteractionOutcome(ctx, "i-1", "approved #2"); err != nil {
		t.Fatal(err)
	}
	if err := l.InteractionOutcome(ctx, "missing", "x"); err != nil {
		t.Fatalf("the outcome of an unknown interaction: %v", err)
	}
	// No method reads them back (the bot only asks whether one is first):
	// read the table. "user" is the column, not PostgreSQL's CURRENT_USER.
	for id, want := range map[string][3]string{"i-1": {"alice", "approved #2", at.Format(timeFormat)}, "i-2": {"bob", "", c.t.Format(timeFormat)}} {
		var got [3]string
		if err := l.db.QueryRowContext(ctx, `SELECT "user", outcome, at FROM agentorg_interactions WHERE id = ?`, id).Scan(&got[0], &got[1], &got[2]); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("interaction %s: %q, want %q", id, got, want)
		}
	}
}

func contractReleases(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	if _, ok, err := l.Release(ctx, "v1.0.0"); err != nil || ok {
		t.Fatalf("Release before any: %v %v", ok, err)
	}
	if _, ok, err := l.ReleaseOf(ctx, 7); err != nil || ok {
		t.Fatalf("ReleaseOf before any: %v %v", ok, err)
	}
	if rs, err := l.Releases(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("Releases before any: %v %v", rs, err)
	}
	v1 := ReleaseRecord{Version: "v1.0.0", Tag: "v1.0.0", Commit: "c1", Issue: 7, Notes: "## v1.0.0\n- it's \"new\" ✓\n", Issues: []int64{1, bigIssue}, MR: unixMillis, Correction: ""}
	if err := l.DraftRelease(ctx, v1); err != nil {
		t.Fatal(err)
	}
	v1.At = c.last()
	if got, ok, err := l.Release(ctx, "v1.0.0"); err != nil || !ok || !reflect.DeepEqual(got, v1) {
		t.Fatalf("drafted:\n got %+v %v %v\nwant %+v", got, ok, err, v1)
	}
	// Drafted again: replaced.
	v1.Commit, v1.Notes, v1.Issues, v1.Correction, v1.At = "c2", "notes 2", nil, "was 1.0", time.Time{}
	if err := l.DraftRelease(ctx, v1); err != nil {
		t.Fatal(err)
	}
	v1.At = c.last()
	if got, _, _ := l.Release(ctx, "v1.0.0"); !reflect.DeepEqual(got, v1) {
		t.Fatalf("drafted again:\n got %+v\nwant %+v", got, v1)
	}
	if err := l.PublishRelease(ctx, "v1.0.0", "https://forge/releases/v1.0.0"); err != nil {
		t.Fatal(err)
	}
	v1.Published, v1.URL, v1.PublishedAt = true, "https://forge/releases/v1.0.0", c.last()
	if got, _, _ := l.Release(ctx, "v1.0.0"); !reflect.DeepEqual(got, v1) {
		t.Fatalf("published:\n got %+v\nwant %+v", got, v1)
	}
	// A published release is never replaced.
	if err := l.DraftRelease(ctx, ReleaseRecord{Version: "v1.0.0", Tag: "v1.0.0", Commit: "c3", Issue: 7}); err == nil {
		t.Fatal("a published release was drafted again")
	}
	if got, _, _ := l.Release(ctx, "v1.0.0"); got.Commit != "c2" || !got.Published {
		t.Fatalf("after the refused draft: %+v", got)
	}
	// The same issue drafts the next version: ReleaseOf is the newest.
	v2 := ReleaseRecord{Version: "v1.1.0", Tag: "v1.1.0", Commit: "c4", Issue: 7, Notes: "n", Issues: []int64{}}
	if err := l.DraftRelease(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if err := l.DraftRelease(ctx, ReleaseRecord{Version: "v0.9.0", Tag: "v0.9.0", Commit: "c0", Issue: 6, At: base.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := l.ReleaseOf(ctx, 7); err != nil || !ok || got.Version != "v1.1.0" || got.Published || !got.PublishedAt.IsZero() {
		t.Fatalf("ReleaseOf(7) = %+v %v %v", got, ok, err)
	}
	rs, err := l.Releases(ctx)
	var vs []string
	for _, r := range rs {
		vs = append(vs, r.Version)
	}
	if err != nil || strings.Join(vs, " ") != "v1.1.0 v1.0.0 v0.9.0" {
		t.Fatalf("Releases = %v %v, want newest first", vs, err)
	}
}

func contractDeployments(t *testing.T, l *Log, c *clock) {
	ctx := context.Background()
	if ds, err := l.Deployments(ctx, ""); err != nil || len(ds) != 0 {
		t.Fatalf("deployments before any: %v %v", ds, err)
	}
	started := time.Date(2026, 12, 7, 8, 0, 0, 42, time.UTC)
	d1 := Deployment{Env: "staging", Version: "v1", Commit: "c1", State: "running", AllowedBy: "rule: staging", Issue: 7, Started: started}
	id1, err := l.StartDeployment(ctx, d1)
	if err != nil {
		t.Fatal(err)
	}
	d2 := Deployment{Env: "prod", Version: "v0", Commit: "c0", State: "running", Rollback: true, AllowedBy: "alice, bob", Issue: bigIssue}
	id2, err := l.StartDeployment(ctx, d2)
	if err != nil {
		t.Fatal(err)
	}
	d2.Started = c.last()
	id3, err := l.StartDeployment(ctx, Deployment{Env: "staging", Version: "v2", Commit: "c2", State: "running"})
	if err != nil {
		t.Fatal(err)
	}
	if !(0 < id1 && id1 < id2 && id2 < id3) {
		t.Fatalf("deployment ids %d %d %d, want increasing", id1, id2, id3)
	}
	if err := l.SetDeploymentForge(ctx, id1, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if err := l.FinishDeployment(ctx, id1, "succeeded", "deployed ✓\n\x00tail"); err != nil {
		t.Fatal(err)
	}
	d1.ID, d1.ForgeID, d1.State, d1.Output, d1.Finished = id1, math.MaxInt64, "succeeded", "deployed ✓\n\uFFFDtail", c.last()
	d2.ID = id2
	all, err := l.Deployments(ctx, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("Deployments: %+v %v", all, err)
	}
	if !reflect.DeepEqual(all[0], d1) {
		t.Errorf("deployment 1:\n got %+v\nwant %+v", all[0], d1)
	}
	if !reflect.DeepEqual(all[1], d2) {
		t.Errorf("deployment 2:\n got %+v\nwant %+v", all[1], d2)
	}
	staging, err := l.Deployments(ctx, "staging")
	if err != nil || len(staging) != 2 || staging[0].ID != id1 || staging[1].ID != id3 || staging[1].Rollback || !staging[1].Finished.IsZero() {
		t.Fatalf("Deployments(staging): %+v %v", staging, err)
	}
	hist := DeployHistory(all)
	if len(hist) != 3 || hist[1].Env != "prod" || !hist[1].Rollback || !hist[0].Finished.Equal(d1.Finished) || !hist[0].Started.Equal(started) {
		t.Errorf("DeployHistory: %+v", hist)
	}

	if us, err := l.DeployApprovals(ctx, "prod", "v1"); err != nil || len(us) != 0 {
		t.Fatalf("approvals before any: %v %v", us, err)
	}
	for _, u := range []string{"bob", "alice", "bob", "carol"} { // bob twice: once
		if err := l.ApproveDeployment(ctx, "prod", "v1", u); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.ApproveDeployment(ctx, "prod", "v2", "dave"); err != nil {
		t.Fatal(err)
	}
	if err := l.ApproveDeployment(ctx, "staging", "v1", "erin"); err != nil {
		t.Fatal(err)
	}
	// Who approved, in the order they did: the names, not the database's
	// user ("user" is a reserved word in PostgreSQL).
	if us, err := l.DeployApprovals(ctx, "prod", "v1"); err != nil || strings.Join(us, " ") != "bob alice carol" {
		t.Fatalf("DeployApprovals(prod, v1) = %v %v", us, err)
	}
	if us, _ := l.DeployApprovals(ctx, "prod", "v2"); strings.Join(us, " ") != "dave" {
		t.Fatalf("DeployApprovals(prod, v2) = %v", us)
	}
}

// Workers that start together migrate one database together: each
// Migrate waits for the other's (on PostgreSQL two concurrent CREATE TABLE
// IF NOT EXISTS of one table can collide), and the tables come out whole.
func TestMigrateConcurrently(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "agentorg.db")
			if d == store.Postgres {
				target = pgtest.New(t)
			}
			const workers = 4
			logs := make([]*Log, workers)
			for i := range logs {
				db, err := store.Open(context.Background(), target)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				logs[i] = New(db.SQL)
			}
			errs := make(chan error, workers)
			for _, l := range logs {
				go func() { errs <- l.Migrate(context.Background()) }()
			}
			for range logs {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			ctx := context.Background()
			if _, err := logs[0].StartAttempt(ctx, Attempt{Issue: 1, N: 1, RunID: "r"}); err != nil {
				t.Fatal(err)
			}
			if err := logs[1].SetVerdict(ctx, 1, 1, "validate", GO, nil, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}
