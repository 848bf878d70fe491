package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// counts is what the statement cache asked of the driver.
type counts struct {
	prepared, stmtsClosed, connsClosed atomic.Int64
	direct                             atomic.Int64 // Exec or Query past the cache
}

// countingConnector sits between the cache and the driver and counts.
type countingConnector struct {
	driver.Connector
	n *counts
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{innerConn: conn.(innerConn), n: c.n}, nil
}

type countingConn struct {
	innerConn
	n *counts
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.n.prepared.Add(1)
	return &countingStmt{innerStmt: s.(innerStmt), n: c.n}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.n.direct.Add(1)
	return c.innerConn.ExecContext(ctx, query, args)
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.direct.Add(1)
	return c.innerConn.QueryContext(ctx, query, args)
}

func (c *countingConn) Close() error {
	c.n.connsClosed.Add(1)
	return c.innerConn.Close()
}

type countingStmt struct {
	innerStmt
	n *counts
}

func (s *countingStmt) Close() error {
	s.n.stmtsClosed.Add(1)
	return s.innerStmt.Close()
}

func openWith(t *testing.T, wrap func(driver.Connector) driver.Connector) *sql.DB {
	t.Helper()
	db, err := openDB(filepath.Join(t.TempDir(), "agentorg.db"), wrap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openCounted opens a cached pool whose driver calls are counted.
func openCounted(t *testing.T) (*sql.DB, *counts) {
	n := new(counts)
	db := openWith(t, func(c driver.Connector) driver.Connector {
		return newCachingConnector(countingConnector{Connector: c, n: n})
	})
	return db, n
}

func openUncached(t *testing.T) *sql.DB { return openWith(t, uncached) }

// cached returns the texts the pool's one connection has statements for.
func cached(t *testing.T, db *sql.DB) []string {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var texts []string
	err = conn.Raw(func(dc any) error {
		cc, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("connection is a %T, not a *cachingConn", dc)
		}
		for q := range cc.stmts {
			texts = append(texts, q)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestOpenCachesStatements(t *testing.T) {
	db := open(t)
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	if got := cached(t, db); !strings.Contains(strings.Join(got, "\n"), "CREATE TABLE t") {
		t.Fatalf("cache of the pool Open returns holds %q", got)
	}
}

func TestRepeatedTextIsPreparedOnce(t *testing.T) {
	db, n := openCounted(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	before := n.prepared.Load()
	for i := range 5 {
		mustExec(t, db, "INSERT INTO t (x) VALUES (?)", i)
		var c int
		if err := db.QueryRow("SELECT count(*) FROM t WHERE x <= ?", i).Scan(&c); err != nil || c != i+1 {
			t.Fatalf("count after insert %d: %d, %v", i, c, err)
		}
		// Transactions run on the same connection, so on the same cache.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO t (x) VALUES (?)", -1); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.prepared.Load() - before; got != 2 {
		t.Fatalf("prepared %d statements for 2 distinct texts", got)
	}
}

// transcript runs the same work on db twice (the second time on cached
// statements, where there is a cache) and records everything a caller sees.
func transcript(t *testing.T, db *sql.DB) []string {
	ctx := context.Background()
	var out []string
	rec := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	mustExec(t, db, `CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT UNIQUE,
		b BLOB, d DATETIME, n VARCHAR(10), dec DECIMAL(8,2))`)
	when := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	for round := range 2 {
		for i := range 3 {
			res, err := db.ExecContext(ctx, "INSERT INTO v (i, r, s, b, d, n, dec) VALUES (?, ?, ?, ?, ?, ?, ?)",
				i, float64(i)/3, fmt.Sprintf("s%d-%d", round, i), []byte{byte(i), 0}, when.Add(time.Duration(i)*time.Hour), nil, 1.25)
			if err != nil {
				rec("insert error %v", err)
				continue
			}
			id, err1 := res.LastInsertId()
			ra, err2 := res.RowsAffected()
			rec("insert id=%d affected=%d %v %v", id, ra, err1, err2)
		}
		_, err := db.ExecContext(ctx, "INSERT INTO v (s) VALUES (?)", "s0-0")
		rec("duplicate: %v", err)
		_, err = db.ExecContext(ctx, "INSERT INTO nowhere VALUES (?)", 1)
		rec("missing table: %v", err)
		_, err = db.ExecContext(ctx, "SELEKT 1")
		rec("syntax: %v", err)
		var s string
		err = db.QueryRowContext(ctx, "INSERT INTO v (s) VALUES (?) RETURNING s", "s0-1").Scan(&s)
		rec("duplicate returning: %v", err)
		res, err := db.ExecContext(ctx, "UPDATE v SET n = ? WHERE i = ?", "upd", 1)
		if err == nil {
			ra, _ := res.RowsAffected()
			rec("updated %d", ra)
		}

		rows, err := db.QueryContext(ctx, "SELECT * FROM v WHERE id > ? ORDER BY id", 0)
		if err != nil {
			t.Fatal(err)
		}
		types, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range types {
			length, hasLength := ct.Length()
			nullable, hasNullable := ct.Nullable()
			p, sc, hasDec := ct.DecimalSize()
			rec("column %s %s %v len=%d,%v null=%v,%v dec=%d,%d,%v", ct.Name(), ct.DatabaseTypeName(),
				ct.ScanType(), length, hasLength, nullable, hasNullable, p, sc, hasDec)
		}
		for rows.Next() {
			vals := make([]any, len(types))
			ptrs := make([]any, len(types))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			rec("row %#v", vals)
		}
		rec("rows err %v close %v", rows.Err(), rows.Close())
		var none int
		rec("no rows: %v", db.QueryRowContext(ctx, "SELECT i FROM v WHERE id < ?", 0).Scan(&none))
	}
	return out
}

func TestResultsMatchTheDriverAlone(t *testing.T) {
	want := transcript(t, openUncached(t))
	db, n := openCounted(t)
	got := transcript(t, db)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with the cache:\n%s\nwithout:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The second round must have run on cached statements.
	if p, c := n.prepared.Load(), len(cached(t, db)); p != int64(c) {
		t.Errorf("prepared %d statements for %d texts", p, c)
	}
}

// A query whose text is running already, with its rows open, cannot share
// its statement: binding would fail or restart the outer rows.
func TestSameTextNestedInATransaction(t *testing.T) {
	db, n := openCounted(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2), (3)")
	const q = "SELECT x FROM t WHERE x > ? ORDER BY x"
	before, directBefore := n.prepared.Load(), n.direct.Load()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outer []int
	for rows.Next() {
		var x int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, x)
		var above []int
		inner, err := tx.QueryContext(ctx, q, x)
		if err != nil {
			t.Fatalf("nested query: %v", err)
		}
		for inner.Next() {
			var y int
			if err := inner.Scan(&y); err != nil {
				t.Fatal(err)
			}
			above = append(above, y)
		}
		if err := errors.Join(inner.Err(), inner.Close()); err != nil {
			t.Fatal(err)
		}
		if want := 3 - x; len(above) != want || (want > 0 && above[0] != x+1) {
			t.Errorf("nested query for x > %d: %v", x, above)
		}
		if _, err := tx.ExecContext(ctx, q, x); err != nil {
			t.Errorf("nested exec of the same text: %v", err)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(outer, []int{1, 2, 3}) {
		t.Errorf("outer rows %v, want [1 2 3]", outer)
	}
	// Closed, the cached statement serves again.
	var c int
	if err := tx.QueryRowContext(ctx, q, 2).Scan(&c); err != nil || c != 3 {
		t.Errorf("query after the nested ones: %d, %v", c, err)
	}
	if got := n.prepared.Load() - before; got != 1 {
		t.Errorf("prepared %d statements, want the 1 cached", got)
	}
	if got := n.direct.Load() - directBefore; got != 6 {
		t.Errorf("%d calls went past the cache, want the 6 nested ones", got)
	}
}

func TestSeveralStatementsInOneText(t *testing.T) {
	db, n := openCounted(t)
	before := n.prepared.Load()
	mustExec(t, db, "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);\n INSERT INTO a VALUES (2);")
	var c int
	if err := db.QueryRow("INSERT INTO a VALUES (3); SELECT count(*) FROM a").Scan(&c); err != nil || c != 3 {
		t.Fatalf("script query: %d, %v", c, err)
	}
	if got := n.prepared.Load() - before; got != 0 {
		t.Errorf("prepared %d statements for scripts", got)
	}
	if got := n.direct.Load(); got != 2 {
		t.Errorf("%d calls went to the driver unchanged, want the 2 scripts", got)
	}
	// One statement ending in ';', or with one in a comment, is cached.
	if err := db.QueryRow("SELECT count(*) FROM a;").Scan(&c); err != nil || c != 3 {
		t.Fatalf("query with a final ';': %d, %v", c, err)
	}
	if err := db.QueryRow("SELECT count(*) -- all; of them\nFROM a").Scan(&c); err != nil || c != 3 {
		t.Fatalf("query with a ';' in a comment: %d, %v", c, err)
	}
	if got := n.prepared.Load() - before; got != 2 {
		t.Errorf("prepared %d statements, want 2", got)
	}
	for _, q := range cached(t, db) {
		if strings.Contains(q, "INSERT") {
			t.Errorf("cached a script: %q", q)
		}
	}
}

func TestCacheableFindsOneStatement(t *testing.T) {
	for _, c := range []struct {
		query string
		one   bool
	}{
		{"SELECT 1", true},
		{"SELECT 1;", true},
		{"", true},
		{"SELECT 1; SELECT 2", false},
		{"SELECT 1;\n", false}, // the driver runs a tail as a script
		{"SELECT 1 -- one; two\nFROM t", true},
		{"SELECT 1 -- one; two", true},
		{"SELECT 1 /* one; two */ FROM t", true},
		{"SELECT 1 /*/ ; */ FROM t", true},
		{"SELECT 1 /* open; ", true},
		{"SELECT 'a;b', 'it''s;' FROM t", true},
		{"SELECT 'it''s'; DROP TABLE t", false},
		{`SELECT "a;b", ` + "`c;d`, [e;f] FROM t", true},
		{"SELECT 1 - -2; SELECT 2", false},
		{"SELECT 2 / 1; SELECT 2", false},
		{"SELECT '-- not a comment'; SELECT 2", false},
		{"CREATE TABLE a (x); INSERT INTO a VALUES (1)", false},
	} {
		if got := cacheable(c.query); got != c.one {
			t.Errorf("cacheable(%q) = %v, want %v", c.query, got, c.one)
		}
	}
}

func TestErrorsKeepTheirCode(t *testing.T) {
	db := open(t)
	mustExec(t, db, "CREATE TABLE u (k TEXT UNIQUE)")
	mustExec(t, db, "INSERT INTO u (k) VALUES (?)", "a")
	check := func(what string, err error) {
		t.Helper()
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
			t.Errorf("%s: %v (%T), want a *sqlite.Error with SQLITE_CONSTRAINT_UNIQUE", what, err, err)
		}
	}
	for range 2 { // prepared, then cached
		_, err := db.Exec("INSERT INTO u (k) VALUES (?)", "a")
		check("exec", err)
		var k string
		check("query", db.QueryRow("INSERT INTO u (k) VALUES (?) RETURNING k", "a").Scan(&k))
	}
	// The statements stay usable after failing.
	mustExec(t, db, "INSERT INTO u (k) VALUES (?)", "b")
	var k string
	if err := db.QueryRow("INSERT INTO u (k) VALUES (?) RETURNING k", "c").Scan(&k); err != nil || k != "c" {
		t.Fatalf("insert returning after a failure: %q, %v", k, err)
	}
	_, err := db.Exec("SELEKT 1")
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_ERROR {
		t.Errorf("syntax error: %v (%T)", err, err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("close after failed statements: %v", err)
	}
}

func TestCanceledQueryLeavesTheStatementUsable(t *testing.T) {
	db := open(t)
	const q = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT max(x) FROM c"
	const long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT x FROM c"
	var m int
	if err := db.QueryRow(q, 3).Scan(&m); err != nil || m != 3 {
		t.Fatalf("%d, %v", m, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := db.QueryContext(ctx, long, 100_000_000)
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	cancel() // database/sql closes the rows
	for rows.Next() {
	}
	if err := rows.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("rows after cancel: %v", err)
	}
	for _, n := range []int{5, 7} {
		if err := db.QueryRow(q, n).Scan(&m); err != nil || m != n {
			t.Fatalf("after a canceled query: %d, %v", m, err)
		}
		var x int
		if err := db.QueryRow(long, n).Scan(&x); err != nil || x != 1 {
			t.Fatalf("the canceled text again: %d, %v", x, err)
		}
	}
}

func TestCacheIsBounded(t *testing.T) {
	db, n := openCounted(t)
	for i := range stmtCacheSize + 10 {
		var v int
		if err := db.QueryRow(fmt.Sprintf("SELECT %d", i)).Scan(&v); err != nil || v != i {
			t.Fatalf("SELECT %d: %d, %v", i, v, err)
		}
	}
	if got := len(cached(t, db)); got != stmtCacheSize {
		t.Errorf("%d statements cached, want %d", got, stmtCacheSize)
	}
	if live := n.prepared.Load() - n.stmtsClosed.Load(); live != stmtCacheSize {
		t.Errorf("%d statements left open, want %d (evicted ones closed)", live, stmtCacheSize)
	}
}

// fakeStmt is a statement that only records being closed.
type fakeStmt struct {
	innerStmt
	closed bool
}

func (s *fakeStmt) Close() error { s.closed = true; return nil }

func TestEvictionSparesStatementsInUse(t *testing.T) {
	c := &cachingConn{stmts: make(map[string]*cachedStmt)}
	var idle *fakeStmt
	for i := range stmtCacheSize {
		f := &fakeStmt{}
		c.stmts[fmt.Sprint(i)] = &cachedStmt{innerStmt: f, busy: i != 7}
		if i == 7 {
			idle = f
		}
	}
	if !c.makeRoom() || len(c.stmts) != stmtCacheSize-1 || !idle.closed {
		t.Fatalf("makeRoom did not evict and close the one idle statement")
	}
	for _, s := range c.stmts {
		if s.innerStmt.(*fakeStmt).closed {
			t.Fatal("closed a statement in use")
		}
	}
	c.stmts["x"] = &cachedStmt{innerStmt: &fakeStmt{}, busy: true}
	if c.makeRoom() {
		t.Fatal("makeRoom found room in a full cache of statements in use")
	}
}

func TestCloseClosesEveryStatement(t *testing.T) {
	db, n := openCounted(t)
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	for i := range 3 {
		mustExec(t, db, fmt.Sprintf("INSERT INTO t VALUES (%d)", i))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if p, c := n.prepared.Load(), n.stmtsClosed.Load(); p < 5 || c != p {
		t.Errorf("closed %d of %d prepared statements", c, p)
	}
	if got := n.connsClosed.Load(); got != 1 {
		t.Errorf("closed %d connections, want 1", got)
	}
}

// database/sql chooses its code paths by the optional interfaces a
// connection and its rows implement; the cache must not change them. Execer
// and Queryer are left out on purpose: database/sql uses them only on a
// connection without ExecerContext and QueryerContext.
func TestWrappersImplementWhatTheDriverDoes(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	connIfaces := []reflect.Type{
		reflect.TypeFor[driver.ConnBeginTx](), reflect.TypeFor[driver.ConnPrepareContext](),
		reflect.TypeFor[driver.ExecerContext](), reflect.TypeFor[driver.QueryerContext](),
		reflect.TypeFor[driver.Pinger](), reflect.TypeFor[driver.SessionResetter](),
		reflect.TypeFor[driver.Validator](), reflect.TypeFor[driver.NamedValueChecker](),
	}
	rowsIfaces := []reflect.Type{
		reflect.TypeFor[driver.RowsNextResultSet](), reflect.TypeFor[driver.RowsColumnTypeScanType](),
		reflect.TypeFor[driver.RowsColumnTypeDatabaseTypeName](), reflect.TypeFor[driver.RowsColumnTypeLength](),
		reflect.TypeFor[driver.RowsColumnTypeNullable](), reflect.TypeFor[driver.RowsColumnTypePrecisionScale](),
	}
	same := func(what string, inner, outer any, ifaces []reflect.Type) {
		for _, it := range ifaces {
			if a, b := reflect.TypeOf(inner).Implements(it), reflect.TypeOf(outer).Implements(it); a != b {
				t.Errorf("%s: driver's implements %v: %v, wrapper's: %v", what, it, a, b)
			}
		}
	}
	err = conn.Raw(func(dc any) error {
		cc := dc.(*cachingConn)
		same("conn", cc.innerConn, cc, connIfaces)
		innerRows, err := cc.innerConn.QueryContext(ctx, "SELECT 1", nil)
		if err != nil {
			return err
		}
		defer innerRows.Close()
		rows, err := cc.QueryContext(ctx, "SELECT 1", nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		if _, ok := rows.(*cachedRows); !ok {
			return fmt.Errorf("rows are a %T, not *cachedRows", rows)
		}
		same("rows", innerRows, rows, rowsIfaces)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// modernc reaches its connection through Unwrap.
	if _, err := sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_SQL_LENGTH, -1); err != nil {
		t.Errorf("sqlite.Limit through the wrapper: %v", err)
	}
}

// benchUpdate and benchSelect are statements of about the size and shape of
// River's and the tracker's, so that parsing costs what it does there.
const (
	benchUpdate = `UPDATE bench SET state = ?, attempt = attempt + 1, updated_at = ?
	WHERE id = ? AND state IN ('available', 'running', 'retryable') AND kind = ?`
	benchSelect = `SELECT id, state, attempt, updated_at FROM bench
	WHERE kind = ? AND state IN ('available', 'running', 'retryable') AND id >= ? ORDER BY id LIMIT 1`
)

// bench runs one statement b.N times on a pool whose driver connector is
// wrapped by wrap.
func bench(b *testing.B, wrap func(driver.Connector) driver.Connector, run func(db *sql.DB, i int) error) {
	db, err := openDB(filepath.Join(b.TempDir(), "bench.db"), wrap)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE bench (id INTEGER PRIMARY KEY, state TEXT, attempt INTEGER,
		updated_at INTEGER, kind TEXT); INSERT INTO bench VALUES (1, 'running', 0, 0, 'k')`); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if err := run(db, i); err != nil {
			b.Fatal(err)
		}
	}
}

func uncached(c driver.Connector) driver.Connector { return c }

func execUpdate(db *sql.DB, i int) error {
	_, err := db.Exec(benchUpdate, "running", i, 1, "k")
	return err
}

func querySelect(db *sql.DB, _ int) error {
	var id, attempt, at int
	var state string
	return db.QueryRow(benchSelect, "k", 1).Scan(&id, &state, &attempt, &at)
}

func BenchmarkExecCached(b *testing.B)    { bench(b, newCachingConnector, execUpdate) }
func BenchmarkExecUncached(b *testing.B)  { bench(b, uncached, execUpdate) }
func BenchmarkQueryCached(b *testing.B)   { bench(b, newCachingConnector, querySelect) }
func BenchmarkQueryUncached(b *testing.B) { bench(b, uncached, querySelect) }
