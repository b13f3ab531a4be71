package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"sync"

	"github.com/glasshouse/glasshouse"
)

// pool is one *sql.DB with the statements prepared on it.
//
// A query is prepared the first time it runs outside a transaction, or
// else once the transaction it first ran in has ended (and, until then,
// runs unprepared): preparing takes a connection from the pool, and inside a
// transaction every connection may be busy, the writer's single one with
// that very transaction.
type pool struct {
	db     *sql.DB
	rebind func(string) string
	stmts  sync.Map // query with ? placeholders -> *sql.Stmt

	mu     sync.Mutex
	missed map[string]bool // queries to prepare once a connection is free
}

func newPool(db *sql.DB, d Dialect) *pool {
	rebind := d.Rebind
	if rebind == nil {
		rebind = func(q string) string { return q }
	}
	return &pool{db: db, rebind: rebind, missed: make(map[string]bool)}
}

// stmt returns the prepared statement of query, or nil; known reports
// whether query was seen before (nil then means it failed to prepare).
func (p *pool) stmt(query string) (st *sql.Stmt, known bool) {
	if v, ok := p.stmts.Load(query); ok {
		return v.(*sql.Stmt), true
	}
	return nil, false
}

// prepare prepares query now. The caller must hold no connection of p. A
// query that fails to prepare is remembered, and runs unprepared.
func (p *pool) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := p.db.PrepareContext(ctx, p.rebind(query))
	if err != nil {
		if ctx.Err() == nil {
			p.stmts.Store(query, (*sql.Stmt)(nil))
		}
		return nil, err
	}
	if old, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return old.(*sql.Stmt), nil
	}
	return st, nil
}

func (p *pool) miss(query string) {
	p.mu.Lock()
	p.missed[query] = true
	p.mu.Unlock()
}

// prepareMissed prepares the queries that ran unprepared in a transaction.
// It must be called when the caller holds no connection of p.
func (p *pool) prepareMissed() {
	p.mu.Lock()
	if len(p.missed) == 0 {
		p.mu.Unlock()
		return
	}
	missed := p.missed
	p.missed = make(map[string]bool)
	p.mu.Unlock()
	for q := range missed {
		if _, known := p.stmt(q); !known {
			p.prepare(context.Background(), q)
		}
	}
}

// closeStmts closes the prepared statements.
func (p *pool) closeStmts() error {
	var errs []error
	p.stmts.Range(func(_, st any) bool {
		if st := st.(*sql.Stmt); st != nil {
			errs = append(errs, st.Close())
		}
		return true
	})
	return errors.Join(errs...)
}

// tx runs the queries of one store operation: in the writer's transaction,
// in a read transaction, or (sqlTx nil) straight on the readers' pool.
// Queries use ? placeholders.
type tx struct {
	ctx    context.Context
	s      *Store
	pool   *pool
	sqlTx  *sql.Tx
	batch  *batch             // of a write; nil for a read
	pl     *pipeline          // of a write; nil for a read
	events []glasshouse.Event // published if the operation commits
	wrote  bool               // a Graph write ran on it (see within)
}

