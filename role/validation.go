package role

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/hygiene"
	"github.com/agentorg/agentorg/workflow"
)

// diffMax bounds the diff the validator agent is given.
const diffMax = 48 << 10

// validation is the outcome of validating one commit.
type validation struct {
	verdict  string
	findings []eventlog.Finding
	report   string
	external time.Duration
}

// validate checks sha, which contains the target branch's head base, in a
// clean checkout: hygiene, checks, acceptance criteria. Every failure is a
// finding; GO means none. The report is posted on the issue.
func validate(ctx context.Context, d *Deps, r *Run, attempt int, base, sha string) (v validation, err error) {
	n := r.Issue.Number
	ch, err := d.Mirror.Changes(ctx, base, sha)
	if err != nil {
		return v, err
	}
	rules := d.Workflow.Hygiene.Rules()
	rules.Identity = d.Identity.Person() // who signs every commit the engine makes
	hyg := hygiene.Check(rules, hygiene.Input{Files: ch.Files, Added: ch.Added, Net: ch.Net, Commits: ch.Commits, Unread: ch.Unread})
	if len(ch.Files) == 0 && ch.Unread == "" {
		v.findings = append(v.findings, eventlog.Finding{Key: keyEmpty, Text: "The commit changes nothing compared with the target branch."})
	}
	for _, f := range hyg.Findings {
		v.findings = append(v.findings, eventlog.Finding{Key: f.Key(), Text: "Hygiene: " + f.Text() + "."})
	}

	dir, release, err := d.checkout(ctx, sha)
	if err != nil {
		return v, err
	}
	defer release()
	tr, err := d.openTranscript(r.ID)
	if err != nil {
		return v, err
	}
	defer tr.Close()

	tree, err := d.Mirror.Tree(ctx, sha)
	if err != nil {
		return v, err
	}
	runner := checkRunner{d: d, tree: tree, dir: dir, log: tr}
	var results []check.Result
	cached := map[string]bool{}
	for _, c := range d.Workflow.Checks {
		res, err := runner.run(ctx, check.Check{Name: c.Name, Run: c.Run, Timeout: c.Timeout, Started: r.OnStart})
		if err != nil {
			return v, err
		}
		results = append(results, res.Result)
		cached[res.Name] = res.Cached
	}
	red, err := redOnTarget(ctx, d, base, results, tr)
	if err != nil {
		return v, err
	}
	target := d.Workflow.Repo.TargetBranch
	onTarget := map[string]bool{}
	for _, res := range results {
		if !cached[res.Name] {
			v.external += res.Duration
		}
		status := agentorg.CheckPassed
		if !res.Passed {
			status = agentorg.CheckFailed
			f := checkFinding(res, dir)
			if t, ok := red[res.Name]; ok {
				if sameFailure(res, t, dir) {
					f.Target, onTarget[res.Name] = true, true
					f.Text = fmt.Sprintf("Check `%s` fails the same way on %s at `%s`, before this change (%s): not this change's to fix.\n\n  ```\n%s\n  ```",
						res.Name, target, short(base), res.Reason, indentLines(strings.TrimRight(check.Trim(t.Output, promptOutputMax/2), "\n"), "  "))
				} else {
					f.Text += fmt.Sprintf("\n\nThis check already fails on %s, before your change; fix only what your change adds to its failures.", target)
				}
			}
			v.findings = append(v.findings, f)
		}
		if err := d.Tracker.SetCheck(ctx, agentorg.CheckResult{SHA: sha, Name: res.Name, Status: status,
			Output: res.Output, Duration: res.Duration, At: time.Now()}); err != nil {
			return v, err
		}
	}

	plan, err := Plan(ctx, d.Tracker, n)
	if err != nil {
		return v, err
	}
	crits, source := criteria.FromIssueOrPlan(r.Issue.Body, plan)
	verdicts, spent, err := judge(ctx, d, r, attempt, runner, func() (string, error) { return ch.Diff, nil }, crits, results, tr)
	v.external += spent
	if err != nil {
		return v, err
	}
	// A resolution of a conflict with other issues' merged changes is held
	// to their command criteria too, here, on the combined tree.
	theirs, err := crossAgentCriteria(ctx, d, n, attempt, base)
	if err != nil {
		return v, err
	}
	theirVerdicts, spent, err := judge(ctx, d, r, attempt, runner, func() (string, error) { return ch.Diff, nil }, theirs, results, tr)
	v.external += spent
	if err != nil {
		return v, err
	}
	for _, cr := range append(slices.Clip(verdicts), theirVerdicts...) {
		if cr.Verdict != criteria.Met {
			v.findings = append(v.findings, criterionFinding(cr))
		}
	}

	v.verdict = eventlog.GO
	if len(v.findings) > 0 {
		v.verdict = eventlog.NOGO
	}
	distance := eventlog.Distance(v.findings)
	var b strings.Builder
	fmt.Fprintf(&b, "## Validation of attempt %d: **%s** (distance %d)\n\nCommit `%s`, checked out clean, on top of the target branch at `%s`; %d file(s) changed.\n\n| check | result | time |\n|---|---|---|\n",
		attempt, v.verdict, distance, short(sha), short(base), len(ch.Files))
	for _, res := range results {
		mark := "passed"
		if !res.Passed {
			mark = "FAILED: " + res.Reason
		}
		if onTarget[res.Name] {
			mark += fmt.Sprintf(" (fails the same way on %s: not counted)", target)
		}
		if cached[res.Name] {
			mark += " (cached: same tree)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", res.Name, mark, res.Duration.Round(time.Millisecond))
	}
	if len(verdicts) > 0 {
		fmt.Fprintf(&b, "\n### Acceptance criteria (from the %s)\n\n%s", source, criteria.Table(verdicts))
	} else {
		b.WriteString("\nNo acceptance criteria found (neither the issue nor the plan has an \"Acceptance criteria\" checklist).\n")
	}
	if len(theirVerdicts) > 0 {
		fmt.Fprintf(&b, "\n### Acceptance criteria of %s (merged on %s meanwhile; this change resolved a conflict with it)\n\nTheir command criteria, run on the combined tree:\n\n%s",
			fromList(theirVerdicts), target, criteria.Table(theirVerdicts))
	}
	if distance > 0 {
		fmt.Fprintf(&b, "\n### Findings (distance %d)\n\n%s\n", distance, fixText(v.findings, target))
	}
	if len(onTarget) > 0 {
		fmt.Fprintf(&b, "\n### Already failing on %s (not counted)\n\n%s\n", target, targetText(v.findings))
	}
	if len(hyg.Notes) > 0 {
		fmt.Fprintf(&b, "\n### Hygiene notes (not counted)\n\n%s\n", notesText(hyg.Notes))
	}
	if left, err := leftOutOf(ctx, d, n, attempt); err != nil {
		return v, err
	} else if len(left) > 0 {
		fmt.Fprintf(&b, "\n### Left out of the commit (junk, not counted)\n\n- %s\n", strings.Join(left, "\n- "))
	}
	v.report = b.String()
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("validation:%d:%d", n, attempt), v.report, d.Workflow.Tracker.Bot); err != nil {
		return v, err
	}
	return v, nil
}

