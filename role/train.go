package role

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/metrics"
)

// A merge train: every merge request that is ready to merge (at the merge
// stage's label, approved by an allowed human at its validated head, GO) is
// merged in one go instead of one re-validation each. The train stacks them
// on the current target with the forge's own plumbing merge (merge-tree,
// commit-tree), validates the combination once (checks once on the last
// tree, a command criterion once per command, judged criteria per issue on
// that issue's own step), then merges them on the forge in the same order,
// each only onto the target the previous one left. A forge that can
// (agentorg.CommitLander: the embedded one) lands the validated merge
// commits themselves; another merges again, and since merges are
// deterministic it reproduces exactly the validated trees. A
// conflict or an unmet criterion takes that merge request out of the train
// (its own merge run then sends it back to its developer, as the merge
// queue does) and the rest is built and validated again. The other issues'
// own merge runs find their merge request merged and just finish.

// trainMax bounds a train: a failure late in a long train costs a rebuild.
const trainMax = 100

// mergeLock names the lock that makes merge runs into target take turns,
// on every worker (Deps.Locker): merges are serial by design, and two
// trains over the same merge requests would only undo each other's work
// (the target guard keeps that safe, not cheap).
func mergeLock(target string) string { return "merge:" + target }

// car is one merge request in a train.
type car struct {
	issue agentorg.Issue
	mr    agentorg.MergeRequest
	a     eventlog.Attempt // the GO attempt; a.CommitSHA is the MR's head
	below string           // the combination it is merged onto
	above string           // the combination with it merged
}

// runTrain merges as many ready merge requests as it can, own issue first.
// It returns the time spent in checks and the validator agent. Whatever it
// leaves unmerged goes through the merge queue, one at a time.
func runTrain(ctx context.Context, d *Deps, r *Run) (time.Duration, error) {
	guarded, ok := d.Tracker.(agentorg.TargetGuardedMerger)
	if !ok {
		return 0, nil // no way to merge exactly what was validated
	}
	if d.Guard != nil {
		if err := d.Guard(ctx); err != nil {
			return 0, err
		}
	}
	var external time.Duration
	for round := 0; round < 3; round++ {
		began := time.Now()
		cars, err := trainCars(ctx, d, r)
		if err != nil || len(cars) == 0 {
			return external, err
		}
		built := len(cars)
		base, cars, spent, err := buildAndValidate(ctx, d, r, cars)
		external += spent
		if err != nil || len(cars) == 0 {
			d.Metrics.MergeTrain(built, time.Since(began), trainOutcome(err, false, len(cars)))
			return external, err
		}
		moved, err := mergeCars(ctx, d, r, guarded, base, cars)
		d.Metrics.MergeTrain(built, time.Since(began), trainOutcome(err, moved, len(cars)))
		if err != nil || !moved {
			return external, err
		}
		// The target moved under the train: build it again on the new one.
	}
	return external, nil
}

// trainOutcome names how a train ended, for its metrics.
func trainOutcome(err error, moved bool, left int) string {
	switch {
	case err != nil:
		return metrics.TrainError
	case moved:
		return metrics.TrainTargetMoved
	case left == 0:
		return metrics.TrainNoneLeft
	}
	return metrics.TrainMerged
}

// trainCars lists the merge requests ready to merge: own issue first, then
// by issue number.
func trainCars(ctx context.Context, d *Deps, r *Run) ([]car, error) {
	labels := []string{r.Stage.On}
	if r.Stage.Running != "" {
		labels = append(labels, r.Stage.Running)
	}
	issues, err := d.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: labels})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(issues, func(a, b agentorg.Issue) int {
		switch {
		case a.Number == r.Issue.Number:
			return -1
		case b.Number == r.Issue.Number:
			return 1
		}
		return int(a.Number - b.Number)
	})
	target, err := d.Log.Target(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return nil, err
	}
	var cars []car
	for _, is := range issues {
		if len(cars) == trainMax {
			break
		}
		if closedFor(d, target, is.Number) != "" {
			continue // the target is closed to it
		}
		c, ok, err := readyCar(ctx, d, r, is)
		if err != nil {
			return nil, err
		}
		if ok {
			cars = append(cars, c)
		}
	}
	return cars, nil
}

