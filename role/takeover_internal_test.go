package role

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/workflow"
)

// The history a new session is told on a takeover is bounded: the last
// historyAttempts attempts, each summary and finding cut, at most
// historyFindings findings each, and the plan only when the prompt lacks
// it.
func TestTakeoverHistoryIsBounded(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := eventlog.New(db)
	if err := log.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 9
	for i := 1; i <= 7; i++ {
		if _, err := log.StartAttempt(ctx, eventlog.Attempt{Issue: n, N: i, RunID: fmt.Sprint("r", i)}); err != nil {
			t.Fatal(err)
		}
		summary := fmt.Sprintf("summary of attempt %d:\n%s", i, strings.Repeat("é", 2*historySummary))
		if err := log.SetSession(ctx, n, i, "codex", "s", summary, agentorg.Usage{}); err != nil {
			t.Fatal(err)
		}
		var fs []eventlog.Finding
		for j := 1; j <= historyFindings+4; j++ {
			fs = append(fs, eventlog.Finding{Key: fmt.Sprint("k", j), Text: fmt.Sprintf("finding %d.%d %s", i, j, strings.Repeat("x", 2*historyFinding))})
		}
		if err := log.SetVerdict(ctx, n, i, "validate", eventlog.NOGO, fs, "report"); err != nil {
			t.Fatal(err)
		}
	}
	d := &Deps{Log: log, Workflow: &workflow.Workflow{Repo: workflow.Repo{TargetBranch: "main"}}}
	ev := eventlog.Event{Data: map[string]string{"from": "w1", "commit": "0123456789abcdef", "source": fromBundle}}
	plan := "The plan: do it well."
	got, err := takeoverText(ctx, d, n, 8, ev, plan, "a prompt without it")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"worker w1", "(0123456789)", "The last 5 of its 7 attempts", "- Attempt 3 (NO-GO, distance 12). Its summary: summary of attempt 3: éé",
		"- Attempt 7 (", "  - and 4 more", "… (cut)", "The approved plan:\n\n" + plan} {
		if !strings.Contains(got, want) {
			t.Errorf("the history lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"- Attempt 2 (", "finding 3.9 "} {
		if strings.Contains(got, not) {
			t.Errorf("the history holds %q, past its bounds", not)
		}
	}
	if c := utf8.RuneCountInString(got); c > historyMax+len("… (cut)") {
		t.Errorf("the history is %d characters, over %d", c, historyMax)
	}
	// A long plan leaves room for fewer attempts: the oldest go, the
	// newest and the plan stay.
	long := "The long plan. " + strings.Repeat("p", 2*historyPlan)
	got, err = takeoverText(ctx, d, n, 8, ev, long, "a prompt without it")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "The last 3 of its 7 attempts") || !strings.Contains(got, "- Attempt 7 (") || strings.Contains(got, "- Attempt 4 (") ||
		!strings.Contains(got, "The approved plan:\n\nThe long plan. ppp") || utf8.RuneCountInString(got) > historyMax {
		t.Errorf("with a long plan, the history is %d characters:\n%s", utf8.RuneCountInString(got), got)
	}
	if again, _ := takeoverText(ctx, d, n, 8, ev, plan, "a prompt with "+plan); strings.Contains(again, "The approved plan") {
		t.Error("the plan is told twice when the prompt holds it")
	}
}
