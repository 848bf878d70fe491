// Package trackertest is the contract suite every agentorg.Tracker
// implementation must pass. It is written only against the interface, so the
// embedded tracker and forge adapters are held to the same behaviour.
package trackertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
)

// Harness gives the suite a fresh tracker and a way to make real branches.
type Harness struct {
	Tracker agentorg.Tracker
	// Push makes a new commit on branch (created from the target branch if missing) in the
	// repository the tracker merges into, and returns its SHA. A commit must change only
	// files of its own branch (say, one named after it) so that branches never conflict.
	Push   func(t *testing.T, branch string) string
	Target string // the target branch name, e.g. "main"
	// File is the path of the file Push writes on branch (one line), where
	// the review contract anchors a diff note.
	File func(branch string) string
}

// Run runs the suite. Each subtest calls newHarness for a fresh tracker and
// repository, and subtests run in parallel.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"CreateAndGetIssue", testCreateAndGetIssue},
		{"ListIssuesFilters", testListIssuesFilters},
		{"UpdateLabelsIdempotentWithEvents", testUpdateLabels},
		{"UpdateLabelsRejectsEmptyName", testUpdateLabelsRejectsEmpty},
		{"CloseIssue", testCloseIssue},
		{"ReopenIssue", testReopenIssue},
		{"CommentsInOrder", testComments},
		{"UpsertCommentReplaces", testUpsertComment},
		{"UpsertCommentConcurrent", testUpsertCommentConcurrent},
		{"CreateMRFindsOpen", testCreateMR},
		{"ListMRsFilters", testListMRs},
		{"ApproveAtHead", testApprove},
		{"SetMRHeadVoidsApproval", testSetMRHead},
		{"MergeWrongSHA", testMergeWrongSHA},
		{"MergeRightSHAIdempotent", testMerge},
		{"MergeTwoBranches", testMergeTwo},
		{"SetCheckReplaces", testChecks},
		{"NotFound", testNotFound},
		{"ReviewThreads", testReviewThreads},
		{"ReviewThreadsNotFound", testReviewThreadsNotFound},
		{"ChangedMRs", testChangedMRs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newHarness(t))
		})
	}
}

// result carries a value and its error until must can report the error on t:
// val(tr.Issue(ctx, n)).must(t).
type result[T any] struct {
	v   T
	err error
}

func val[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newIssue(t *testing.T, tr agentorg.Tracker, title string, labels ...string) agentorg.Issue {
	t.Helper()
	return val(tr.CreateIssue(t.Context(), agentorg.NewIssue{Title: title, Body: "body of " + title, Labels: labels, Author: "alice"})).must(t)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func numbers(issues []agentorg.Issue) []int64 {
	out := []int64{}
	for _, i := range issues {
		out = append(out, i.Number)
	}
	return out
}

func newMR(t *testing.T, h Harness, issue int64, source, sha string) agentorg.MergeRequest {
	t.Helper()
	return val(h.Tracker.CreateMR(t.Context(), agentorg.NewMR{
		Issue: issue, Title: "change " + source, Description: "does things",
		SourceBranch: source, TargetBranch: h.Target, HeadSHA: sha, Author: "dev",
	})).must(t)
}

func testCreateAndGetIssue(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	before := time.Now().Add(-time.Minute) // generous: clocks of a remote tracker may differ a little
	i1 := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "First", Body: "the body", Labels: []string{"bug", "p1"}, Author: "alice"})).must(t)
	if i1.Number <= 0 || i1.Title != "First" || i1.Body != "the body" || i1.State != agentorg.IssueOpen || i1.Author != "alice" {
		t.Fatalf("created issue %+v", i1)
	}
	if !slices.Equal(sorted(i1.Labels), []string{"bug", "p1"}) || !i1.HasLabel("bug") {
		t.Fatalf("labels %v, want bug and p1", i1.Labels)
	}
	if i1.CreatedAt.Before(before) || i1.UpdatedAt.Before(i1.CreatedAt) {
		t.Fatalf("times created %v updated %v", i1.CreatedAt, i1.UpdatedAt)
	}
	i2 := newIssue(t, tr, "Second")
	if i2.Number <= i1.Number {
		t.Fatalf("second issue #%d not after first #%d", i2.Number, i1.Number)
	}
	if len(i2.Labels) != 0 {
		t.Fatalf("issue created without labels has %v", i2.Labels)
	}
	got := val(tr.Issue(ctx, i1.Number)).must(t)
	if got.Number != i1.Number || got.Title != i1.Title || got.Body != i1.Body || got.State != i1.State ||
		got.Author != i1.Author || !slices.Equal(sorted(got.Labels), sorted(i1.Labels)) ||
		!got.CreatedAt.Equal(i1.CreatedAt) || !got.UpdatedAt.Equal(i1.UpdatedAt) {
		t.Fatalf("Issue returned %+v, created %+v", got, i1)
	}
	if _, err := tr.CreateIssue(ctx, agentorg.NewIssue{Title: "", Author: "alice"}); err == nil {
		t.Fatal("created an issue without a title")
	}
}

