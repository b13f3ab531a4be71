package postgres_test

import (
	"database/sql"
	"testing"

	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/sqlstore"
)

// TestNodeLock shows the node lock that keeps nodes without NATS from
// sharing a database: nodes with NATS share it, a node without it is
// alone, either way round; a node that goes away frees its hold; and a
// hold lost with its connection is taken again by Check.
func TestNodeLock(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	var nodes [3]*sqlstore.Store
	for i := range nodes {
		s, err := postgres.Open(ctx, url, sqlstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes[i] = s
	}
	lock := func(i int, shared bool) (*sqlstore.NodeLock, bool) {
		t.Helper()
		l, ok, err := nodes[i].LockNode(ctx, shared)
		if err != nil {
			t.Fatal(err)
		}
		return l, ok
	}

	a, ok := lock(0, true)
	if !ok {
		t.Fatal("the first node with NATS was refused")
	}
	b, ok := lock(1, true)
	if !ok {
		t.Fatal("a second node with NATS was refused")
	}
	if _, ok := lock(2, false); ok {
		t.Fatal("a node without NATS joined nodes with NATS")
	}
	a.Release()
	a.Release() // idempotent
	if _, ok := lock(2, false); ok {
		t.Fatal("a node without NATS joined a node with NATS")
	}
	b.Release()
	alone, ok := lock(2, false)
	if !ok {
		t.Fatal("a single node without NATS was refused")
	}
	if _, ok := lock(0, true); ok {
		t.Fatal("a node with NATS joined a node without NATS")
	}
	if _, ok := lock(1, false); ok {
		t.Fatal("a second node without NATS was accepted")
	}

	// The database drops the lock's connection (as when it restarts):
	// the lock is free, and Check takes it again.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	if ok, err := alone.Check(ctx); err != nil || !ok {
		t.Fatalf("Check after the connection dropped = %v, %v; want the lock taken again", ok, err)
	}
	if _, ok := lock(1, true); ok {
		t.Fatal("a node with NATS joined once the lone node had its lock back")
	}
	alone.Release()
	l, ok := lock(1, true)
	if !ok {
		t.Fatal("the lock was not free once released")
	}
	l.Release()
}
