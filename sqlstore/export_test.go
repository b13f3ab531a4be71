package sqlstore

import (
	"context"
	"database/sql"
)

// TestTx is a write operation's view of its transaction, for tests.
type TestTx struct{ t *tx }

// Exec runs a statement in the operation's transaction.
func (t TestTx) Exec(query string, args ...any) error {
	_, err := t.t.exec(query, args...)
	return err
}

// Batch identifies the transaction the operation runs in.
func (t TestTx) Batch() any { return t.t.batch }

// Write runs fn as one queued write operation.
func (s *Store) Write(ctx context.Context, fn func(t TestTx) error) error {
	return s.write(ctx, func(t *tx) error { return fn(TestTx{t}) })
}

// Queued reports how many write operations wait for the writer.
func (s *Store) Queued() int { return len(s.queue) }

// Query runs a query on the readers' pool.
func (s *Store) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.read(ctx).query(query, args...)
}

// NextMessageID hands out the next message id, as a send does.
func (t TestTx) NextMessageID() (int64, error) { return t.t.nextMessageID() }
