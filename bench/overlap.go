package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/workflow"
)

// OverlapOptions configure the overlapping-issues benchmark (RunOverlap).
type OverlapOptions struct {
	// Issues is how many issues to run (default 20); the first 2*Pairs
	// come in overlapping pairs, the rest touch files of their own.
	Issues int
	// Pairs is how many pairs of issues change the same line of the same
	// file (default 8).
	Pairs int
	// Concurrency is the workers of every stage (default 4).
	Concurrency int
	// Predict is the workflow's parallel.predict.
	Predict bool
	// Agent is the executable run as `AGENT scripted-agent ...`: the
	// agentorg binary, or a test binary that doubles as the scripted
	// agent. Empty: the running executable.
	Agent string
	Out   io.Writer
	// Keep keeps the state in this directory; empty: a temporary one.
	Keep string
}

// OverlapResult is what one run of RunOverlap measured.
type OverlapResult struct {
	Predict       bool
	Issues, Pairs int
	Concurrency   int
	Confined      bool // agents, checks and E2E ran confined
	// Merged is how many issues merged and passed E2E, Kept how many
	// issues' lines the target holds at the end: a resolution that
	// dropped the other issue's line shows here.
	Merged, Kept int
	// ConflictNOGOs are validations that found the change conflicting
	// with the target (attempts with conflict: findings), and Conflicted
	// the issues that met at least one.
	ConflictNOGOs, Conflicted int
	// TrainDrops are the times a merge request left a merge train (one
	// merge request may leave several trains before its own merge run
	// sends it back), TrainConflicts those for a conflict, and
	// TrainDropped the issues whose merge request left one.
	TrainDrops, TrainConflicts, TrainDropped int
	// DevAttempts are the developer's attempts (engine re-validations left
	// out), ConflictAttempts those that followed a conflict finding: the
	// developer resolving it.
	DevAttempts, ConflictAttempts int
	// Rounds are the times the human approved what waited at a gate.
	Rounds int
	Wall   time.Duration
}

// pairFile and ownFile are the files the benchmark's issues change: pair k
// (1-based) shares one, each issue outside the pairs has its own.
func pairFile(k int) string { return fmt.Sprintf("shared/pair-%02d.txt", k) }
func ownFile(i int) string  { return fmt.Sprintf("own/issue-%02d.txt", i) }

const (
	fileHead  = "# Two issues may change the value below; keep both when they do.\n"
	baseValue = "value = base"
)

// overlapIssue is one issue of the benchmark: its position (1-based), the
// file it changes and, in a pair, its partner's position.
type overlapIssue struct {
	pos, partner int
	file         string
}

func overlapLayout(issues, pairs int) []overlapIssue {
	out := make([]overlapIssue, issues)
	for i := range out {
		pos := i + 1
		switch {
		case pos <= pairs:
			out[i] = overlapIssue{pos: pos, partner: pos + pairs, file: pairFile(pos)}
		case pos <= 2*pairs:
			out[i] = overlapIssue{pos: pos, partner: pos - pairs, file: pairFile(pos - pairs)}
		default:
			out[i] = overlapIssue{pos: pos, file: ownFile(pos)}
		}
	}
	return out
}

// value is the line issue n adds at the end of its file.
func value(n int64) string { return fmt.Sprintf("value = #%d", n) }

