package role

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/triage"
	"github.com/agentorg/agentorg/workflow"
)

// contextRadius is how many lines around a diff note's line the triage agent
// and the developer see.
const contextRadius = 3

// triager is review triage: it classifies the reviewers' unresolved threads
// on the merge request with a read-only agent in its own session. Threads
// that need a change (must-fix, accepted suggestions) go to the developer's
// same session (the stage's failure label) and through full validation;
// after the GO, the validator answers every thread (see finishRound). A
// round with nothing to change is answered at once and goes back to review.
type triager struct{}

// ReviewGate returns the merge request gate whose changes_requested label
// is label, or nil.
func ReviewGate(w *workflow.Workflow, label string) *workflow.Gate {
	for i := range w.Gates {
		g := &w.Gates[i]
		if g.MergeRequest && g.ChangesRequested != "" && g.ChangesRequested == label {
			return g
		}
	}
	return nil
}

// ReviewWaiting returns the threads of merge request mr that wait for the
// organization: opened by a reviewer of gate g, a reviewer speaking last,
// unresolved, or resolved by the bot before a reviewer wrote in it again
// (triage.Pending; the caller reopens those). The engine starts triage
// when there are any.
func ReviewWaiting(ctx context.Context, d *Deps, g *workflow.Gate, mr int64) ([]agentorg.ReviewThread, error) {
	rt, ok := d.Tracker.(agentorg.ReviewThreads)
	if !ok {
		return nil, nil
	}
	ts, err := rt.Threads(ctx, mr)
	if err != nil {
		return nil, err
	}
	act, _ := triage.Pending(ts, g.Reviewers, d.Workflow.Tracker.Bot)
	return act, nil
}

// ReopenReplied reopens, as the bot, the threads of merge request mr among
// waiting (ReviewWaiting's) that are resolved: the bot resolved them and a
// reviewer wrote in them since, which asks for an answer. It returns their
// ids.
func ReopenReplied(ctx context.Context, d *Deps, mr int64, waiting []agentorg.ReviewThread) ([]string, error) {
	rt, ok := d.Tracker.(agentorg.ReviewThreads)
	if !ok {
		return nil, nil
	}
	var ids []string
	for _, th := range waiting {
		if !th.Resolved {
			continue
		}
		if _, err := rt.ResolveThread(ctx, mr, th.ID, false, d.Workflow.Tracker.Bot); err != nil {
			return ids, err
		}
		ids = append(ids, th.ID)
	}
	return ids, nil
}

