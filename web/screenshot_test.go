package web_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.String("screenshots", "", "write the board's and an issue page's screenshots (PNG) into this directory, e.g. ../docs")

// The board and an issue page as a person signed in sees them, taken by
// the browser the other tests drive; docs/ holds the ones the README shows:
//
//	go test ./web -run Screenshots -screenshots ../docs
func TestScreenshotsOfBoardAndIssue(t *testing.T) {
	f := newFixture(t, nil)
	ctx := browser(t)
	f.signIn(t, ctx, "alice", aliceToken)
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	}
	// A person escalated #3 by hand: escalated cards stand out.
	if _, err := f.org.Humans.Labels(context.Background(), 3, []string{f.org.Workflow.Escalation}, nil, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, shot := range []struct {
		name, path, ready string
		width             int64
	}{
		{"board.png", "/", ".card", 1300},
		{"issue.png", "/issues/1", "svg", 1100},
	} {
		do(t, ctx, chromedp.EmulateViewport(shot.width, 700), chromedp.Navigate(f.srv.URL+shot.path), chromedp.WaitVisible(chromedp.CSS(shot.ready)))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
			t.Fatalf("%s: %d bytes, not a PNG of a page", shot.name, len(png))
		}
		if err := os.WriteFile(filepath.Join(dir, shot.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
