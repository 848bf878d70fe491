// Package metrics holds the numbers operators scrape from /metrics, in the
// Prometheus text format: stage jobs and runs, validation verdicts and
// distance, agents' tokens and cost, tracker requests and rate-limit waits,
// merge trains, E2E results and reaped processes.
//
// A *Metrics owns its registry (never Prometheus's process-wide default),
// so that several organizations can live in one process, as they do in
// tests. Every method is a no-op on a nil *Metrics: a caller that was given
// none records nothing and needs no check.
//
// The package is a leaf: the engine, the roles and the tracker adapters
// import it and say what happened; it knows none of them. What is read
// rather than counted (the jobs by stage and state) comes through a
// function the wiring passes in (Options.Jobs).
package metrics

import (
	"context"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/agentorg/agentorg"
)

// JobCount is how many stage jobs of one stage are in one state.
type JobCount struct {
	Stage string
	State string // River's job state: available, running, completed, ...
	N     int
}

// Options configure a Metrics.
type Options struct {
	// Jobs reads the stage jobs by stage and state; it is called at each
	// scrape. nil: the jobs metric is left out.
	Jobs func(ctx context.Context) ([]JobCount, error)
	// JobsTimeout bounds one call of Jobs. Default 5 s.
	JobsTimeout time.Duration
	// ErrorLog, when set, is told of a scrape's errors (a failed Jobs).
	ErrorLog *log.Logger
}

// Metrics is one organization's metrics.
type Metrics struct {
	reg      *prometheus.Registry
	errorLog *log.Logger

	stageRuns       *prometheus.HistogramVec
	verdicts        *prometheus.CounterVec
	distance        prometheus.Histogram
	agentRuns       *prometheus.CounterVec
	tokens          *prometheus.CounterVec
	cost            *prometheus.CounterVec
	trackerRequests *prometheus.CounterVec
	rateWaits       *prometheus.CounterVec
	rateWaitSeconds *prometheus.CounterVec
	trainCars       prometheus.Histogram
	trainDuration   *prometheus.HistogramVec
	e2e             *prometheus.CounterVec
	reapedClaims    prometheus.Counter
	reapedProcesses prometheus.Counter
}

// Names of the metrics (the README's table lists them).
const (
	NameJobs                  = "agentorg_jobs"
	NameStageRunSeconds       = "agentorg_stage_run_duration_seconds"
	NameVerdicts              = "agentorg_validation_verdicts_total"
	NameDistance              = "agentorg_validation_distance"
	NameAgentRuns             = "agentorg_agent_runs_total"
	NameAgentTokens           = "agentorg_agent_tokens_total"
	NameAgentCost             = "agentorg_agent_cost_usd_total"
	NameTrackerRequests       = "agentorg_tracker_requests_total"
	NameTrackerRateLimitWaits = "agentorg_tracker_rate_limit_waits_total"
	NameTrackerRateLimitWaitS = "agentorg_tracker_rate_limit_wait_seconds_total"
	NameMergeTrainCars        = "agentorg_merge_train_cars"
	NameMergeTrainSeconds     = "agentorg_merge_train_duration_seconds"
	NameE2EResults            = "agentorg_e2e_results_total"
	NameReapedClaims          = "agentorg_reaped_claims_total"
	NameReapedProcesses       = "agentorg_reaped_processes_total"
	defaultJobsTimeout        = 5 * time.Second
	jobsHelp                  = "Stage jobs in the engine's job store, by stage and River job state (read at scrape time)."
)

// stageRunBuckets span a stage run from a label move (milliseconds) to a
// long agent session (hours).
var stageRunBuckets = []float64{0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}

