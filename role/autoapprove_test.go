package role_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// autoApprove writes an auto_approve block into the merge gate.
func autoApprove(block string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "    merge_request: true\n", "    merge_request: true\n    auto_approve:\n"+block, 1)
	}
}

const docsOnly = `      rules:
        - name: docs-only
          all:
            - paths: ["docs/**", "*.md"]
            - max_lines: 50
`

const docsScript = `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions: [{write: {path: docs/guide.md, content: "# Guide\n"}}]
    summary: Wrote the guide.
  - match: {role: developer}
    actions: [{write: {path: docs/guide.md, content: "# Guide\n\nMore.\n"}}]
    summary: Said more.
`

func policyEvents(t *testing.T, org *orgtest.Org, n int64) []eventlog.Event {
	t.Helper()
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{Issue: n, Kind: eventlog.KindPolicy})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func policyStates(evs []eventlog.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Data["state"])
	}
	return strings.Join(s, " ")
}

// Issue 17: a docs-only change is approved by the rule once the grace
// period passed, recorded as the rule and never as a person, and merges.
func TestAutoApprovesADocsOnlyChangeAfterTheGracePeriod(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: docsScript, Check: "true", E2E: "true", Edit: autoApprove("      grace: 1s\n" + docsOnly)})
	ctx := context.Background()
	n, _ := start(t, org, "No criteria.")
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	if states := policyStates(policyEvents(t, org, n)); states != "pending" {
		t.Fatalf("policy events %q, want one pending", states)
	}
	if !strings.Contains(comment(t, org, n, "Approved by rule `docs-only` at"), "A rejection or a review thread before then cancels it") {
		t.Fatal("the pending comment does not say how to object")
	}
	// The board says what the rule will do.
	b, err := board.Read(ctx, board.Sources{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := b.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "rule docs-only approves at") {
		t.Fatalf("status:\n%s", text.String())
	}
	time.Sleep(1100 * time.Millisecond)
	orgtest.RunUntilIdle(t, org.Engine(t, app.EngineOptions{}))
	if got := labels(t, org, n); got != "e2e:done" {
		t.Fatalf("labels %s after the grace period", got)
	}
	evs := policyEvents(t, org, n)
	if states := policyStates(evs); states != "pending approved" {
		t.Fatalf("policy events %q", states)
	}
	if evs[1].Actor != "policy:docs-only" || !strings.Contains(evs[1].Reason, "every changed path matches") {
		t.Fatalf("the approval: %+v", evs[1])
	}
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil || mr.State != agentorg.MRMerged || len(mr.Approvals) != 0 {
		t.Fatalf("merge request %+v, %v: want merged with no person's approval", mr, err)
	}
	if !strings.Contains(comment(t, org, n, "## Approved by rule `docs-only`\n"), "Recorded as `policy:docs-only`") {
		t.Fatal("the approval comment does not name the rule")
	}
}

// Issue 17: a human's rejection inside the grace period cancels the
// automatic approval; the change that comes back starts a grace period
// of its own.
func TestAutoApprovalIsCancelledByARejectionInTheGracePeriod(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: docsScript, Check: "true", E2E: "true", Edit: autoApprove("      grace: 1h\n" + docsOnly)})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	first := policyEvents(t, org, n)
	if policyStates(first) != "pending" {
		t.Fatalf("policy events %q", policyStates(first))
	}
	if _, err := org.Humans.Reject(ctx, n, "alice", "Say more."); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	evs := policyEvents(t, org, n)
	if policyStates(evs) != "pending pending" || evs[1].Data["head"] == first[0].Data["head"] {
		t.Fatalf("policy events after the rejection: %+v", evs)
	}
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil || mr.HeadSHA != evs[1].Data["head"] {
		t.Fatalf("merge request %+v, %v", mr, err)
	}
}

// Issue 17: a change to .agentorg/ is never approved by a rule, even one
// that allows every path and a hygiene that lets it through.
func TestAutoApprovalNeverForAgentorgFiles(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions: [{write: {path: .agentorg/notes.md, content: "notes\n"}}]
    summary: Wrote notes.
`
	edit := func(s string) string {
		s = autoApprove("      grace: 0s\n      rules:\n        - name: anything\n          all: [{paths: [\"**\"]}]\n")(s)
		return setHygiene("  deny: [\"*.pem\"]\n")(s)
	}
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: edit})
	n, _ := start(t, org, "No criteria.")
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	if evs := policyEvents(t, org, n); len(evs) != 0 {
		t.Fatalf("policy events %+v", evs)
	}
	waits := eventsOf(t, org, n, eventlog.KindWait)
	if len(waits) == 0 || !strings.Contains(waits[len(waits)-1].Reason, "never automatic: .agentorg/notes.md is agentorg's own configuration") {
		t.Fatalf("wait events %+v", waits)
	}
}

// Issue 17: max_per_day bounds the automatic approvals across issues.
func TestAutoApprovalDailyCapHolds(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: docsScript, Check: "true", E2E: "true",
		Edit: autoApprove("      grace: 0s\n      max_per_day: 1\n" + docsOnly)})
	ctx := context.Background()
	a, _ := start(t, org, "No criteria.")
	b, _ := start(t, org, "No criteria.")
	if got := labels(t, org, a) + " " + labels(t, org, b); got != "e2e:done mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	waits := eventsOf(t, org, b, eventlog.KindWait)
	if len(waits) == 0 || !strings.Contains(waits[len(waits)-1].Reason, `gate "merge" approved 1 merge requests by rule in the last 24 hours, its max_per_day`) {
		t.Fatalf("#%d wait events %+v", b, waits)
	}
	// A human still approves it.
	if _, err := org.Humans.Approve(ctx, b, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, org.Engine(t, app.EngineOptions{}))
	if got := labels(t, org, b); got != "e2e:done" {
		t.Fatalf("#%d labels %s after alice approved", b, got)
	}
}