func testListIssuesFilters(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	a := newIssue(t, tr, "A", "bug")
	b := newIssue(t, tr, "B", "feature", "ready")
	c := newIssue(t, tr, "C", "bug", "ready")
	ok(t, tr.CloseIssue(ctx, c.Number, "alice"))

	list := func(f agentorg.IssueFilter) []int64 {
		t.Helper()
		return numbers(val(tr.ListIssues(ctx, f)).must(t))
	}
	want := func(name string, got []int64, want ...int64) {
		t.Helper()
		if want == nil {
			want = []int64{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	want("all", list(agentorg.IssueFilter{}), a.Number, b.Number, c.Number)
	want("open", list(agentorg.IssueFilter{State: agentorg.IssueOpen}), a.Number, b.Number)
	want("closed", list(agentorg.IssueFilter{State: agentorg.IssueClosed}), c.Number)
	want("ready", list(agentorg.IssueFilter{AnyLabel: []string{"ready"}}), b.Number, c.Number)
	// c carries both labels and must still be listed once.
	want("bug or ready", list(agentorg.IssueFilter{AnyLabel: []string{"bug", "ready"}}), a.Number, b.Number, c.Number)
	want("unknown label", list(agentorg.IssueFilter{AnyLabel: []string{"nope"}}))
	want("open and ready", list(agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: []string{"ready"}}), b.Number)

	// Labels come back with listed issues too.
	for _, iss := range val(tr.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: []string{"ready"}})).must(t) {
		if !iss.HasLabel("ready") || len(iss.Labels) != 2 {
			t.Errorf("listed issue #%d has labels %v", iss.Number, iss.Labels)
		}
	}

	time.Sleep(20 * time.Millisecond) // b's update must be later than everything before it
	b2 := val(tr.UpdateLabels(ctx, b.Number, []string{"touched"}, nil, "bob")).must(t)
	if !b2.UpdatedAt.After(a.UpdatedAt) {
		t.Fatalf("updated %v not after %v", b2.UpdatedAt, a.UpdatedAt)
	}
	want("updated since b's update (inclusive)", list(agentorg.IssueFilter{UpdatedAfter: b2.UpdatedAt}), b.Number)
	want("updated after b's update", list(agentorg.IssueFilter{UpdatedAfter: b2.UpdatedAt.Add(time.Millisecond)}))
	want("closed and updated since b's update", list(agentorg.IssueFilter{State: agentorg.IssueClosed, UpdatedAfter: b2.UpdatedAt}))
	want("updated since a was created", list(agentorg.IssueFilter{UpdatedAfter: a.CreatedAt, AnyLabel: []string{"bug"}}), a.Number, c.Number)
}

func testUpdateLabels(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "labels")
	n := iss.Number

	val(tr.UpdateLabels(ctx, n, []string{"a"}, nil, "alice")).must(t)
	got := val(tr.UpdateLabels(ctx, n, []string{"b"}, nil, "alice")).must(t)
	if !slices.Equal(sorted(got.Labels), []string{"a", "b"}) {
		t.Fatalf("labels %v, want a b", got.Labels)
	}
	if cur := val(tr.Issue(ctx, n)).must(t); !slices.Equal(cur.Labels, got.Labels) {
		t.Fatalf("UpdateLabels returned %v, Issue says %v", got.Labels, cur.Labels)
	}

	// Nothing to change: no event, no bump.
	time.Sleep(5 * time.Millisecond)
	same := val(tr.UpdateLabels(ctx, n, []string{"a", "b"}, []string{"absent"}, "mallory")).must(t)
	if !slices.Equal(sorted(same.Labels), []string{"a", "b"}) || !same.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("no-op update changed the issue: %v updated %v (was %v)", same.Labels, same.UpdatedAt, got.UpdatedAt)
	}

	if got = val(tr.UpdateLabels(ctx, n, nil, []string{"a"}, "bob")).must(t); got.HasLabel("a") {
		t.Fatalf("labels %v after removing a", got.Labels)
	}
	got = val(tr.UpdateLabels(ctx, n, []string{"a"}, nil, "carol")).must(t)
	if !slices.Equal(sorted(got.Labels), []string{"a", "b"}) {
		t.Fatalf("labels %v, want a b", got.Labels)
	}
	// Adding and removing in one call.
	got = val(tr.UpdateLabels(ctx, n, []string{"c"}, []string{"b"}, "dave")).must(t)
	if !slices.Equal(sorted(got.Labels), []string{"a", "c"}) {
		t.Fatalf("labels %v, want a c", got.Labels)
	}

	events := val(tr.LabelEvents(ctx, n)).must(t)
	type ev struct {
		label  string
		action agentorg.LabelAction
		actor  string
	}
	var gotEv []ev
	for i, e := range events {
		gotEv = append(gotEv, ev{e.Label, e.Action, e.Actor})
		if e.Issue != n || e.At.IsZero() {
			t.Errorf("event %d: %+v", i, e)
		}
		if i > 0 && e.At.Before(events[i-1].At) {
			t.Errorf("event %d at %v is before event %d at %v", i, e.At, i-1, events[i-1].At)
		}
	}
	wantEv := []ev{
		{"a", agentorg.LabelAdded, "alice"},
		{"b", agentorg.LabelAdded, "alice"},
		{"a", agentorg.LabelRemoved, "bob"},
		{"a", agentorg.LabelAdded, "carol"},
	}
	if len(gotEv) != len(wantEv)+2 || !slices.Equal(gotEv[:len(wantEv)], wantEv) {
		t.Fatalf("events %+v, want %+v followed by dave's two", gotEv, wantEv)
	}
	// The order within one call is the adapter's; both changes must be there.
	last := gotEv[len(wantEv):]
	if !slices.Contains(last, ev{"c", agentorg.LabelAdded, "dave"}) || !slices.Contains(last, ev{"b", agentorg.LabelRemoved, "dave"}) {
		t.Fatalf("events of the combined call %+v", last)
	}
}

