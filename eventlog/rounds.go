package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Statuses of a review round.
const (
	RoundTriaging  = "triaging"  // the triage agent classifies the threads
	RoundFixing    = "fixing"    // the developer's session fixes what must change
	RoundAnswering = "answering" // replies are being posted in the threads
	RoundDone      = "done"      // every handled thread was answered
)

// Round is one review-triage round of an issue's merge request: the
// threads the triage agent was given at Head, what it decided for each, and
// how far the round got. A restart reads it to continue where it stopped.
type Round struct {
	Issue   int64         `json:"issue"`
	N       int           `json:"n"`
	MR      int64         `json:"mr"`
	Head    string        `json:"head"`
	Status  string        `json:"status"`
	Attempt int           `json:"attempt,omitempty"` // the developer attempt that fixes the round
	Commit  string        `json:"commit,omitempty"`  // the validated commit that answers it
	Threads []RoundThread `json:"threads"`
	Started time.Time     `json:"started_at"`
}

// RoundThread is one thread of a round, as it was when triaged.
type RoundThread struct {
	ID    string `json:"id"`
	Path  string `json:"path,omitempty"`
	Line  int    `json:"line,omitempty"`
	Quote string `json:"quote"` // the thread as prompts show it
	// Decision is empty until the triage agent answered.
	Decision ThreadDecision `json:"decision"`
}

// ThreadDecision is the triage agent's answer for one thread, as recorded.
// The log keeps its own type rather than triage's, so that the record does
// not depend on the policy that made it; its fields and JSON names match
// triage.Decision (role converts between the two), and stored rounds read
// back whatever triage becomes.
type ThreadDecision struct {
	Thread string `json:"thread"`
	Class  string `json:"class"`
	Accept bool   `json:"accept,omitempty"`
	Reason string `json:"reason"`
	Answer string `json:"answer,omitempty"`
	Title  string `json:"title,omitempty"`
}

// Rounds lists an issue's review rounds, oldest first.
func (l *Log) Rounds(ctx context.Context, issue int64) ([]Round, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT issue, n, mr, head_sha, status, attempt, commit_sha, threads, started_at
		FROM agentorg_review_rounds WHERE issue = ? ORDER BY n`, issue)
	if err != nil {
		return nil, fmt.Errorf("eventlog: review rounds of #%d: %w", issue, err)
	}
	defer rows.Close()
	var out []Round
	for rows.Next() {
		var r Round
		var threads, started string
		if err := rows.Scan(&r.Issue, &r.N, &r.MR, &r.Head, &r.Status, &r.Attempt, &r.Commit, &threads, &started); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(threads), &r.Threads); err != nil {
			return nil, fmt.Errorf("eventlog: review round %d of #%d: %w", r.N, r.Issue, err)
		}
		r.Started, _ = time.Parse(timeFormat, started)
		out = append(out, r)
	}
	return out, rows.Err()
}

// StartRound records round r; starting a round that exists returns it
// unchanged (a retried stage continues the same round).
func (l *Log) StartRound(ctx context.Context, r Round) (Round, error) {
	if r.Started.IsZero() {
		r.Started = l.now()
	}
	threads, err := json.Marshal(r.Threads)
	if err != nil {
		return Round{}, err
	}
	if _, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_review_rounds (issue, n, mr, head_sha, status, threads, started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issue, n) DO NOTHING`,
		r.Issue, r.N, r.MR, r.Head, r.Status, string(threads), r.Started.UTC().Format(timeFormat)); err != nil {
		return Round{}, fmt.Errorf("eventlog: start review round %d of #%d: %w", r.N, r.Issue, err)
	}
	rs, err := l.Rounds(ctx, r.Issue)
	if err != nil {
		return Round{}, err
	}
	for _, got := range rs {
		if got.N == r.N {
			return got, nil
		}
	}
	return Round{}, fmt.Errorf("eventlog: review round %d of #%d vanished", r.N, r.Issue)
}

// UpdateRound stores a round's status, attempt, commit and threads.
func (l *Log) UpdateRound(ctx context.Context, r Round) error {
	threads, err := json.Marshal(r.Threads)
	if err != nil {
		return err
	}
	res, err := l.db.ExecContext(ctx, `UPDATE agentorg_review_rounds SET status = ?, attempt = ?, commit_sha = ?, threads = ? WHERE issue = ? AND n = ?`,
		r.Status, r.Attempt, r.Commit, string(threads), r.Issue, r.N)
	if err != nil {
		return fmt.Errorf("eventlog: review round %d of #%d: %w", r.N, r.Issue, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return fmt.Errorf("eventlog: review round %d of #%d does not exist", r.N, r.Issue)
	}
	return nil
}

// OpenRound returns the issue's newest round unless it is done.
func (l *Log) OpenRound(ctx context.Context, issue int64) (Round, bool, error) {
	rs, err := l.Rounds(ctx, issue)
	if err != nil || len(rs) == 0 || rs[len(rs)-1].Status == RoundDone {
		return Round{}, false, err
	}
	return rs[len(rs)-1], true, nil
}
