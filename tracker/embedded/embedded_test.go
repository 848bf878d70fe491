package embedded_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/tracker/trackertest"
)

// origin is a bare git repository standing in for the forge's repository.
// Its merge is a test double of the production merge, built from plumbing.
type origin struct {
	dir string
	mu  sync.Mutex // serialises ref updates, as a forge would
	n   int        // pushes so far, to make every commit unique
}

// gitEnv drops inherited GIT_* variables (a test run from a git hook has
// GIT_DIR and GIT_INDEX_FILE set) and ignores the user's configuration.
var gitEnv = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GIT_") }),
	"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
	"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
)

// git runs git on the origin and returns its trimmed stdout.
func (o *origin) git(ctx context.Context, stdin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir", o.dir}, args...)...)
	cmd.Env = append(slices.Clone(gitEnv), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

func (o *origin) mustGit(t *testing.T, stdin string, env []string, args ...string) string {
	t.Helper()
	out, err := o.git(context.Background(), stdin, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	o := &origin{dir: filepath.Join(t.TempDir(), "origin.git")}
	cmd := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", o.dir)
	cmd.Env = gitEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	blob := o.mustGit(t, "hello\n", nil, "hash-object", "-w", "--stdin")
	tree := o.mustGit(t, "100644 blob "+blob+"\tREADME\n", nil, "mktree")
	commit := o.mustGit(t, "", nil, "commit-tree", tree, "-m", "initial")
	o.mustGit(t, "", nil, "update-ref", "refs/heads/main", commit)
	return o
}

// ref returns the SHA of refs/heads/branch, or "" if there is no such branch.
func (o *origin) ref(ctx context.Context, branch string) (string, error) {
	out, err := o.git(ctx, "", nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return "", nil
	}
	return out, err
}

// commitFile makes a commit on branch (created from main if missing) that
// sets path to content, and returns its SHA.
func (o *origin) commitFile(t *testing.T, branch, path, content string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	ctx := context.Background()
	old, err := o.ref(ctx, branch)
	if err != nil {
		t.Fatal(err)
	}
	parent, expectOld := old, old
	if old == "" {
		if parent, err = o.ref(ctx, "main"); err != nil {
			t.Fatal(err)
		}
		expectOld = strings.Repeat("0", 40) // the branch must not exist yet
	}
	index := []string{"GIT_INDEX_FILE=" + filepath.Join(t.TempDir(), "index")}
	o.mustGit(t, "", index, "read-tree", parent)
	blob := o.mustGit(t, content, nil, "hash-object", "-w", "--stdin")
	o.mustGit(t, "", index, "update-index", "--add", "--cacheinfo", "100644,"+blob+","+path)
	tree := o.mustGit(t, "", index, "write-tree")
	commit := o.mustGit(t, "", nil, "commit-tree", tree, "-p", parent, "-m", fmt.Sprintf("push %d to %s", o.n, branch))
	o.mustGit(t, "", nil, "update-ref", "refs/heads/"+branch, commit, expectOld)
	return commit
}

// push is Harness.Push: every branch writes only its own file.
func (o *origin) push(t *testing.T, branch string) string {
	t.Helper()
	return o.commitFile(t, branch, "changes/"+branch+".txt", fmt.Sprintf("%s, push %d\n", branch, o.n+1))
}

// merge is Options.Merge over the bare origin.
func (o *origin) merge(ctx context.Context, source, target, expectedHead, message string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	head, err := o.ref(ctx, source)
	if err != nil {
		return "", err
	}
	if head != expectedHead {
		return "", fmt.Errorf("branch %s is at %q, not %s: %w", source, head, expectedHead, agentorg.ErrHeadMoved)
	}
	base, err := o.ref(ctx, target)
	if err != nil {
		return "", err
	}
	if base == "" {
		return "", fmt.Errorf("target branch %s does not exist", target)
	}
	if merged, err := o.isAncestor(ctx, head, base); err != nil {
		return "", err
	} else if merged {
		return o.mergedBy(ctx, head, base)
	}
	tree, err := o.git(ctx, "", nil, "merge-tree", "--write-tree", "--no-messages", base, head)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return "", fmt.Errorf("%s into %s: %w", source, target, agentorg.ErrConflict)
	}
	if err != nil {
		return "", err
	}
	tree, _, _ = strings.Cut(tree, "\n")
	commit, err := o.git(ctx, "", nil, "commit-tree", tree, "-p", base, "-p", head, "-m", message)
	if err != nil {
		return "", err
	}
	if _, err := o.git(ctx, "", nil, "update-ref", "refs/heads/"+target, commit, base); err != nil {
		return "", err
	}
	return commit, nil
}

func (o *origin) isAncestor(ctx context.Context, a, b string) (bool, error) {
	_, err := o.git(ctx, "", nil, "merge-base", "--is-ancestor", a, b)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return false, nil
	}
	return err == nil, err
}

// mergedBy returns the oldest commit on target's first-parent line that
// contains head: the merge that brought it in.
func (o *origin) mergedBy(ctx context.Context, head, target string) (string, error) {
	out, err := o.git(ctx, "", nil, "rev-list", "--first-parent", "--reverse", target)
	if err != nil {
		return "", err
	}
	for _, c := range strings.Fields(out) {
		if ok, err := o.isAncestor(ctx, head, c); err != nil {
			return "", err
		} else if ok {
			return c, nil
		}
	}
	return target, nil
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sqlitedb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newTracker(t *testing.T, o embedded.Options) *embedded.Tracker {
	t.Helper()
	tr := embedded.New(openDB(t, filepath.Join(t.TempDir(), "agentorg.db")), o)
	if err := tr.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestContract holds the embedded tracker to the trackers' contract on each
// database it runs on.
func TestContract(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			trackertest.Run(t, func(t *testing.T) trackertest.Harness {
				o := newOrigin(t)
				tr := embedded.New(storetest.Open(t, d).SQL, embedded.Options{Merge: o.merge})
				if err := tr.Migrate(t.Context()); err != nil {
					t.Fatal(err)
				}
				return trackertest.Harness{
					Tracker: tr,
					Push:    o.push,
					Target:  "main",
					File:    func(branch string) string { return "changes/" + branch + ".txt" },
				}
			})
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

// clock is an Options.Now that advances only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func TestNumbersStartAtOneInSeparateSequences(t *testing.T) {
	tr := newTracker(t, embedded.Options{})
	ctx := t.Context()
	i1 := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "one"})).must(t)
	i2 := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "two"})).must(t)
	m1 := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "a", TargetBranch: "main", HeadSHA: "1111"})).must(t)
	m2 := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "b", TargetBranch: "main", HeadSHA: "2222"})).must(t)
	if i1.Number != 1 || i2.Number != 2 || m1.Number != 1 || m2.Number != 2 {
		t.Fatalf("issues #%d #%d, merge requests !%d !%d; want 1 2 1 2", i1.Number, i2.Number, m1.Number, m2.Number)
	}
}