func (triager) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	bot := d.Workflow.Tracker.Bot
	g := ReviewGate(d.Workflow, r.Stage.On)
	if g == nil {
		return Outcome{}, fmt.Errorf("stage %s: no merge request gate has changes_requested %q", r.Stage.Name, r.Stage.On)
	}
	rt, ok := d.Tracker.(agentorg.ReviewThreads)
	if !ok {
		return Outcome{To: g.Waits, Reason: "the tracker keeps no review threads; nothing to triage"}, nil
	}
	// A reviewer may add the label while the issue waits at the gate: it
	// no longer waits while triage works.
	if r.Issue.HasLabel(g.Waits) {
		if _, err := d.Tracker.UpdateLabels(ctx, n, nil, []string{g.Waits}, bot); err != nil {
			return Outcome{}, err
		}
	}
	mr, err := gate.IssueMR(ctx, d.Tracker, d.Workflow, n)
	if err != nil {
		return Outcome{}, err
	}
	round, open, err := d.Log.OpenRound(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if open && round.Status == eventlog.RoundFixing {
		return Outcome{To: r.Stage.Failure, Reason: fmt.Sprintf("review round %d is with the developer", round.N)}, nil
	}
	threads, err := rt.Threads(ctx, mr.Number)
	if err != nil {
		return Outcome{}, err
	}
	actionable, others := triage.Pending(threads, g.Reviewers, bot)
	if !open {
		if len(actionable) == 0 {
			return noThreads(ctx, d, r, g)
		}
		if _, err := ReopenReplied(ctx, d, mr.Number, actionable); err != nil {
			return Outcome{}, err
		}
		rounds, err := d.Log.Rounds(ctx, n)
		if err != nil {
			return Outcome{}, err
		}
		spent := 0
		for _, x := range rounds {
			if x.MR == mr.Number {
				spent++
			}
		}
		if spent >= d.Workflow.Budget.ReviewRounds {
			return escalate(ctx, d, r, fmt.Sprintf("merge request !%d used its %d review-triage rounds (budget.review_rounds) and reviewers still have open threads (%s)",
				mr.Number, d.Workflow.Budget.ReviewRounds, threadIDs(actionable)))
		}
		round = eventlog.Round{Issue: n, N: len(rounds) + 1, MR: mr.Number, Head: mr.HeadSHA, Status: eventlog.RoundTriaging}
		for _, th := range actionable {
			round.Threads = append(round.Threads, eventlog.RoundThread{ID: th.ID, Path: th.Path, Line: th.Line})
		}
		if round, err = d.Log.StartRound(ctx, round); err != nil {
			return Outcome{}, err
		}
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindUpdate,
			Reason: fmt.Sprintf("review round %d on !%d at %s: threads %s", round.N, mr.Number, short(mr.HeadSHA), threadIDs(actionable)),
			Data:   map[string]string{"round": fmt.Sprint(round.N), "mr": fmt.Sprint(mr.Number), "head": mr.HeadSHA}})
	}

	var external time.Duration
	if round.Status == eventlog.RoundTriaging {
		var why string
		external, why, err = classify(ctx, d, r, &round, threads, others, g)
		if err != nil {
			return Outcome{External: external}, err
		}
		if why != "" {
			out, err := escalate(ctx, d, r, why)
			out.External = external
			return out, err
		}
		if why := cameBack(ctx, d, round); why != "" {
			out, err := escalate(ctx, d, r, why)
			out.External = external
			return out, err
		}
		round.Status = eventlog.RoundAnswering
		for _, t := range round.Threads {
			if decision(t).NeedsFix() {
				round.Status = eventlog.RoundFixing
			}
		}
		if err := d.Log.UpdateRound(ctx, round); err != nil {
			return Outcome{External: external}, err
		}
		if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("review-triage:%d:%d", n, round.N), triageSummary(round), bot); err != nil {
			return Outcome{External: external}, err
		}
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindVerdict,
			Reason: fmt.Sprintf("review round %d triaged: %s", round.N, classCounts(round)),
			Data:   map[string]string{"round": fmt.Sprint(round.N), "mr": fmt.Sprint(mr.Number)}})
	}
	if round.Status == eventlog.RoundFixing {
		to := r.Stage.Failure
		if to == "" || to == d.Workflow.Escalation {
			return escalate(ctx, d, r, fmt.Sprintf("review round %d needs changes, but stage %s has no failure label leading to a developer", round.N, r.Stage.Name))
		}
		return Outcome{To: to, External: external, Reason: fmt.Sprintf("review round %d: %s; the fixes go to the developer's session", round.N, classCounts(round))}, nil
	}
	// Nothing to change: answer in the threads now (the round may already be
	// done if a crash hit after its status was stored).
	if err := finishRound(ctx, d, r, &round, ""); err != nil {
		return Outcome{External: external}, err
	}
	return Outcome{To: g.Waits, External: external, Reason: fmt.Sprintf("review round %d answered without changes: %s", round.N, classCounts(round))}, nil
}

// noThreads handles the label with no thread to triage: a reviewer who
// asked for changes outright sends the change back with their comments as
// feedback (the gate's reject); otherwise the issue waits for review again.
func noThreads(ctx context.Context, d *Deps, r *Run, g *workflow.Gate) (Outcome, error) {
	evs, err := d.Tracker.LabelEvents(ctx, r.Issue.Number)
	if err != nil {
		return Outcome{}, err
	}
	by := ""
	for _, e := range evs {
		if e.Label == g.ChangesRequested && e.Action == agentorg.LabelAdded {
			by = e.Actor
		}
	}
	if by != "" && by != d.Workflow.Tracker.Bot && slices.Contains(g.Reviewers, by) && g.Reject != "" {
		return Outcome{To: g.Reject, Reason: fmt.Sprintf("%s requested changes without a review thread: their comments go to the developer", by)}, nil
	}
	return Outcome{To: g.Waits, Reason: "no review thread from a reviewer waits for an answer"}, nil
}

