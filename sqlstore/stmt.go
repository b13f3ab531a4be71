package sqlstore

import (
	"context"
	"database/sql"
	"errors"
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
	events []glasshouse.Event // published if the operation commits
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
	if st := t.stmt(query); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.conn().ExecContext(t.ctx, t.pool.rebind(query), args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.conn().QueryContext(t.ctx, t.pool.rebind(query), args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.conn().QueryRowContext(t.ctx, t.pool.rebind(query), args...)
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