func TestLabelsKeepOrderOfAddition(t *testing.T) {
	tr := newTracker(t, embedded.Options{})
	ctx := t.Context()
	iss := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "x", Labels: []string{"zeta", "alpha", "zeta"}, Author: "alice"})).must(t)
	if !slices.Equal(iss.Labels, []string{"zeta", "alpha"}) {
		t.Fatalf("labels %v, want [zeta alpha]", iss.Labels)
	}
	val(tr.UpdateLabels(ctx, iss.Number, []string{"mid"}, nil, "bob")).must(t)
	val(tr.UpdateLabels(ctx, iss.Number, nil, []string{"zeta"}, "bob")).must(t)
	got := val(tr.UpdateLabels(ctx, iss.Number, []string{"zeta"}, nil, "bob")).must(t)
	want := []string{"alpha", "mid", "zeta"} // zeta was re-added, so it is last
	if !slices.Equal(got.Labels, want) {
		t.Fatalf("labels %v, want %v", got.Labels, want)
	}
	list := val(tr.ListIssues(ctx, agentorg.IssueFilter{})).must(t)
	if len(list) != 1 || !slices.Equal(list[0].Labels, want) {
		t.Fatalf("listed labels %+v, want %v", list, want)
	}

	// The creation labels are events of the author, so the events explain every label.
	events := val(tr.LabelEvents(ctx, iss.Number)).must(t)
	if len(events) != 5 || events[0].Label != "zeta" || events[0].Actor != "alice" || events[0].Action != agentorg.LabelAdded ||
		events[1].Label != "alpha" || events[1].Actor != "alice" {
		t.Fatalf("events %+v", events)
	}
}

