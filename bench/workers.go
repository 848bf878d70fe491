package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/store"
)

// WorkersOptions configure a run of many workers on one PostgreSQL
// database: K `agentorg bench --worker` processes, each a serve with the
// no-op agent and a home of its own, while this process plays the humans.
type WorkersOptions struct {
	Issues      int
	Workers     int
	Concurrency int    // workers per stage in each process
	Database    string // a postgres:// URL of an empty database
	Binary      string // the agentorg binary the workers run
	Out         io.Writer
	Keep        string
	// Chaos kills a random worker with SIGKILL every KillEvery (and starts
	// it again on its home), and runs RestartDB once, halfway.
	Chaos     bool
	KillEvery time.Duration
	RestartDB []string
	// Timeout bounds the whole run (0: an hour).
	Timeout time.Duration
}

// WorkersResult is what a run of many workers measured.
type WorkersResult struct {
	Issues       int
	Workers      int
	Wall         time.Duration
	PerSecond    float64
	Claims       int
	ClaimsPerSec float64
	LatencyP50   time.Duration // label change to the stage's claim
	LatencyP95   time.Duration
	DoubleClaims int
	Kills        int
	DBRestarts   int
	// WorkerRestarts are workers that stopped on their own (under chaos:
	// while the database restarted) and were started again.
	WorkerRestarts int
}

// RunWorkers runs the benchmark with o.Workers worker processes.
func RunWorkers(ctx context.Context, o WorkersOptions) (WorkersResult, error) {
	switch {
	case o.Issues <= 0:
		return WorkersResult{}, errors.New("bench: need at least one issue")
	case o.Workers <= 0:
		return WorkersResult{}, errors.New("bench: need at least one worker")
	case !store.IsURL(o.Database):
		return WorkersResult{}, errors.New("bench: --workers runs on a shared PostgreSQL database: give --database postgres://…")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Hour
	}
	if o.KillEvery <= 0 {
		o.KillEvery = 3 * time.Second
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	dir, wfPath, cleanup, err := benchRepo(ctx, o.Keep)
	if err != nil {
		return WorkersResult{}, err
	}
	defer cleanup()
	org, err := app.Open(ctx, app.Options{Home: filepath.Join(dir, "driver"), Workflow: wfPath, Database: o.Database})
	if err != nil {
		return WorkersResult{}, err
	}
	defer org.Close()
	if old, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{}); err != nil {
		return WorkersResult{}, err
	} else if len(old) > 0 {
		return WorkersResult{}, fmt.Errorf("bench: the database %s already has %d issues: give the bench an empty one", org.Store.Where, len(old))
	}

	ws := &workerSet{binary: o.Binary, dir: dir, wf: wfPath, database: o.Database, concurrency: o.Concurrency, out: out}
	defer ws.stopAll()
	for i := range o.Workers {
		if err := ws.start(i); err != nil {
			return WorkersResult{}, err
		}
	}
	fmt.Fprintf(out, "bench: %d issues, %d worker processes (%d per stage each), on %s, PostgreSQL %s\n",
		o.Issues, o.Workers, o.Concurrency, Machine(), org.Store.Where)
	start := time.Now()
	for i := range o.Issues {
		is, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: fmt.Sprintf("Bench issue %d", i+1), Author: "bench"})
		if err != nil {
			return WorkersResult{}, err
		}
		if err := org.Desk.OptIn(ctx, is.Number, "bench"); err != nil {
			return WorkersResult{}, err
		}
	}
	done := org.Workflow.StagesWithRole(agentorg.RoleE2E)[0].Success
	var r WorkersResult
	nextKill := time.Now().Add(o.KillEvery)
	restarted := !o.Chaos || len(o.RestartDB) == 0
	lastReport := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("the issues did not all finish in %s", o.Timeout)
			}
			return r, fmt.Errorf("bench: %w: see %s", err, dir)
		}
		finished, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: []string{done}})
		if err != nil && !o.Chaos {
			return r, err
		}
		if err == nil && len(finished) == o.Issues {
			break
		}
		if err := approveWaiting(ctx, org); err != nil && !o.Chaos {
			return r, err
		}
		if err := ws.failed(o.Chaos); err != nil {
			return r, err
		}
		if o.Chaos && time.Now().After(nextKill) {
			if err := ws.killOne(); err != nil {
				return r, err
			}
			r.Kills++
			nextKill = time.Now().Add(o.KillEvery)
		}
		if !restarted && len(finished) >= o.Issues/2 {
			fmt.Fprintf(out, "  %6.1fs  restarting the database: %s\n", time.Since(start).Seconds(), strings.Join(o.RestartDB, " "))
			if err := restartDB(ctx, dir, o.RestartDB); err != nil {
				return r, err
			}
			restarted = true
			r.DBRestarts++
		}
		if time.Since(lastReport) > 10*time.Second {
			fmt.Fprintf(out, "  %6.1fs  %d of %d issues done\n", time.Since(start).Seconds(), len(finished), o.Issues)
			lastReport = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.Wall = time.Since(start)
	r.WorkerRestarts = ws.restarts
	ws.stopAll()
	if err := measureWorkers(ctx, org, &r); err != nil {
		return r, err
	}

	r.Issues, r.Workers = o.Issues, o.Workers
	r.PerSecond = float64(r.Issues) / r.Wall.Seconds()
	r.ClaimsPerSec = float64(r.Claims) / r.Wall.Seconds()
	fmt.Fprintf(out, "issues: %d in %.1fs = %.1f issues/s with %d workers\nclaims: %d = %.1f claims/s\nlabel change to stage start: p50 %s, p95 %s\ndouble claims: %d\n",
		r.Issues, r.Wall.Seconds(), r.PerSecond, r.Workers, r.Claims, r.ClaimsPerSec,
		r.LatencyP50.Round(time.Millisecond), r.LatencyP95.Round(time.Millisecond), r.DoubleClaims)
	if o.Chaos {
		fmt.Fprintf(out, "chaos: %d workers killed with SIGKILL, the database restarted %d times, %d workers stopped on their own and started again\n",
			r.Kills, r.DBRestarts, r.WorkerRestarts)
	}
	bad, err := audit(ctx, org, dir, o.Issues)
	if err != nil {
		return r, err
	}
	if len(bad) > 0 {
		return r, fmt.Errorf("bench: %d problems:\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
	fmt.Fprintf(out, "audit: every issue has one merge request, merged; no comment twice; no claim and no process left\n")
	return r, nil
}

// approveWaiting approves whatever waits at a gate, as the bench's human.
func approveWaiting(ctx context.Context, org *app.Org) error {
	waiting, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: waitLabels(org.Workflow)})
	if err != nil {
		return err
	}
	for _, is := range waiting {
		if _, err := org.Desk.Approve(ctx, is.Number, "bench"); err != nil {
			// The engine may have moved it on meanwhile; the next look
			// approves what still waits.
			continue
		}
	}
	return nil
}

