package engine

import (
	"context"
	"testing"

	"github.com/agentorg/agentorg/metrics"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// The jobs metric lists every state of every stage, zero when empty, on a
// home where no engine ever ran too, and counts the jobs there are.
func TestMetricsJobCounts(t *testing.T) { eachDialect(t, testMetricsJobCounts) }

func testMetricsJobCounts(t *testing.T, d store.Dialect) {
	ctx := context.Background()
	fresh := storetest.Open(t, d).SQL
	counts, err := JobCounts(ctx, fresh, []string{"plan", "develop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) < 2*7 {
		t.Fatalf("%d counts for two stages on a fresh home: %+v", len(counts), counts)
	}
	for _, c := range counts {
		if c.N != 0 {
			t.Fatalf("a fresh home has jobs: %+v", c)
		}
	}

	e, db := bareEngine(t, t.TempDir(), d)
	for _, a := range []StageArgs{{Issue: 1, Stage: "develop"}, {Issue: 2, Stage: "develop"}, {Issue: 1, Stage: "gone"}} {
		job, err := e.client.Insert(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.Issue == 2 {
			handOut(t, db, job.Job.ID)
		}
	}
	counts, err = JobCounts(ctx, db, []string{"plan", "develop"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]string]int{}
	for _, c := range counts {
		got[[2]string{c.Stage, c.State}] += c.N
	}
	for k, want := range map[[2]string]int{{"develop", "available"}: 1, {"develop", "running"}: 1, {"plan", "running"}: 0, {"gone", "available"}: 1} {
		if n, ok := got[k]; !ok || n != want {
			t.Errorf("%v: %d (listed %v), want %d", k, n, ok, want)
		}
	}
}

// A dead claim released at start counts as reaped, with the processes
// killed for it (none here: it had started nothing).
func TestMetricsReapedClaims(t *testing.T) { eachDialect(t, testMetricsReapedClaims) }

func testMetricsReapedClaims(t *testing.T, d store.Dialect) {
	ctx := context.Background()
	e, db := bareEngine(t, t.TempDir(), d)
	m := metrics.New(metrics.Options{})
	e.cfg.Metrics = m
	job, err := e.client.Insert(ctx, StageArgs{Issue: 1, Stage: "validate"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	handOut(t, db, job.Job.ID)
	deadClaim(t, e, db, job.Job.ID, 1, "validate", "dead-engine")
	if n, err := e.reapAtStart(ctx); err != nil || n != 1 {
		t.Fatalf("reap: %d, %v", n, err)
	}
	if got := m.Total(metrics.NameReapedClaims); got != 1 {
		t.Fatalf("reaped claims %v, want 1", got)
	}
	if got := m.Total(metrics.NameReapedProcesses); got != 0 {
		t.Fatalf("reaped processes %v, want 0", got)
	}
}
