package role

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/hygiene"
	"github.com/agentorg/agentorg/workflow"
)

// developer runs its agent in the issue's worktree and commits exactly what
// the agent changed. The first attempt starts a session on a branch made from
// the current head of the target branch; each later attempt resumes the same
// session in the same worktree, told what validation found.
type developer struct{}

func (developer) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	n := r.Issue.Number
	a, err := currentAttempt(ctx, d, r)
	if err != nil {
		return Outcome{}, err
	}
	if a.Work() != "" {
		// A crash after the commit: the work is done, only the label is
		// left. The retry may run on another worker than the commit.
		if err := d.haveWork(ctx, n, a.Work()); err != nil {
			return Outcome{}, err
		}
		if err := recordChanged(ctx, d, r, a, a.Work()); err != nil {
			return Outcome{}, err
		}
		return Outcome{Reason: fmt.Sprintf("attempt %d committed %s", a.N, short(a.Work()))}, nil
	}

	if err := d.Mirror.Fetch(ctx); err != nil {
		return Outcome{}, err
	}
	wt, tookOver, err := d.issueWorktree(ctx, r, a.N)
	if err != nil {
		return Outcome{}, err
	}
	if tookOver {
		// Log.Restart cleared them: the agent runs, in a new session.
		a.Agent, a.SessionID = "", ""
	}

	// Agent is set once this attempt's agent run finished; a retry after a
	// crash between the run and the commit must not run the agent twice.
	// After a failed run it runs again, resuming the session it reported.
	var external time.Duration
	if a.Agent == "" || a.Failed() {
		ag, def, err := d.agent(r)
		if err != nil {
			return Outcome{}, err
		}
		data := promptData(d, r, a.N)
		if data.Plan, err = Plan(ctx, d.Tracker, n); err != nil {
			return Outcome{}, err
		}
		prompt := "developer"
		if a.N > 1 {
			prompt = "fix"
			prev, err := previous(ctx, d, n, a.N)
			if err != nil {
				return Outcome{}, err
			}
			data.Report = prev.Report
			data.Findings = fixText(prev.Findings, d.Workflow.Repo.TargetBranch)
			var unmerged []string
			if cs := conflicts(prev.Findings); len(cs) > 0 {
				// The target moved and conflicts: leave the merge open with its
				// markers for the agent to resolve; CommitAll records it.
				if err := d.haveWork(ctx, n, prev.Work()); err != nil {
					return Outcome{}, err
				}
				if unmerged, err = wt.StartMerge(ctx, d.targetRef(), prev.Work(), d.Identity); err != nil {
					return Outcome{}, err
				}
			}
			if prev.Verdict != eventlog.GO {
				// Resolving a conflict with other issues' merged changes:
				// both intents, and the hunks as the merge left them.
				if data.Conflicts, data.Hunks, err = crossAgentPrompt(ctx, d, r, a.N, wt.Path, unmerged); err != nil {
					return Outcome{}, err
				}
			}
			round, inRound, err := d.Log.OpenRound(ctx, n)
			if err != nil {
				return Outcome{}, err
			}
			switch {
			case prev.Verdict == eventlog.GO && inRound && round.Status == eventlog.RoundFixing:
				// Review triage found changes to make: the threads, quoted
				// with their locations, are the task.
				prompt = workflow.PromptReview
				data.Report, data.Findings = "", ""
				data.Threads = reviewText(round)
				if round.Attempt == 0 {
					round.Attempt = a.N
					if err := d.Log.UpdateRound(ctx, round); err != nil {
						return Outcome{}, err
					}
				}
			case prev.Verdict == eventlog.GO:
				data.Report, data.Findings = "", ""
				// Validation passed but a human sent it back: their words are the report.
				if data.Feedback, err = Feedback(ctx, d.Tracker, n); err != nil {
					return Outcome{}, err
				}
			}
		}
		text, err := d.Workflow.Render(prompt, data)
		if err != nil {
			return Outcome{}, err
		}
		tr, err := d.openTranscript(r.ID)
		if err != nil {
			return Outcome{}, err
		}
		defer tr.Close()
		task := agentorg.Task{
			Role: r.Stage.Role, Issue: n, Attempt: a.N, Dir: wt.Path, Prompt: text,
			Access: agentorg.ReadWrite, Env: d.AgentEnv(def), Transcript: tr,
			Timeout: def.Timeout, StallTimeout: def.StallTimeout, OnStart: r.OnStart,
			Confine: d.confine(def, wt.Path, agentorg.ReadWrite),
		}
		resume, err := resumable(ctx, d, n, a, def.Name)
		if err != nil {
			return Outcome{}, err
		}
		task.SessionUsage = resume.usage
		if !resume.ok {
			// A new session on an issue another worker held: it is told
			// what the session it replaces knew.
			if ev, ok, err := takeoverOf(ctx, d, n, a.N); err != nil {
				return Outcome{}, err
			} else if ok {
				more, err := takeoverText(ctx, d, n, a.N, ev, data.Plan, text)
				if err != nil {
					return Outcome{}, err
				}
				task.Prompt = strings.TrimRight(task.Prompt, "\n") + more
			}
		}
		var res agentorg.Result
		began := time.Now()
		if resume.ok {
			res, err = ag.Resume(ctx, a.SessionID, task)
		} else {
			res, err = ag.Start(ctx, task)
		}
		external = time.Since(began)
		if err != nil {
			if errors.Is(err, agentorg.ErrAgent) {
				// Kept on the attempt, so that `issue show` says why, with
				// what the run spent (it counts toward the budgets) and its
				// session (the retry resumes it).
				if rerr := d.Log.SetFailure(ctx, n, a.N, def.Name, res.SessionID, oneLine(err.Error()), res.Usage); rerr != nil {
					return Outcome{}, errors.Join(err, rerr)
				}
				recordAgentRun(ctx, d, r, def.Name, res, fmt.Sprintf("attempt %d failed: %s", a.N, oneLine(err.Error())),
					map[string]string{"attempt": fmt.Sprint(a.N), "resumed": fmt.Sprint(resume.ok), "failed": "true"})
			}
			return Outcome{}, err
		}
		session := res.SessionID
		if session == "" {
			session = a.SessionID
		}
		if err := d.Log.SetSession(ctx, n, a.N, def.Name, session, res.Summary, res.Usage); err != nil {
			return Outcome{}, err
		}
		res.SessionID = session
		recordAgentRun(ctx, d, r, def.Name, res, fmt.Sprintf("attempt %d: %s", a.N, oneLine(res.Summary)),
			map[string]string{"attempt": fmt.Sprint(a.N), "resumed": fmt.Sprint(resume.ok)})
	}

	sha, changed, leftOut, err := wt.CommitLeavingOut(ctx, fmt.Sprintf("#%d: %s (attempt %d)", n, r.Issue.Title, a.N), d.Identity, junk(d.Workflow, wt.Path))
	if err != nil {
		return Outcome{}, err
	}
	if len(leftOut) > 0 {
		if err := d.Log.SetLeftOut(ctx, n, a.N, leftOut); err != nil {
			return Outcome{}, err
		}
	}
	// Kept in the database before the attempt records it, so that another
	// worker can take the issue over from any recorded work.
	d.keepWork(ctx, r, n, a.N, sha)
	if err := d.Log.SetWork(ctx, n, a.N, sha); err != nil {
		return Outcome{}, err
	}
	// The intent map follows what the developer actually changed.
	if err := recordChanged(ctx, d, r, a, sha); err != nil {
		return Outcome{}, err
	}
	why := fmt.Sprintf("attempt %d committed %s", a.N, short(sha))
	if !changed {
		why = fmt.Sprintf("attempt %d changed nothing; head stays %s", a.N, short(sha))
	}
	return Outcome{Reason: why, External: external}, nil
}

