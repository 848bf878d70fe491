package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
)

// QueryPlan returns the steps SQLite would take to run query with args
// (EXPLAIN QUERY PLAN's details, such as "SEARCH t USING INDEX i (a=?)"),
// for tests that hold a query to an index.
func QueryPlan(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: query plan: %w", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, fmt.Errorf("sqlitedb: query plan: %w", err)
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}
