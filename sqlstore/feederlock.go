package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/glasshouse/glasshouse"
)

// feederLock is a hold on the deployment's feeder lock: on the connection
// that took it where the dialect has one (a PostgreSQL session lock), else
// the Store's own flag.
type feederLock struct {
	s    *Store
	conn *sql.Conn // nil where the dialect has no lock
	once sync.Once
	mu   sync.Mutex // guards lost
	lost error      // why the lock may be gone; nil while held
}

// LockFeeder takes the deployment's feeder lock without waiting.
func (s *Store) LockFeeder(ctx context.Context) (lock glasshouse.FeederLock, ok bool, err error) {
	if s.dialect.TryLockFeeder == "" {
		if !s.feederHeld.CompareAndSwap(false, true) {
			return nil, false, nil
		}
		return &feederLock{s: s}, true, nil
	}
	// The lock belongs to the connection: keep this one out of the pool
	// until Release.
	conn, err := s.reader.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock feeder: %w", err)
	}
	if err := conn.QueryRowContext(ctx, s.dialect.TryLockFeeder).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("lock feeder: %w", err)
		}
		return nil, false, nil
	}
	return &feederLock{s: s, conn: conn}, true, nil
}

// Check makes sure the lock's connection still answers: the database
// frees a session lock with its connection (a restart, a cut), and a
// connection that did not answer once is not trusted again, for the lock
// may be gone with it.
func (l *feederLock) Check(ctx context.Context) error {
	if l.conn == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost == nil {
		if err := l.conn.PingContext(ctx); err != nil {
			l.lost = fmt.Errorf("the feeder lock's connection did not answer (the database restarted, or the connection broke): %w", err)
		}
	}
	return l.lost
}

// Release frees the lock; it is safe to call more than once.
func (l *feederLock) Release() {
	l.once.Do(func() {
		if l.conn == nil {
			l.s.feederHeld.Store(false)
			return
		}
		// If unlocking fails, ending the connection frees the lock.
		l.conn.ExecContext(context.Background(), l.s.dialect.UnlockFeeder)
		discard(l.conn)
	})
}