// classify runs the triage agent on the round's threads (those without a
// decision), in a clean checkout of the round's head, and stores its
// decisions. A malformed answer is asked for again once in the same session;
// why is set when the round cannot go on (malformed twice, the agent failed).
func classify(ctx context.Context, d *Deps, r *Run, round *eventlog.Round, threads, others []agentorg.ReviewThread, g *workflow.Gate) (time.Duration, string, error) {
	n := r.Issue.Number
	bot := d.Workflow.Tracker.Bot
	ag, def, err := d.agent(r)
	if err != nil {
		return 0, "", err
	}
	if err := d.Mirror.Fetch(ctx); err != nil {
		return 0, "", err
	}
	// Another worker may have pushed the head.
	if err := d.haveHead(ctx, n, round.Head, d.Workflow.Branch(n)); err != nil {
		return 0, "", err
	}
	dir, release, err := d.checkout(ctx, round.Head)
	if err != nil {
		return 0, "", err
	}
	defer release()
	byID := map[string]agentorg.ReviewThread{}
	for _, th := range threads {
		byID[th.ID] = th
	}
	input := triageInput{Role: agentorg.RoleTriage, Issue: issueInput(r.Issue), TargetBranch: d.Workflow.Repo.TargetBranch,
		MR: round.MR, Head: round.Head, Threads: []inputThread{}, Others: []inputThread{}}
	var want []string
	var quoted []string
	for i := range round.Threads {
		t := &round.Threads[i]
		th, ok := byID[t.ID]
		if !ok {
			return 0, "", fmt.Errorf("review round %d: thread %s vanished from !%d", round.N, t.ID, round.MR)
		}
		around := fileContext(dir, th)
		t.Quote = triage.Quote(th, around, g.Reviewers, bot)
		want = append(want, t.ID)
		quoted = append(quoted, t.Quote)
		input.Threads = append(input.Threads, threadInput(th, around))
	}
	var other []string
	for _, th := range others {
		other = append(other, triage.Quote(th, "", g.Reviewers, bot))
		input.Others = append(input.Others, threadInput(th, ""))
	}
	data := promptData(d, r, 0)
	if data.Plan, err = Plan(ctx, d.Tracker, n); err != nil {
		return 0, "", err
	}
	target, err := d.Mirror.RemoteHead(ctx, d.Workflow.Repo.TargetBranch)
	if err != nil {
		return 0, "", err
	}
	// The change as the reviewers saw it: from where it left the target.
	base, err := d.Mirror.MergeBase(ctx, target, round.Head)
	if err != nil {
		return 0, "", err
	}
	diff, err := d.Mirror.Diff(ctx, base, round.Head)
	if err != nil {
		return 0, "", err
	}
	data.Diff = "```diff\n" + headTrim(diff, diffMax) + "\n```"
	input.Plan, input.Diff = data.Plan, headTrim(diff, diffMax)
	data.Threads = strings.Join(quoted, "\n\n") + "\n\n" + triage.AnswerFormat
	data.Others = strings.Join(other, "\n\n")
	prompt, err := d.Workflow.Render(workflow.PromptTriage, data)
	if err != nil {
		return 0, "", err
	}
	tr, err := d.openTranscript(r.ID)
	if err != nil {
		return 0, "", err
	}
	defer tr.Close()
	task := agentorg.Task{
		Role: r.Stage.Role, Issue: n, Attempt: round.N, Dir: dir, Prompt: prompt, Input: mustJSON(input),
		Access: agentorg.ReadOnly, Env: d.AgentEnv(def), Transcript: tr,
		Timeout: def.Timeout, StallTimeout: def.StallTimeout, OnStart: r.OnStart,
		Confine: d.confine(def, dir, agentorg.ReadOnly),
	}
	began := time.Now()
	res, err := ag.Start(ctx, task)
	var answer map[string]triage.Decision
	var perr error
	if err == nil {
		answer, perr = triage.ParseAnswer(res.Summary, want)
		if perr != nil && res.SessionID != "" {
			// One more chance, in the same session, told what was wrong.
			task.Prompt = fmt.Sprintf("Your answer could not be used: %v.\n\n%s", perr, triage.AnswerFormat)
			first := res.Usage
			task.SessionUsage = first
			res, err = ag.Resume(ctx, res.SessionID, task)
			res.Usage = res.Usage.Add(first)
			if err == nil {
				answer, perr = triage.ParseAnswer(res.Summary, want)
			}
		}
	}
	spent := time.Since(began)
	if err != nil {
		if ctx.Err() != nil || !errors.Is(err, agentorg.ErrAgent) {
			return spent, "", err
		}
		// What the failed run spent still counts (agentorg usage).
		recordAgentRun(ctx, d, r, def.Name, res, fmt.Sprintf("triage of review round %d failed: %s", round.N, oneLine(err.Error())),
			map[string]string{"round": fmt.Sprint(round.N), "failed": "true"})
		return spent, fmt.Sprintf("the triage agent failed on review round %d: %s", round.N, oneLine(err.Error())), nil
	}
	recordAgentRun(ctx, d, r, def.Name, res, fmt.Sprintf("triage of review round %d (threads %s)", round.N, strings.Join(want, ", ")),
		map[string]string{"round": fmt.Sprint(round.N)})
	if perr != nil {
		if res.SessionID == "" {
			return spent, fmt.Sprintf("the triage agent's answer on review round %d was malformed, and without a session it cannot be asked again: %v", round.N, perr), nil
		}
		return spent, fmt.Sprintf("the triage agent's answer on review round %d was malformed twice: %v", round.N, perr), nil
	}
	for i := range round.Threads {
		round.Threads[i].Decision = eventlog.ThreadDecision(answer[round.Threads[i].ID])
	}
	return spent, "", nil
}

