package sqlitedb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// stmtCacheSize bounds the statements each connection keeps. agentorg and
// River send fewer than a hundred distinct texts (64 in `agentorg bench`);
// the bound only matters for text that embeds changing values.
const stmtCacheSize = 512

// database/sql gives the driver every Exec and Query as SQL text, and the
// driver parses it afresh each time: a fifth of agentorg's CPU under
// `agentorg bench`. cachingConnector wraps the driver's connections in
// cachingConn, which keeps one prepared statement per distinct text.
type cachingConnector struct{ inner driver.Connector }

func newCachingConnector(inner driver.Connector) driver.Connector {
	return cachingConnector{inner: inner}
}

// innerConn is what cachingConn needs of the driver's connection, and exactly
// the optional interfaces modernc's connection implements (its NewConnector
// documentation lists them): database/sql picks its code paths by these, so
// the wrapper implements the same set, no more.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// innerStmt is what a cached statement must offer.
type innerStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ic, ok := conn.(innerConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlitedb: driver connection %T lacks an interface the statement cache forwards", conn)
	}
	return &cachingConn{innerConn: ic, stmts: make(map[string]*cachedStmt)}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.inner.Driver() }

// cachingConn is a driver connection whose ExecContext and QueryContext run a
// cached statement for their text. database/sql uses a connection from one
// goroutine at a time (Rows.Close included), so the cache needs no lock.
type cachingConn struct {
	innerConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	innerStmt
	busy bool // rows of it are open: a second use would reset them
}

// Unwrap returns the driver's own connection, as modernc's NewConnector asks
// of wrappers (sqlite.Limit finds the connection that way).
func (c *cachingConn) Unwrap() driver.Conn { return c.innerConn }

// cacheable reports whether query is one statement the cache may keep: one
// with no ';' but at its very end, outside literals, quoted names and
// comments (River's SQL has ';' in comments). Text with several statements
// (migrations send whole scripts) goes to the driver unchanged, which runs
// them one by one. Should a script pass as one statement anyway, the driver
// runs it the same way from a prepared statement, parsing it each time.
func cacheable(query string) bool {
	for i := 0; i < len(query); i++ {
		var end string // what closes the literal, name or comment at i
		switch query[i] {
		case ';':
			return i == len(query)-1
		case '\'', '"', '`':
			end = query[i : i+1]
		case '[':
			end = "]"
		case '-':
			if strings.HasPrefix(query[i:], "--") {
				end = "\n"
			}
		case '/':
			if strings.HasPrefix(query[i:], "/*") {
				end, i = "*/", i+1
			}
		}
		if end != "" {
			j := strings.Index(query[i+1:], end)
			if j < 0 {
				return true // open to the end of the text: no ';' follows
			}
			i += j + len(end)
		}
	}
	return true
}

// stmt returns the statement cached for query, preparing it on a miss. It
// returns nil when query should go to the driver's connection as it is:
// several statements, a statement whose rows are open, or a full cache of
// open statements.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if !cacheable(query) || !c.makeRoom() {
		return nil, nil
	}
	// The driver's ExecContext and QueryContext begin with this same
	// prepare, so its error is the one the caller would have had.
	ds, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	is, ok := ds.(innerStmt)
	if !ok {
		ds.Close()
		return nil, nil
	}
	s := &cachedStmt{innerStmt: is}
	c.stmts[query] = s
	return s, nil
}

// makeRoom evicts one idle statement, an arbitrary one, if the cache is
// full, and reports whether there is room for another.
func (c *cachingConn) makeRoom() bool {
	if len(c.stmts) < stmtCacheSize {
		return true
	}
	for q, s := range c.stmts {
		if !s.busy {
			// A statement's Close only finalizes it; with no caller to
			// tell, a failure here has nowhere to go.
			s.Close()
			delete(c.stmts, q)
			return true
		}
	}
	return false
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.innerConn.ExecContext(ctx, query, args)
	}
	return s.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.innerConn.QueryContext(ctx, query, args)
	}
	r, err := s.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: r, stmt: s}, nil
}

// Close finalizes the cached statements, then closes the connection;
// database/sql closes a connection only once its rows are closed.
func (c *cachingConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.innerConn.Close())
	return errors.Join(errs...)
}

// cachedRows are the rows of a cached statement, which is free again once
// they are closed. Their column-type methods forward to the driver's rows and
// otherwise answer what database/sql assumes of rows without them.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt // nil once closed
}

func (r *cachedRows) Close() error {
	if r.stmt == nil {
		return nil // a second Close must not reset the statement's next use
	}
	err := r.Rows.Close()
	r.stmt.busy = false
	r.stmt = nil
	return err
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
