// Package bench drives N issues through the whole lifecycle on the embedded
// tracker with a no-op agent and trivial checks, and reports the
// orchestrator's own cost: issues per second, and time per issue with the
// agents and checks taken out.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/workflow"
)

// Options configure a benchmark run.
type Options struct {
	Issues      int
	Concurrency int // workers per stage (merges take turns inside the merge role)
	Out         io.Writer
	Keep        string // keep the state here; empty: a temporary directory
}

// Result is what a run measured.
type Result struct {
	Issues       int
	Wall         time.Duration
	PerSecond    float64
	OrchMedian   time.Duration // orchestrator time per issue
	OrchP95      time.Duration
	ExternalMean time.Duration // agent + check time per issue, for reference
}

// noop is an agent that answers at once: the PM with a one-line plan, the
// developer with one new file, so validation has a real commit to check, and
// the validator with the plan's one criterion met.
type noop struct{}

func (noop) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	return noop{}.Resume(ctx, fmt.Sprintf("noop-%d", t.Issue), t)
}

func (noop) Resume(_ context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	if t.Access == agentorg.ReadWrite {
		p := filepath.Join(t.Dir, "bench", fmt.Sprintf("issue-%d.txt", t.Issue))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return agentorg.Result{}, err
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("attempt %d\n", t.Attempt)), 0o644); err != nil {
			return agentorg.Result{}, err
		}
	}
	if t.Role == agentorg.RoleValidator {
		return agentorg.Result{SessionID: session, Summary: "```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"the file exists\"}]}\n```"}, nil
	}
	return agentorg.Result{SessionID: session, Summary: "Done.\n\n## Acceptance criteria\n- [ ] it exists"}, nil
}

// benchRepo makes the benchmark's directory (keep, else a temporary one
// that cleanup removes) and in it a sample repository whose workflow has
// the no-op agent and checks that pass ('true'). It returns the directory
// and the workflow's path.
func benchRepo(ctx context.Context, keep string) (dir, wfPath string, cleanup func(), err error) {
	dir, cleanup = keep, func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "agentorg-bench-"); err != nil {
			return "", "", nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	wfOpts := workflow.DefaultOptions{
		Approvers: []string{"bench"}, TargetBranch: "main", RepoURL: "../origin.git", Check: "true", E2E: "true",
		AgentCommand: []string{"noop"},
	}
	if _, err := sandbox.Available(); err != nil {
		wfOpts.Confinement = workflow.ConfinementOff // measure the rest where the kernel cannot confine
	}
	repo, _, err := sample.Make(ctx, filepath.Join(dir, "sample"), map[string]string{workflow.DefaultPath: string(workflow.Default(wfOpts))})
	if err != nil {
		cleanup()
		return "", "", nil, err
	}
	return dir, filepath.Join(repo, workflow.DefaultPath), cleanup, nil
}

// Run runs the benchmark.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Issues <= 0 {
		return Result{}, fmt.Errorf("bench: need at least one issue")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	dir, wfPath, cleanup, err := benchRepo(ctx, o.Keep)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	org, err := app.Open(ctx, app.Options{Home: filepath.Join(dir, "home"), Workflow: wfPath})
	if err != nil {
		return Result{}, err
	}
	defer org.Close()
	// Merge too: merges take turns inside the merge role, and the runs of
	// the issues a merge train merged only finish them, side by side.
	for i := range org.Workflow.Stages {
		org.Workflow.Stages[i].Concurrency = o.Concurrency
	}
	agents := map[string]agentorg.Agent{}
	for _, a := range org.Workflow.Agents {
		agents[a.Name] = noop{}
	}
	eng, err := org.Engine(ctx, app.EngineOptions{Agents: agents})
	if err != nil {
		return Result{}, err
	}
	if err := eng.Start(ctx); err != nil {
		return Result{}, err
	}
	defer eng.Stop(context.WithoutCancel(ctx))

	fmt.Fprintf(out, "bench: %d issues, %d workers per stage, on %s\n", o.Issues, o.Concurrency, Machine())
	start := time.Now()
	for i := 0; i < o.Issues; i++ {
		is, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("Bench issue %d", i+1), Author: "bench"})
		if err != nil {
			return Result{}, err
		}
		if err := org.Desk.OptIn(ctx, is.Number, "bench"); err != nil {
			return Result{}, err
		}
	}
	// Three rounds: plans, then merge requests wait for the human.
	for round := 0; round < 3; round++ {
		if err := eng.RunUntilIdle(ctx); err != nil {
			return Result{}, err
		}
		if round == 2 {
			break
		}
		waiting, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: waitLabels(org.Workflow)})
		if err != nil {
			return Result{}, err
		}
		for _, is := range waiting {
			if _, err := org.Desk.Approve(ctx, is.Number, "bench"); err != nil {
				return Result{}, err
			}
		}
		fmt.Fprintf(out, "  %6.1fs  round %d done, %d approvals\n", time.Since(start).Seconds(), round+1, len(waiting))
	}
	wall := time.Since(start)

	done := org.Workflow.StagesWithRole(agentorg.RoleE2E)[0].Success
	finished, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: []string{done}})
	if err != nil {
		return Result{}, err
	}
	if len(finished) != o.Issues {
		return Result{}, fmt.Errorf("bench: only %d of %d issues reached %s; see %s", len(finished), o.Issues, done, dir)
	}
	evs, err := org.Log.Events(ctx, eventlog.Filter{Kind: eventlog.KindTransition})
	if err != nil {
		return Result{}, err
	}
	orch := map[int64]time.Duration{}
	var external time.Duration
	for _, e := range evs {
		w, okW := msValue(e.Data["work_ms"])
		x, okX := msValue(e.Data["external_ms"])
		if okW && okX {
			orch[e.Issue] += w - x
			external += x
		}
	}
	var per []time.Duration
	for _, d := range orch {
		per = append(per, d)
	}
	slices.Sort(per)
	r := Result{
		Issues:       o.Issues,
		Wall:         wall,
		PerSecond:    float64(o.Issues) / wall.Seconds(),
		OrchMedian:   percentile(per, 50),
		OrchP95:      percentile(per, 95),
		ExternalMean: external / time.Duration(o.Issues),
	}
	fmt.Fprintf(out, "issues: %d in %.1fs = %.1f issues/s\norchestrator time per issue (agent and checks excluded): median %s, p95 %s\nagent + check time per issue (mean): %s\n",
		r.Issues, r.Wall.Seconds(), r.PerSecond, r.OrchMedian.Round(time.Microsecond*100), r.OrchP95.Round(time.Microsecond*100), r.ExternalMean.Round(time.Microsecond*100))
	return r, nil
}

func waitLabels(wf *workflow.Workflow) []string {
	var ls []string
	for _, g := range wf.Gates {
		ls = append(ls, g.Waits)
	}
	return ls
}

func msValue(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(f * float64(time.Millisecond)), true
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// Machine describes this machine for the report.
func Machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					model = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	return fmt.Sprintf("%d cores %s/%s %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, model)
}
