package role

import (
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/workflow"
)

// The merge stage's decision, one case per action and per branch of it
// (docs/lifecycle.md, "Merge"; I3, I4, I5; F6: a busy target waits before
// the turn, so before any validation). Who may approve is package
// gate's (gate.Decide, its own table test): here Approved is its answer at
// the merge request's head, so a bot's approval never reaches the planner
// as one.
func TestPlanMerge(t *testing.T) {
	const (
		head  = "aaaaaaaaaa1111111111aaaaaaaaaa1111111111"
		other = "bbbbbbbbbb2222222222bbbbbbbbbb2222222222"
		gone  = "cccccccccc3333333333cccccccccc3333333333"
		merge = "dddddddddd4444444444dddddddddd4444444444"
	)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	gate := &workflow.Gate{Name: "mr", Waits: "mr:ready-for-review", Approve: "mr:approved"}
	openMR := agentorg.MergeRequest{Number: 7, Issue: 3, State: agentorg.MROpen, HeadSHA: head, TargetBranch: "main"}
	mergedMR := openMR
	mergedMR.State, mergedMR.MergeSHA = agentorg.MRMerged, merge
	dev := eventlog.Attempt{Issue: 3, N: 2, Agent: "codex", Verdict: eventlog.GO, CommitSHA: head}
	engine := eventlog.Attempt{Issue: 3, N: 3, Agent: eventlog.EngineAgent, Verdict: eventlog.GO, CommitSHA: head}
	running := agentorg.Pipeline{ID: 41, SHA: head, Status: "running"}
	passed := agentorg.Pipeline{ID: 41, SHA: head, Status: agentorg.PipelineSuccess}
	failed := agentorg.Pipeline{ID: 41, SHA: head, Status: agentorg.PipelineFailed}
	closed := eventlog.Target{Branch: "main", Closed: true, Since: now, Reason: "E2E fails at 1a2b3c4d5e", CulpritIssue: 5, RevertIssue: 9}

	// ready is an issue whose developer GO is at the head and approved,
	// with the turn taken and the train run: it merges.
	ready := func(edit func(*mergeInput)) mergeInput {
		in := mergeInput{Issue: 3, Target: "main", MR: openMR, Turn: true, CanTrain: true, TrainDone: true,
			Attempt: dev, HasAttempt: true, Gate: gate, Approved: true,
			ValidateOn: "validate:ready", CIFailure: "ci:failed", Now: now}
		if edit != nil {
			edit(&in)
		}
		return in
	}
	// auto is ready in a stage that hands the merge to GitLab.
	auto := func(p pipelineFacts) mergeInput {
		return ready(func(in *mergeInput) {
			in.AutoMerge, in.CanTrain = true, false
			p.Supported = true
			in.Pipeline = p
		})
	}
	setMR := func(in mergeInput) mergeInput { in.MR.AutoMerge = true; return in }
	mergedNow := mergedMR
	mergedNow.AutoMerge = true

	seen := map[mergeKind]bool{}
	for _, c := range []struct {
		name   string
		in     mergeInput
		kind   mergeKind
		reason string // exact, or a prefix ending in "…"
		check  func(t *testing.T, a mergeAction)
	}{
		// Already merged.
		{name: "merged: finish", in: mergeInput{Issue: 3, Target: "main", MR: mergedMR},
			kind: mergeFinish, reason: "merged !7 as dddddddddd; issue closed",
			check: func(t *testing.T, a mergeAction) {
				if a.Event != "" || a.MR.MergeSHA != merge {
					t.Errorf("event %q, merge request %+v: want no event, the merged one", a.Event, a.MR)
				}
			}},
		{name: "merged by GitLab's auto-merge between polls: finish and record it", in: mergeInput{Issue: 3, Target: "main", MR: mergedMR, AutoMerge: true},
			kind: mergeFinish, reason: "merged !7 as dddddddddd; issue closed",
			check: func(t *testing.T, a mergeAction) {
				if a.Event != "GitLab merged !7 into main (auto-merge)" || a.Data["auto_merge"] != "merged" || a.Data["merge_sha"] != merge {
					t.Errorf("event %q %v", a.Event, a.Data)
				}
			}},
		{name: "merged by this run's train: finish, the train recorded it", in: mergeInput{Issue: 3, Target: "main", MR: mergedMR, AutoMerge: true, Turn: true, TrainDone: true},
			kind: mergeFinish, reason: "merged !7 as dddddddddd; issue closed",
			check: func(t *testing.T, a mergeAction) {
				if a.Event != "" {
					t.Errorf("event %q", a.Event)
				}
			}},

		// Before the turn: the target.
		{name: "busy target: wait for a person", in: mergeInput{Issue: 3, Target: "main", MR: openMR, Busy: "main has uncommitted changes in /src"},
			kind: mergeWait, reason: "the merge waits: main has uncommitted changes in /src",
			check: func(t *testing.T, a mergeAction) {
				if !a.ForHuman || a.Watch != nil {
					t.Errorf("for human %v, watch %+v", a.ForHuman, a.Watch)
				}
			}},
		{name: "closed target, not the recovery's issue: wait", in: mergeInput{Issue: 3, Target: "main", MR: openMR, Closure: closed, Recovery: workflow.RecoveryRevert},
			kind: mergeWait, reason: "the merge waits: main is closed since " + now.Local().Format("15:04:05") + ": E2E fails at 1a2b3c4d5e; only the revert (#9) lands until E2E passes on it again",
			check: func(t *testing.T, a mergeAction) {
				if !a.ForHuman || a.Watch == nil {
					t.Errorf("for human %v, watch %+v", a.ForHuman, a.Watch)
				}
			}},
		{name: "closed target, the revert: take the turn", in: mergeInput{Issue: 9, Target: "main", MR: openMR, Closure: closed, Recovery: workflow.RecoveryRevert},
			kind: mergeTurn, reason: "merges take turns"},
		{name: "closed target, recovery revert: the culprit waits for the revert", in: mergeInput{Issue: 5, Target: "main", MR: openMR, Closure: func() eventlog.Target { t := closed; t.SentBack = true; return t }(), Recovery: workflow.RecoveryRevert},
			kind: mergeWait, reason: "the merge waits: …"},
		{name: "closed target, recovery close: the culprit's fix lands", in: mergeInput{Issue: 5, Target: "main", MR: openMR, Closure: eventlog.Target{Branch: "main", Closed: true, CulpritIssue: 5, SentBack: true}, Recovery: workflow.RecoveryClose},
			kind: mergeTurn, reason: "merges take turns"},
		{name: "closed target, recovery close: another issue waits for the fix", in: mergeInput{Issue: 3, Target: "main", MR: openMR, Closure: eventlog.Target{Branch: "main", Closed: true, Since: now, Reason: "red", CulpritIssue: 5, SentBack: true}, Recovery: workflow.RecoveryClose},
			kind: mergeWait, reason: "the merge waits: main is closed since " + now.Local().Format("15:04:05") + ": red; only the fix of #5 lands until E2E passes on it again"},
		{name: "open target: take the turn", in: mergeInput{Issue: 3, Target: "main", MR: openMR},
			kind: mergeTurn, reason: "merges take turns"},

		// The train.
		{name: "a forge that merges onto an expected target: build a train", in: ready(func(in *mergeInput) { in.TrainDone = false }),
			kind: mergeTrain, reason: "merge train for main, !7 first"},
		{name: "no target guard: no train, merge alone", in: ready(func(in *mergeInput) { in.CanTrain, in.TrainDone = false, false }),
			kind: mergeMerge, reason: "merged !7 at aaaaaaaaaa into main"},

		// The last attempt.
		{name: "no attempt: escalate", in: ready(func(in *mergeInput) { in.Attempt, in.HasAttempt = eventlog.Attempt{}, false }),
			kind: mergeEscalate, reason: "merge request !7 has no GO from validation; refusing to merge"},
		{name: "NO-GO found: escalate", in: ready(func(in *mergeInput) { in.Attempt.Verdict = eventlog.NOGO }),
			kind: mergeEscalate, reason: "merge request !7 has no GO from validation; refusing to merge"},
		{name: "a developer attempt never validated: escalate", in: ready(func(in *mergeInput) { in.Attempt.Verdict = "" }),
			kind: mergeEscalate, reason: "merge request !7 has no GO from validation; refusing to merge"},
		{name: "the merge queue's validation a crash left: finish it", in: ready(func(in *mergeInput) { in.Attempt = engine; in.Attempt.Verdict = "" }),
			kind: mergeRevalidate, reason: "finishing the validation of attempt 3 that a crash left",
			check: func(t *testing.T, a mergeAction) {
				if a.Moved != "" || a.Attempt.N != 3 {
					t.Errorf("moved %q, attempt %d", a.Moved, a.Attempt.N)
				}
			}},
		{name: "this run's validation is NO-GO: back to the developer", in: ready(func(in *mergeInput) {
			in.Attempt = engine
			in.Attempt.Verdict, in.Attempt.Distance, in.Validated = eventlog.NOGO, 2, 3
		}),
			kind: mergeBackToDeveloper, reason: "attempt 3, validated again before merging, is NO-GO (distance 2)",
			check: func(t *testing.T, a mergeAction) {
				if a.Attempt.N != 3 {
					t.Errorf("attempt %d", a.Attempt.N)
				}
			}},

		// The merge queue's GO (an engine attempt) and the gate (I5).
		{name: "engine GO at another head, even approved there: back for approval", in: ready(func(in *mergeInput) {
			in.Attempt = engine
			in.Attempt.CommitSHA = other
		}),
			kind: mergeBackForApproval, reason: "main moved: the change was brought up to date as bbbbbbbbbb and validated GO (attempt 3); new commits void the earlier approval, so merge request !7 waits for a new one",
			check: func(t *testing.T, a mergeAction) {
				if a.To != "mr:ready-for-review" || a.SHA != other {
					t.Errorf("to %q, push %q", a.To, a.SHA)
				}
			}},
		{name: "engine GO at head, not approved: back for approval", in: ready(func(in *mergeInput) { in.Attempt, in.Approved = engine, false }),
			kind: mergeBackForApproval, reason: "main moved: the change was brought up to date as aaaaaaaaaa and validated GO (attempt 3); new commits void the earlier approval, so merge request !7 waits for a new one"},
		{name: "engine GO at head, approved there: merge", in: ready(func(in *mergeInput) { in.Attempt = engine }),
			kind: mergeMerge, reason: "merged !7 at aaaaaaaaaa into main"},
		{name: "this run's requeue GO, with a gate: back for approval, naming the voided one", in: ready(func(in *mergeInput) {
			in.Attempt, in.Validated, in.RequeuedFrom = engine, 3, gone
			in.Attempt.CommitSHA = other
		}),
			kind: mergeBackForApproval, reason: "main moved after cccccccccc was approved: the change was brought up to date as bbbbbbbbbb and validated GO (attempt 3); new commits void that approval, so merge request !7 waits for a new one"},
		{name: "engine GO without a gate, not yet pushed: push it", in: ready(func(in *mergeInput) {
			in.Gate, in.Attempt = nil, engine
			in.Attempt.CommitSHA = other
		}),
			kind: mergePush, reason: "pushing attempt 3's GO bbbbbbbbbb to merge request !7",
			check: func(t *testing.T, a mergeAction) {
				if a.SHA != other {
					t.Errorf("push %q", a.SHA)
				}
			}},
		{name: "this run's requeue GO without a gate, target moved again: push it, no second requeue", in: ready(func(in *mergeInput) {
			in.Gate, in.Attempt, in.Validated, in.RequeuedFrom, in.Stale = nil, engine, 3, head, "main moved to 1234567890 since attempt 3 was validated"
			in.Attempt.CommitSHA = other
		}),
			kind: mergePush, reason: "pushing attempt 3's GO bbbbbbbbbb to merge request !7"},

		// A developer's GO and the head.
		{name: "GO at another head, someone else's commit: escalate", in: ready(func(in *mergeInput) {
			in.MR.HeadSHA, in.Foreign = other, "agentorg/3 is at bbbbbbbbbb, a commit agentorg did not push"
		}),
			kind: mergeEscalate, reason: "merge request !7: agentorg/3 is at bbbbbbbbbb, a commit agentorg did not push"},
		{name: "GO at another head, agentorg's earlier push: back to validation", in: ready(func(in *mergeInput) { in.MR.HeadSHA = other }),
			kind: mergeBackToValidation, reason: "merge request !7 head bbbbbbbbbb is not the validated commit aaaaaaaaaa: validating again",
			check: func(t *testing.T, a mergeAction) {
				if a.To != "validate:ready" {
					t.Errorf("to %q", a.To)
				}
			}},
		{name: "GO at another head, no validate stage: escalate", in: ready(func(in *mergeInput) { in.MR.HeadSHA, in.ValidateOn = other, "" }),
			kind: mergeEscalate, reason: "merge request !7 head bbbbbbbbbb is not the validated commit aaaaaaaaaa; no validate stage to run again"},
		{name: "GO at another head, approved there: back to validation all the same", in: ready(func(in *mergeInput) { in.MR.HeadSHA = other }),
			kind: mergeBackToValidation, reason: "merge request !7 head bbbbbbbbbb is not the validated commit aaaaaaaaaa: validating again"},
		{name: "GO at head, no approval by an allowed approver: escalate", in: ready(func(in *mergeInput) { in.Approved = false }),
			kind: mergeEscalate, reason: "merge request !7 has no approval at its head by an allowed approver"},
		{name: "GO at head, no gate: merge", in: ready(func(in *mergeInput) { in.Gate, in.Approved = nil, false }),
			kind: mergeMerge, reason: "merged !7 at aaaaaaaaaa into main"},

		// The merge queue: a GO the target moved past.
		{name: "target moved since the GO: validate again", in: ready(func(in *mergeInput) { in.Stale = "main moved to 1234567890 since attempt 2 was validated" }),
			kind: mergeRevalidate, reason: "validating again as attempt 3 before merging: main moved to 1234567890 since attempt 2 was validated",
			check: func(t *testing.T, a mergeAction) {
				if a.Moved != "main moved to 1234567890 since attempt 2 was validated" || a.Attempt.N != 2 {
					t.Errorf("moved %q, from attempt %d", a.Moved, a.Attempt.N)
				}
			}},
		{name: "the crash's validation GO, target moved since: validate again", in: ready(func(in *mergeInput) {
			in.Attempt, in.Validated, in.Stale = engine, 3, "main moved to 1234567890 since attempt 3 was validated"
		}),
			kind: mergeRevalidate, reason: "validating again as attempt 4 before merging: main moved to 1234567890 since attempt 3 was validated"},
		{name: "staleness check finds someone else's head: escalate", in: ready(func(in *mergeInput) { in.StaleForeign = "merge request !7: agentorg/3 is at bbbbbbbbbb" }),
			kind: mergeEscalate, reason: "merge request !7: agentorg/3 is at bbbbbbbbbb"},

		// Auto-merge (GitLab).
		{name: "auto-merge on a forge without it: merge", in: ready(func(in *mergeInput) { in.AutoMerge = true }),
			kind: mergeMerge, reason: "merged !7 at aaaaaaaaaa into main"},
		{name: "auto-merge, no pipeline yet: wait for one until the grace ends", in: auto(pipelineFacts{Since: now.Add(-time.Minute), Grace: 10 * time.Minute}),
			kind: mergeWait, reason: "waiting for a pipeline on aaaaaaaaaa before setting auto-merge",
			check: func(t *testing.T, a mergeAction) {
				if w := a.Watch; w == nil || w.MR != 7 || w.SHA != head || w.Pipeline != "" || !w.Until.Equal(now.Add(9*time.Minute)) || a.ForHuman {
					t.Errorf("watch %+v, for human %v", w, a.ForHuman)
				}
			}},
		{name: "auto-merge, no pipeline past the grace: merge", in: auto(pipelineFacts{Since: now.Add(-11 * time.Minute), Grace: 10 * time.Minute}),
			kind: mergeMerge, reason: "merged !7 at aaaaaaaaaa into main"},
		{name: "auto-merge, pipeline running: set auto-merge", in: auto(pipelineFacts{Found: true, P: running}),
			kind: mergeSetAutoMerge, reason: "auto-merge set: GitLab merges !7 when pipeline #41 on aaaaaaaaaa succeeds",
			check: func(t *testing.T, a mergeAction) {
				if a.SHA != head || a.Pipeline.ID != 41 {
					t.Errorf("sha %q, pipeline %+v", a.SHA, a.Pipeline)
				}
			}},
		{name: "auto-merge set, pipeline running: wait", in: setMR(auto(pipelineFacts{Found: true, P: running})),
			kind: mergeWait, reason: "pipeline #41 is running on aaaaaaaaaa; GitLab merges !7 when it succeeds",
			check: func(t *testing.T, a mergeAction) {
				if w := a.Watch; w == nil || w.Pipeline != "running" || w.MR != 7 || !w.Until.IsZero() {
					t.Errorf("watch %+v", w)
				}
			}},
		{name: "pipeline passed before auto-merge was set: merge", in: auto(pipelineFacts{Found: true, P: passed}),
			kind: mergeMerge, reason: "merged !7 at aaaaaaaaaa into main"},
		{name: "pipeline passed under auto-merge, GitLab is merging: wait", in: setMR(auto(pipelineFacts{Found: true, P: passed, Current: setMR(ready(nil)).MR})),
			kind: mergeWait, reason: "pipeline #41 passed on aaaaaaaaaa; GitLab is merging !7"},
		{name: "pipeline passed under auto-merge, GitLab merged it: finish and record the merge", in: setMR(auto(pipelineFacts{Found: true, P: passed, Current: mergedNow})),
			kind: mergeFinish, reason: "merged !7 as dddddddddd; issue closed",
			check: func(t *testing.T, a mergeAction) {
				if a.Event != "merged !7 at aaaaaaaaaa into main" || a.Data["merge_sha"] != merge || a.Data["auto_merge"] != "" {
					t.Errorf("event %q %v", a.Event, a.Data)
				}
			}},
		{name: "pipeline failed under auto-merge: back to the developer as CI sends it", in: setMR(auto(pipelineFacts{Found: true, P: failed})),
			kind: mergePipelineFailed, reason: "pipeline #41 failed on aaaaaaaaaa: merge request !7 was not merged",
			check: func(t *testing.T, a mergeAction) {
				if a.To != "ci:failed" || a.Pipeline.ID != 41 {
					t.Errorf("to %q, pipeline %+v", a.To, a.Pipeline)
				}
			}},
	} {
		seen[c.kind] = true
		t.Run(c.name, func(t *testing.T) {
			a := planMerge(c.in)
			if a.Kind != c.kind {
				t.Fatalf("action %s (%q), want %s", a.Kind, a.Reason, c.kind)
			}
			if prefix, ok := strings.CutSuffix(c.reason, "…"); ok {
				if !strings.HasPrefix(a.Reason, prefix) {
					t.Errorf("reason %q, want it to begin %q", a.Reason, prefix)
				}
			} else if a.Reason != c.reason {
				t.Errorf("reason\n %q, want\n %q", a.Reason, c.reason)
			}
			if c.check != nil {
				c.check(t, a)
			}
		})
	}
	// One case at least per action of the closed set.
	for k := mergeFinish; k <= mergeEscalate; k++ {
		if !seen[k] {
			t.Errorf("no case leads to the action %s", k)
		}
	}
}
