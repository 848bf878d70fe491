package embedded

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/sqlitedb"
)

func newTestTracker(t *testing.T) *Tracker {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tr := New(db, Options{})
	if err := tr.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// Every ListIssues filter must be answered from an index, not by reading
// every issue: the engine polls with these filters.
func TestListIssuesFiltersUseIndexes(t *testing.T) {
	tr := newTestTracker(t)
	since := time.Now()
	filters := []agentorg.IssueFilter{
		{State: agentorg.IssueOpen},
		{AnyLabel: []string{"a", "b"}},
		{UpdatedAfter: since},
		{State: agentorg.IssueOpen, UpdatedAfter: since},
		{State: agentorg.IssueOpen, AnyLabel: []string{"a"}},
		{State: agentorg.IssueClosed, AnyLabel: []string{"a"}, UpdatedAfter: since},
	}
	for _, f := range filters {
		where, args, err := tr.issueFilterSQL(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"SELECT " + issueColumns + " FROM tracker_issues" + where + " ORDER BY number",
			"SELECT issue, label FROM tracker_issue_labels WHERE issue IN (SELECT number FROM tracker_issues" + where + ") ORDER BY issue, position",
		} {
			plan, err := sqlitedb.QueryPlan(t.Context(), tr.db, q, args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") {
					t.Errorf("filter %+v: query %q\nscans a table: %v", f, q, plan)
				}
			}
		}
	}
}

func TestListIssuesWithThousandsOfIssues(t *testing.T) {
	if testing.Short() {
		t.Skip("creates thousands of issues")
	}
	tr := newTestTracker(t)
	ctx := t.Context()
	const n = 2000
	var rare []int64
	for i := range n {
		labels := []string{fmt.Sprintf("bucket-%d", i%10)}
		if i%97 == 0 {
			labels = append(labels, "rare")
		}
		iss, err := tr.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("issue %d", i), Body: strings.Repeat("text ", 200), Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			rare = append(rare, iss.Number)
		}
	}
	start := time.Now()
	got, err := tr.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: []string{"rare"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filtered %d of %d issues in %v", len(got), n, time.Since(start))
	var nums []int64
	for _, iss := range got {
		nums = append(nums, iss.Number)
		if len(iss.Labels) != 2 || iss.Labels[1] != "rare" {
			t.Fatalf("issue #%d labels %v", iss.Number, iss.Labels)
		}
	}
	if !slices.Equal(nums, rare) {
		t.Fatalf("got %v, want %v", nums, rare)
	}
	all, err := tr.ListIssues(ctx, agentorg.IssueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n || all[n-1].Labels[0] != fmt.Sprintf("bucket-%d", (n-1)%10) {
		t.Fatalf("listed %d issues, last %+v", len(all), all[len(all)-1].Labels)
	}
}