// overlapScript is the scripted agent's script: the PM plans each issue
// with its file in the plan's Intent block and a command criterion that
// the issue's line is there; the developer adds its line at the end of the
// file (two issues of a pair adding theirs in parallel conflict; one after
// the other do not); told of a conflict, it writes both issues' lines, in
// issue order, which is what either side of a pair writes.
func overlapScript(layout []overlapIssue, numbers []int64) string {
	var b strings.Builder
	b.WriteString("# The scripted agent's script for agentorg bench --overlap.\nsteps:\n")
	for i, is := range layout {
		n := numbers[i]
		criterion := fmt.Sprintf("`grep -qx '%s' %s` passes", value(n), is.file)
		plan := fmt.Sprintf("1. Add the line %q at the end of %s.\n\n## Acceptance criteria\n- [ ] %s\n\n## Intent\n- files: %s\n",
			value(n), is.file, criterion, is.file)
		fmt.Fprintf(&b, "  - match: {role: pm, issue: %d}\n    summary: %s\n", n, yamlString(plan))
		if is.partner != 0 {
			lo, hi := n, numbers[is.partner-1]
			if hi < lo {
				lo, hi = hi, lo
			}
			both := fileHead + baseValue + "\n" + value(lo) + "\n" + value(hi) + "\n"
			fmt.Fprintf(&b, "  - match: {role: developer, issue: %d, prompt: \"conflicts with your change\"}\n"+
				"    actions:\n      - write: {path: %s, content: %s}\n"+
				"    summary: %s\n", n, is.file, yamlString(both),
				yamlString(fmt.Sprintf("Resolved the conflict in %s: kept #%d's value and #%d's, one line each.", is.file, lo, hi)))
		}
		fmt.Fprintf(&b, "  - match: {role: developer, issue: %d}\n"+
			"    actions:\n      - append: {path: %s, content: %s}\n"+
			"    summary: %s\n", n, is.file, yamlString(value(n)+"\n"),
			yamlString(fmt.Sprintf("Added this issue's value to %s.", is.file)))
	}
	// Every criterion is a command; should the validator agent be asked
	// anyway, it judges the one criterion met.
	b.WriteString("  - match: {role: validator}\n    summary: " + yamlString("The value is set.\n\n```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"the line is in the file\"}]}\n```\n") + "\n")
	return b.String()
}

