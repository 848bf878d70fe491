package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// section is the part of page from the heading with id to the next
// section.
func section(page, id string) string {
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	s := page[i:]
	if j := strings.Index(s, "</section>"); j >= 0 {
		s = s[:j]
	}
	return s
}

// Issue 19: the merge train page shows what waits for approval with its
// merge request and whether it is approved at its head, the last landings
// with the validated commit, the target's last E2E result, and a closed
// target first of all.
func TestTrainPage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	status, page := get(t, f.srv.URL+"/train")
	if status != http.StatusOK {
		t.Fatalf("/train: %d\n%s", status, page)
	}
	waiting := section(page, "approval-h")
	if !strings.Contains(waiting, `<a href="/issues/1">#1</a> Say hello`) || !strings.Contains(waiting, "!1") ||
		!strings.Contains(waiting, `<span class="not-approved">no</span>`) {
		t.Fatalf("#1 does not wait for approval at the merge request gate:\n%s", waiting)
	}
	if !strings.Contains(section(page, "landed-h"), "Nothing has landed yet") || !strings.Contains(page, "<strong>main</strong> is open") {
		t.Fatalf("a new organization's train page:\n%s", page)
	}

	// alice approves the merge request: it merges, and E2E runs on main.
	if _, err := f.org.Humans.Approve(ctx, 1, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, f.eng)
	evs, err := f.org.Log.Events(ctx, eventlog.Filter{Issue: 1, Kind: eventlog.KindMerge})
	if err != nil {
		t.Fatal(err)
	}
	var sha, validated string
	for _, e := range evs {
		if e.Data["merge_sha"] != "" {
			sha = e.Data["merge_sha"]
		}
	}
	// On the embedded tracker a train lands the very merge commit it
	// validated.
	validated = sha
	if sha == "" {
		t.Fatalf("#1 did not merge: %+v", evs)
	}
	_, page = get(t, f.srv.URL+"/train")
	landed := section(page, "landed-h")
	if !strings.Contains(landed, `<a href="/issues/1">#1</a>`) || !strings.Contains(landed, `title="`+sha+`">`+sha[:10]) ||
		!strings.Contains(landed, `<td><code class="sha">`+validated[:10]+`</code></td>`) || !strings.Contains(landed, `in <a href="/runs/`) || !strings.Contains(landed, `<th scope="col">Validated</th>`) {
		t.Fatalf("the landing of #1 (merge %s, validated %s):\n%s", sha, validated, landed)
	}
	e2e := section(page, "e2e-h")
	if !strings.Contains(e2e, "<strong>E2E passed</strong>") || !strings.Contains(e2e, sha[:10]) {
		t.Fatalf("the last E2E:\n%s", e2e)
	}
	if strings.Contains(section(page, "approval-h"), "#1") {
		t.Fatal("#1 still waits for approval")
	}

	// E2E recovery closed the target: the page says so before anything.
	if err := f.org.Log.SetTarget(ctx, eventlog.Target{Branch: "main", Closed: true, Since: time.Now(), Reason: "E2E failed at abc",
		RedSHA: sha, Bisected: true, Culprit: sha, CulpritIssue: 1, RevertIssue: 4}); err != nil {
		t.Fatal(err)
	}
	_, page = get(t, f.srv.URL+"/train")
	closed := section(page, "closed-h")
	if !strings.Contains(closed, "main is closed") || !strings.Contains(closed, "E2E failed at abc") ||
		!strings.Contains(closed, `The culprit is <a href="/issues/1">#1</a>`) || !strings.Contains(closed, `Only the revert, <a href="/issues/4">#4</a>, lands`) {
		t.Fatalf("the closed target:\n%s", closed)
	}
	if strings.Index(page, "closed-h") > strings.Index(page, "e2e-h") {
		t.Fatal("the closed target is not shown first")
	}
}