func TestUpdateLabelsRejectsLabelBothAddedAndRemoved(t *testing.T) {
	tr := newTracker(t, embedded.Options{})
	ctx := t.Context()
	iss := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "x"})).must(t)
	if _, err := tr.UpdateLabels(ctx, iss.Number, []string{"a"}, []string{"a"}, "bob"); err == nil {
		t.Fatal("accepted a label both added and removed")
	}
	if _, err := tr.UpdateLabels(ctx, iss.Number, []string{"  "}, nil, "bob"); err == nil {
		t.Fatal("accepted a blank label name")
	}
}

func TestTimesAreUTCWithFullPrecision(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))
	o := newOrigin(t)
	tr := newTracker(t, embedded.Options{Now: func() time.Time { return at }, Merge: o.merge})
	ctx := t.Context()
	utc := func(what string, got time.Time) {
		t.Helper()
		if !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("%s: %v (%v), want %v in UTC", what, got, got.Location(), at.UTC())
		}
	}
	iss := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "x", Labels: []string{"a"}})).must(t)
	utc("issue created", iss.CreatedAt)
	utc("issue updated", iss.UpdatedAt)
	utc("label event", val(tr.LabelEvents(ctx, iss.Number)).must(t)[0].At)
	utc("comment", val(tr.AddComment(ctx, iss.Number, "hi", "bob")).must(t).CreatedAt)
	sha := o.push(t, "f")
	m := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "f", TargetBranch: "main", HeadSHA: sha})).must(t)
	utc("merge request", m.CreatedAt)
	utc("approval", val(tr.ApproveMR(ctx, m.Number, "rev")).must(t).Approvals[0].At)
	if err := tr.SetCheck(ctx, agentorg.CheckResult{SHA: sha, Name: "test", Status: agentorg.CheckPassed}); err != nil {
		t.Fatal(err)
	}
	utc("check", val(tr.Checks(ctx, sha)).must(t)[0].At)
	// UpdatedAfter compares exact instants, whatever zone the filter is in.
	if got := val(tr.ListIssues(ctx, agentorg.IssueFilter{UpdatedAfter: at})).must(t); len(got) != 1 {
		t.Errorf("UpdatedAfter = the update time: %d issues, want 1", len(got))
	}
	if got := val(tr.ListIssues(ctx, agentorg.IssueFilter{UpdatedAfter: at.Add(time.Nanosecond)})).must(t); len(got) != 0 {
		t.Errorf("UpdatedAfter 1ns after the update time: %d issues, want 0", len(got))
	}
}

