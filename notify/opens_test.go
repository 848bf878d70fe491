package notify

import (
	"slices"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/workflow"
)

// defaultWorkflow is the default workflow with alice and bob approving.
func defaultWorkflow(t *testing.T) *workflow.Workflow {
	t.Helper()
	text := workflow.Default(workflow.DefaultOptions{Approvers: []string{"bob", "alice"}, TargetBranch: "main", RepoURL: ".",
		Check: "true", E2E: "true", AgentCommand: []string{"true"}})
	wf, err := workflow.Parse("workflow.yaml", text, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func TestOpens(t *testing.T) {
	wf := defaultWorkflow(t)
	plan, mr := wf.Gate("plan"), wf.Gate("merge")
	if plan == nil || mr == nil || !mr.MergeRequest || plan.MergeRequest {
		t.Fatalf("the default workflow's gates changed: %+v", wf.Gates)
	}
	recoverOff := defaultWorkflow(t)
	recoverOff.E2E.Recovery = workflow.RecoveryOff
	for _, c := range []struct {
		name string
		e    eventlog.Event
		kind string
	}{
		{"the PM's plan reaches its gate", eventlog.Event{Kind: eventlog.KindTransition, Stage: "plan", From: "plan:running", To: plan.Waits}, KindPlan},
		{"a person puts an issue at the plan gate", eventlog.Event{Kind: eventlog.KindHuman, To: plan.Waits}, KindPlan},
		{"validation's GO reaches the merge request gate", eventlog.Event{Kind: eventlog.KindTransition, Stage: "validate", From: "validate:running", To: mr.Waits}, KindMergeRequest},
		{"triage with nothing to change goes back to review", eventlog.Event{Kind: eventlog.KindTransition, Stage: "triage", From: "triage:running", To: mr.Waits}, KindMergeRequest},
		{"a refused approval puts it back at the gate", eventlog.Event{Kind: eventlog.KindRefused, From: mr.Approve, To: mr.Waits}, ""},
		{"an approval", eventlog.Event{Kind: eventlog.KindHuman, From: plan.Waits, To: plan.Approve}, ""},
		{"a rejection", eventlog.Event{Kind: eventlog.KindHuman, From: mr.Waits, To: mr.Reject}, ""},
		{"the engine takes the waits label off after a GitLab approval", eventlog.Event{Kind: eventlog.KindTransition, From: mr.Waits, To: mr.Approve}, ""},
		{"an escalation", eventlog.Event{Kind: eventlog.KindEscalate, Reason: "stalled"}, KindEscalation},
		{"the transition to the escalation label", eventlog.Event{Kind: eventlog.KindTransition, Stage: "validate", To: wf.Escalation}, ""},
		{"E2E closes the target", eventlog.Event{Kind: eventlog.KindRecover, Stage: "e2e", Data: map[string]string{"state": "closed", "target": "main", "head": "abc"}}, KindE2E},
		{"a bisect step", eventlog.Event{Kind: eventlog.KindRecover, Stage: "e2e", Reason: "bisect: E2E fails at abc", Data: map[string]string{"culprit": "abc"}}, ""},
		{"a flaky E2E run", eventlog.Event{Kind: eventlog.KindRecover, Stage: "e2e", Data: map[string]string{"flaky": "true"}}, ""},
		{"the target opens again", eventlog.Event{Kind: eventlog.KindRecover, Stage: "e2e", Data: map[string]string{"state": "open"}}, ""},
		{"E2E passes", eventlog.Event{Kind: eventlog.KindTransition, Stage: "e2e", From: "e2e:running", To: "e2e:done"}, ""},
		{"a verdict", eventlog.Event{Kind: eventlog.KindVerdict, To: mr.Waits}, ""},
		{"a claim", eventlog.Event{Kind: eventlog.KindClaim, Stage: "develop"}, ""},
		{"a policy event", eventlog.Event{Kind: eventlog.KindPolicy, Data: map[string]string{"state": "pending"}}, ""},
	} {
		kind, ok := Opens(wf, c.e)
		if kind != c.kind || ok != (c.kind != "") {
			t.Errorf("%s: Opens = %q, %v; want %q", c.name, kind, ok, c.kind)
		}
	}
	// With recovery off, E2E's failure label is where a failure rests.
	failed := eventlog.Event{Kind: eventlog.KindTransition, Stage: "e2e", From: "e2e:running", To: "e2e:failed"}
	if kind, ok := Opens(recoverOff, failed); !ok || kind != KindE2E {
		t.Errorf("E2E failing with recovery off: Opens = %q, %v", kind, ok)
	}
	recoverOff.Stage("e2e").Failure = recoverOff.Escalation
	failed.To = recoverOff.Escalation
	if kind, ok := Opens(recoverOff, failed); ok {
		t.Errorf("E2E failing to the escalation label opens %q: its escalation event opens the notice", kind)
	}
}

func TestKinds(t *testing.T) {
	if len(Kinds) != 7 {
		t.Fatalf("Kinds = %v", Kinds)
	}
	for _, k := range Kinds {
		if k == "" || strings.ContainsAny(k, " :") {
			t.Errorf("kind %q: a key part must have no spaces or colons", k)
		}
	}
}

func TestFitCutsToTheLimits(t *testing.T) {
	long := strings.Repeat("ö", 10000)
	n := Notice{Title: long, Text: long, Status: long}
	for i := 0; i < 30; i++ {
		n.Fields = append(n.Fields, Field{Name: long, Value: long})
	}
	fit(&n)
	if runes(n.Title) > MaxTitle || runes(n.Text) > MaxText || len(n.Fields) > MaxFields {
		t.Fatalf("title %d, text %d runes, %d fields", runes(n.Title), runes(n.Text), len(n.Fields))
	}
	for _, f := range n.Fields {
		if runes(f.Name) > MaxFieldName || runes(f.Value) > MaxFieldValue {
			t.Fatalf("field of %d/%d runes", runes(f.Name), runes(f.Value))
		}
	}
	if got := total(n); got > MaxTotal {
		t.Fatalf("total %d runes, more than %d", got, MaxTotal)
	}
	if !strings.HasSuffix(n.Title, cutMark) {
		t.Errorf("a cut title should say so: %q", n.Title[len(n.Title)-20:])
	}
	small := Notice{Title: "t", Text: "x", Fields: []Field{{Name: "a", Value: "b"}}}
	fit(&small)
	if small.Text != "x" || small.Fields[0].Value != "b" {
		t.Errorf("fit changed a small notice: %+v", small)
	}
}

func TestSummary(t *testing.T) {
	for _, c := range []struct{ plan, want string }{
		{"Add hello.txt.\n\n## Acceptance criteria\n- [ ] `test -f hello.txt` passes", "Add hello.txt."},
		{"## Summary\nWrite the flag.\nAnd test it.\n\n## Steps\n1. x", "Write the flag.\nAnd test it."},
		{"## Acceptance criteria\n- [ ] a\n", ""},
		{"", ""},
	} {
		if got := summary(c.plan); got != c.want {
			t.Errorf("summary(%q) = %q, want %q", c.plan, got, c.want)
		}
	}
}

func TestPlainText(t *testing.T) {
	n := Notice{Title: "#2 Say goodbye: plan waits for approval", URL: "http://dash/issues/2", Status: "waits for alice",
		Text: "Add goodbye.txt.", Fields: []Field{{Name: "Budget", Value: "3 attempts"}, {Name: "Attempts", Value: "1: NO-GO\n2: GO"}},
		Links: []Link{{Label: "Dashboard", URL: "http://dash/issues/2"}}, Mentions: []string{"alice", "bob"}, Ask: &Ask{Gate: "plan"}}
	want := `#2 Say goodbye: plan waits for approval
http://dash/issues/2
Status: waits for alice

Add goodbye.txt.

Budget: 3 attempts
Attempts:
  1: NO-GO
  2: GO

Dashboard: http://dash/issues/2

@alice @bob
(decision open at gate plan)
`
	if got := n.PlainText(); got != want {
		t.Errorf("PlainText:\n%s\nwant:\n%s", got, want)
	}
}

// The workflow routes and mutes the kinds notify opens: the two lists are
// the same.
func TestKindsAreTheWorkflows(t *testing.T) {
	if !slices.Equal(Kinds, workflow.DiscordKinds) {
		t.Fatalf("notify.Kinds %v, workflow.DiscordKinds %v", Kinds, workflow.DiscordKinds)
	}
}
