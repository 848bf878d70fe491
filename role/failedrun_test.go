package role_test

import (
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// Issue 14: a developer run that fails after reporting its session and
// usage (an error result, as a stall or a refused write would be) is
// counted (its usage is the attempt's, toward the budgets) and the retry
// resumes its session instead of throwing the conversation away.
func TestAFailedRunCountsAndItsSessionIsResumed(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "second-try")
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - shell: "test -f ` + flag + ` || { touch ` + flag + `; echo 'the model gave up' >&2; exit 1; }"
      - write: {path: sub.go, content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}
    summary: Added Sub.
    usage: {input_tokens: 1000, output_tokens: 100, cost_usd: 0.5}
`
	// Unconfined: the agent keeps its try counter outside its checkout.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Unconfined: true})
	n, _ := start(t, org, "Add Sub.")
	as := attempts(t, org, n)
	if got := distances(as); got != "GO:0" {
		t.Fatalf("distances %s", got)
	}
	a := as[0]
	if a.Usage != (agentorg.Usage{InputTokens: 2000, OutputTokens: 200, CostUSD: 1}) {
		t.Fatalf("attempt 1's usage %+v: want both runs, the failed one included", a.Usage)
	}
	runs := prompts(t, org, a.SessionID)
	if len(runs) != 2 || runs[0].Resumed || !runs[1].Resumed {
		t.Fatalf("runs of session %s: %+v; want the failed start, then the retry resuming it", a.SessionID, runs)
	}
	var failed, ok int
	for _, e := range eventsOf(t, org, n, eventlog.KindAgent) {
		if e.Data["role"] != agentorg.RoleDeveloper {
			continue
		}
		if e.Data["failed"] == "true" {
			failed++
		} else {
			ok++
		}
		if e.Usage().InputTokens != 1000 {
			t.Errorf("agent event %q carries usage %+v", e.Reason, e.Usage())
		}
	}
	if failed != 1 || ok != 1 {
		t.Fatalf("developer runs in the event log: %d failed, %d finished", failed, ok)
	}
}