func testUpdateLabelsRejectsEmpty(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "empty label", "keep")
	if _, err := tr.UpdateLabels(ctx, iss.Number, []string{"ok", ""}, nil, "alice"); err == nil {
		t.Fatal("accepted an empty label name")
	}
	got := val(tr.Issue(ctx, iss.Number)).must(t)
	if !slices.Equal(got.Labels, []string{"keep"}) {
		t.Fatalf("a rejected update changed the labels to %v", got.Labels)
	}
	if events := val(tr.LabelEvents(ctx, iss.Number)).must(t); slices.ContainsFunc(events, func(e agentorg.LabelEvent) bool { return e.Label == "ok" }) {
		t.Fatalf("a rejected update recorded events %+v", events)
	}
}

func testReopenIssue(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "to reopen")
	ok(t, tr.CloseIssue(ctx, iss.Number, "alice"))
	closed := val(tr.Issue(ctx, iss.Number)).must(t)
	time.Sleep(5 * time.Millisecond)
	ok(t, tr.ReopenIssue(ctx, iss.Number, "alice"))
	open := val(tr.Issue(ctx, iss.Number)).must(t)
	if open.State != agentorg.IssueOpen {
		t.Fatalf("state %q after reopen", open.State)
	}
	if !open.UpdatedAt.After(closed.UpdatedAt) {
		t.Fatalf("reopen did not bump UpdatedAt: %v, was %v", open.UpdatedAt, closed.UpdatedAt)
	}
	listed := val(tr.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen})).must(t)
	if !slices.ContainsFunc(listed, func(i agentorg.Issue) bool { return i.Number == iss.Number }) {
		t.Fatalf("the reopened issue is not listed as open: %+v", listed)
	}
	time.Sleep(5 * time.Millisecond)
	ok(t, tr.ReopenIssue(ctx, iss.Number, "bob"))
	again := val(tr.Issue(ctx, iss.Number)).must(t)
	if again.State != agentorg.IssueOpen || !again.UpdatedAt.Equal(open.UpdatedAt) {
		t.Fatalf("reopening an open issue changed it: %+v, was %+v", again, open)
	}
}

func testCloseIssue(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "to close")
	other := newIssue(t, tr, "stays open")
	time.Sleep(5 * time.Millisecond)
	ok(t, tr.CloseIssue(ctx, iss.Number, "alice"))
	closed := val(tr.Issue(ctx, iss.Number)).must(t)
	if closed.State != agentorg.IssueClosed {
		t.Fatalf("state %q after close", closed.State)
	}
	if !closed.UpdatedAt.After(iss.UpdatedAt) {
		t.Fatalf("close did not bump UpdatedAt: %v, was %v", closed.UpdatedAt, iss.UpdatedAt)
	}
	time.Sleep(5 * time.Millisecond)
	ok(t, tr.CloseIssue(ctx, iss.Number, "bob"))
	again := val(tr.Issue(ctx, iss.Number)).must(t)
	if again.State != agentorg.IssueClosed || !again.UpdatedAt.Equal(closed.UpdatedAt) {
		t.Fatalf("closing a closed issue changed it: %+v, was %+v", again, closed)
	}
	if o := val(tr.Issue(ctx, other.Number)).must(t); o.State != agentorg.IssueOpen {
		t.Fatalf("another issue was closed too")
	}
}