// New returns metrics with a registry of their own.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), errorLog: o.ErrorLog}
	m.stageRuns = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    NameStageRunSeconds,
		Help:    "Wall time of stage runs, from taking the job to recording the outcome, by stage and outcome (done, escalated, wait, error, cancelled, unavailable, interrupted).",
		Buckets: stageRunBuckets,
	}, []string{"stage", "outcome"})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameVerdicts,
		Help: "Validation verdicts recorded on developer attempts, by verdict (GO, NO-GO).",
	}, []string{"verdict"})
	m.distance = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    NameDistance,
		Help:    "Distance of each validated attempt: failing checks plus unmet acceptance criteria (0 is GO).",
		Buckets: []float64{0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50},
	})
	m.agentRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameAgentRuns,
		Help: "Agent runs recorded, by the workflow's agent name.",
	}, []string{"agent"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameAgentTokens,
		Help: "Tokens agents reported using, by the workflow's agent name and kind (input, cached, output).",
	}, []string{"agent", "kind"})
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameAgentCost,
		Help: "Cost in US dollars agents reported, by the workflow's agent name.",
	}, []string{"agent"})
	m.trackerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameTrackerRequests,
		Help: "HTTP requests sent to the tracker's API (each retry counts), by tracker, method and status code (\"error\" when no response came).",
	}, []string{"tracker", "method", "code"})
	m.rateWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameTrackerRateLimitWaits,
		Help: "Times a tracker request waited because the API said its rate limit was spent (429, RateLimit-Remaining: 0), by tracker.",
	}, []string{"tracker"})
	m.rateWaitSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameTrackerRateLimitWaitS,
		Help: "Seconds tracker requests spent waiting out rate limits, by tracker.",
	}, []string{"tracker"})
	m.trainCars = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    NameMergeTrainCars,
		Help:    "Merge requests in each merge train built (cars, before any left the train).",
		Buckets: []float64{1, 2, 3, 4, 5, 8, 13, 21, 34, 55, 100},
	})
	m.trainDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    NameMergeTrainSeconds,
		Help:    "Wall time of each merge train, from listing its cars to its last merge, by outcome (merged, target_moved, none_left, error).",
		Buckets: stageRunBuckets,
	}, []string{"outcome"})
	m.e2e = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameE2EResults,
		Help: "E2E runs on the target branch, by result: passed, failed (failed twice), flaky (failed, then passed when run again).",
	}, []string{"result"})
	m.reapedClaims = prometheus.NewCounter(prometheus.CounterOpts{
		Name: NameReapedClaims,
		Help: "Stage job claims the engine released because their worker died (no heartbeat, or a crash before a restart).",
	})
	m.reapedProcesses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: NameReapedProcesses,
		Help: "Agent and check processes (or process groups) left by dead claims that the engine killed.",
	})
	m.reg.MustRegister(m.stageRuns, m.verdicts, m.distance, m.agentRuns, m.tokens, m.cost,
		m.trackerRequests, m.rateWaits, m.rateWaitSeconds, m.trainCars, m.trainDuration, m.e2e,
		m.reapedClaims, m.reapedProcesses)
	if o.Jobs != nil {
		timeout := o.JobsTimeout
		if timeout <= 0 {
			timeout = defaultJobsTimeout
		}
		m.reg.MustRegister(&jobsCollector{read: o.Jobs, timeout: timeout,
			desc: prometheus.NewDesc(NameJobs, jobsHelp, []string{"stage", "state"}, nil)})
	}
	// The outcomes and results that exist start at zero, so that a rate
	// is defined before the first one happens.
	for _, v := range []string{"GO", "NO-GO"} {
		m.verdicts.WithLabelValues(v)
	}
	for _, r := range []string{E2EPassed, E2EFailed, E2EFlaky} {
		m.e2e.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format. A
// failed read of the jobs leaves that metric out of the scrape, not the
// rest. On a nil *Metrics it answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	if m.errorLog != nil {
		opts.ErrorLog = m.errorLog
	}
	return promhttp.HandlerFor(m.reg, opts)
}