// yamlString quotes s for YAML: a double-quoted scalar, which JSON's
// string escapes are valid in.
func yamlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// RunOverlap runs the overlapping-issues benchmark once: o.Issues issues on
// a sample repository where o.Pairs pairs change the same line of the same
// file, the scripted agent doing the work for real, with the workflow's
// parallel.predict set to o.Predict; the human (played here) approves
// whatever waits at a gate, round after round, until nothing does.
func RunOverlap(ctx context.Context, o OverlapOptions) (OverlapResult, error) {
	if o.Issues == 0 {
		o.Issues = 20
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Pairs < 0 || 2*o.Pairs > o.Issues {
		return OverlapResult{}, fmt.Errorf("bench: %d pairs do not fit in %d issues", o.Pairs, o.Issues)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	exe := o.Agent
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return OverlapResult{}, err
		}
	}
	dir := o.Keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "agentorg-bench-overlap-")
		if err != nil {
			return OverlapResult{}, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return OverlapResult{}, err
	}
	layout := overlapLayout(o.Issues, o.Pairs)
	script := filepath.Join(dir, "script.yaml")
	sessions := filepath.Join(dir, "sessions")
	if err := os.MkdirAll(sessions, 0o755); err != nil {
		return OverlapResult{}, err
	}
	wfOpts := workflow.DefaultOptions{
		Approvers: []string{"bench"}, TargetBranch: "main", RepoURL: "../origin.git",
		// No file may keep a conflict's markers.
		Check: "! grep -rIlE '^(<<<<<<<|>>>>>>>) ' --exclude-dir=.git .", E2E: "true",
		AgentCommand: []string{exe, "scripted-agent", "--script", script, "--state", sessions},
		Agent:        workflow.AgentOptions{Writable: []string{sessions + "/", script}},
	}
	r := OverlapResult{Predict: o.Predict, Issues: o.Issues, Pairs: o.Pairs, Concurrency: o.Concurrency, Confined: true}
	if _, err := sandbox.Available(); err != nil {
		wfOpts.Confinement = workflow.ConfinementOff // as bench: measure the rest where the kernel cannot confine
		r.Confined = false
	}
	wfText := string(workflow.Default(wfOpts))
	const predictOn = "\n  predict: true\n"
	if !strings.Contains(wfText, predictOn) {
		return r, fmt.Errorf("bench: the default workflow has no %q line to set", strings.TrimSpace(predictOn))
	}
	wfText = strings.Replace(wfText, predictOn, fmt.Sprintf("\n  predict: %t\n", o.Predict), 1)
	files := map[string]string{workflow.DefaultPath: wfText, ".agentorg/.gitignore": "/state\n"}
	for _, is := range layout {
		files[is.file] = fileHead + baseValue + "\n"
	}
	repo, origin, err := sample.Make(ctx, filepath.Join(dir, "sample"), files)
	if err != nil {
		return r, err
	}
	org, err := app.Open(ctx, app.Options{Home: filepath.Join(dir, "home"), Workflow: filepath.Join(repo, workflow.DefaultPath)})
	if err != nil {
		return r, err
	}
	defer org.Close()
	if org.Workflow.Parallel.Predict != o.Predict {
		return r, fmt.Errorf("bench: the workflow says parallel.predict %t, not %t", org.Workflow.Parallel.Predict, o.Predict)
	}
	for i := range org.Workflow.Stages {
		org.Workflow.Stages[i].Concurrency = o.Concurrency
	}

	var numbers []int64
	for _, is := range layout {
		title := fmt.Sprintf("Add a value to %s", is.file)
		body := fmt.Sprintf("%s lists values: add this issue's line at its end.", is.file)
		if is.partner != 0 {
			body += " Another issue adds one to the same file."
		}
		n, err := org.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: title, Body: body, Author: "bench"})
		if err != nil {
			return r, err
		}
		numbers = append(numbers, n.Number)
	}
	if err := sample.WriteFile(script, overlapScript(layout, numbers)); err != nil {
		return r, err
	}

	eng, err := org.Engine(ctx, app.EngineOptions{RetryDelay: 200 * time.Millisecond})
	if err != nil {
		return r, err
	}
	if err := eng.Start(ctx); err != nil {
		return r, err
	}
	defer eng.Stop(context.WithoutCancel(ctx))

	confined := "confined"
	if !r.Confined {
		confined = "unconfined (no kernel confinement here)"
	}
	fmt.Fprintf(out, "bench --overlap: %d issues, %d overlapping pairs, %d workers per stage, parallel.predict %t, %s, on %s\n",
		o.Issues, o.Pairs, o.Concurrency, o.Predict, confined, Machine())
	start := time.Now()
	for _, n := range numbers {
		if err := org.Desk.OptIn(ctx, n, "bench"); err != nil {
			return r, err
		}
	}
	// The human approves whatever waits at a gate (plans, merge
	// requests), then the engine runs until idle again; a bound on the
	// rounds keeps a run that goes wrong from looping.
	maxRounds := 4*o.Issues + 10
	before := ""
	for {
		if err := eng.RunUntilIdle(ctx); err != nil {
			return r, err
		}
		waiting, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: waitLabels(org.Workflow)})
		if err != nil {
			return r, err
		}
		if len(waiting) == 0 {
			// Nothing waits for the human: done, unless the last pass
			// moved something (an issue that waited for another to merge
			// may start only on the next read).
			now, err := labelsOf(ctx, org.Tracker)
			if err != nil {
				return r, err
			}
			if now == before {
				break
			}
			before = now
			continue
		}
		if r.Rounds == maxRounds {
			return r, fmt.Errorf("bench: issues still wait at a gate after %d rounds; see %s", r.Rounds, dir)
		}
		r.Rounds++
		for _, is := range waiting {
			if _, err := org.Desk.Approve(ctx, is.Number, "bench"); err != nil {
				return r, err
			}
		}
		fmt.Fprintf(out, "  %6.1fs  round %d: %d approvals\n", time.Since(start).Seconds(), r.Rounds, len(waiting))
	}
	r.Wall = time.Since(start)

	done := org.Workflow.StagesWithRole(agentorg.RoleE2E)[0].Success
	finished, err := org.Tracker.ListIssues(ctx, agentorg.IssueFilter{AnyLabel: []string{done}})
	if err != nil {
		return r, err
	}
	r.Merged = len(finished)
	if err := countOverlap(ctx, org.Log, numbers, &r); err != nil {
		return r, err
	}
	for i, is := range layout {
		text, err := sample.Git(ctx, origin, "show", org.Workflow.Repo.TargetBranch+":"+is.file)
		if err != nil {
			return r, err
		}
		if slices.Contains(strings.Split(text, "\n"), value(numbers[i])) {
			r.Kept++
		}
	}
	fmt.Fprintf(out, "  %d of %d merged in %.1fs; %d conflict NO-GOs, %d merge-train drops (%d for a conflict) of %d merge requests, %d of %d developer attempts spent on conflicts\n",
		r.Merged, r.Issues, r.Wall.Seconds(), r.ConflictNOGOs, r.TrainDrops, r.TrainConflicts, r.TrainDropped, r.ConflictAttempts, r.DevAttempts)
	if r.Merged != o.Issues {
		return r, fmt.Errorf("bench: only %d of %d issues reached %s; see %s", r.Merged, o.Issues, done, dir)
	}
	if r.Kept != o.Issues {
		return r, fmt.Errorf("bench: %s holds the lines of only %d of %d issues; see %s", org.Workflow.Repo.TargetBranch, r.Kept, o.Issues, dir)
	}
	return r, nil
}

