package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"
)

// NodeLock is one node's hold on the deployment's node lock; see LockNode.
type NodeLock struct {
	s      *Store
	shared bool

	mu   sync.Mutex
	conn *sql.Conn // holds the lock; nil where the dialect has none, or once released
}

// LockNode takes the deployment's node lock without waiting, which tells
// the nodes serving one database about each other: nodes that share their
// committed events with the others (through NATS) take it shared, a node
// that does not takes it alone. ok is false when that conflicts with a
// node already running: a node alone refuses any other, and a node alone
// is refused while any other runs. A node that dies frees its hold with
// its connection. On a database that one process owns (SQLite) there is
// no such lock, and ok is always true.
func (s *Store) LockNode(ctx context.Context, shared bool) (l *NodeLock, ok bool, err error) {
	l = &NodeLock{s: s, shared: shared}
	if s.dialect.TryLockNode == "" {
		return l, true, nil
	}
	if ok, err = l.take(ctx); err != nil || !ok {
		return nil, ok, err
	}
	return l, true, nil
}

// take takes the lock on a connection of its own, kept out of the pool
// until release. The caller holds l.mu or owns l alone.
func (l *NodeLock) take(ctx context.Context) (ok bool, err error) {
	d := l.s.dialect
	query := d.TryLockNode
	if l.shared {
		query = d.TryLockNodeShared
	}
	conn, err := l.s.reader.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("node lock: %w", err)
	}
	if err := conn.QueryRowContext(ctx, query).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return false, fmt.Errorf("node lock: %w", err)
		}
		return false, nil
	}
	l.conn = conn
	return true, nil
}

// Check makes sure the lock is still held. The database frees it when the
// connection that holds it drops (PostgreSQL restarted, a network cut);
// Check then takes it again on a new connection. ok is false if that
// conflicts with a node that started meanwhile.
func (l *NodeLock) Check(ctx context.Context) (ok bool, err error) {
	if l.s.dialect.TryLockNode == "" {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		if l.conn.PingContext(ctx) == nil {
			return true, nil
		}
		discard(l.conn)
		l.conn = nil
	}
	return l.take(ctx)
}

// Release frees the lock; it is safe to call more than once.
func (l *NodeLock) Release() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	// The lock is the connection's: free it, and end the connection rather
	// than return it to the pool, should freeing have failed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	l.conn.ExecContext(ctx, l.s.dialect.UnlockNode)
	cancel()
	discard(l.conn)
	l.conn = nil
}

// discard closes conn's connection to the database, not only returns it
// to the pool, which frees whatever session locks it held.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
