package sqlstore

import (
	"context"
	"fmt"
	"sync"
)

// LockFeeder takes the deployment's feeder lock without waiting.
func (s *Store) LockFeeder(ctx context.Context) (release func(), ok bool, err error) {
	if s.dialect.TryLockFeeder == "" {
		if !s.feederHeld.CompareAndSwap(false, true) {
			return nil, false, nil
		}
		var once sync.Once
		return func() { once.Do(func() { s.feederHeld.Store(false) }) }, true, nil
	}
	// The lock belongs to the connection: keep this one out of the pool
	// until release.
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
	var once sync.Once
	return func() {
		once.Do(func() {
			// If unlocking fails, closing the connection frees the lock.
			conn.ExecContext(context.Background(), s.dialect.UnlockFeeder)
			conn.Close()
		})
	}, true, nil
}