func TestUpdatedAtMovesOnlyOnChange(t *testing.T) {
	c := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	tr := newTracker(t, embedded.Options{Now: c.now})
	ctx := t.Context()
	iss := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "x", Labels: []string{"a"}})).must(t)
	updated := func() time.Time { return val(tr.Issue(ctx, iss.Number)).must(t).UpdatedAt }

	c.advance(time.Minute)
	val(tr.UpdateLabels(ctx, iss.Number, []string{"a"}, []string{"b"}, "bob")).must(t)
	if !updated().Equal(iss.UpdatedAt) {
		t.Fatal("a no-op label update bumped UpdatedAt")
	}
	now := c.advance(time.Minute)
	val(tr.UpsertComment(ctx, iss.Number, "k", "v1", "engine")).must(t)
	if !updated().Equal(now) {
		t.Fatal("a new comment did not bump UpdatedAt")
	}
	c.advance(time.Minute)
	cm := val(tr.UpsertComment(ctx, iss.Number, "k", "v1", "engine")).must(t)
	if !updated().Equal(now) || !cm.UpdatedAt.Equal(now) {
		t.Fatal("rewriting a comment with the same body bumped UpdatedAt")
	}
	now = c.advance(time.Minute)
	cm = val(tr.UpsertComment(ctx, iss.Number, "k", "v2", "engine")).must(t)
	if !updated().Equal(now) || !cm.UpdatedAt.Equal(now) || cm.CreatedAt.Equal(now) {
		t.Fatalf("changing a comment: issue updated %v, comment %+v, want %v", updated(), cm, now)
	}
	now = c.advance(time.Minute)
	if err := tr.CloseIssue(ctx, iss.Number, "bob"); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Minute)
	if err := tr.CloseIssue(ctx, iss.Number, "bob"); err != nil {
		t.Fatal(err)
	}
	if !updated().Equal(now) {
		t.Fatal("closing a closed issue bumped UpdatedAt")
	}
}

func TestUpsertCommentRejectsBadKey(t *testing.T) {
	tr := newTracker(t, embedded.Options{})
	ctx := t.Context()
	iss := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "x"})).must(t)
	for _, key := range []string{"", "a>b", "a\nb"} {
		if _, err := tr.UpsertComment(ctx, iss.Number, key, "body", "engine"); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
}

func TestNotFoundErrorsSayWhich(t *testing.T) {
	tr := newTracker(t, embedded.Options{})
	ctx := t.Context()
	_, err := tr.Issue(ctx, 12)
	if !errors.Is(err, agentorg.ErrNotFound) || err.Error() != "issue #12: not found" {
		t.Errorf("got %v", err)
	}
	_, err = tr.MR(ctx, 7)
	if !errors.Is(err, agentorg.ErrNotFound) || err.Error() != "merge request !7: not found" {
		t.Errorf("got %v", err)
	}
	_, err = tr.CreateMR(ctx, agentorg.NewMR{Issue: 3, SourceBranch: "a", TargetBranch: "main", HeadSHA: "1"})
	if !errors.Is(err, agentorg.ErrNotFound) || !strings.Contains(err.Error(), "issue #3") {
		t.Errorf("merge request for a missing issue: %v", err)
	}
}

func TestMergeWithoutRepository(t *testing.T) {
	tr := newTracker(t, embedded.Options{})
	ctx := t.Context()
	m := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "a", TargetBranch: "main", HeadSHA: "1"})).must(t)
	_, err := tr.MergeMR(ctx, m.Number, "1", "merger")
	if err == nil || !strings.Contains(err.Error(), "no repository to merge into") {
		t.Fatalf("got %v", err)
	}
	if got := val(tr.MR(ctx, m.Number)).must(t); got.State != agentorg.MROpen {
		t.Fatalf("state %s", got.State)
	}
}

