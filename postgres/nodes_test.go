package postgres_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/postgres/pgtest"
	"github.com/glasshouse/glasshouse/sqlstore"
)

// TestNodesShareOrder runs two stores on one database, as two nodes would,
// sending into one group at once. Seqs must come out 1..N in id order, and a
// stream that follows MessagesAfter on one node, resuming from the last id
// it saw, must miss nothing: ids grow in commit order across nodes.
func TestNodesShareOrder(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	nodes := make([]*sqlstore.Store, 2)
	for i := range nodes {
		s, err := postgres.Open(ctx, url, sqlstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes[i] = s
	}
	s := nodes[0]
	const senders, each = 8, 20
	members := make([]*glasshouse.Member, senders)
	for i := range members {
		members[i] = &glasshouse.Member{Handle: fmt.Sprintf("sender%d", i), Email: fmt.Sprintf("s%d@example.org", i)}
		if err := s.CreateMember(ctx, members[i], "hash"); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			req, err := s.RequestFriend(ctx, members[0].ID, members[i].Handle)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AcceptFriendRequest(ctx, members[i].ID, req.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	var handles []string
	for _, m := range members[1:] {
		handles = append(handles, m.Handle)
	}
	g, err := s.CreateGroup(ctx, members[0].ID, glasshouse.NewGroup{Title: "both nodes", Members: handles})
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	streamed := make(chan []*glasshouse.Message)
	go func() { streamed <- follow(t, nodes[1], members[0].ID, done) }()
	var mu sync.Mutex
	var acked []*glasshouse.Message
	var wg sync.WaitGroup
	for i, m := range members {
		node := nodes[i%len(nodes)]
		wg.Go(func() {
			for k := range each {
				msg, _, err := node.SendMessage(context.Background(), glasshouse.NewMessage{
					ConversationID: g.ID, SenderID: m.ID, Text: fmt.Sprint(k), ClientTxnID: fmt.Sprint(k)})
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, msg)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(done)
	stream := <-streamed

	slices.SortFunc(acked, func(a, b *glasshouse.Message) int { return cmp.Compare(a.ID, b.ID) })
	for i, msg := range acked {
		if msg.Seq != int64(i+1) {
			t.Fatalf("message %d in id order has seq %d, want %d", msg.ID, msg.Seq, i+1)
		}
	}
	if len(stream) != len(acked) {
		t.Fatalf("the stream saw %d messages, want %d: ids did not follow commit order", len(stream), len(acked))
	}
	for i := range stream {
		if stream[i].ID != acked[i].ID {
			t.Fatalf("stream message %d has id %d, want %d", i, stream[i].ID, acked[i].ID)
		}
	}
}

// follow reads member's messages with MessagesAfter until done is closed
// and it has caught up, resuming each time after the last id it saw.
func follow(t *testing.T, s glasshouse.Store, member int64, done <-chan struct{}) []*glasshouse.Message {
	var got []*glasshouse.Message
	var last int64
	for {
		finished := false
		select {
		case <-done:
			finished = true
		default:
		}
		msgs, err := s.MessagesAfter(context.Background(), member, last, 100)
		if err != nil {
			t.Errorf("MessagesAfter: %v", err)
			return got
		}
		got = append(got, msgs...)
		switch {
		case len(msgs) > 0:
			last = msgs[len(msgs)-1].ID
		case finished:
			return got
		default:
			time.Sleep(time.Millisecond)
		}
	}
}

// TestNodesOneFeeder shows that of two nodes on one database only one
// holds the feeder lock at a time, and that the other takes it over once
// it is released.
func TestNodesOneFeeder(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	var nodes [2]*sqlstore.Store
	for i := range nodes {
		s, err := postgres.Open(ctx, url, sqlstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes[i] = s
	}
	lock, ok, err := nodes[0].LockFeeder(ctx)
	if err != nil || !ok {
		t.Fatalf("node 0 LockFeeder = %v, %v; want the lock", ok, err)
	}
	if _, ok, err := nodes[1].LockFeeder(ctx); err != nil || ok {
		t.Fatalf("node 1 LockFeeder while node 0 holds it = %v, %v; want refused", ok, err)
	}
	lock.Release()
	lock1, ok, err := nodes[1].LockFeeder(ctx)
	if err != nil || !ok {
		t.Fatalf("node 1 LockFeeder after node 0 released = %v, %v; want the lock", ok, err)
	}

	// The server ends the holder's connection (as a restart would): the
	// lock is free for node 0, and node 1 learns that it lost it.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND (classid::bigint << 32 | objid::bigint) = `+postgres.FeederLock); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(time.Minute); lock1.Check(ctx) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("node 1 still holds the feeder lock a minute after its connection ended")
		}
	}
	lock0, ok, err := nodes[0].LockFeeder(ctx)
	if err != nil || !ok {
		t.Fatalf("node 0 LockFeeder after node 1's connection ended = %v, %v; want the lock", ok, err)
	}
	if lock1.Check(ctx) == nil {
		t.Error("node 1 holds the lock again")
	}
	lock1.Release()
	lock0.Release()
}
