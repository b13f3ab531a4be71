package sqlstore

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/glasshouse/glasshouse"
)

// op is one queued write: fn runs inside the writer's transaction.
type op struct {
	ctx    context.Context
	fn     func(t *tx) error
	send   *send      // set for a SendMessage, which may run with the sends next to it (see runSends) instead of fn
	record *recording // set for a RecordAccess or RecordWith, which may run with the records next to it (see runRecords)
	state  atomic.Int32
	err    error              // set by the writer before done is closed
	events []glasshouse.Event // what fn published, if it succeeded
	done   chan struct{}
}

// op states: a caller may abandon its op only while it is still queued.
const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

// write queues fn and waits until it has committed, durably, or failed. fn
// runs on the writer goroutine inside a transaction shared with other
// writes, under a SAVEPOINT of its own: if fn returns an error, whatever it
// did is rolled back and write returns that error. fn's context is the
// caller's without its cancellation: once fn has started it runs to the end.
// If ctx is done before fn starts, fn is skipped and write returns ctx.Err().
func (s *Store) write(ctx context.Context, fn func(t *tx) error) error {
	return s.submit(&op{ctx: ctx, fn: fn})
}

// submit queues o and waits for it, as write does.
func (s *Store) submit(o *op) error {
	ctx := o.ctx
	o.done = make(chan struct{})

	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	select {
	case s.queue <- o:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}

	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		<-o.done // too late: it is running; its outcome is the answer
		return o.err
	}
}

// runWriter is the writer goroutine: it takes every write queued so far,
// up to MaxBatch, commits them together, and starts over, until Close.
func (s *Store) runWriter() {
	defer close(s.stopped)
	batch := make([]*op, 0, s.cfg.MaxBatch)
	for o := range s.queue {
		batch = append(batch[:0], o)
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case o, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch) // let the ops be collected
	}
}

// commit runs a batch in one transaction, publishes the committed events in
// order, and acknowledges every op.
func (s *Store) commit(batch []*op) {
	ops := batch[:0:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			ops = append(ops, o)
		}
	}
	if len(ops) == 0 {
		return
	}
	if err := s.runBatch(ops); err != nil {
		err = fmt.Errorf("commit: %w", err)
		for _, o := range ops {
			if o.err == nil {
				o.err = err
			}
		}
	} else if s.cfg.Publisher != nil {
		for _, o := range ops {
			if o.err == nil {
				for _, ev := range o.events {
					s.cfg.Publisher.Publish(ev)
				}
			}
		}
	}
	for _, o := range ops {
		close(o.done)
	}
	s.writer.prepareMissed()
}

// runBatch runs ops in one transaction and commits it. Each op's own error
// is left in op.err; the returned error means nothing was committed.
func (s *Store) runBatch(ops []*op) error {
	ctx := context.Background()
	conn, sqlTx, err := begin(ctx, s.writer.db, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	defer sqlTx.Rollback()
	b := &batch{}
	bt := &tx{ctx: ctx, s: s, pool: s.writer, sqlTx: sqlTx, batch: b, pl: &pipeline{conn: conn}}
	if s.dialect.SerializeWrites {
		bt.later(&Statement{Query: lockWrites, Row: func(r interface{ Scan(...any) error }) error {
			b.loaded = true
			return r.Scan(&b.lastID)
		}})
	}
	for len(ops) > 0 {
		// Sends queued one after another run together, and so do records;
		// if that fails, one by one, as every other op.
		n, run := sendsAhead(ops), s.runSends
		if n == 0 {
			n, run = recordsAhead(ops), s.runRecords
		}
		if n > 1 {
			if ok, err := run(bt, ops[:n]); err != nil {
				return err
			} else if ok {
				ops = ops[n:]
				continue
			}
		}
		for _, o := range ops[:max(n, 1)] {
			if err := s.runOp(bt, o); err != nil {
				return err
			}
		}
		ops = ops[max(n, 1):]
	}
	bt.saveMessageCounter()
	if err := bt.flush(); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return err
	}
	return nil
}