func TestMergeCallsGitOnceAndKeepsFailuresOpen(t *testing.T) {
	var calls []string
	result := errors.New("unset")
	merge := func(ctx context.Context, source, target, head, message string) (string, error) {
		calls = append(calls, source+"->"+target+"@"+head)
		if !strings.Contains(message, source) {
			return "", fmt.Errorf("message %q does not name the branch", message)
		}
		if result != nil {
			return "", result
		}
		return "feedface", nil
	}
	tr := newTracker(t, embedded.Options{Merge: merge})
	ctx := t.Context()
	m := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "a", TargetBranch: "main", HeadSHA: "1"})).must(t)

	// The tracker checks the recorded head itself before touching git.
	if _, err := tr.MergeMR(ctx, m.Number, "2", "merger"); !errors.Is(err, agentorg.ErrHeadMoved) || len(calls) != 0 {
		t.Fatalf("merge at a stale SHA: %v after %d git merges, want ErrHeadMoved after none", err, len(calls))
	} else if !strings.Contains(err.Error(), "head is 1, expected 2") {
		t.Fatalf("the error does not name both SHAs: %v", err)
	}
	for _, e := range []error{agentorg.ErrConflict, agentorg.ErrHeadMoved} {
		result = e
		if _, err := tr.MergeMR(ctx, m.Number, "1", "merger"); !errors.Is(err, e) {
			t.Fatalf("merge failing with %v returned %v", e, err)
		}
		if got := val(tr.MR(ctx, m.Number)).must(t); got.State != agentorg.MROpen || got.MergeSHA != "" {
			t.Fatalf("after a failed merge: %+v", got)
		}
	}
	result = nil
	merged := val(tr.MergeMR(ctx, m.Number, "1", "merger")).must(t)
	if merged.MergeSHA != "feedface" || merged.MergedBy != "merger" || merged.State != agentorg.MRMerged {
		t.Fatalf("merged %+v", merged)
	}
	// Already merged: unchanged whatever SHA is given, and git is left alone.
	again := val(tr.MergeMR(ctx, m.Number, "other", "someone")).must(t)
	if again.MergeSHA != "feedface" || again.MergedBy != "merger" {
		t.Fatalf("again %+v", again)
	}
	if len(calls) != 3 || calls[2] != "a->main@1" {
		t.Fatalf("merge calls %v, want 3 ending with a->main@1", calls)
	}
}

func TestRealConflictIsReported(t *testing.T) {
	o := newOrigin(t)
	tr := newTracker(t, embedded.Options{Merge: o.merge})
	ctx := t.Context()
	sa := o.commitFile(t, "a", "README", "from a\n")
	sb := o.commitFile(t, "b", "README", "from b\n")
	ma := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "a", TargetBranch: "main", HeadSHA: sa})).must(t)
	mb := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "b", TargetBranch: "main", HeadSHA: sb})).must(t)
	val(tr.MergeMR(ctx, ma.Number, sa, "merger")).must(t)
	main := val(o.ref(ctx, "main")).must(t)
	if _, err := tr.MergeMR(ctx, mb.Number, sb, "merger"); !errors.Is(err, agentorg.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if after := val(o.ref(ctx, "main")).must(t); after != main {
		t.Fatalf("main moved from %s to %s on a conflict", main, after)
	}
	if got := val(tr.MR(ctx, mb.Number)).must(t); got.State != agentorg.MROpen {
		t.Fatalf("state %s after a conflict", got.State)
	}
}

func TestMergeLandsOnTarget(t *testing.T) {
	o := newOrigin(t)
	tr := newTracker(t, embedded.Options{Merge: o.merge})
	ctx := t.Context()
	sha := o.push(t, "f")
	m := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "f", TargetBranch: "main", HeadSHA: sha})).must(t)
	merged := val(tr.MergeMR(ctx, m.Number, sha, "merger")).must(t)
	if main := val(o.ref(ctx, "main")).must(t); main != merged.MergeSHA {
		t.Fatalf("main is %s, merge SHA %s", main, merged.MergeSHA)
	}
	if ok := val(o.isAncestor(ctx, sha, merged.MergeSHA)).must(t); !ok {
		t.Fatal("the merge commit does not contain the head")
	}
}