// judge gives every criterion a verdict: a command criterion by running its
// command in the checkout, the others by the validator agent. A command runs
// once per tree: the runner's cache answers the next criterion that names it
// (a merge train judges several issues on one tree).
func judge(ctx context.Context, d *Deps, r *Run, attempt int, runner checkRunner, diff func() (string, error), crits []criteria.Criterion, results []check.Result, tr interface{ Write([]byte) (int, error) }) ([]criteria.Result, time.Duration, error) {
	dir := runner.dir
	var spent time.Duration
	out := make([]criteria.Result, len(crits))
	var toJudge []int
	for i, c := range crits {
		out[i].Criterion = c
		if c.Command == "" {
			toJudge = append(toJudge, i)
			continue
		}
		// Named by the command, not the criterion's number, so that the
		// cache finds it whatever the checklist's order.
		res, err := runner.run(ctx, check.Check{Name: "criterion: " + c.Command, Run: c.Command, Started: r.OnStart})
		if err != nil {
			return nil, spent, err
		}
		note := ""
		if res.Cached {
			note = " (cached: same tree)"
		} else {
			spent += res.Duration
		}
		out[i].By = "command"
		if res.Passed {
			out[i].Verdict, out[i].Evidence = criteria.Met, fmt.Sprintf("`%s` passed%s", c.Command, note)
		} else {
			out[i].Verdict, out[i].Evidence = criteria.Unmet, fmt.Sprintf("`%s` failed (%s)%s: %s", c.Command, res.Reason, note, lastLines(res.Output, 5))
		}
	}
	if len(toJudge) == 0 {
		return out, spent, nil
	}
	unclear := func(by, why string) {
		for _, i := range toJudge {
			out[i].Verdict, out[i].By, out[i].Evidence = criteria.Unclear, by, why
		}
	}
	if r.Stage.Agent == "" {
		unclear("engine", "no validator agent is configured to judge this criterion: give the validate stage an agent")
		return out, spent, nil
	}
	ag, def, err := d.agent(r)
	if err != nil {
		return nil, spent, err
	}
	prompt, input, ids, key, err := judgePrompt(d, r, def.Name, diff, crits, out, toJudge, results)
	if err != nil {
		return nil, spent, err
	}
	if runner.tree != "" {
		if kept, ok, err := d.Log.CachedJudgement(ctx, runner.tree, key); err != nil {
			return nil, spent, err
		} else if answer, err := criteria.ParseAnswer(kept, ids); ok && err == nil {
			fmt.Fprintf(tr, "== validator: criteria %s from the judgement cache (tree %.10s)\n", strings.Trim(fmt.Sprint(ids), "[]"), runner.tree)
			for _, i := range toJudge {
				j := answer[crits[i].ID]
				out[i].Verdict, out[i].By, out[i].Evidence = j.Verdict, "validator agent", j.Evidence+" (cached: same tree)"
			}
			return out, spent, nil
		}
	}
	task := agentorg.Task{
		Role: r.Stage.Role, Issue: r.Issue.Number, Attempt: attempt, Dir: dir, Prompt: prompt, Input: input,
		Access: agentorg.ReadOnly, Env: d.AgentEnv(def), Transcript: tr,
		Timeout: def.Timeout, StallTimeout: def.StallTimeout, OnStart: r.OnStart,
		Confine: d.confine(def, dir, agentorg.ReadOnly),
	}
	began := time.Now()
	res, err := ag.Start(ctx, task)
	var answer map[int]criteria.Judgement
	if err == nil {
		var perr error
		answer, perr = criteria.ParseAnswer(res.Summary, ids)
		if perr != nil && res.SessionID != "" {
			// One more chance, in the same session, told what was wrong.
			task.Prompt = fmt.Sprintf("Your answer could not be used: %v.\n\n%s", perr, criteria.AnswerFormat)
			first := res.Usage
			task.SessionUsage = first
			res, err = ag.Resume(ctx, res.SessionID, task)
			res.Usage = res.Usage.Add(first)
			if err == nil {
				answer, perr = criteria.ParseAnswer(res.Summary, ids)
			}
		}
		if err == nil && perr != nil {
			if res.SessionID == "" {
				unclear("validator agent", "its answer was malformed, and without a session it cannot be asked again: "+perr.Error())
			} else {
				unclear("validator agent", "its answer was malformed twice: "+perr.Error())
			}
		}
	}
	spent += time.Since(began)
	if err != nil {
		if ctx.Err() != nil || !errors.Is(err, agentorg.ErrAgent) {
			return nil, spent, err
		}
		unclear("validator agent", "the agent failed: "+oneLine(err.Error()))
	} else if answer != nil && runner.tree != "" {
		if err := d.Log.CacheJudgement(ctx, runner.tree, key, res.Summary); err != nil {
			return nil, spent, err
		}
	}
	recordAgentRun(ctx, d, r, def.Name, res, fmt.Sprintf("validator judged criteria %s", strings.Trim(fmt.Sprint(ids), "[]")), nil)
	for _, i := range toJudge {
		if j, ok := answer[crits[i].ID]; ok {
			out[i].Verdict, out[i].By, out[i].Evidence = j.Verdict, "validator agent", j.Evidence
		}
	}
	return out, spent, nil
}