// readyCar reports whether an issue's merge request may join a train: it
// is open, its head is the commit validation said GO on, and the gate's
// approvals hold there (the same rules the engine and the merge stage
// apply). Anything less is left to the issue's own merge run, which says why.
func readyCar(ctx context.Context, d *Deps, r *Run, is agentorg.Issue) (car, bool, error) {
	n := is.Number
	mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
	if errors.Is(err, agentorg.ErrNotFound) {
		return car{}, false, nil
	}
	if err != nil || mr.State != agentorg.MROpen {
		return car{}, false, err
	}
	a, ok, err := d.Log.LastAttempt(ctx, n)
	if err != nil || !ok || a.Verdict != eventlog.GO || a.CommitSHA != mr.HeadSHA {
		return car{}, false, err
	}
	// Another worker may have validated it: its head is on the origin.
	if err := d.haveHead(ctx, n, a.CommitSHA, mr.SourceBranch); err != nil {
		return car{}, false, err
	}
	if g := d.Workflow.GateApproving(r.Stage.On); g != nil {
		approved := false
		if n == r.Issue.Number {
			// The engine checked the label of the run's own issue.
			approved, err = approvedAt(ctx, d, g, mr, a.CommitSHA)
		} else {
			// Another issue's label and approvals, as the engine would
			// decide them (its merge request's head is the GO's commit).
			var f gate.Facts
			var policy []gate.PolicyApproval
			if policy, err = PolicyApprovals(ctx, d.Log, n, g); err != nil {
				return car{}, false, err
			}
			if f, err = gate.Gather(ctx, d.Tracker, d.Workflow, g, n, policy); err == nil {
				approved = gate.Decide(g, f).Holds && f.MR != nil && f.MR.HeadSHA == a.CommitSHA
			}
		}
		if err != nil || !approved {
			return car{}, false, err
		}
	}
	return car{issue: is, mr: mr, a: a}, true, nil
}

// buildAndValidate stacks the cars on the target and validates the
// combination, dropping the cars that conflict or miss a criterion until
// what is left is GO. It returns the target it built on and the cars to
// merge, in order; none when the checks fail on the combination (each
// merge request then goes through the merge queue alone, which finds the
// culprit).
func buildAndValidate(ctx context.Context, d *Deps, r *Run, cars []car) (string, []car, time.Duration, error) {
	var external time.Duration
	if err := d.Mirror.Fetch(ctx); err != nil {
		return "", nil, 0, err
	}
	target := d.Workflow.Repo.TargetBranch
	base, err := d.Mirror.RemoteHead(ctx, target)
	if err != nil {
		return "", nil, 0, err
	}
	vr := *r
	if vs := d.Workflow.StagesWithRole(agentorg.RoleValidator); len(vs) > 0 {
		vr.Stage = vs[0]
	}
	for len(cars) > 0 {
		// Build.
		tip := base
		var kept []car
		for _, c := range cars {
			msg := agentorg.MergeMessage(c.mr.SourceBranch, target, c.mr.Title, c.mr.Number)
			commit, conflicts, err := d.Mirror.MergeCommit(ctx, tip, c.a.CommitSHA, msg, d.Identity)
			if err != nil {
				return "", nil, external, err
			}
			if len(conflicts) > 0 {
				leaveTrain(ctx, d, r, c, fmt.Sprintf("it conflicts with %s and the merge requests ahead of it in %s", target, strings.Join(conflicts, ", ")))
				continue
			}
			c.below, c.above = tip, commit
			tip = commit
			kept = append(kept, c)
		}
		cars = kept
		if len(cars) == 0 {
			return base, nil, external, nil
		}

		// Validate the combination once.
		dir, release, err := d.checkout(ctx, tip)
		if err != nil {
			return "", nil, external, err
		}
		dropped, spent, err := validateTrain(ctx, d, &vr, dir, base, tip, cars)
		external += spent
		if rerr := release(); err == nil && rerr != nil {
			err = rerr
		}
		if err != nil {
			return "", nil, external, err
		}
		if dropped == nil {
			return base, cars, external, nil
		}
		if len(dropped) == 0 {
			return base, nil, external, nil // the checks failed
		}
		cars = slices.DeleteFunc(cars, func(c car) bool { return slices.Contains(dropped, c.issue.Number) })
	}
	return base, nil, external, nil
}