func TestMergedOrClosedMRRefusesChanges(t *testing.T) {
	o := newOrigin(t)
	tr := newTracker(t, embedded.Options{Merge: o.merge})
	ctx := t.Context()
	sha := o.push(t, "f")
	m := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "f", TargetBranch: "main", HeadSHA: sha})).must(t)
	val(tr.ApproveMR(ctx, m.Number, "rev")).must(t)
	val(tr.MergeMR(ctx, m.Number, sha, "merger")).must(t)

	if _, err := tr.SetMRHead(ctx, m.Number, "beef"); !errors.Is(err, agentorg.ErrNotMergeable) {
		t.Errorf("SetMRHead on a merged MR: %v", err)
	}
	if _, err := tr.ApproveMR(ctx, m.Number, "late"); !errors.Is(err, agentorg.ErrNotMergeable) {
		t.Errorf("ApproveMR on a merged MR: %v", err)
	}
	if _, err := tr.UnapproveMR(ctx, m.Number, "rev"); !errors.Is(err, agentorg.ErrNotMergeable) {
		t.Errorf("UnapproveMR on a merged MR: %v", err)
	}
	// Retries that change nothing still succeed.
	val(tr.SetMRHead(ctx, m.Number, sha)).must(t)
	val(tr.ApproveMR(ctx, m.Number, "rev")).must(t)
	val(tr.UnapproveMR(ctx, m.Number, "nobody")).must(t)

	// Find-before-create only finds open merge requests.
	again := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "f", TargetBranch: "main", HeadSHA: o.push(t, "f")})).must(t)
	if again.Number == m.Number || again.State != agentorg.MROpen {
		t.Fatalf("CreateMR after the merge gave %+v", again)
	}
}

func TestSetMRHeadKeepsOldApprovals(t *testing.T) {
	tr := newTracker(t, embedded.Options{})
	ctx := t.Context()
	m := val(tr.CreateMR(ctx, agentorg.NewMR{SourceBranch: "f", TargetBranch: "main", HeadSHA: "1"})).must(t)
	val(tr.ApproveMR(ctx, m.Number, "rev")).must(t)
	got := val(tr.SetMRHead(ctx, m.Number, "2")).must(t)
	if len(got.Approvals) != 1 || got.Approvals[0].SHA != "1" || len(got.ApprovedAtHead()) != 0 {
		t.Fatalf("approvals %+v", got.Approvals)
	}
	got = val(tr.ApproveMR(ctx, m.Number, "rev")).must(t)
	if len(got.Approvals) != 2 || len(got.ApprovedAtHead()) != 1 {
		t.Fatalf("approvals %+v", got.Approvals)
	}
	got = val(tr.UnapproveMR(ctx, m.Number, "rev")).must(t) // all of the user's approvals
	if len(got.Approvals) != 0 {
		t.Fatalf("approvals after unapprove %+v", got.Approvals)
	}
}

