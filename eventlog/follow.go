package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// EventsAfter lists at most limit events (0: all) that f selects and were
// recorded after the event with id after, oldest first. It reads by the
// primary key, or by the (issue, id) index with f.Issue, so a reader that
// keeps asking for what is new costs a range scan of the new rows only.
func (l *Log) EventsAfter(ctx context.Context, after int64, f Filter, limit int) ([]Event, error) {
	return l.list(ctx, f, after, limit)
}

// LastID returns the id of the newest event, 0 when there is none: a
// follower that starts there shows only what happens from now on.
func (l *Log) LastID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT max(id) FROM agentorg_events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("eventlog: last id: %w", err)
	}
	return id.Int64, nil
}

// followBatch bounds one read of a follower, so that a burst of events is
// read in pieces rather than held at once.
const followBatch = 500

// Follow calls fn with every event f selects that is recorded after the
// event with id after, oldest first. It reads what is new every interval
// until ctx ends, then once more, so that what was recorded before the end
// (a run's last transitions) is not missed. It returns fn's first error, or
// nil once ctx has ended.
//
// Events come from whichever process recorded them (the engine, a human's
// approve in another shell): the log is the one record all of them share.
func (l *Log) Follow(ctx context.Context, after int64, f Filter, interval time.Duration, fn func(Event) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		done := ctx.Err() != nil
		readCtx := ctx
		if done {
			readCtx = context.WithoutCancel(ctx)
		}
		var err error
		if after, err = l.drain(readCtx, after, f, fn); err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// drain calls fn with every event after after and returns the last id read.
func (l *Log) drain(ctx context.Context, after int64, f Filter, fn func(Event) error) (int64, error) {
	for {
		evs, err := l.EventsAfter(ctx, after, f, followBatch)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return after, nil
			}
			return after, err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return after, err
			}
			after = e.ID
		}
		if len(evs) < followBatch {
			return after, nil
		}
	}
}

// RunRef is a run as the event log knows it: its id, and the issue, stage
// and time of its first event.
type RunRef struct {
	ID    string    `json:"run_id"`
	Issue int64     `json:"issue"`
	Stage string    `json:"stage"`
	At    time.Time `json:"at"`
}

// FindRuns lists the runs whose id starts with prefix ("" for any), newest
// first, at most limit of them. It reads the whole table (run ids have no
// index): it answers a person's `agentorg logs`, not a loop.
func (l *Log) FindRuns(ctx context.Context, prefix string, limit int) ([]RunRef, error) {
	// Each run by its first event (issue, stage, time), the runs that
	// recorded last first.
	rows, err := l.db.QueryContext(ctx, `SELECT e.run_id, e.issue, e.stage, e.at FROM agentorg_events e
		JOIN (SELECT min(id) AS first, max(id) AS last FROM agentorg_events
			WHERE run_id != '' AND substr(run_id, 1, ?) = ? GROUP BY run_id) r ON e.id = r.first
		ORDER BY r.last DESC LIMIT ?`,
		len(prefix), prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("eventlog: find runs: %w", err)
	}
	defer rows.Close()
	var out []RunRef
	for rows.Next() {
		var r RunRef
		var at string
		if err := rows.Scan(&r.ID, &r.Issue, &r.Stage, &at); err != nil {
			return nil, err
		}
		r.At, _ = time.Parse(timeFormat, at)
		out = append(out, r)
	}
	return out, rows.Err()
}