func testComments(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "discussed")
	other := newIssue(t, tr, "quiet")
	c1 := val(tr.AddComment(ctx, iss.Number, "first", "alice")).must(t)
	c2 := val(tr.AddComment(ctx, iss.Number, "second", "bob")).must(t)
	if c1.ID == c2.ID || c1.Issue != iss.Number || c1.Body != "first" || c1.Author != "alice" || c1.CreatedAt.IsZero() {
		t.Fatalf("comments %+v %+v", c1, c2)
	}
	got := val(tr.Comments(ctx, iss.Number)).must(t)
	if len(got) != 2 || got[0].ID != c1.ID || got[1].ID != c2.ID || got[0].Body != "first" || got[1].Body != "second" ||
		got[1].Author != "bob" {
		t.Fatalf("Comments %+v", got)
	}
	if got := val(tr.Comments(ctx, other.Number)).must(t); len(got) != 0 {
		t.Fatalf("comments leaked onto another issue: %+v", got)
	}
}

func testUpsertComment(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "upserted")
	n := iss.Number

	c1 := val(tr.UpsertComment(ctx, n, "status", "v1", "engine")).must(t)
	if !agentorg.HasMarker(c1.Body, "status") || agentorg.StripMarkers(c1.Body) != "v1" {
		t.Fatalf("first upsert stored %q", c1.Body)
	}
	human := val(tr.AddComment(ctx, n, "a human note", "alice")).must(t)
	c2 := val(tr.UpsertComment(ctx, n, "status", "v2", "engine")).must(t)
	if c2.ID != c1.ID || agentorg.StripMarkers(c2.Body) != "v2" || !agentorg.HasMarker(c2.Body, "status") {
		t.Fatalf("second upsert: %+v, first was %+v", c2, c1)
	}
	other := val(tr.UpsertComment(ctx, n, "other", "x", "engine")).must(t)
	if other.ID == c1.ID || other.ID == human.ID {
		t.Fatalf("a different key reused comment %d", other.ID)
	}
	// A body that already holds its marker is stored as is.
	pre := val(tr.UpsertComment(ctx, n, "pre", agentorg.Marker("pre")+"\nhello", "engine")).must(t)
	if strings.Count(pre.Body, agentorg.Marker("pre")) != 1 || agentorg.StripMarkers(pre.Body) != "hello" {
		t.Fatalf("body with marker stored as %q", pre.Body)
	}
	pre2 := val(tr.UpsertComment(ctx, n, "pre", agentorg.Marker("pre")+"\nbye", "engine")).must(t)
	if pre2.ID != pre.ID || agentorg.StripMarkers(pre2.Body) != "bye" {
		t.Fatalf("upsert of a marked body: %+v", pre2)
	}

	all := val(tr.Comments(ctx, n)).must(t)
	var ids []int64
	for _, c := range all {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []int64{c1.ID, human.ID, other.ID, pre.ID}) {
		t.Fatalf("comments %v, want %v", ids, []int64{c1.ID, human.ID, other.ID, pre.ID})
	}
	if agentorg.StripMarkers(all[0].Body) != "v2" || all[1].Body != "a human note" {
		t.Fatalf("stored bodies %q, %q", all[0].Body, all[1].Body)
	}
}

func testUpsertCommentConcurrent(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "raced")
	const n = 20
	var wg sync.WaitGroup
	ids := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c, err := tr.UpsertComment(ctx, iss.Number, "race", fmt.Sprintf("body %d", i), "engine")
			ids[i], errs[i] = c.ID, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("upsert %d: %v", i, err)
		}
	}
	all := val(tr.Comments(ctx, iss.Number)).must(t)
	if len(all) != 1 {
		t.Fatalf("%d comments after %d concurrent upserts of one key, want 1", len(all), n)
	}
	for i, id := range ids {
		if id != all[0].ID {
			t.Fatalf("upsert %d returned comment %d, the only comment is %d", i, id, all[0].ID)
		}
	}
	body := agentorg.StripMarkers(all[0].Body)
	if !strings.HasPrefix(body, "body ") || !agentorg.HasMarker(all[0].Body, "race") {
		t.Fatalf("stored body %q", all[0].Body)
	}
}