// labelsOf is every issue's labels, to tell whether a pass changed any.
func labelsOf(ctx context.Context, t agentorg.Tracker) (string, error) {
	all, err := t.ListIssues(ctx, agentorg.IssueFilter{})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, is := range all {
		fmt.Fprintf(&b, "#%d %s\n", is.Number, strings.Join(is.Labels, ","))
	}
	return b.String(), nil
}

// countOverlap reads the counts of r from the event log.
func countOverlap(ctx context.Context, log *eventlog.Log, numbers []int64, r *OverlapResult) error {
	for _, n := range numbers {
		as, err := log.Attempts(ctx, n)
		if err != nil {
			return err
		}
		conflicted := false
		afterConflict := false
		for _, a := range as {
			if a.Agent != "" && a.Agent != eventlog.EngineAgent {
				r.DevAttempts++
				if afterConflict {
					r.ConflictAttempts++
				}
			}
			afterConflict = hasConflict(a)
			if afterConflict {
				r.ConflictNOGOs++
				conflicted = true
			}
		}
		if conflicted {
			r.Conflicted++
		}
	}
	evs, err := log.Events(ctx, eventlog.Filter{Kind: eventlog.KindUpdate})
	if err != nil {
		return err
	}
	dropped := map[int64]bool{}
	for _, e := range evs {
		if strings.Contains(e.Reason, "left the merge train") {
			r.TrainDrops++
			dropped[e.Issue] = true
			if strings.Contains(e.Reason, "conflicts with") {
				r.TrainConflicts++
			}
		}
	}
	r.TrainDropped = len(dropped)
	return nil
}

func hasConflict(a eventlog.Attempt) bool {
	for _, f := range a.Findings {
		if strings.HasPrefix(f.Key, "conflict:") {
			return true
		}
	}
	return false
}

// WriteOverlapTable prints the runs side by side, one column each.
func WriteOverlapTable(w io.Writer, rs []OverlapResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, cell func(OverlapResult) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t", cell(r))
		}
		fmt.Fprintln(tw)
	}
	row("parallel.predict", func(r OverlapResult) string {
		if r.Predict {
			return "on"
		}
		return "off"
	})
	row("conflict NO-GOs (validation)", func(r OverlapResult) string { return fmt.Sprint(r.ConflictNOGOs) })
	row("merge-train drops (for a conflict)", func(r OverlapResult) string {
		return fmt.Sprintf("%d (%d)", r.TrainDrops, r.TrainConflicts)
	})
	row("merge requests that left a train", func(r OverlapResult) string { return fmt.Sprint(r.TrainDropped) })
	row("issues that met a conflict", func(r OverlapResult) string { return fmt.Sprintf("%d of %d", r.Conflicted, r.Issues) })
	row("developer attempts on conflicts", func(r OverlapResult) string { return fmt.Sprint(r.ConflictAttempts) })
	row("developer attempts (total)", func(r OverlapResult) string { return fmt.Sprint(r.DevAttempts) })
	row("human rounds", func(r OverlapResult) string { return fmt.Sprint(r.Rounds) })
	row("wall time", func(r OverlapResult) string { return fmt.Sprintf("%.1f s", r.Wall.Seconds()) })
	row("all merged", func(r OverlapResult) string { return yesNo(r.Merged, r.Issues) })
	row("every change kept on the target", func(r OverlapResult) string { return yesNo(r.Kept, r.Issues) })
	return tw.Flush()
}

func yesNo(n, of int) string {
	if n == of {
		return fmt.Sprintf("yes (%d)", n)
	}
	return fmt.Sprintf("no (%d of %d)", n, of)
}
