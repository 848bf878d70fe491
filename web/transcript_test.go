package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentorg/agentorg/web"
)

// get fetches a page, returning its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// afterClick waits for expr to be true on the page a click leads to,
// trying again while the old page is replaced by the new.
func afterClick(ctx context.Context, expr string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for {
		err := until(ctx, expr, time.Until(end))
		if err == nil || time.Now().After(end) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 19: the transcript viewer pages a 50 MB transcript in the
// browser: the first page tells the lines apart and says which bytes it
// shows, "next" and "last" are followed by clicking, and no page is
// larger than a small part of the file.
func TestTranscriptViewerPagesA50MBTranscript(t *testing.T) {
	f := newFixture(t, nil)
	const id = "5f0c8e6a-1b2d-4c3e-9f40-a1b2c3d4e5f6"
	path := filepath.Join(f.org.Home, "runs", id+".log")
	if err := web.WriteTestTranscript(path, 50<<20); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pages := (len(whole) + 256<<10 - 1) / (256 << 10)
	of := fmt.Sprintf(" of %d", pages)
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS(".transcript")))
	if r := text(t, ctx, ".pager .where"); !strings.HasPrefix(r, "page 1"+of+", bytes 0–262,") || !strings.Contains(r, " of 52,4") {
		t.Fatalf("the first page says %q", r)
	}
	legend := text(t, ctx, ".legend")
	for _, kind := range []string{"messages", "tool calls", "tool results", "usage lines", "check lines", "check output", "errors", "log lines"} {
		if !strings.Contains(legend, kind) {
			t.Errorf("the first page's legend has no %s: %q", kind, legend)
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll(".transcript li.t-tool-call").length`); n == 0 {
		t.Error("no tool call is shown as one")
	}
	if s := text(t, ctx, ".transcript li.t-usage .note"); !strings.Contains(s, " in · ") {
		t.Errorf("a usage line's note: %q", s)
	}
	// The output of checks is text, not markup.
	if eval[int](t, ctx, `document.querySelectorAll(".transcript script").length`) != 0 {
		t.Fatal("a transcript's text became markup")
	}
	size := func() int { return eval[int](t, ctx, `document.documentElement.outerHTML.length`) }
	if n := size(); n > 1<<20 {
		t.Fatalf("the first page is %d bytes of HTML", n)
	}

	do(t, ctx, chromedp.Click(chromedp.CSS(`.pager a[rel="next"]`)))
	if err := afterClick(ctx, `document.querySelector(".pager .where").textContent.startsWith("page 2`+of+`, bytes 262,")`, 10*time.Second); err != nil {
		t.Fatalf("next did not lead to page 2 (%v): %q", err, text(t, ctx, ".pager .where"))
	}
	if n := size(); n > 1<<20 {
		t.Fatalf("page 2 is %d bytes of HTML", n)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`.pager a.last`)))
	if err := afterClick(ctx, `document.querySelector(".pager .where").textContent.startsWith("page `+fmt.Sprint(pages)+of+`")`, 10*time.Second); err != nil {
		t.Fatalf("last did not lead to the last page (%v): %q", err, text(t, ctx, ".pager .where"))
	}
	if last := text(t, ctx, ".transcript li:last-child"); !strings.Contains(last, "the end") {
		t.Fatalf("the last page ends with %q", last)
	}
	if eval[int](t, ctx, `document.querySelectorAll('.pager a[rel="next"]').length`) != 0 {
		t.Fatal("the last page links to a next one")
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`.pager a.first`)))
	if err := afterClick(ctx, `document.querySelector(".pager .where").textContent.startsWith("page 1`+of+`")`, 10*time.Second); err != nil {
		t.Fatalf("first did not lead to page 1: %v", err)
	}
	// ?at= shows the page holding a byte, the line marked: here the cut
	// line of a capped transcript, in its middle.
	at := bytes.Index(whole, []byte("[agentorg: 123456789 bytes cut here"))
	status, page := get(t, fmt.Sprintf("%s/runs/%s?at=%d", f.srv.URL, id, at+5))
	if status != http.StatusOK || !strings.Contains(page, fmt.Sprintf(`<li id="here" class="t-cut here"><span class="k">cut</span> <span class="note">117.7 MiB cut</span>`)) ||
		!strings.Contains(page, fmt.Sprintf("page %d%s", at/(256<<10)+1, of)) {
		t.Fatalf("?at=%d: %d\n%.3000s", at+5, status, page)
	}
}

// Issue 19: a run's transcript is reached by its id; anything else is a
// 404 that says so, and no id reaches outside the runs directory.
func TestTranscriptOfARunAndNotFound(t *testing.T) {
	f := newFixture(t, nil)
	refs, err := f.org.Log.FindRuns(context.Background(), "", 50)
	if err != nil {
		t.Fatal(err)
	}
	var dev string
	for _, r := range refs {
		if r.Issue == 1 && r.Stage == "develop" {
			dev = r.ID
		}
	}
	if dev == "" {
		t.Fatalf("no develop run of #1 among %+v", refs)
	}
	status, page := get(t, f.srv.URL+"/runs/"+dev)
	if status != http.StatusOK || !strings.Contains(page, `<a href="/issues/1">#1</a>`) || !strings.Contains(page, "stage develop") ||
		!strings.Contains(page, `class="t-`) || !strings.Contains(page, "page 1 of 1") || strings.Contains(page, "data-live") {
		t.Fatalf("the develop run's transcript: %d\n%s", status, page)
	}
	status, raw := get(t, f.srv.URL+"/runs/"+dev+"/raw")
	if status != http.StatusOK || raw == "" {
		t.Fatalf("the raw transcript: %d %q", status, raw)
	}
	for path, want := range map[string]string{
		"/runs/00000000-0000-4000-8000-000000000000": "there is no run 00000000-0000-4000-8000-000000000000",
		"/runs/not-a-run":                                        "a run id is a UUID",
		"/runs/..%2F..%2Fagentorg.db":                            "a run id is a UUID",
		"/runs/00000000-0000-4000-8000-000000000000/raw":         "there is no run",
		"/runs/" + dev + "?page=99":                              "there is no page 99",
		"/runs/" + strings.ToUpper(dev):                          "a run id is a UUID",
		"/runs/00000000-0000-4000-8000-000000000000?page=1&at=0": "there is no run",
	} {
		status, page := get(t, f.srv.URL+path)
		if status != http.StatusNotFound || !strings.Contains(page, want) {
			t.Errorf("%s: %d, want 404 saying %q:\n%s", path, status, want, page)
		}
	}
	if status, _ := get(t, f.srv.URL+"/runs/"+dev+"?page=x"); status != http.StatusBadRequest {
		t.Errorf("?page=x: %d", status)
	}
}