func testCreateMR(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "needs a change")
	sha := h.Push(t, "feature/find")

	m1 := newMR(t, h, iss.Number, "feature/find", sha)
	if m1.Number <= 0 || m1.State != agentorg.MROpen || m1.HeadSHA != sha || m1.SourceBranch != "feature/find" ||
		m1.TargetBranch != h.Target || m1.Issue != iss.Number || m1.Title != "change feature/find" || m1.Author != "dev" ||
		m1.MergeSHA != "" || len(m1.Approvals) != 0 {
		t.Fatalf("created %+v", m1)
	}
	again := val(tr.CreateMR(ctx, agentorg.NewMR{
		Issue: iss.Number, Title: "another title", SourceBranch: "feature/find", TargetBranch: h.Target, HeadSHA: sha, Author: "dev2",
	})).must(t)
	if again.Number != m1.Number || again.Title != m1.Title || again.Author != m1.Author {
		t.Fatalf("second CreateMR gave %+v, want the existing !%d unchanged", again, m1.Number)
	}
	if got := val(tr.ListMRs(ctx, agentorg.MRFilter{SourceBranch: "feature/find"})).must(t); len(got) != 1 {
		t.Fatalf("%d merge requests for the branch, want 1", len(got))
	}

	h.Push(t, "release/find") // another target
	m2 := val(tr.CreateMR(ctx, agentorg.NewMR{
		Issue: iss.Number, Title: "backport", SourceBranch: "feature/find", TargetBranch: "release/find", HeadSHA: sha, Author: "dev",
	})).must(t)
	if m2.Number == m1.Number || m2.TargetBranch != "release/find" || m2.State != agentorg.MROpen {
		t.Fatalf("a different target gave %+v", m2)
	}

	for _, bad := range []agentorg.NewMR{
		{Title: "no source", TargetBranch: h.Target, HeadSHA: sha},
		{Title: "no target", SourceBranch: "feature/find", HeadSHA: sha},
		{Title: "no head", SourceBranch: "feature/x", TargetBranch: h.Target},
	} {
		if m, err := tr.CreateMR(ctx, bad); err == nil {
			t.Errorf("CreateMR(%+v) succeeded: %+v", bad, m)
		}
	}
}