// fileContext returns the numbered lines around a diff note's line, read
// from the checkout. The path is the reviewer's text and the checkout the
// change's: neither may lead outside the checkout, by ".." or a symlink.
func fileContext(dir string, th agentorg.ReviewThread) string {
	if th.Path == "" || !filepath.IsLocal(filepath.FromSlash(th.Path)) {
		return ""
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	p, err := filepath.EvalSymlinks(filepath.Join(dir, filepath.FromSlash(th.Path)))
	if err != nil {
		return ""
	}
	if rel, err := filepath.Rel(root, p); err != nil || !filepath.IsLocal(rel) {
		return ""
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return triage.Context(string(data), th.Line, contextRadius)
}

// cameBack says why a round must stop ("" if not): a thread an earlier
// round called fixed needs fixing again. A fix that did not hold is the
// review's version of the same findings coming back.
func cameBack(ctx context.Context, d *Deps, round eventlog.Round) string {
	rounds, err := d.Log.Rounds(ctx, round.Issue)
	if err != nil {
		return ""
	}
	for _, t := range round.Threads {
		if !decision(t).NeedsFix() {
			continue
		}
		for _, p := range rounds {
			if p.N >= round.N || p.MR != round.MR || p.Commit == "" {
				continue
			}
			for _, pt := range p.Threads {
				if pt.ID == t.ID && decision(pt).NeedsFix() {
					return fmt.Sprintf("review thread %s came back after round %d called it fixed in %s: the fixes are not converging", t.ID, p.N, short(p.Commit))
				}
			}
		}
	}
	return ""
}

// reviewText is what the developer's session is told in the review prompt:
// each thread to fix, quoted with its location, and triage's reason.
func reviewText(round eventlog.Round) string {
	var b strings.Builder
	k := 0
	for _, t := range round.Threads {
		if !decision(t).NeedsFix() {
			continue
		}
		k++
		what := "Must fix"
		if t.Decision.Class == triage.Suggestion {
			what = "Accepted suggestion"
		}
		fmt.Fprintf(&b, "%s\n\n%s (triage): %s\n\n", t.Quote, what, t.Decision.Reason)
	}
	return strings.TrimSpace(b.String())
}

func threadIDs(ts []agentorg.ReviewThread) string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return strings.Join(ids, ", ")
}

func classCounts(round eventlog.Round) string {
	counts := map[string]int{}
	for _, t := range round.Threads {
		c := t.Decision.Class
		if c == triage.Suggestion {
			c = "suggestion declined"
			if t.Decision.Accept {
				c = "suggestion accepted"
			}
		}
		counts[c]++
	}
	var parts []string
	for _, c := range []string{triage.MustFix, "suggestion accepted", "suggestion declined", triage.Question, triage.OutOfScope, triage.Addressed} {
		if counts[c] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
		}
	}
	return strings.Join(parts, ", ")
}