// measureWorkers reads what the run did from the database: the claims
// (stage runs started), how long each waited after the label change that
// called for it, and runs of one stage on one issue that overlapped.
func measureWorkers(ctx context.Context, org *app.Org, r *WorkersResult) error {
	evs, err := org.Log.Events(ctx, eventlog.Filter{})
	if err != nil {
		return err
	}
	onLabel := map[string]string{} // stage -> the label that calls for it
	for _, st := range org.Workflow.Stages {
		onLabel[st.Name] = st.On
	}
	// When each issue got each label, in order.
	type got struct {
		label string
		at    time.Time
	}
	reached := map[int64][]got{}
	for _, e := range evs {
		if e.To != "" {
			reached[e.Issue] = append(reached[e.Issue], got{e.To, e.At})
		}
	}
	claims, err := engine.ClaimLog(ctx, org.DB)
	if err != nil {
		return err
	}
	var lat []time.Duration
	for _, c := range claims {
		r.Claims++
		// The last time before the claim the issue got the stage's label.
		var since time.Time
		for _, g := range reached[c.Issue] {
			if g.at.After(c.Started) {
				break
			}
			if g.label == onLabel[c.Stage] {
				since = g.at
			}
		}
		if !since.IsZero() {
			lat = append(lat, c.Started.Sub(since))
		}
	}
	slices.Sort(lat)
	r.LatencyP50, r.LatencyP95 = percentile(lat, 50), percentile(lat, 95)
	r.DoubleClaims, err = engine.DoubleClaims(ctx, org.DB)
	return err
}

// workerSet is the worker processes.
type workerSet struct {
	binary, dir, wf, database string
	concurrency               int
	out                       io.Writer
	procs                     []*exec.Cmd
	exited                    []chan error
	killed                    []bool
	restarts                  int // workers that stopped on their own and were started again
}

func (s *workerSet) home(i int) string { return filepath.Join(s.dir, "worker-"+strconv.Itoa(i)) }

func (s *workerSet) start(i int) error {
	cmd := exec.Command(s.binary, "bench", "--worker", "--home", s.home(i), "--workflow", s.wf,
		"--database", s.database, "--concurrency", strconv.Itoa(s.concurrency))
	logf, err := os.OpenFile(filepath.Join(s.dir, fmt.Sprintf("worker-%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("bench: start worker %d: %w", i, err)
	}
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait(); logf.Close() }()
	for len(s.procs) <= i {
		s.procs, s.exited, s.killed = append(s.procs, nil), append(s.exited, nil), append(s.killed, false)
	}
	s.procs[i], s.exited[i], s.killed[i] = cmd, ch, false
	return nil
}

// failed says whether a worker stopped that nobody killed. Under chaos a
// worker may stop on its own while the database restarts (it cannot start
// without one): it is said and started again.
func (s *workerSet) failed(chaos bool) error {
	for i, ch := range s.exited {
		select {
		case err := <-ch:
			if s.killed[i] {
				continue
			}
			log := filepath.Join(s.dir, fmt.Sprintf("worker-%d.log", i))
			if !chaos {
				return fmt.Errorf("bench: worker %d stopped on its own (%v): see %s", i, err, log)
			}
			fmt.Fprintf(s.out, "  worker %d stopped on its own (%v, see %s): started again\n", i, err, log)
			s.restarts++
			if err := s.start(i); err != nil {
				return err
			}
		default:
		}
	}
	return nil
}

// restartDB runs the command that restarts the database, its output to a
// file: the server it starts keeps the descriptors it inherits, so a pipe
// would never close.
func restartDB(ctx context.Context, dir string, command []string) error {
	logPath := filepath.Join(dir, "restart-db.log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: restart the database (%s): %v: see %s", strings.Join(command, " "), err, logPath)
	}
	return nil
}

