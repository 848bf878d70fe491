package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/metrics"
)

// scrape serves h's /metrics and parses it with Prometheus's text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics answered %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value is the value of the series of family name with labels (pairs),
// and whether it exists: a counter's or gauge's value, a histogram's count.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func want(t *testing.T, fams map[string]*dto.MetricFamily, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(fams, name, labels...)
	if !ok {
		t.Fatalf("%s%v: no such series", name, labels)
	}
	if got != v {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, v)
	}
}

func TestMetricsRecordAndParse(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.StageRun("develop", metrics.OutcomeDone, 3*time.Second)
	m.StageRun("develop", metrics.OutcomeDone, time.Second)
	m.StageRun("validate", metrics.OutcomeWait, time.Millisecond)
	m.Verdict("NO-GO", 3)
	m.Verdict("GO", 0)
	m.AgentRun("coder", agentorg.Usage{InputTokens: 100, CachedTokens: 40, OutputTokens: 7, CostUSD: 0.25})
	m.AgentRun("coder", agentorg.Usage{InputTokens: 1, OutputTokens: 2, CostUSD: 0.5})
	m.TrackerRequest("gitlab", "GET", 200)
	m.TrackerRequest("gitlab", "GET", 429)
	m.TrackerRequest("gitlab", "POST", 0)
	m.RateLimitWait("gitlab", 7*time.Second)
	m.RateLimitWait("gitlab", 0) // no wait: not counted
	m.MergeTrain(3, 2*time.Minute, metrics.TrainMerged)
	m.E2E(metrics.E2EFlaky)
	m.Reaped(2)
	m.Reaped(0)

	fams := scrape(t, m.Handler())
	want(t, fams, 2, metrics.NameStageRunSeconds, "stage", "develop", "outcome", "done")
	want(t, fams, 1, metrics.NameStageRunSeconds, "stage", "validate", "outcome", "wait")
	want(t, fams, 1, metrics.NameVerdicts, "verdict", "GO")
	want(t, fams, 1, metrics.NameVerdicts, "verdict", "NO-GO")
	want(t, fams, 2, metrics.NameDistance)
	want(t, fams, 2, metrics.NameAgentRuns, "agent", "coder")
	want(t, fams, 101, metrics.NameAgentTokens, "agent", "coder", "kind", "input")
	want(t, fams, 40, metrics.NameAgentTokens, "agent", "coder", "kind", "cached")
	want(t, fams, 9, metrics.NameAgentTokens, "agent", "coder", "kind", "output")
	want(t, fams, 0.75, metrics.NameAgentCost, "agent", "coder")
	want(t, fams, 1, metrics.NameTrackerRequests, "tracker", "gitlab", "method", "GET", "code", "429")
	want(t, fams, 1, metrics.NameTrackerRequests, "tracker", "gitlab", "method", "POST", "code", "error")
	want(t, fams, 1, metrics.NameTrackerRateLimitWaits, "tracker", "gitlab")
	want(t, fams, 7, metrics.NameTrackerRateLimitWaitS, "tracker", "gitlab")
	want(t, fams, 1, metrics.NameMergeTrainCars)
	want(t, fams, 1, metrics.NameMergeTrainSeconds, "outcome", "merged")
	want(t, fams, 1, metrics.NameE2EResults, "result", "flaky")
	want(t, fams, 0, metrics.NameE2EResults, "result", "failed") // there before the first
	want(t, fams, 2, metrics.NameReapedClaims)
	want(t, fams, 2, metrics.NameReapedProcesses)
	if _, ok := fams[metrics.NameJobs]; ok {
		t.Fatalf("%s without a jobs source", metrics.NameJobs)
	}
	// Total reads the same numbers.
	if got := m.Total(metrics.NameAgentTokens, "agent", "coder"); got != 150 {
		t.Fatalf("Total of the coder's tokens = %v, want 150", got)
	}
	if got := m.Total(metrics.NameStageRunSeconds, "outcome", "done"); got != 2 {
		t.Fatalf("Total of done runs = %v, want 2", got)
	}
	// Every family says what it counts.
	for name, f := range fams {
		if !strings.HasPrefix(name, "agentorg_") {
			t.Errorf("%s: not prefixed agentorg_", name)
		}
		if len(f.GetHelp()) < 20 {
			t.Errorf("%s: help %q says too little", name, f.GetHelp())
		}
	}
}

func TestMetricsJobsCollector(t *testing.T) {
	calls := 0
	fail := false
	m := metrics.New(metrics.Options{Jobs: func(ctx context.Context) ([]metrics.JobCount, error) {
		calls++
		if fail {
			return nil, errors.New("database is locked")
		}
		return []metrics.JobCount{{Stage: "develop", State: "running", N: 1}, {Stage: "develop", State: "completed", N: calls},
			{Stage: "develop", State: "completed", N: 10}}, nil
	}})
	fams := scrape(t, m.Handler())
	want(t, fams, 1, metrics.NameJobs, "stage", "develop", "state", "running")
	want(t, fams, 11, metrics.NameJobs, "stage", "develop", "state", "completed") // a pair given twice is added up
	// Read at each scrape.
	fams = scrape(t, m.Handler())
	want(t, fams, 12, metrics.NameJobs, "stage", "develop", "state", "completed")
	if fams[metrics.NameJobs].GetType() != dto.MetricType_GAUGE {
		t.Fatalf("%s is a %v, want a gauge", metrics.NameJobs, fams[metrics.NameJobs].GetType())
	}
	// A failed read leaves the jobs out, not the rest.
	fail = true
	m.E2E(metrics.E2EPassed)
	fams = scrape(t, m.Handler())
	if _, ok := fams[metrics.NameJobs]; ok {
		t.Fatalf("%s served from a failed read", metrics.NameJobs)
	}
	want(t, fams, 1, metrics.NameE2EResults, "result", "passed")
}

func TestMetricsNilIsANoOp(t *testing.T) {
	var m *metrics.Metrics
	m.StageRun("develop", metrics.OutcomeDone, time.Second)
	m.Verdict("GO", 0)
	m.AgentRun("coder", agentorg.Usage{InputTokens: 1})
	m.TrackerRequest("gitlab", "GET", 200)
	m.RateLimitWait("gitlab", time.Second)
	m.MergeTrain(1, time.Second, metrics.TrainMerged)
	m.E2E(metrics.E2EPassed)
	m.Reaped(1)
	if m.Total(metrics.NameE2EResults) != 0 {
		t.Fatal("a nil Metrics counted something")
	}
	if m.Registry() != nil {
		t.Fatal("a nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("a nil Metrics' handler answered %d, want 404", rec.Code)
	}
}

// Two organizations in one process keep their numbers apart.
func TestMetricsRegistriesAreApart(t *testing.T) {
	a, b := metrics.New(metrics.Options{}), metrics.New(metrics.Options{})
	a.E2E(metrics.E2EFailed)
	want(t, scrape(t, a.Handler()), 1, metrics.NameE2EResults, "result", "failed")
	want(t, scrape(t, b.Handler()), 0, metrics.NameE2EResults, "result", "failed")
}