func triageSummary(round eventlog.Round) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Review triage, round %d\n\nMerge request !%d at `%s`: %s.\n\n| thread | where | class | reason |\n|---|---|---|---|\n",
		round.N, round.MR, short(round.Head), classCounts(round))
	for _, t := range round.Threads {
		class := t.Decision.Class
		if class == triage.Suggestion {
			class += map[bool]string{true: " (accepted)", false: " (declined)"}[t.Decision.Accept]
		}
		where := "the merge request"
		if t.Path != "" {
			where = fmt.Sprintf("`%s:%d`", t.Path, t.Line)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.ID, where, class, cellText(oneLine(t.Decision.Reason)))
	}
	if round.Status == eventlog.RoundFixing {
		b.WriteString("\nThe fixes go to the developer's session; every check and criterion is validated again before the threads are answered.\n")
	}
	return b.String()
}

// finishRound answers every thread of a round and marks it done. commit is
// the validated commit that answers the fixes ("" when nothing changed).
// Each reply carries a marker naming the round and thread, and is posted
// only when no note of the thread has it; a thread is resolved only when it
// was fixed: classified as needing a fix, validated GO in commit, and (for a
// diff note) its file changed by the fix. A restart posts nothing twice.
func finishRound(ctx context.Context, d *Deps, r *Run, round *eventlog.Round, commit string) error {
	n := round.Issue
	bot := d.Workflow.Tracker.Bot
	rt, ok := d.Tracker.(agentorg.ReviewThreads)
	if !ok {
		return fmt.Errorf("review round %d: the tracker keeps no review threads", round.N)
	}
	threads, err := rt.Threads(ctx, round.MR)
	if err != nil {
		return err
	}
	byID := map[string]agentorg.ReviewThread{}
	for _, th := range threads {
		byID[th.ID] = th
	}
	var touched []string
	if commit != "" {
		if touched, err = d.Mirror.DiffFiles(ctx, round.Head, commit); err != nil {
			return err
		}
	}
	var lines []string
	for _, t := range round.Threads {
		th, ok := byID[t.ID]
		if !ok {
			lines = append(lines, fmt.Sprintf("| %s | gone from the merge request | |", t.ID))
			continue
		}
		key := fmt.Sprintf("review:%d:%d:%s", round.MR, round.N, t.ID)
		body, resolve, outcome, err := replyFor(ctx, d, round, t, commit, touched, key)
		if err != nil {
			return err
		}
		if !hasMarkedNote(th, key) {
			if _, err := rt.Reply(ctx, round.MR, t.ID, agentorg.Marker(key)+"\n"+body, bot); err != nil {
				return err
			}
		}
		if resolve && !th.Resolved {
			if _, err := rt.ResolveThread(ctx, round.MR, t.ID, true, bot); err != nil {
				return err
			}
		}
		where := "the merge request"
		if t.Path != "" {
			where = fmt.Sprintf("`%s:%d`", t.Path, t.Line)
		}
		lines = append(lines, fmt.Sprintf("| %s | %s | %s |", t.ID, where, cellText(outcome)))
	}
	round.Status, round.Commit = eventlog.RoundDone, commit
	if err := d.Log.UpdateRound(ctx, *round); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Review round %d answered\n\n", round.N)
	if commit != "" {
		fmt.Fprintf(&b, "The fixes are in `%s`, validated GO and pushed to !%d. The earlier approval was of another commit: the merge request waits for a new one.\n\n", short(commit), round.MR)
	} else {
		fmt.Fprintf(&b, "Nothing in !%d needed to change; every thread is answered. An approval at the head still stands.\n\n", round.MR)
	}
	b.WriteString("| thread | where | outcome |\n|---|---|---|\n" + strings.Join(lines, "\n") + "\n")
	if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("review-round:%d:%d", n, round.N), b.String(), bot); err != nil {
		return err
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindUpdate,
		Reason: fmt.Sprintf("review round %d answered in !%d: %s", round.N, round.MR, classCounts(*round)),
		Data:   map[string]string{"round": fmt.Sprint(round.N), "mr": fmt.Sprint(round.MR), "commit": commit}})
	return nil
}

