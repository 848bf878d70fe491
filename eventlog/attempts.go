package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
)

// Verdicts of a validation.
const (
	GO   = "GO"
	NOGO = "NO-GO"
)

// Attempt is one developer attempt at an issue and what validation said of
// it. Attempt n+1 resumes attempt n's agent session.
type Attempt struct {
	Issue     int64  `json:"issue"`
	N         int    `json:"n"`
	RunID     string `json:"run_id"`
	Agent     string `json:"agent"`
	SessionID string `json:"session_id"`
	// CommitSHA is what validation validated and a GO pushes: one commit of
	// agentorg's, the work's tree on the target (see workspace.Squash).
	CommitSHA string `json:"commit_sha"`
	// WorkSHA is the developer's commit in the issue's worktree: the work,
	// with its history of attempts, which never leaves the mirror.
	WorkSHA string `json:"work_sha,omitempty"`
	Verdict string `json:"verdict"` // "", GO or NO-GO
	// FoundBy is the stage whose validation gave the verdict (validate,
	// or merge for the merge queue's re-validation), apart from Agent,
	// which ran: EngineAgent when no agent did.
	FoundBy  string         `json:"found_by,omitempty"`
	Distance int            `json:"distance"` // Distance(Findings); -1 before validation
	Findings []Finding      `json:"findings"` // what failed, behind the distance
	Report   string         `json:"report"`
	Summary  string         `json:"summary"`
	Usage    agentorg.Usage `json:"usage"`
	// LeftOut names the junk the engine left out of the attempt's commit
	// (logs, build output: see hygiene.DefaultJunk).
	LeftOut    []string  `json:"left_out,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// EngineAgent is the agent of an attempt the engine made without a
// developer run: a re-validation of the previous attempt's work (the
// merge queue's, a stale GO's).
const EngineAgent = "engine"

// Finding is one thing a validation found failing: a check, a criterion not
// met, a hygiene rule, a conflict. Key is stable across attempts, so the
// convergence policy can tell the same failure coming back.
type Finding struct {
	Key  string `json:"key"`
	Text string `json:"text"` // one line for people
	// Target marks a failure the target branch has too, before the change
	// (a check already red there): shown, but not the change's to fix, so
	// not part of the distance.
	Target bool `json:"target,omitempty"`
}

// FindingKeys returns the keys of the findings that make an attempt's
// distance: those of the target's own (Finding.Target) left out.
func (a Attempt) FindingKeys() []string {
	keys := make([]string, 0, len(a.Findings))
	for _, f := range a.Findings {
		if !f.Target {
			keys = append(keys, f.Key)
		}
	}
	return keys
}

// TargetFindings returns the findings the target branch has too.
func (a Attempt) TargetFindings() []Finding {
	var out []Finding
	for _, f := range a.Findings {
		if f.Target {
			out = append(out, f)
		}
	}
	return out
}

// Distance is how far a validation found a change from GO: its findings,
// less the target's own.
func Distance(findings []Finding) int {
	n := 0
	for _, f := range findings {
		if !f.Target {
			n++
		}
	}
	return n
}

// Attempts lists an issue's attempts, oldest first.
func (l *Log) Attempts(ctx context.Context, issue int64) ([]Attempt, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT issue, n, run_id, agent, session_id, commit_sha, verdict, distance, findings, report, summary, usage, started_at, finished_at, left_out, work_sha, found_by
		FROM agentorg_attempts WHERE issue = ? ORDER BY n`, issue)
	if err != nil {
		return nil, fmt.Errorf("eventlog: attempts of #%d: %w", issue, err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var usage, started, finished, findings, leftOut string
		if err := rows.Scan(&a.Issue, &a.N, &a.RunID, &a.Agent, &a.SessionID, &a.CommitSHA, &a.Verdict, &a.Distance, &findings, &a.Report, &a.Summary, &usage, &started, &finished, &leftOut, &a.WorkSHA, &a.FoundBy); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(leftOut), &a.LeftOut)
		_ = json.Unmarshal([]byte(findings), &a.Findings)
		_ = json.Unmarshal([]byte(usage), &a.Usage)
		a.StartedAt, _ = time.Parse(timeFormat, started)
		if finished != "" {
			a.FinishedAt, _ = time.Parse(timeFormat, finished)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LastAttempt returns the newest attempt, or ok=false when there is none.
func (l *Log) LastAttempt(ctx context.Context, issue int64) (Attempt, bool, error) {
	as, err := l.Attempts(ctx, issue)
	if err != nil || len(as) == 0 {
		return Attempt{}, false, err
	}
	return as[len(as)-1], true, nil
}

// StartAttempt records attempt n; starting an attempt that exists returns it
// unchanged (a retried stage continues the same attempt).
func (l *Log) StartAttempt(ctx context.Context, a Attempt) (Attempt, error) {
	if a.StartedAt.IsZero() {
		a.StartedAt = l.now()
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_attempts (issue, n, run_id, agent, session_id, started_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (issue, n) DO NOTHING`,
		a.Issue, a.N, a.RunID, a.Agent, a.SessionID, a.StartedAt.UTC().Format(timeFormat))
	if err != nil {
		return Attempt{}, fmt.Errorf("eventlog: start attempt %d of #%d: %w", a.N, a.Issue, err)
	}
	as, err := l.Attempts(ctx, a.Issue)
	if err != nil {
		return Attempt{}, err
	}
	for _, got := range as {
		if got.N == a.N {
			return got, nil
		}
	}
	return Attempt{}, errors.New("eventlog: attempt vanished")
}

// SetSession records the attempt's agent run that finished: its agent, its
// session (the newest id the agent reported; an empty one keeps the id
// recorded), its summary, and its usage, added to what the attempt's
// failed runs spent before it.
func (l *Log) SetSession(ctx context.Context, issue int64, n int, agent, session, summary string, u agentorg.Usage) error {
	return l.recordRun(ctx, issue, n, agent, session, summary, u)
}

// FailurePrefix starts the summary of an attempt whose agent run failed.
const FailurePrefix = "agent failed: "

// Failed reports that the attempt's last agent run failed: a retry runs the
// agent again (resuming its session when it reported one).
func (a Attempt) Failed() bool { return strings.HasPrefix(a.Summary, FailurePrefix) }

// SetFailure records an attempt's agent run that failed (a timeout, a
// stall, an error result), with what it spent and the session it reported:
// a failed run still costs money, counts toward the budgets, and can be
// resumed. The attempt stays open: a retry runs the agent again.
func (l *Log) SetFailure(ctx context.Context, issue int64, n int, agent, session, reason string, u agentorg.Usage) error {
	// An agent's error already says "agent failed: " (agentorg.ErrAgent).
	return l.recordRun(ctx, issue, n, agent, session, FailurePrefix+strings.TrimPrefix(reason, FailurePrefix), u)
}

func (l *Log) recordRun(ctx context.Context, issue int64, n int, agent, session, summary string, u agentorg.Usage) error {
	as, err := l.Attempts(ctx, issue)
	if err != nil {
		return err
	}
	var total agentorg.Usage
	for _, a := range as {
		if a.N == n {
			total = a.Usage
			if session == "" {
				session = a.SessionID
			}
		}
	}
	usage, _ := json.Marshal(total.Add(u))
	return l.update(ctx, issue, n, `agent = ?, session_id = ?, summary = ?, usage = ?`, agent, session, text(summary), string(usage))
}

// Restart makes attempt n's agent run again, in a new session: its agent
// and session are cleared, what it spent stays. Another worker took the
// issue over, and the session's files are on the worker that held it.
func (l *Log) Restart(ctx context.Context, issue int64, n int) error {
	return l.update(ctx, issue, n, `agent = '', session_id = ''`)
}

// SetLeftOut stores what the engine left out of an attempt's commit.
func (l *Log) SetLeftOut(ctx context.Context, issue int64, n int, leftOut []string) error {
	b, err := json.Marshal(leftOut)
	if err != nil {
		return err
	}
	if leftOut == nil {
		b = []byte("[]")
	}
	return l.update(ctx, issue, n, `left_out = ?`, string(b))
}

// Work is the developer's commit of the attempt: WorkSHA, or for an
// attempt recorded before the two were told apart, CommitSHA.
func (a Attempt) Work() string {
	if a.WorkSHA != "" {
		return a.WorkSHA
	}
	return a.CommitSHA
}

// SetWork stores the developer's commit of an attempt.
func (l *Log) SetWork(ctx context.Context, issue int64, n int, sha string) error {
	return l.update(ctx, issue, n, `work_sha = ?`, sha)
}

// SetCommit stores the commit validation validates and a GO pushes.
func (l *Log) SetCommit(ctx context.Context, issue int64, n int, sha string) error {
	return l.update(ctx, issue, n, `commit_sha = ?`, sha)
}

// SetVerdict stores the validation verdict, findings and report of an
// attempt, and the stage that found them; the distance is the number of
// findings less the target's own.
func (l *Log) SetVerdict(ctx context.Context, issue int64, n int, stage, verdict string, findings []Finding, report string) error {
	fs, err := json.Marshal(findings)
	if err != nil {
		return err
	}
	if findings == nil {
		fs = []byte("[]")
	}
	return l.update(ctx, issue, n, `verdict = ?, distance = ?, findings = ?, report = ?, found_by = ?, finished_at = ?`,
		verdict, Distance(findings), string(fs), text(report), stage, l.now().UTC().Format(timeFormat))
}

func (l *Log) update(ctx context.Context, issue int64, n int, set string, args ...any) error {
	args = append(args, issue, n)
	res, err := l.db.ExecContext(ctx, `UPDATE agentorg_attempts SET `+set+` WHERE issue = ? AND n = ?`, args...)
	if err != nil {
		return fmt.Errorf("eventlog: attempt %d of #%d: %w", n, issue, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return fmt.Errorf("eventlog: attempt %d of #%d: %w", n, issue, agentorg.ErrNotFound)
	}
	return nil
}