// judgePrompt renders the validator agent's task, in prose and as its
// structured input. key identifies the question (issue, agent, criteria,
// the change) for the judgement cache.
func judgePrompt(d *Deps, r *Run, agent string, diffOf func() (string, error), crits []criteria.Criterion, done []criteria.Result, toJudge []int, results []check.Result) (prompt string, input []byte, ids []int, key string, err error) {
	var cb strings.Builder
	cb.WriteString("Acceptance criteria:\n\n")
	for i, c := range crits {
		fmt.Fprintf(&cb, "%d. %s", c.ID, c.Text)
		if done[i].Verdict != "" {
			fmt.Fprintf(&cb, " (checked by running it: %s)", done[i].Verdict)
		}
		cb.WriteString("\n")
	}
	var idText []string
	for _, i := range toJudge {
		idText = append(idText, fmt.Sprint(crits[i].ID))
		ids = append(ids, crits[i].ID)
	}
	fmt.Fprintf(&cb, "\nTo judge: criteria %s.\n\n%s", strings.Join(idText, ", "), criteria.AnswerFormat)
	var kb strings.Builder
	for _, res := range results {
		if res.Passed {
			fmt.Fprintf(&kb, "- `%s`: passed\n", res.Name)
		} else {
			fmt.Fprintf(&kb, "- `%s`: FAILED (%s)\n\n```\n%s\n```\n", res.Name, res.Reason, strings.TrimRight(check.Trim(res.Output, 2<<10), "\n"))
		}
	}
	diff, err := diffOf()
	if err != nil {
		return "", nil, nil, "", err
	}
	data := promptData(d, r, 0)
	data.Criteria, data.Checks, data.Diff = cb.String(), kb.String(), "```diff\n"+headTrim(diff, diffMax)+"\n```"
	prompt, err = d.Workflow.Render(workflow.PromptValidate, data)
	input = validatorInputJSON(d.Workflow, r.Issue, crits, done, ids, results, diff)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%s\x00%s", r.Issue.Number, agent, cb.String(), diff)))
	return prompt, input, ids, hex.EncodeToString(sum[:]), err
}

// headTrim keeps the start of s in at most max bytes, saying how much was cut.
func headTrim(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if i := strings.LastIndexByte(s[:cut], '\n'); i > 0 {
		cut = i + 1
	}
	return fmt.Sprintf("%s[... %d bytes cut ...]", s[:cut], len(s)-cut)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// indentLines indents every line of s, so that a block stays inside the
// Markdown list item it belongs to.
func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// leftOutOf is the junk the engine left out of attempt's commits, for the
// report: what the developer's tools left behind (hygiene.junk).
func leftOutOf(ctx context.Context, d *Deps, issue int64, attempt int) ([]string, error) {
	as, err := d.Log.Attempts(ctx, issue)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.N == attempt {
			return a.LeftOut, nil
		}
	}
	return nil, nil
}