func hasMarkedNote(th agentorg.ReviewThread, key string) bool {
	for _, n := range th.Notes {
		if agentorg.HasMarker(n.Body, key) {
			return true
		}
	}
	return false
}

// replyFor says what a thread is answered, whether it is resolved, and a
// short outcome for the round's summary.
func replyFor(ctx context.Context, d *Deps, round *eventlog.Round, t eventlog.RoundThread, commit string, touched []string, key string) (body string, resolve bool, outcome string, err error) {
	dec := decision(t)
	switch {
	case dec.NeedsFix() && commit == "":
		return fmt.Sprintf("Triage called this a %s (%s), but no fix was made in this round; a human should look.", dec.Class, dec.Reason), false, "not fixed", nil
	case dec.NeedsFix() && t.Path != "" && !slices.Contains(touched, t.Path):
		return fmt.Sprintf("The fix for this round is in %s, validated GO, but it does not change `%s`: left open for you to check. (%s)", commit, t.Path, dec.Reason),
			false, fmt.Sprintf("fix in `%s` does not touch the file: left open", short(commit)), nil
	case dec.NeedsFix():
		return fmt.Sprintf("Fixed in %s, validated GO (every check and acceptance criterion). What was wrong: %s", commit, dec.Reason), true, fmt.Sprintf("fixed in `%s`, resolved", short(commit)), nil
	case dec.Class == triage.Question:
		return dec.Answer, false, "answered", nil
	case dec.Class == triage.Suggestion:
		return "Not taken: " + dec.Reason, false, "suggestion declined", nil
	case dec.Class == triage.Addressed:
		return "Already addressed: " + dec.Reason, false, "already addressed", nil
	case dec.Class == triage.OutOfScope:
		is, err := followUp(ctx, d, round, t, key)
		if err != nil {
			return "", false, "", err
		}
		return fmt.Sprintf("Out of scope for this merge request (%s); follow-up: #%d.", dec.Reason, is.Number), false, fmt.Sprintf("follow-up #%d", is.Number), nil
	}
	return "", false, "", fmt.Errorf("review round %d: thread %s has no decision", round.N, t.ID)
}

// followUp finds or opens the follow-up issue of an out-of-scope thread: a
// marker in its body makes a retry find the issue instead of opening another.
func followUp(ctx context.Context, d *Deps, round *eventlog.Round, t eventlog.RoundThread, key string) (agentorg.Issue, error) {
	fkey := "followup:" + strings.TrimPrefix(key, "review:")
	// Only issues touched since the round began can hold it.
	is, err := d.Tracker.ListIssues(ctx, agentorg.IssueFilter{UpdatedAfter: round.Started.Add(-time.Minute)})
	if err != nil {
		return agentorg.Issue{}, err
	}
	for _, i := range is {
		if agentorg.HasMarker(i.Body, fkey) {
			return i, nil
		}
	}
	body := fmt.Sprintf("%s\nFollow-up of review thread %s on merge request !%d (issue #%d), judged out of its scope: %s\n\n%s\n",
		agentorg.Marker(fkey), t.ID, round.MR, round.Issue, t.Decision.Reason, t.Quote)
	return d.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: t.Decision.Title, Body: body, Author: d.Workflow.Tracker.Bot})
}

// decision is a thread's recorded decision as triage's value. The two
// types have the same fields, so a change to one that the other lacks
// stops this conversion from compiling.
func decision(t eventlog.RoundThread) triage.Decision { return triage.Decision(t.Decision) }