func testListMRs(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	i1 := newIssue(t, tr, "one")
	i2 := newIssue(t, tr, "two")
	sa := h.Push(t, "list/a")
	sb := h.Push(t, "list/b")
	a := newMR(t, h, i1.Number, "list/a", sa)
	b := newMR(t, h, i2.Number, "list/b", sb)
	val(tr.MergeMR(ctx, b.Number, sb, "merger")).must(t)

	mrNumbers := func(f agentorg.MRFilter) []int64 {
		t.Helper()
		out := []int64{}
		for _, m := range val(tr.ListMRs(ctx, f)).must(t) {
			out = append(out, m.Number)
		}
		return out
	}
	cases := []struct {
		name string
		f    agentorg.MRFilter
		want []int64
	}{
		{"all", agentorg.MRFilter{}, []int64{a.Number, b.Number}},
		{"open", agentorg.MRFilter{State: agentorg.MROpen}, []int64{a.Number}},
		{"merged", agentorg.MRFilter{State: agentorg.MRMerged}, []int64{b.Number}},
		{"closed", agentorg.MRFilter{State: agentorg.MRClosed}, []int64{}},
		{"issue", agentorg.MRFilter{Issue: i2.Number}, []int64{b.Number}},
		{"source", agentorg.MRFilter{SourceBranch: "list/a"}, []int64{a.Number}},
		{"target", agentorg.MRFilter{TargetBranch: h.Target}, []int64{a.Number, b.Number}},
		{"other target", agentorg.MRFilter{TargetBranch: "nowhere"}, []int64{}},
		{"source and state", agentorg.MRFilter{SourceBranch: "list/a", State: agentorg.MRMerged}, []int64{}},
	}
	for _, c := range cases {
		if got := mrNumbers(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func testApprove(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	sha := h.Push(t, "feature/approve")
	m := newMR(t, h, 0, "feature/approve", sha)

	got := val(tr.ApproveMR(ctx, m.Number, "reviewer")).must(t)
	at := got.ApprovedAtHead()
	if len(at) != 1 || at[0].User != "reviewer" || at[0].SHA != sha || at[0].At.IsZero() {
		t.Fatalf("approvals at head %+v", at)
	}
	got = val(tr.ApproveMR(ctx, m.Number, "reviewer")).must(t)
	if len(got.ApprovedAtHead()) != 1 {
		t.Fatalf("approving twice gave %+v", got.ApprovedAtHead())
	}
	val(tr.ApproveMR(ctx, m.Number, "second")).must(t)
	cur := val(tr.MR(ctx, m.Number)).must(t)
	users := []string{}
	for _, a := range cur.ApprovedAtHead() {
		users = append(users, a.User)
	}
	if !slices.Equal(sorted(users), []string{"reviewer", "second"}) {
		t.Fatalf("approvers %v", users)
	}
	got = val(tr.UnapproveMR(ctx, m.Number, "reviewer")).must(t)
	if at := got.ApprovedAtHead(); len(at) != 1 || at[0].User != "second" {
		t.Fatalf("after unapprove: %+v", at)
	}
	if at := val(tr.MR(ctx, m.Number)).must(t).ApprovedAtHead(); len(at) != 1 || at[0].User != "second" {
		t.Fatalf("after unapprove, MR says %+v", at)
	}
}

func testSetMRHead(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	sha1 := h.Push(t, "feature/head")
	m := newMR(t, h, 0, "feature/head", sha1)
	val(tr.ApproveMR(ctx, m.Number, "reviewer")).must(t)

	sha2 := h.Push(t, "feature/head")
	got := val(tr.SetMRHead(ctx, m.Number, sha2)).must(t)
	if got.HeadSHA != sha2 || len(got.ApprovedAtHead()) != 0 {
		t.Fatalf("after a new head: head %s, approvals at head %+v", got.HeadSHA, got.ApprovedAtHead())
	}
	cur := val(tr.MR(ctx, m.Number)).must(t)
	if cur.HeadSHA != sha2 || len(cur.ApprovedAtHead()) != 0 {
		t.Fatalf("MR after a new head: %+v", cur)
	}
	got = val(tr.ApproveMR(ctx, m.Number, "reviewer")).must(t)
	if at := got.ApprovedAtHead(); len(at) != 1 || at[0].SHA != sha2 {
		t.Fatalf("approval at the new head: %+v", at)
	}
}

func testMergeWrongSHA(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	sha1 := h.Push(t, "feature/moved")
	m := newMR(t, h, 0, "feature/moved", sha1)

	for _, wrong := range []string{"0000000000000000000000000000000000000000", ""} {
		if _, err := tr.MergeMR(ctx, m.Number, wrong, "merger"); !errors.Is(err, agentorg.ErrHeadMoved) {
			t.Fatalf("merge at %q: %v, want ErrHeadMoved", wrong, err)
		}
	}
	// The branch moves past the head the caller validated.
	sha2 := h.Push(t, "feature/moved")
	if _, err := tr.MergeMR(ctx, m.Number, sha1, "merger"); !errors.Is(err, agentorg.ErrHeadMoved) {
		t.Fatalf("merge at %s after a push of %s: %v, want ErrHeadMoved", sha1, sha2, err)
	}
	cur := val(tr.MR(ctx, m.Number)).must(t)
	if cur.State != agentorg.MROpen || cur.MergeSHA != "" || cur.MergedBy != "" {
		t.Fatalf("a refused merge changed the merge request: %+v", cur)
	}
}

func testMerge(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	sha := h.Push(t, "feature/merge")
	m := newMR(t, h, 0, "feature/merge", sha)

	merged := val(tr.MergeMR(ctx, m.Number, sha, "merger")).must(t)
	if merged.State != agentorg.MRMerged || merged.MergeSHA == "" || merged.MergedBy != "merger" || merged.HeadSHA != sha {
		t.Fatalf("merged %+v", merged)
	}
	again := val(tr.MergeMR(ctx, m.Number, sha, "someone else")).must(t)
	if again.State != agentorg.MRMerged || again.MergeSHA != merged.MergeSHA || again.MergedBy != "merger" {
		t.Fatalf("merging again gave %+v, first %+v", again, merged)
	}
	cur := val(tr.MR(ctx, m.Number)).must(t)
	if cur.State != agentorg.MRMerged || cur.MergeSHA != merged.MergeSHA {
		t.Fatalf("MR after merge %+v", cur)
	}
}

func testMergeTwo(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	sa := h.Push(t, "two/a")
	sb := h.Push(t, "two/b")
	a := newMR(t, h, 0, "two/a", sa)
	b := newMR(t, h, 0, "two/b", sb)
	ma := val(tr.MergeMR(ctx, a.Number, sa, "merger")).must(t)
	// b was branched before a landed, so it needs a real merge now.
	mb := val(tr.MergeMR(ctx, b.Number, sb, "merger")).must(t)
	if ma.State != agentorg.MRMerged || mb.State != agentorg.MRMerged || ma.MergeSHA == "" || mb.MergeSHA == "" ||
		ma.MergeSHA == mb.MergeSHA {
		t.Fatalf("merges %+v and %+v", ma, mb)
	}
}

func testChecks(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	sha := h.Push(t, "feature/checks")
	other := h.Push(t, "feature/checks-other")
	set := func(name string, status agentorg.CheckStatus) {
		t.Helper()
		ok(t, tr.SetCheck(ctx, agentorg.CheckResult{SHA: sha, Name: name, Status: status, Output: name + " " + string(status), Duration: time.Second}))
	}
	set("lint", agentorg.CheckPassed)
	set("build", agentorg.CheckPassed)
	set("lint", agentorg.CheckFailed)

	// By name, not by status or insertion: build (passed), then lint (failed).
	got := val(tr.Checks(ctx, sha)).must(t)
	if len(got) != 2 || got[0].Name != "build" || got[1].Name != "lint" {
		t.Fatalf("checks %+v, want build then lint", got)
	}
	if got[1].Status != agentorg.CheckFailed || got[0].Status != agentorg.CheckPassed || got[1].SHA != sha {
		t.Fatalf("the second lint result did not replace the first: %+v", got)
	}
	if got := val(tr.Checks(ctx, other)).must(t); len(got) != 0 {
		t.Fatalf("checks of another commit: %+v", got)
	}
}

func testNotFound(t *testing.T, h Harness) {
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "exists")
	sha := h.Push(t, "feature/exists")
	m := newMR(t, h, iss.Number, "feature/exists", sha)
	issue, mr := iss.Number+1000, m.Number+1000

	add := []string{"x"}
	calls := map[string]func(context.Context) error{
		"Issue":         func(ctx context.Context) error { _, err := tr.Issue(ctx, issue); return err },
		"CloseIssue":    func(ctx context.Context) error { return tr.CloseIssue(ctx, issue, "a") },
		"ReopenIssue":   func(ctx context.Context) error { return tr.ReopenIssue(ctx, issue, "a") },
		"UpdateLabels":  func(ctx context.Context) error { _, err := tr.UpdateLabels(ctx, issue, add, nil, "a"); return err },
		"LabelEvents":   func(ctx context.Context) error { _, err := tr.LabelEvents(ctx, issue); return err },
		"Comments":      func(ctx context.Context) error { _, err := tr.Comments(ctx, issue); return err },
		"AddComment":    func(ctx context.Context) error { _, err := tr.AddComment(ctx, issue, "hi", "a"); return err },
		"UpsertComment": func(ctx context.Context) error { _, err := tr.UpsertComment(ctx, issue, "k", "hi", "a"); return err },
		"MR":            func(ctx context.Context) error { _, err := tr.MR(ctx, mr); return err },
		"SetMRHead":     func(ctx context.Context) error { _, err := tr.SetMRHead(ctx, mr, sha); return err },
		"ApproveMR":     func(ctx context.Context) error { _, err := tr.ApproveMR(ctx, mr, "a"); return err },
		"UnapproveMR":   func(ctx context.Context) error { _, err := tr.UnapproveMR(ctx, mr, "a"); return err },
		"MergeMR":       func(ctx context.Context) error { _, err := tr.MergeMR(ctx, mr, sha, "a"); return err },
	}
	for name, call := range calls {
		if err := call(ctx); !errors.Is(err, agentorg.ErrNotFound) {
			t.Errorf("%s of a missing issue or merge request: %v, want ErrNotFound", name, err)
		}
	}
	// The existing ones are untouched.
	if got := val(tr.Issue(ctx, iss.Number)).must(t); got.State != agentorg.IssueOpen {
		t.Errorf("issue #%d: %+v", iss.Number, got)
	}
	if got := val(tr.MR(ctx, m.Number)).must(t); got.State != agentorg.MROpen {
		t.Errorf("merge request !%d: %+v", m.Number, got)
	}
}

func reviewer(t *testing.T, h Harness) agentorg.ReviewThreads {
	t.Helper()
	rt, ok := h.Tracker.(agentorg.ReviewThreads)
	if !ok {
		t.Skip("the tracker has no review threads (agentorg.ReviewThreads)")
	}
	return rt
}

func testReviewThreads(t *testing.T, h Harness) {
	rt := reviewer(t, h)
	ctx := t.Context()
	sha := h.Push(t, "feature/review")
	m := newMR(t, h, 0, "feature/review", sha)
	if ts := val(rt.Threads(ctx, m.Number)).must(t); len(ts) != 0 {
		t.Fatalf("a new merge request has threads: %+v", ts)
	}
	general := val(rt.StartThread(ctx, m.Number, agentorg.NewReviewThread{Body: "Why this name?", Author: "reviewer"})).must(t)
	if general.ID == "" || general.Path != "" || general.Resolved || len(general.Notes) != 1 ||
		general.Author() != "reviewer" || general.Notes[0].Body != "Why this name?" || general.Notes[0].CreatedAt.IsZero() {
		t.Fatalf("general thread %+v", general)
	}
	// A diff note: anchored to a line of a file of the change.
	file := h.File("feature/review")
	diff := val(rt.StartThread(ctx, m.Number, agentorg.NewReviewThread{Body: "Off by one.", Author: "second", Path: file, Line: 1})).must(t)
	if diff.ID == general.ID || diff.Path != file || diff.Line != 1 || diff.Author() != "second" {
		t.Fatalf("diff thread %+v", diff)
	}
	note := val(rt.Reply(ctx, m.Number, general.ID, "Because it says what it does.", "dev")).must(t)
	if note.Author != "dev" || note.Body != "Because it says what it does." || note.ID == 0 {
		t.Fatalf("reply %+v", note)
	}
	got := val(rt.ResolveThread(ctx, m.Number, general.ID, true, "reviewer")).must(t)
	if !got.Resolved {
		t.Fatalf("resolved thread %+v", got)
	}
	// Resolving again changes nothing and is no error.
	if got = val(rt.ResolveThread(ctx, m.Number, general.ID, true, "reviewer")).must(t); !got.Resolved {
		t.Fatalf("resolved twice %+v", got)
	}
	ts := val(rt.Threads(ctx, m.Number)).must(t)
	if len(ts) != 2 || ts[0].ID != general.ID || ts[1].ID != diff.ID {
		t.Fatalf("threads %+v", ts)
	}
	if !ts[0].Resolved || ts[1].Resolved || len(ts[0].Notes) != 2 || ts[0].Notes[1].Author != "dev" || ts[0].Notes[1].Body != note.Body {
		t.Fatalf("threads after reply and resolve %+v", ts)
	}
	if ts[1].Path != file || ts[1].Line != 1 || ts[1].MR != m.Number {
		t.Fatalf("diff thread as listed %+v", ts[1])
	}
	got = val(rt.ResolveThread(ctx, m.Number, general.ID, false, "reviewer")).must(t)
	if got.Resolved {
		t.Fatalf("reopened thread %+v", got)
	}
}

func testReviewThreadsNotFound(t *testing.T, h Harness) {
	rt := reviewer(t, h)
	ctx := t.Context()
	if _, err := rt.Threads(ctx, 9999); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("threads of a missing merge request: %v", err)
	}
	sha := h.Push(t, "feature/review-nf")
	m := newMR(t, h, 0, "feature/review-nf", sha)
	if _, err := rt.Reply(ctx, m.Number, "12345", "hello", "dev"); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("reply to a missing thread: %v", err)
	}
	if _, err := rt.ResolveThread(ctx, m.Number, "12345", true, "dev"); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("resolve a missing thread: %v", err)
	}
	if _, err := rt.StartThread(ctx, m.Number, agentorg.NewReviewThread{Body: " ", Author: "dev"}); err == nil {
		t.Fatal("an empty thread was accepted")
	}
}

