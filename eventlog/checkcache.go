package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const checkCacheSchema = `
CREATE TABLE IF NOT EXISTS agentorg_check_cache (
	tree        TEXT NOT NULL,
	def         TEXT NOT NULL,
	passed      INTEGER NOT NULL,
	exit_code   INTEGER NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	output      TEXT NOT NULL DEFAULT '',
	duration_ms INTEGER NOT NULL,
	at          TEXT NOT NULL,
	PRIMARY KEY (tree, def)
);`

// CheckRun is a check's outcome as the cache keeps it.
type CheckRun struct {
	Passed   bool
	ExitCode int
	Reason   string
	Output   string
	Duration time.Duration
	At       time.Time // when it ran
}

// CachedCheck returns the outcome of the check defined by def (a digest of
// its definition) on tree, if it ran before.
func (l *Log) CachedCheck(ctx context.Context, tree, def string) (CheckRun, bool, error) {
	var c CheckRun
	var passed, ms int64
	var at string
	err := l.db.QueryRowContext(ctx, `SELECT passed, exit_code, reason, output, duration_ms, at FROM agentorg_check_cache WHERE tree = ? AND def = ?`,
		tree, def).Scan(&passed, &c.ExitCode, &c.Reason, &c.Output, &ms, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("eventlog: check cache: %w", err)
	}
	c.Passed, c.Duration = passed != 0, time.Duration(ms)*time.Millisecond
	c.At, _ = time.Parse(timeFormat, at)
	return c, true, nil
}

// CacheCheck keeps the outcome of a check on tree. A check that did not run
// to the end (cancelled) must not be cached; the caller decides.
func (l *Log) CacheCheck(ctx context.Context, tree, def string, c CheckRun) error {
	return l.cacheCheck(ctx, tree, def, c, "DO NOTHING")
}

// RecacheCheck keeps the outcome of a check on tree in place of the one
// kept before: a run a person asked for again (`agentorg check --run`),
// perhaps after fixing what failed it outside the repository.
func (l *Log) RecacheCheck(ctx context.Context, tree, def string, c CheckRun) error {
	return l.cacheCheck(ctx, tree, def, c, `DO UPDATE SET passed = excluded.passed, exit_code = excluded.exit_code,
		reason = excluded.reason, output = excluded.output, duration_ms = excluded.duration_ms, at = excluded.at`)
}

func (l *Log) cacheCheck(ctx context.Context, tree, def string, c CheckRun, onConflict string) error {
	passed := 0
	if c.Passed {
		passed = 1
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_check_cache (tree, def, passed, exit_code, reason, output, duration_ms, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tree, def) `+onConflict,
		tree, def, passed, c.ExitCode, text(c.Reason), text(c.Output), c.Duration.Milliseconds(), l.now().UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("eventlog: check cache: %w", err)
	}
	return nil
}

// The judgement cache keeps a validator agent's verdicts on a tree, so that
// a stage that runs again for a reason outside validation (a git or forge
// error in the merge, a crash) does not pay the agent again for the same
// question: what was validated stays validated for that tree.
const judgementCacheSchema = `
CREATE TABLE IF NOT EXISTS agentorg_judgement_cache (
	tree   TEXT NOT NULL,
	key    TEXT NOT NULL,
	answer TEXT NOT NULL,
	at     TEXT NOT NULL,
	PRIMARY KEY (tree, key)
);`

// CachedJudgement returns the answer kept for key (a digest of the
// question) on tree, if any.
func (l *Log) CachedJudgement(ctx context.Context, tree, key string) (string, bool, error) {
	var answer string
	err := l.db.QueryRowContext(ctx, `SELECT answer FROM agentorg_judgement_cache WHERE tree = ? AND key = ?`, tree, key).Scan(&answer)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("eventlog: judgement cache: %w", err)
	}
	return answer, true, nil
}

// CacheJudgement keeps an answer for key on tree; the first one stays.
func (l *Log) CacheJudgement(ctx context.Context, tree, key, answer string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_judgement_cache (tree, key, answer, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tree, key) DO NOTHING`, tree, key, text(answer), l.now().UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("eventlog: judgement cache: %w", err)
	}
	return nil
}