// currentAttempt returns the attempt this run works on: the unfinished one
// if a run crashed, else a new one that resumes the previous session.
func currentAttempt(ctx context.Context, d *Deps, r *Run) (eventlog.Attempt, error) {
	last, ok, err := d.Log.LastAttempt(ctx, r.Issue.Number)
	if err != nil {
		return eventlog.Attempt{}, err
	}
	if ok && last.Verdict == "" {
		return last, nil
	}
	next := eventlog.Attempt{Issue: r.Issue.Number, N: 1, RunID: r.ID}
	if ok {
		next.N = last.N + 1
		next.SessionID = last.SessionID
	}
	return d.Log.StartAttempt(ctx, next)
}

// resumption says whether an attempt resumes its session, and what the
// session's earlier runs consumed.
type resumption struct {
	ok    bool
	usage agentorg.Usage
}

// resumable decides whether attempt a continues the earlier session: only
// when the same agent owns it. A session belongs to one tool; if the workflow
// now names another agent, that agent starts afresh in the same worktree.
// The engine's re-validations (the merge queue's, a stale GO's) ran no
// agent: they carry the session on, whichever stage found the failure.
// A run of this attempt that failed after reporting its session is
// continued too: a retry after a stall keeps the conversation.
func resumable(ctx context.Context, d *Deps, issue int64, a eventlog.Attempt, agent string) (resumption, error) {
	if a.SessionID == "" {
		return resumption{}, nil
	}
	if a.Failed() {
		if a.Agent != agent {
			return resumption{}, nil
		}
		prior, err := resumable(ctx, d, issue, eventlog.Attempt{N: a.N, SessionID: a.SessionID}, agent)
		if err != nil {
			return resumption{}, err
		}
		return resumption{ok: true, usage: prior.usage.Add(a.Usage)}, nil
	}
	as, err := d.Log.Attempts(ctx, issue)
	if err != nil {
		return resumption{}, err
	}
	var r resumption
	for _, p := range as {
		if p.N >= a.N || p.SessionID != a.SessionID || p.Agent == eventlog.EngineAgent {
			continue
		}
		if p.Agent != agent {
			return resumption{}, nil
		}
		r.ok = true
		r.usage = r.usage.Add(p.Usage)
	}
	return r, nil
}

func previous(ctx context.Context, d *Deps, issue int64, n int) (eventlog.Attempt, error) {
	as, err := d.Log.Attempts(ctx, issue)
	if err != nil {
		return eventlog.Attempt{}, err
	}
	for _, a := range as {
		if a.N == n-1 {
			return a, nil
		}
	}
	return eventlog.Attempt{}, fmt.Errorf("issue #%d: attempt %d not found", issue, n-1)
}

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// junk is what the engine leaves out of an attempt's commit: the
// workflow's list, else the defaults for the ecosystems the work tree's
// root shows; nil when the workflow lets junk in (hygiene.junk_refused).
func junk(w *workflow.Workflow, dir string) []string {
	if w.Hygiene.JunkRefused {
		return nil
	}
	if w.Hygiene.Junk != nil {
		return w.Hygiene.Junk
	}
	return hygiene.DefaultJunk(func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	})
}