// changes asks the tracker which merge requests may have changed, by number.
func changes(t *testing.T, mc agentorg.MRChanges) map[int64]agentorg.MergeRequest {
	t.Helper()
	out := map[int64]agentorg.MergeRequest{}
	for _, m := range val(mc.ChangedMRs(t.Context())).must(t) {
		out[m.Number] = m
	}
	return out
}

// What a poll's review scan and waiting stages rely on: every change that
// matters to them (a thread, a reply, a resolution, an approval, a new
// head, a merge) makes the merge request one the next call reports, and the
// first call reports every open one.
func testChangedMRs(t *testing.T, h Harness) {
	mc, ok := h.Tracker.(agentorg.MRChanges)
	if !ok {
		t.Skip("the tracker cannot tell which merge requests changed (agentorg.MRChanges)")
	}
	tr := h.Tracker
	ctx := t.Context()
	iss := newIssue(t, tr, "watched")
	sha := h.Push(t, "changes/a")
	a := newMR(t, h, iss.Number, "changes/a", sha)
	sb := h.Push(t, "changes/b")
	b := newMR(t, h, 0, "changes/b", sb)
	val(tr.MergeMR(ctx, b.Number, sb, "merger")).must(t)

	first := changes(t, mc)
	if m, ok := first[a.Number]; !ok || m.Issue != iss.Number || m.SourceBranch != "changes/a" || m.HeadSHA != sha || m.State != agentorg.MROpen {
		t.Fatalf("the first call left out the open merge request !%d, or got it wrong: %+v", a.Number, first)
	}
	type step struct {
		what string
		do   func()
	}
	steps := []step{
		{"an approval", func() { val(tr.ApproveMR(ctx, a.Number, "reviewer")).must(t) }},
		{"a new head", func() { val(tr.SetMRHead(ctx, a.Number, h.Push(t, "changes/a"))).must(t) }},
	}
	if rt, ok := tr.(agentorg.ReviewThreads); ok {
		var th agentorg.ReviewThread
		steps = append(steps,
			step{"a thread", func() {
				th = val(rt.StartThread(ctx, a.Number, agentorg.NewReviewThread{Body: "Why?", Author: "reviewer"})).must(t)
			}},
			step{"a resolution", func() { val(rt.ResolveThread(ctx, a.Number, th.ID, true, "dev")).must(t) }},
			step{"a reply in a resolved thread", func() { val(rt.Reply(ctx, a.Number, th.ID, "Still why?", "reviewer")).must(t) }})
	}
	for _, s := range steps {
		s.do()
		if _, ok := changes(t, mc)[a.Number]; !ok {
			t.Fatalf("after %s, !%d is not reported as changed", s.what, a.Number)
		}
	}
	head := val(tr.MR(ctx, a.Number)).must(t).HeadSHA
	val(tr.MergeMR(ctx, a.Number, head, "merger")).must(t)
	if m, ok := changes(t, mc)[a.Number]; !ok || m.State != agentorg.MRMerged {
		t.Fatalf("after the merge, !%d is reported as %+v (reported: %v)", a.Number, m, ok)
	}
}