// killOne kills a random worker's process group with SIGKILL (the worker
// and its agents' and checks' processes, as a host failure would) and
// starts it again on the same home.
func (s *workerSet) killOne() error {
	i := rand.IntN(len(s.procs))
	s.killed[i] = true
	syscall.Kill(-s.procs[i].Process.Pid, syscall.SIGKILL)
	<-s.exited[i]
	fmt.Fprintf(s.out, "  killed worker %d (pid %d)\n", i, s.procs[i].Process.Pid)
	return s.start(i)
}

// stopAll stops every worker: SIGTERM, then SIGKILL after a while.
func (s *workerSet) stopAll() {
	for i, cmd := range s.procs {
		if cmd == nil || s.killed[i] && cmd.ProcessState != nil {
			continue
		}
		cmd.Process.Signal(syscall.SIGTERM)
	}
	for i, ch := range s.exited {
		if s.procs[i] == nil {
			continue
		}
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			syscall.Kill(-s.procs[i].Process.Pid, syscall.SIGKILL)
			<-ch
		}
		s.procs[i] = nil
	}
}

// Worker is one worker process of RunWorkers: an engine on home over the
// shared database, with the no-op agent, serving until ctx ends.
func Worker(ctx context.Context, home, wfPath, database string, concurrency int) error {
	org, err := app.Open(ctx, app.Options{Home: home, Workflow: wfPath, Database: database})
	if err != nil {
		return err
	}
	defer org.Close()
	for i := range org.Workflow.Stages {
		org.Workflow.Stages[i].Concurrency = concurrency
	}
	agents := map[string]agentorg.Agent{}
	for _, a := range org.Workflow.Agents {
		agents[a.Name] = noop{}
	}
	eng, err := org.Engine(ctx, app.EngineOptions{Agents: agents, PollInterval: 250 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	err = eng.Serve(ctx, nil)
	return errors.Join(err, eng.Stop(context.Background()))
}

// audit checks that every issue ended exactly once: one merge request,
// merged; no comment posted twice; no claim left; no process of the run's
// left running. It returns what it found wrong.
func audit(ctx context.Context, org *app.Org, dir string, issues int) ([]string, error) {
	var bad []string
	mrs, err := org.Tracker.ListMRs(ctx, agentorg.MRFilter{})
	if err != nil {
		return nil, err
	}
	perIssue := map[int64][]agentorg.MergeRequest{}
	for _, m := range mrs {
		perIssue[m.Issue] = append(perIssue[m.Issue], m)
	}
	for n := int64(1); n <= int64(issues); n++ {
		ms := perIssue[n]
		if len(ms) != 1 {
			bad = append(bad, fmt.Sprintf("#%d has %d merge requests", n, len(ms)))
		} else if ms[0].State != agentorg.MRMerged {
			bad = append(bad, fmt.Sprintf("#%d: merge request !%d is %s", n, ms[0].Number, ms[0].State))
		}
		cs, err := org.Tracker.Comments(ctx, n)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if seen[c.Body] {
				bad = append(bad, fmt.Sprintf("#%d: a comment was posted twice: %.80q", n, c.Body))
				break
			}
			seen[c.Body] = true
		}
	}
	claims, err := engine.Claims(ctx, org.DB)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		bad = append(bad, fmt.Sprintf("claim left: job %d, #%d %s", c.Job, c.Issue, c.Stage))
	}
	for _, p := range processesUnder(dir) {
		bad = append(bad, "process left: "+p)
	}
	return bad, nil
}

// processesUnder lists the processes (pid and command line) whose command
// line names dir: the workers' and their agents' and checks'.
func processesUnder(dir string) []string {
	var out []string
	mine := ancestors()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || mine[pid] {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")))
	}
	return out
}

// ancestors are this process and those that started it (a shell, timeout),
// whose command lines may name the run's directory too.
func ancestors() map[int]bool {
	out := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !out[pid]; {
		out[pid] = true
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			break
		}
		// The fields after the command's closing parenthesis: state, ppid.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 2 {
			break
		}
		if pid, err = strconv.Atoi(f[1]); err != nil {
			break
		}
	}
	return out
}
