package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/web"
)

// metricsScript plans, writes one file and reports usage each time.
const metricsScript = `
steps:
  - match: {role: pm}
    summary: "Add hello.txt.\n\n## Acceptance criteria\n- [ ] ` + "`test -f hello.txt`" + ` passes"
    usage: {input_tokens: 1000, cached_tokens: 200, output_tokens: 50, cost_usd: 0.02}
  - match: {role: developer}
    actions: [{write: {path: hello.txt, content: "hello\n"}}]
    summary: Wrote hello.txt.
    usage: {input_tokens: 3000, output_tokens: 120, cost_usd: 0.05}
`

// scrapeMetrics reads the dashboard's /metrics and parses it with
// Prometheus's own text parser.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse as the Prometheus text format: %v", err)
	}
	return fams
}

// total adds up the series of a family whose labels include the given
// pairs: counters' and gauges' values, histograms' counts.
func total(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// value is the value of the series of a family with exactly these
// labels, and whether it is there.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		if len(m.GetLabel())*2 == len(labels) && matches(m, labels) {
			return total(map[string]*dto.MetricFamily{name: {Metric: []*dto.Metric{m}}}, name), true
		}
	}
	return 0, false
}

// matches says whether m carries every label pair given.
func matches(m *dto.Metric, labels []string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i+1 < len(labels); i += 2 {
		if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
			return false
		}
	}
	return true
}

// /metrics parses with Prometheus's text parser and moves when stages
// run: one issue from plan to E2E on a scripted agent.
func TestMetricsMoveWhenAStageRuns(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: metricsScript, Check: "true", E2E: "true"})
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	s, err := web.New(web.Config{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB, Home: org.Home,
		Metrics: org.MetricsHandler()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	before := scrapeMetrics(t, srv.URL)
	for _, name := range []string{metrics.NameJobs, metrics.NameVerdicts, metrics.NameE2EResults} {
		if before[name] == nil {
			t.Fatalf("%s is missing before anything ran", name)
		}
	}
	// Every stage has its jobs listed, zero before the first.
	for _, st := range org.Workflow.Stages {
		if v, ok := value(before, metrics.NameJobs, "stage", st.Name, "state", "completed"); !ok || v != 0 {
			t.Fatalf("stage %s: completed jobs %v (listed: %v) before any ran, want a listed 0", st.Name, v, ok)
		}
	}

	is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: "Say hello", Body: "As the plan says.", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the plan, then the merge request
		orgtest.RunUntilIdle(t, eng)
		if _, err := org.Humans.Approve(ctx, is.Number, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	orgtest.RunUntilIdle(t, eng)
	after := scrapeMetrics(t, srv.URL)

	grew := func(what string, by float64, name string, labels ...string) {
		t.Helper()
		b, a := total(before, name, labels...), total(after, name, labels...)
		if a-b < by {
			t.Errorf("%s: %s%v went from %v to %v, want a rise of at least %v", what, name, labels, b, a, by)
		}
	}
	for _, st := range org.Workflow.Stages {
		switch st.Role {
		case agentorg.RolePM, agentorg.RoleDeveloper, agentorg.RoleValidator, agentorg.RoleMerge, agentorg.RoleE2E:
			grew("stage "+st.Name+" ran", 1, metrics.NameStageRunSeconds, "stage", st.Name)
			grew("stage "+st.Name+" ran", 1, metrics.NameJobs, "stage", st.Name, "state", "completed")
		}
	}
	grew("stage runs that moved the issue on", 5, metrics.NameStageRunSeconds, "outcome", metrics.OutcomeDone)
	grew("validation said GO", 1, metrics.NameVerdicts, "verdict", "GO")
	grew("a distance per verdict", 1, metrics.NameDistance)
	grew("agents ran", 2, metrics.NameAgentRuns)
	grew("input tokens", 4000, metrics.NameAgentTokens, "kind", "input")
	grew("cached tokens", 200, metrics.NameAgentTokens, "kind", "cached")
	grew("output tokens", 170, metrics.NameAgentTokens, "kind", "output")
	grew("cost", 0.07-1e-9, metrics.NameAgentCost)
	grew("a merge train", 1, metrics.NameMergeTrainCars)
	grew("a merge train", 1, metrics.NameMergeTrainSeconds, "outcome", metrics.TrainMerged)
	grew("E2E passed", 1, metrics.NameE2EResults, "result", metrics.E2EPassed)
	if got := total(after, metrics.NameE2EResults, "result", metrics.E2EFailed); got != 0 {
		t.Errorf("E2E failed %v times", got)
	}
	// The embedded tracker sends no requests.
	if got := total(after, metrics.NameTrackerRequests); got != 0 {
		t.Errorf("%v tracker requests on the embedded tracker", got)
	}
}

// With --auth, /metrics answers only a scraper with the metrics token.
func TestMetricsNeedTheTokenUnderAuth(t *testing.T) {
	f := newFixture(t, func(c *web.Config) {
		c.Auth, c.MetricsToken = true, "scrape-me"
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "agentorg_jobs 0\n") })
	})
	for _, tc := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer scrape-me", 200}} {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.code {
			t.Errorf("Authorization %q: %s, want %d", tc.auth, res.Status, tc.code)
		}
	}
}