// stmt returns query's prepared statement for t, or nil if it must run
// unprepared.
func (t *tx) stmt(query string) *sql.Stmt {
	st, known := t.pool.stmt(query)
	switch {
	case st != nil && t.sqlTx != nil:
		return t.sqlTx.StmtContext(t.ctx, st)
	case known:
		return st
	case t.sqlTx != nil:
		t.pool.miss(query)
		return nil
	}
	st, _ = t.pool.prepare(t.ctx, query) // on error, the query itself will tell
	return st
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	if st := t.stmt(query); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.conn().ExecContext(t.ctx, t.pool.rebind(query), args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	if st := t.stmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.conn().QueryContext(t.ctx, t.pool.rebind(query), args...)
}

func (t *tx) queryRow(query string, args ...any) row {
	if err := t.flush(); err != nil {
		return row{err: err}
	}
	if st := t.stmt(query); st != nil {
		return row{Row: st.QueryRowContext(t.ctx, args...)}
	}
	return row{Row: t.conn().QueryRowContext(t.ctx, t.pool.rebind(query), args...)}
}

// row is the result of queryRow: a *sql.Row, or the error of the queued
// statements that had to run before it.
type row struct {
	*sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.Row.Scan(dest...)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn is where t's unprepared queries run.
func (t *tx) conn() querier {
	if t.sqlTx != nil {
		return t.sqlTx
	}
	return t.pool.db
}

// exists runs a SELECT EXISTS(...) query.
func (t *tx) exists(query string, args ...any) (bool, error) {
	var ok bool
	err := t.queryRow(query, args...).Scan(&ok)
	return ok, err
}

// affected runs a statement and returns how many rows it changed.
func (t *tx) affected(query string, args ...any) (int64, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// texts runs a query for one text column and returns its values.
func (t *tx) texts(query string, args ...any) ([]string, error) {
	return column[string](t, query, args...)
}

// int64s runs a query for one integer column and returns its values.
func (t *tx) int64s(query string, args ...any) ([]int64, error) {
	return column[int64](t, query, args...)
}

func column[T any](t *tx, query string, args ...any) ([]T, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// publish queues ev for publication once the operation has committed.
func (t *tx) publish(ev glasshouse.Event) { t.events = append(t.events, ev) }

// A transaction's statements can run several in one round trip where the
// database pipelines them (see Dialect.Pipeline): pipe runs a few together,
// and in a write later queues a statement that nothing waits for (a
// savepoint, the lock of a batch, the writes of sends) to go with the next
// one; every other statement (exec, query, queryRow) runs the queued ones
// first. On PostgreSQL each round trip, more than the work, is what a
// statement costs.

// Statement is one statement of a pipeline. The store writes its Query
// with ? placeholders; Dialect.Pipeline gets it in the database's own (see
// Dialect.Rebind).
type Statement struct {
	Query string
	Args  []any
	// Row, if set, is called with each row of the result. An error it
	// returns is the pipeline's, but the statements after it may have run.
	Row func(row interface{ Scan(dest ...any) error }) error
	// RowsAffected is set, once the statement has run, to the number of
	// rows it changed; Err, if it failed, to its error.
	RowsAffected int64
	Err          error
}

// begin starts a transaction on a connection of db held for it, for
// pipe, retrying on a broken connection as db.BeginTx does. The caller
// closes conn once the transaction has ended.
func begin(ctx context.Context, db *sql.DB, opts *sql.TxOptions) (conn *sql.Conn, sqlTx *sql.Tx, err error) {
	for range 3 {
		if conn, err = db.Conn(ctx); err != nil {
			return nil, nil, err
		}
		if sqlTx, err = conn.BeginTx(ctx, opts); err == nil {
			return conn, sqlTx, nil
		}
		conn.Close() // a broken connection is discarded
		if !errors.Is(err, driver.ErrBadConn) {
			break
		}
	}
	return nil, nil, err
}

// pipeline holds a transaction's queued statements. A read transaction
// has one for pipe, and queues nothing.
type pipeline struct {
	conn    *sql.Conn // the transaction's, for Dialect.Pipeline
	pending []*Statement
}

// later queues st to run before t's next statement. Its query has ?
// placeholders. An error of st is the error of the statement that runs it.
func (t *tx) later(st *Statement) {
	t.pl.pending = append(t.pl.pending, st)
}

// unqueue takes st back, with the statements queued after it, if it has
// not run yet, and reports whether it had not.
func (t *tx) unqueue(st *Statement) bool {
	p := t.pl
	i := slices.Index(p.pending, st)
	if i < 0 {
		return false
	}
	clear(p.pending[i:])
	p.pending = p.pending[:i]
	return true
}

// queuedLast reports whether st is the last statement queued.
func (t *tx) queuedLast(st *Statement) bool {
	p := t.pl
	return len(p.pending) > 0 && p.pending[len(p.pending)-1] == st
}

// flush runs the queued statements.
func (t *tx) flush() error {
	if t.pl == nil || len(t.pl.pending) == 0 {
		return nil
	}
	return t.pipe()
}

// pipe runs the queued statements and then stmts, whose queries have ?
// placeholders, in order, in one round trip where the dialect can, and
// returns the error of the first one that fails: those after it do not run,
// and the transaction needs rolling back to a savepoint from before it.
func (t *tx) pipe(stmts ...*Statement) error {
	all := stmts
	if t.pl != nil {
		all = append(t.pl.pending, stmts...)
		t.pl.pending = nil
	}
	if run := t.s.dialect.Pipeline; run != nil && t.pl != nil && len(all) > 1 {
		rebound := make([]*Statement, len(all))
		for i, st := range all {
			rebound[i] = &Statement{Query: t.pool.rebind(st.Query), Args: st.Args, Row: st.Row}
		}
		err := t.pl.conn.Raw(func(driverConn any) error { return run(t.ctx, driverConn, rebound) })
		for i, st := range all {
			st.RowsAffected, st.Err = rebound[i].RowsAffected, rebound[i].Err
		}
		return err
	}
	for _, st := range all {
		if st.Err = t.run(st); st.Err != nil {
			return st.Err
		}
	}
	return nil
}

// run runs one statement of a pipeline on its own.
func (t *tx) run(st *Statement) error {
	if st.Row == nil {
		n, err := t.affected(st.Query, st.Args...)
		st.RowsAffected = n
		return err
	}
	rows, err := t.query(st.Query, st.Args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := st.Row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
