package role_test

import (
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/orgtest"
)

// An E2E that fails once and passes when run again counts as flaky (not
// as passed or failed); the merge that came before it was a train of one
// car, and validation said GO at distance 0.
func TestMetricsCountAFlakyE2EAndItsTrain(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ran-once")
	e2e := "if [ -f " + flag + " ]; then exit 0; fi; touch " + flag + "; echo flaky; exit 1"
	// Unconfined: the E2E command keeps its state outside its checkout.
	org := orgtest.New(t, orgtest.Options{Script: recoveryScript, Check: "true", E2E: e2e, Unconfined: true})
	n, eng := start(t, org, "No criteria.")
	approveUntilDone(t, org, eng)
	if got := labels(t, org, n); got != "e2e:done" {
		t.Fatalf("#%d ended with [%s]", n, got)
	}
	m := org.Metrics
	for result, want := range map[string]float64{metrics.E2EFlaky: 1, metrics.E2EPassed: 0, metrics.E2EFailed: 0} {
		if got := m.Total(metrics.NameE2EResults, "result", result); got != want {
			t.Errorf("E2E %s counted %v, want %v", result, got, want)
		}
	}
	if got := m.Total(metrics.NameMergeTrainCars); got != 1 {
		t.Errorf("%v merge trains, want 1", got)
	}
	if got := m.Total(metrics.NameMergeTrainSeconds, "outcome", metrics.TrainMerged); got != 1 {
		t.Errorf("%v merged trains, want 1", got)
	}
	if got := m.Total(metrics.NameVerdicts, "verdict", "GO"); got != 1 {
		t.Errorf("%v GO verdicts, want 1", got)
	}
	if got := m.Total(metrics.NameVerdicts, "verdict", "NO-GO"); got != 0 {
		t.Errorf("%v NO-GO verdicts, want 0", got)
	}
	if got := m.Total(metrics.NameDistance); got != 1 {
		t.Errorf("%v distances, want 1", got)
	}
}
