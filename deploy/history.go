package deploy

import (
	"cmp"
	"slices"
	"time"
)

// Record is a deployment in the history (the event log keeps them).
//
// A rollback run is a record with Rollback set (or, equally, State
// StateRolledBack): Version is the version it rolled back to, and it put
// that version in place when its State is StateSucceeded or StateRolledBack.
// Any other record is a deployment of Version; only StateSucceeded (its
// verify passed) counts as a success. A record still StateRunning after its
// process died must be marked StateInterrupted by whoever notices, or it
// keeps its environment busy (see Decide).
type Record struct {
	Env, Version      string
	State             string
	Started, Finished time.Time
	Rollback          bool
}

// The states of a Record.
const (
	StateRunning     = "running"
	StateSucceeded   = "succeeded"
	StateFailed      = "failed" // verify failed
	StateRolledBack  = "rolled-back"
	StateInterrupted = "interrupted"
)

func (r Record) isRollback() bool { return r.Rollback || r.State == StateRolledBack }

// inPlace says whether r left r.Version running in its environment: a
// deployment that succeeded or a rollback that completed.
func (r Record) inPlace() bool {
	if r.isRollback() {
		return r.State == StateSucceeded || r.State == StateRolledBack
	}
	return r.State == StateSucceeded
}

// changed says whether r changed what its environment runs to r.Version: a
// deployment whose commands ran, whatever its verify said (a failed verify
// leaves the new version deployed, to be rolled back), or a rollback that
// completed. Running and interrupted runs count too: they may have.
func (r Record) changed() bool {
	return !r.isRollback() || r.inPlace()
}

// done is when r finished, or when it started if it has no finish.
func (r Record) done() time.Time {
	if r.Finished.IsZero() {
		return r.Started
	}
	return r.Finished
}

// envHistory is env's records, oldest first: by Started, then Finished,
// then their order in history, so that any order of history gives the same
// answer.
func envHistory(env string, history []Record) []Record {
	type indexed struct {
		Record
		i int
	}
	var recs []indexed
	for i, r := range history {
		if r.Env == env {
			recs = append(recs, indexed{r, i})
		}
	}
	slices.SortFunc(recs, func(a, b indexed) int {
		return cmp.Or(a.Started.Compare(b.Started), a.Finished.Compare(b.Finished), cmp.Compare(a.i, b.i))
	})
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = r.Record
	}
	return out
}

// Current returns the version env runs: the version of its newest record
// that put one in place (a succeeded deployment or a completed rollback),
// "" when none has. A failed deployment does not change it.
func Current(env string, history []Record) string {
	recs := envHistory(env, history)
	for k := len(recs) - 1; k >= 0; k-- {
		if recs[k].inPlace() {
			return recs[k].Version
		}
	}
	return ""
}

// LastGood returns the version to roll env back to when leaving except: the
// version of env's newest record, of another version than except, that put
// it in place, skipping versions env was rolled back from since (those were
// found bad). "" when there is none.
func LastGood(env, except string, history []Record) string {
	recs := envHistory(env, history)
	for k := len(recs) - 1; k >= 0; k-- {
		r := recs[k]
		if r.Version == except || !r.inPlace() {
			continue
		}
		if _, bad := rolledBackFrom(recs, r.Version, k); bad {
			continue
		}
		return r.Version
	}
	return ""
}

// rolledBackFrom finds the first rollback run after recs[after] that took
// the environment away from version: the newest record before it that
// changed the environment was of version, and it rolls back to another.
// Every rollback run counts, finished or not: someone judged version bad.
func rolledBackFrom(recs []Record, version string, after int) (Record, bool) {
	for j := after + 1; j < len(recs); j++ {
		r := recs[j]
		if !r.isRollback() || r.Version == version {
			continue
		}
		for k := j - 1; k >= 0; k-- {
			if recs[k].changed() {
				if recs[k].Version == version {
					return r, true
				}
				break
			}
		}
	}
	return Record{}, false
}
