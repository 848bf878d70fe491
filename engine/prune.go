package engine

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/agentorg/agentorg/store"
)

// Pruned counts what PruneClaims removed (or would), of how many rows.
type Pruned struct {
	Claims, ClaimsGone   int64 // the claim log
	Workers, WorkersGone int64 // agentorg_workers
}

// PruneClaims removes from db the claim log's rows of claims that ended
// before `before`, and the workers whose last heartbeat is older than
// that: `agentorg gc`. A claim still running and a worker still beating
// stay whatever their age. With dryRun it only counts.
func PruneClaims(ctx context.Context, db *sql.DB, before time.Time, dryRun bool) (Pruned, error) {
	var p Pruned
	ms := before.UnixMilli()
	for _, t := range []struct {
		table, where string
		total, gone  *int64
	}{
		{"agentorg_claim_log", "ended_at IS NOT NULL AND ended_at < ?", &p.Claims, &p.ClaimsGone},
		{"agentorg_workers", "beat_at < ?", &p.Workers, &p.WorkersGone},
	} {
		ok, err := store.TableExists(ctx, db, t.table)
		if err != nil {
			return p, fmt.Errorf("engine: prune %s: %w", t.table, err)
		}
		if !ok {
			continue // no engine ever ran on db
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+t.table).Scan(t.total); err != nil {
			return p, fmt.Errorf("engine: prune %s: %w", t.table, err)
		}
		if dryRun {
			err = db.QueryRowContext(ctx, `SELECT count(*) FROM `+t.table+` WHERE `+t.where, ms).Scan(t.gone)
		} else {
			var res sql.Result
			if res, err = db.ExecContext(ctx, `DELETE FROM `+t.table+` WHERE `+t.where, ms); err == nil {
				*t.gone, err = res.RowsAffected()
			}
		}
		if err != nil {
			return p, fmt.Errorf("engine: prune %s: %w", t.table, err)
		}
	}
	return p, nil
}