// validateTrain validates the combination tip of cars, checked out in dir.
// It returns nil when all is GO, the issues whose criteria are not all met,
// or an empty list when the checks failed (nobody in particular to blame).
func validateTrain(ctx context.Context, d *Deps, vr *Run, dir, base, tip string, cars []car) ([]int64, time.Duration, error) {
	var external time.Duration
	tr, err := d.openTranscript(vr.ID)
	if err != nil {
		return nil, 0, err
	}
	defer tr.Close()
	tree, err := d.Mirror.Tree(ctx, tip)
	if err != nil {
		return nil, external, err
	}
	runner := checkRunner{d: d, tree: tree, dir: dir, log: tr}
	var results []check.Result
	cached := map[string]bool{}
	for _, c := range d.Workflow.Checks {
		res, err := runner.run(ctx, check.Check{Name: c.Name, Run: c.Run, Timeout: c.Timeout, Started: vr.OnStart})
		if err != nil {
			return nil, external, err
		}
		results = append(results, res.Result)
		cached[res.Name] = res.Cached
	}
	passed := true
	var table strings.Builder
	for _, res := range results {
		status, mark := agentorg.CheckPassed, "passed"
		if !cached[res.Name] {
			external += res.Duration
		} else {
			mark += " (cached: same tree)"
		}
		if !res.Passed {
			status, mark, passed = agentorg.CheckFailed, "FAILED: "+res.Reason, false
		}
		fmt.Fprintf(&table, "| `%s` | %s | %s |\n", res.Name, mark, res.Duration.Round(time.Millisecond))
		if err := d.Tracker.SetCheck(ctx, agentorg.CheckResult{SHA: tip, Name: res.Name, Status: status,
			Output: res.Output, Duration: res.Duration, At: time.Now()}); err != nil {
			return nil, external, err
		}
	}
	numbers := make([]string, len(cars))
	for i, c := range cars {
		numbers[i] = fmt.Sprintf("#%d", c.issue.Number)
	}
	train := strings.Join(numbers, ", ")
	if !passed {
		for _, c := range cars {
			_ = d.Log.Record(ctx, eventlog.Event{Issue: c.issue.Number, Stage: vr.Stage.Name, RunID: vr.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindUpdate,
				Reason: fmt.Sprintf("merge train %s on %s failed its checks at %s; each merge request is merged alone instead", train, short(base), short(tip))})
		}
		return []int64{}, external, nil
	}
	var dropped []int64
	for _, c := range cars {
		cr := *vr
		cr.Issue = c.issue
		plan, err := Plan(ctx, d.Tracker, c.issue.Number)
		if err != nil {
			return nil, external, err
		}
		crits, source := criteria.FromIssueOrPlan(c.issue.Body, plan)
		diff := func() (string, error) { return d.Mirror.Diff(ctx, c.below, c.above) }
		verdicts, spent, err := judge(ctx, d, &cr, c.a.N, runner, diff, crits, results, tr)
		external += spent
		if err != nil {
			return nil, external, err
		}
		var unmet []string
		for _, v := range verdicts {
			if v.Verdict != criteria.Met {
				unmet = append(unmet, fmt.Sprint(v.ID))
			}
		}
		if len(unmet) > 0 {
			dropped = append(dropped, c.issue.Number)
			leaveTrain(ctx, d, vr, c, fmt.Sprintf("criteria %s are not met on the combination", strings.Join(unmet, ", ")))
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "## Validated in a merge train: **GO**\n\nMerge request !%d at `%s`, merged in order with %s on top of %s at `%s`, as `%s`; checked out clean at `%s` (the whole train).\n\n| check | result | time |\n|---|---|---|\n%s",
			c.mr.Number, short(c.a.CommitSHA), train, d.Workflow.Repo.TargetBranch, short(base), short(c.above), short(tip), table.String())
		if len(verdicts) > 0 {
			fmt.Fprintf(&b, "\n### Acceptance criteria (from the %s)\n\n%s", source, criteria.Table(verdicts))
		}
		if _, err := d.Tracker.UpsertComment(ctx, c.issue.Number, fmt.Sprintf("train:%d", c.issue.Number), b.String(), d.Workflow.Tracker.Bot); err != nil {
			return nil, external, err
		}
	}
	return dropped, external, nil
}

// leaveTrain records why a merge request left the train; its own merge run
// deals with it through the merge queue.
func leaveTrain(ctx context.Context, d *Deps, r *Run, c car, why string) {
	_ = d.Log.Record(ctx, eventlog.Event{Issue: c.issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindUpdate,
		Reason: fmt.Sprintf("merge request !%d left the merge train: %s; it is validated again alone", c.mr.Number, why)})
}

// mergeCars merges the validated cars in order, each onto the target the
// one before left. moved reports that the target moved under the train
// (someone else merged): the rest must be built and validated again.
func mergeCars(ctx context.Context, d *Deps, r *Run, guarded agentorg.TargetGuardedMerger, base string, cars []car) (moved bool, err error) {
	expected := base
	bot := d.Workflow.Tracker.Bot
	// A forge that can land the validated merge commits is sent them all
	// at once, and each merge is then only a move of the target.
	lander, land := d.Tracker.(agentorg.CommitLander)
	if land {
		if err := d.Mirror.SendObjects(ctx, cars[len(cars)-1].above); err != nil {
			if !errors.Is(err, errors.ErrUnsupported) {
				return false, err
			}
			land = false
		}
	}
	for _, c := range cars {
		var merged agentorg.MergeRequest
		var err error
		if land {
			merged, err = lander.LandMR(ctx, c.mr.Number, c.a.CommitSHA, expected, c.above, bot)
		} else {
			merged, err = guarded.MergeMRAt(ctx, c.mr.Number, c.a.CommitSHA, expected, bot)
		}
		if errors.Is(err, agentorg.ErrTargetMoved) {
			return true, nil
		}
		if errors.Is(err, agentorg.ErrHeadMoved) || errors.Is(err, agentorg.ErrConflict) || errors.Is(err, agentorg.ErrNotMergeable) {
			// Changed under the train: the cars behind it were validated
			// on a combination that will not exist. Their own runs go on.
			leaveTrain(ctx, d, r, c, fmt.Sprintf("its merge was refused: %v", err))
			return false, nil
		}
		if err != nil {
			return false, err
		}
		_ = d.Log.Record(ctx, eventlog.Event{Issue: c.issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindMerge,
			Reason: fmt.Sprintf("merged !%d at %s into %s in a merge train (validated as %s)", c.mr.Number, short(c.a.CommitSHA), merged.TargetBranch, short(c.above)),
			Data:   map[string]string{"mr": fmt.Sprint(c.mr.Number), "merge_sha": merged.MergeSHA, "train": r.ID}})
		expected = merged.MergeSHA
	}
	return false, nil
}