// runOp runs one op in bt's transaction, under a savepoint of its own. The
// op's error is left in op.err; the returned error means the transaction is
// unusable.
func (s *Store) runOp(bt *tx, o *op) error {
	if err := o.ctx.Err(); err != nil {
		o.err = err
		return nil
	}
	// The savepoint waits to run with the op's first statement; an op that
	// runs none needs none.
	sp := bt.savepoint("op")
	t := &tx{ctx: context.WithoutCancel(o.ctx), s: s, pool: s.writer, sqlTx: bt.sqlTx, batch: bt.batch, pl: bt.pl}
	if err := o.fn(t); err != nil {
		o.err = err
		return sp.rollback()
	}
	o.events = t.events
	sp.release()
	return nil
}

// savepoint is a SAVEPOINT of the writer's transaction, queued to run with
// the next statement (see later), and the batch's ids as they were when it
// was taken.
type savepoint struct {
	t      *tx
	name   string
	st     *Statement
	before batch
}

// savepoint queues SAVEPOINT name.
func (t *tx) savepoint(name string) *savepoint {
	sp := &savepoint{t: t, name: name, st: &Statement{Query: "SAVEPOINT " + name}, before: *t.batch}
	t.later(sp.st)
	return sp
}

// release keeps what ran since the savepoint: RELEASE is queued, or, if
// nothing ran since, the savepoint is taken back.
func (sp *savepoint) release() {
	if sp.t.queuedLast(sp.st) {
		sp.t.unqueue(sp.st)
		return
	}
	sp.t.later(&Statement{Query: "RELEASE SAVEPOINT " + sp.name})
}

// rollback undoes what ran since the savepoint, and hands the ids taken
// since out again. If the savepoint has not run yet, it and what was queued
// after it are taken back. The error means the transaction is unusable.
func (sp *savepoint) rollback() error {
	t := sp.t
	*t.batch = sp.before
	if t.unqueue(sp.st) {
		return nil
	}
	if _, err := t.exec("ROLLBACK TO SAVEPOINT " + sp.name); err != nil {
		return fmt.Errorf("rollback to savepoint: %w", err)
	}
	t.later(&Statement{Query: "RELEASE SAVEPOINT " + sp.name})
	return nil
}

// batch is what the operations of one write transaction share: message ids
// are handed out from the counter row read once, and the row is written
// back before commit. Write transactions run one at a time, so no other
// transaction hands out ids meanwhile. An id handed to an operation that
// fails is handed out again, and a send that stores nothing (a repeated
// ClientTxnID) takes none: committed message ids grow in commit order
// without gaps, which is how a node fed by NATS tells a missed event from
// no event (see package natshub).
type batch struct {
	lastID int64 // the last message id handed out, or stored in counters
	loaded bool  // lastID was read from counters
	used   bool  // an id was handed out
	saved  int64 // the last id written back to counters, 0 if none yet
}

// nextMessageID hands out the next message id.
func (t *tx) nextMessageID() (int64, error) {
	b := t.batch
	if !b.loaded {
		if err := t.queryRow(`SELECT value FROM counters WHERE name = 'message'`).Scan(&b.lastID); err != nil {
			return 0, fmt.Errorf("read message counter: %w", err)
		}
		b.loaded = true
	}
	b.lastID++
	b.used = true
	return b.lastID, nil
}

// saveMessageCounter queues writing the last message id handed out back to
// counters, if it is not there yet.
func (t *tx) saveMessageCounter() {
	if b := t.batch; b.used && b.saved != b.lastID {
		t.later(&Statement{Query: `UPDATE counters SET value = ? WHERE name = 'message'`, Args: []any{b.lastID}})
		b.saved = b.lastID
	}
}

// lockWrites makes write transactions run one at a time across every
// process sharing the database; see Dialect.SerializeWrites. It is queued
// to run with the batch's first statement.
const lockWrites = `SELECT value FROM counters WHERE name = 'message' FOR UPDATE`