// Registry is the metrics' own registry (for tests and for registering
// more collectors).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Total adds up the series of family name that carry the given label
// pairs (name, value, name, value, ...): counters' and gauges' values,
// histograms' counts. It is 0 on a nil *Metrics, for an unknown family,
// or when the scrape fails. Tests and diagnostics read the numbers with it.
func (m *Metrics) Total(name string, labels ...string) float64 {
	if m == nil {
		return 0
	}
	fams, err := m.reg.Gather()
	if err != nil && fams == nil {
		return 0
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if !carries(s, labels) {
				continue
			}
			switch {
			case s.Counter != nil:
				sum += s.Counter.GetValue()
			case s.Gauge != nil:
				sum += s.Gauge.GetValue()
			case s.Histogram != nil:
				sum += float64(s.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// carries says whether s has every label pair given.
func carries(s *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range s.GetLabel() {
			if l.GetName() == labels[i] {
				found = l.GetValue() == labels[i+1]
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Stage run outcomes (StageRun's outcome).
const (
	OutcomeDone        = "done"        // the issue moved on
	OutcomeEscalated   = "escalated"   // the issue went to a human
	OutcomeWait        = "wait"        // the stage waits for something outside
	OutcomeError       = "error"       // the run failed and is retried
	OutcomeCancelled   = "cancelled"   // the issue left the stage while it ran
	OutcomeUnavailable = "unavailable" // the tracker was unavailable
	OutcomeInterrupted = "interrupted" // the engine stopped during the run
)

// StageRun records one stage run's wall time and outcome.
func (m *Metrics) StageRun(stage, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.stageRuns.WithLabelValues(stage, outcome).Observe(d.Seconds())
}

// Verdict records a validation verdict (GO, NO-GO) and its distance.
func (m *Metrics) Verdict(verdict string, distance int) {
	if m == nil {
		return
	}
	m.verdicts.WithLabelValues(verdict).Inc()
	m.distance.Observe(float64(distance))
}

// AgentRun records one agent run's usage under the workflow's agent name.
func (m *Metrics) AgentRun(agent string, u agentorg.Usage) {
	if m == nil {
		return
	}
	m.agentRuns.WithLabelValues(agent).Inc()
	m.tokens.WithLabelValues(agent, "input").Add(float64(max(u.InputTokens, 0)))
	m.tokens.WithLabelValues(agent, "cached").Add(float64(max(u.CachedTokens, 0)))
	m.tokens.WithLabelValues(agent, "output").Add(float64(max(u.OutputTokens, 0)))
	m.cost.WithLabelValues(agent).Add(max(u.CostUSD, 0))
}

// TrackerRequest records one HTTP request to a tracker's API: its status
// code, or 0 when no response came.
func (m *Metrics) TrackerRequest(tracker, method string, code int) {
	if m == nil {
		return
	}
	c := "error"
	if code > 0 {
		c = strconv.Itoa(code)
	}
	m.trackerRequests.WithLabelValues(tracker, method, c).Inc()
}

// RateLimitWait records a wait for a tracker's rate limit.
func (m *Metrics) RateLimitWait(tracker string, d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.rateWaits.WithLabelValues(tracker).Inc()
	m.rateWaitSeconds.WithLabelValues(tracker).Add(d.Seconds())
}

// Merge train outcomes (MergeTrain's outcome).
const (
	TrainMerged      = "merged"       // the cars left in the train merged
	TrainTargetMoved = "target_moved" // the target moved under it: built again
	TrainNoneLeft    = "none_left"    // every car left the train in validation
	TrainError       = "error"
)

// MergeTrain records one merge train: how many cars it was built with,
// how long it took and how it ended.
func (m *Metrics) MergeTrain(cars int, d time.Duration, outcome string) {
	if m == nil {
		return
	}
	m.trainCars.Observe(float64(cars))
	m.trainDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// E2E results (E2E's result).
const (
	E2EPassed = "passed"
	E2EFailed = "failed"
	E2EFlaky  = "flaky"
)

// E2E records the result of an E2E run on the target.
func (m *Metrics) E2E(result string) {
	if m == nil {
		return
	}
	m.e2e.WithLabelValues(result).Inc()
}

// Reaped records a dead claim released and the processes killed for it.
func (m *Metrics) Reaped(processes int) {
	if m == nil {
		return
	}
	m.reapedClaims.Inc()
	m.reapedProcesses.Add(float64(max(processes, 0)))
}

// jobsCollector reads the jobs by stage and state at each scrape.
type jobsCollector struct {
	read    func(ctx context.Context) ([]JobCount, error)
	timeout time.Duration
	desc    *prometheus.Desc
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	// A pair given twice would fail the scrape: add them up.
	type key struct{ stage, state string }
	sum := map[key]int{}
	var order []key
	for _, j := range counts {
		k := key{j.Stage, j.State}
		if _, ok := sum[k]; !ok {
			order = append(order, k)
		}
		sum[k] += j.N
	}
	for _, k := range order {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(sum[k]), k.stage, k.state)
	}
}