func TestCheckRoundTripAndOutputBound(t *testing.T) {
	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	tr := newTracker(t, embedded.Options{Now: func() time.Time { return at }})
	ctx := t.Context()
	long := strings.Repeat("x", 100<<10) + "the end"
	in := agentorg.CheckResult{SHA: "abc", Name: "test", Status: agentorg.CheckFailed, Output: long, Duration: 1500 * time.Millisecond}
	if err := tr.SetCheck(ctx, in); err != nil {
		t.Fatal(err)
	}
	got := val(tr.Checks(ctx, "abc")).must(t)
	if len(got) != 1 {
		t.Fatalf("checks %d", len(got))
	}
	r := got[0]
	if r.Status != agentorg.CheckFailed || r.Duration != in.Duration || !r.At.Equal(at) {
		t.Fatalf("stored %+v", r)
	}
	if len(r.Output) > 64<<10 || !strings.HasSuffix(r.Output, "the end") {
		t.Fatalf("output of %d bytes ending %q", len(r.Output), r.Output[len(r.Output)-10:])
	}
	if err := tr.SetCheck(ctx, agentorg.CheckResult{SHA: "abc", Status: agentorg.CheckPassed}); err == nil {
		t.Fatal("accepted a check without a name")
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agentorg.db")
	ctx := t.Context()
	o := newOrigin(t)

	db, err := sqlitedb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := embedded.New(db, embedded.Options{Merge: o.merge})
	if err := tr.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	iss := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "kept", Body: "b", Labels: []string{"x", "y"}, Author: "alice"})).must(t)
	val(tr.UpdateLabels(ctx, iss.Number, []string{"z"}, []string{"x"}, "bob")).must(t)
	cm := val(tr.UpsertComment(ctx, iss.Number, "status", "hello", "engine")).must(t)
	sha := o.push(t, "f")
	m := val(tr.CreateMR(ctx, agentorg.NewMR{Issue: iss.Number, SourceBranch: "f", TargetBranch: "main", HeadSHA: sha})).must(t)
	val(tr.ApproveMR(ctx, m.Number, "rev")).must(t)
	merged := val(tr.MergeMR(ctx, m.Number, sha, "merger")).must(t)
	if err := tr.SetCheck(ctx, agentorg.CheckResult{SHA: sha, Name: "test", Status: agentorg.CheckPassed}); err != nil {
		t.Fatal(err)
	}
	wantIssue := val(tr.Issue(ctx, iss.Number)).must(t)
	wantEvents := val(tr.LabelEvents(ctx, iss.Number)).must(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, path)
	tr = embedded.New(db, embedded.Options{Merge: o.merge})
	if err := tr.Migrate(ctx); err != nil { // again: must be a no-op
		t.Fatal(err)
	}
	got := val(tr.Issue(ctx, iss.Number)).must(t)
	if got.Title != "kept" || !slices.Equal(got.Labels, []string{"y", "z"}) || !got.UpdatedAt.Equal(wantIssue.UpdatedAt) {
		t.Fatalf("issue after reopen %+v, want %+v", got, wantIssue)
	}
	if ev := val(tr.LabelEvents(ctx, iss.Number)).must(t); len(ev) != len(wantEvents) || ev[len(ev)-1] != wantEvents[len(wantEvents)-1] {
		t.Fatalf("events after reopen %+v, want %+v", ev, wantEvents)
	}
	if cs := val(tr.Comments(ctx, iss.Number)).must(t); len(cs) != 1 || cs[0].Body != cm.Body {
		t.Fatalf("comments after reopen %+v", cs)
	}
	gm := val(tr.MR(ctx, m.Number)).must(t)
	if gm.State != agentorg.MRMerged || gm.MergeSHA != merged.MergeSHA || len(gm.Approvals) != 1 || gm.Issue != iss.Number {
		t.Fatalf("merge request after reopen %+v", gm)
	}
	if cs := val(tr.Checks(ctx, sha)).must(t); len(cs) != 1 || cs[0].Status != agentorg.CheckPassed {
		t.Fatalf("checks after reopen %+v", cs)
	}
	// Sequences continue rather than restart.
	if next := val(tr.CreateIssue(ctx, agentorg.NewIssue{Title: "next"})).must(t); next.Number != iss.Number+1 {
		t.Fatalf("next issue #%d, want #%d", next.Number, iss.Number+1)
	}
	var version, rows int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), MAX(version) FROM tracker_schema").Scan(&rows, &version); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || version != 2 {
		t.Fatalf("tracker_schema has %d rows, version %d; want one row, version 2", rows, version)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "agentorg.db"))
	tr := embedded.New(db, embedded.Options{})
	ctx := t.Context()
	if err := tr.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE tracker_schema SET version = 99"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "99") {
		t.Fatalf("got %v, want a refusal naming version 99", err)
	}
}

func TestTablesArePrefixed(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "agentorg.db"))
	if err := embedded.New(db, embedded.Options{}).Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.HasPrefix(name, "tracker_") {
			t.Errorf("%s is not prefixed tracker_", name)
		}
	}
	if n == 0 {
		t.Fatal("no tables")
	}
}
