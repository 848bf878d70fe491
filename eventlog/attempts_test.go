package eventlog

import (
	"context"
	"database/sql"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/store/storetest"
)

// A database made before attempts had findings gains the column, and the
// findings round-trip with the distance derived from them.
func TestMigrateAddsFindingsAndTheyRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sql.DB) { migrateAddsFindings(t, db) })
}

func migrateAddsFindings(t *testing.T, db *sql.DB) {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE agentorg_attempts (
		issue INTEGER NOT NULL, n INTEGER NOT NULL, run_id TEXT NOT NULL, agent TEXT NOT NULL DEFAULT '',
		session_id TEXT NOT NULL DEFAULT '', commit_sha TEXT NOT NULL DEFAULT '', verdict TEXT NOT NULL DEFAULT '',
		distance INTEGER NOT NULL DEFAULT -1, report TEXT NOT NULL DEFAULT '', summary TEXT NOT NULL DEFAULT '',
		usage TEXT NOT NULL DEFAULT '{}', started_at TEXT NOT NULL, finished_at TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (issue, n));
		INSERT INTO agentorg_attempts (issue, n, run_id, verdict, distance, started_at) VALUES (1, 1, 'r', 'NO-GO', 2, '2026-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	l := New(db)
	for i := 0; i < 2; i++ { // twice: migrating is idempotent
		if err := l.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	as, err := l.Attempts(ctx, 1)
	if err != nil || len(as) != 1 || as[0].Distance != 2 || len(as[0].Findings) != 0 {
		t.Fatalf("old attempt: %+v %v", as, err)
	}
	if _, err := l.StartAttempt(ctx, Attempt{Issue: 1, N: 2, RunID: "r2"}); err != nil {
		t.Fatal(err)
	}
	fs := []Finding{{Key: "check:test:ab", Text: "Check `test` failed"}, {Key: "criterion:x", Text: "unmet"}}
	if err := l.SetVerdict(ctx, 1, 2, "merge", NOGO, fs, "report"); err != nil {
		t.Fatal(err)
	}
	a, _, err := l.LastAttempt(ctx, 1)
	if err != nil || a.Distance != 2 || len(a.Findings) != 2 || a.FindingKeys()[1] != "criterion:x" || a.Report != "report" || a.FoundBy != "merge" {
		t.Fatalf("attempt 2: %+v %v", a, err)
	}
}

// An agent's error says "agent failed: " already: the summary says it once.
func TestSetFailureSaysAgentFailedOnce(t *testing.T) {
	eachLog(t, setFailureSaysAgentFailedOnce)
}

func setFailureSaysAgentFailedOnce(t *testing.T, l *Log) {
	ctx := context.Background()
	if _, err := l.StartAttempt(ctx, Attempt{Issue: 1, N: 1, RunID: "r"}); err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{"agent failed: stalled: no output for 4s", "stalled: no output for 4s"} {
		if err := l.SetFailure(ctx, 1, 1, "coder", "", reason, agentorg.Usage{}); err != nil {
			t.Fatal(err)
		}
		a, _, _ := l.LastAttempt(ctx, 1)
		if a.Summary != "agent failed: stalled: no output for 4s" {
			t.Errorf("SetFailure(%q): summary %q", reason, a.Summary)
		}
	}
}

// A failed run's session and usage are kept: the usage adds up with the
// run that follows, and an empty session id keeps the one recorded.
func TestFailedRunsCountAndKeepTheirSession(t *testing.T) {
	eachLog(t, failedRunsCountAndKeepTheirSession)
}

func failedRunsCountAndKeepTheirSession(t *testing.T, l *Log) {
	ctx := context.Background()
	if _, err := l.StartAttempt(ctx, Attempt{Issue: 1, N: 1, RunID: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetFailure(ctx, 1, 1, "coder", "thread-1", "stalled", agentorg.Usage{InputTokens: 100, CostUSD: 0.5}); err != nil {
		t.Fatal(err)
	}
	a, _, _ := l.LastAttempt(ctx, 1)
	if !a.Failed() || a.SessionID != "thread-1" || a.Usage.InputTokens != 100 {
		t.Fatalf("after the failure: %+v", a)
	}
	if err := l.SetSession(ctx, 1, 1, "coder", "", "done", agentorg.Usage{InputTokens: 50, CostUSD: 0.25}); err != nil {
		t.Fatal(err)
	}
	a, _, _ = l.LastAttempt(ctx, 1)
	if a.Failed() || a.SessionID != "thread-1" || a.Usage.InputTokens != 150 || a.Usage.CostUSD != 0.75 {
		t.Fatalf("after the retry: %+v", a)
	}
}

// Restart clears an attempt's agent and session (a takeover: the session's
// files are on another worker), keeping what its runs spent.
func TestRestartClearsTheSessionKeepsTheUsage(t *testing.T) {
	eachLog(t, func(t *testing.T, l *Log) {
		ctx := context.Background()
		if _, err := l.StartAttempt(ctx, Attempt{Issue: 1, N: 2, RunID: "r", SessionID: "s-1"}); err != nil {
			t.Fatal(err)
		}
		if err := l.SetFailure(ctx, 1, 2, "codex", "s-1", "stalled", agentorg.Usage{InputTokens: 7}); err != nil {
			t.Fatal(err)
		}
		if err := l.Restart(ctx, 1, 2); err != nil {
			t.Fatal(err)
		}
		a, _, err := l.LastAttempt(ctx, 1)
		if err != nil || a.Agent != "" || a.SessionID != "" || a.Usage.InputTokens != 7 {
			t.Fatalf("restarted attempt: %+v %v", a, err)
		}
		if err := l.Restart(ctx, 1, 3); err == nil {
			t.Error("Restart of an attempt that does not exist")
		}
	})
}
