package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// TestBatchIsolatesFailures queues writes that the writer runs in one
// transaction: one returns an error after writing, one fails in the
// database. Only their writes are undone, only they get an error, and the
// others commit.
func TestBatchIsolatesFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, sqlstore.Config{})
		refused := glasshouse.Errorf(glasshouse.EFORBIDDEN, "no")
		var mu sync.Mutex
		var batches []any
		record := func(op func(sqlstore.TestTx) error) func(sqlstore.TestTx) error {
			return func(tx sqlstore.TestTx) error {
				mu.Lock()
				batches = append(batches, tx.Batch())
				mu.Unlock()
				return op(tx)
			}
		}

		release := blockWriter(t, s)
		results := queue(t, s,
			record(insert("a")),
			record(func(tx sqlstore.TestTx) error {
				if err := insert("b")(tx); err != nil {
					return err
				}
				return refused
			}),
			record(func(tx sqlstore.TestTx) error {
				if err := insert("c")(tx); err != nil {
					return err
				}
				return insert("a")(tx) // a duplicate key: the database refuses it
			}),
			record(insert("d")),
		)
		release()

		errs := make([]error, len(results))
		for i, r := range results {
			errs[i] = <-r
		}
		if errs[0] != nil || errs[3] != nil {
			t.Errorf("the good writes failed: %v, %v", errs[0], errs[3])
		}
		if !errors.Is(errs[1], refused) {
			t.Errorf("the refused write returned %v, want its own error %v", errs[1], refused)
		}
		if errs[2] == nil || errors.Is(errs[2], refused) {
			t.Errorf("the duplicate insert returned %v, want the database's error", errs[2])
		}
		if len(batches) != 4 || !same(batches) {
			t.Errorf("the writes ran in %d operations of batches %v, want 4 in one", len(batches), batches)
		}
		if got := mustScratch(t, s); !slices.Equal(got, []string{"a", "d"}) {
			t.Errorf("committed rows %v, want [a d]", got)
		}
		// The store goes on.
		if err := s.Write(t.Context(), insert("e")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBatchCommitFailure makes COMMIT itself fail: every write of the batch
// gets the error, none is kept, and the next batch commits.
func TestBatchCommitFailure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, sqlstore.Config{})
		release := blockWriter(t, s)
		results := queue(t, s,
			insert("a"),
			func(tx sqlstore.TestTx) error {
				for _, q := range b.commitFailure {
					if err := tx.Exec(q); err != nil {
						return err
					}
				}
				return nil
			},
			insert("b"),
		)
		release()
		for i, r := range results {
			if err := <-r; err == nil {
				t.Errorf("write %d: no error from a batch whose commit failed", i)
			}
		}
		if got := mustScratch(t, s); len(got) != 0 {
			t.Errorf("rows %v survived a failed commit", got)
		}
		if err := s.Write(t.Context(), insert("c")); err != nil {
			t.Fatalf("write after a failed commit: %v", err)
		}
		if got := mustScratch(t, s); !slices.Equal(got, []string{"c"}) {
			t.Errorf("rows %v, want [c]", got)
		}
	})
}

// TestWriteCanceled checks that a write whose context ends before it starts
// is skipped and returns the context's error, both while it waits in the
// queue and once the writer has taken it into a batch.
func TestWriteCanceled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, sqlstore.Config{})

		// Canceled while queued: the caller returns at once.
		release := blockWriter(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		queued := make(chan error, 1)
		go func() { queued <- s.Write(ctx, insert("queued")) }()
		waitQueued(t, s, 1)
		cancel()
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Errorf("write canceled in the queue returned %v, want context.Canceled", err)
		}
		release()

		// Canceled once in a batch, while an earlier write of the same
		// batch runs: the caller waits for the writer to skip it.
		release = blockWriter(t, s)
		running, unblock := make(chan struct{}), make(chan struct{})
		ctx, cancel = context.WithCancel(t.Context())
		defer cancel()
		results := queue(t, s,
			func(tx sqlstore.TestTx) error {
				close(running)
				<-unblock
				return insert("first")(tx)
			},
		)
		taken := make(chan error, 1)
		go func() { taken <- s.Write(ctx, insert("taken")) }()
		waitQueued(t, s, 2)
		release()
		<-running
		cancel()
		close(unblock)
		if err := <-results[0]; err != nil {
			t.Errorf("first write: %v", err)
		}
		if err := <-taken; !errors.Is(err, context.Canceled) {
			t.Errorf("write canceled in its batch returned %v, want context.Canceled", err)
		}
		if got := mustScratch(t, s); !slices.Equal(got, []string{"first"}) {
			t.Errorf("rows %v, want [first]", got)
		}
	})
}

// TestCloseDrains closes the store while writes pour in: every write that
// returned without error is in the database, and the others got
// EUNAVAILABLE without running.
func TestCloseDrains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		location := b.newDB(t)
		s := b.mustOpenAt(t, location, sqlstore.Config{})
		const writers, each = 8, 100
		var wg sync.WaitGroup
		var mu sync.Mutex
		var acked []string
		for i := range writers {
			wg.Go(func() {
				for k := range each {
					name := fmt.Sprintf("w%d-%03d", i, k)
					err := s.Write(context.Background(), insert(name))
					if err != nil {
						if glasshouse.ErrorCode(err) != glasshouse.EUNAVAILABLE {
							t.Errorf("write %s: %v", name, err)
						}
						return
					}
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			})
		}
		for n := 0; n < writers; {
			time.Sleep(time.Millisecond)
			mu.Lock()
			n = len(acked)
			mu.Unlock()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := s.Write(context.Background(), insert("late")); glasshouse.ErrorCode(err) != glasshouse.EUNAVAILABLE {
			t.Errorf("write after Close: %v, want EUNAVAILABLE", err)
		}
		if len(acked) == writers*each {
			t.Log("every write finished before Close")
		}

		s = b.mustOpenAt(t, location, sqlstore.Config{})
		slices.Sort(acked)
		if got := mustScratch(t, s); !slices.Equal(got, acked) {
			t.Errorf("after reopening, %d rows; want the %d acknowledged writes", len(got), len(acked))
		}
	})
}

// TestRepeatInOneBatch sends the same message twice into one batch, as a
// client retrying before the first answer would: it is stored once.
func TestRepeatInOneBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, sqlstore.Config{})
		ctx := t.Context()
		alice, bob := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob")
		req, err := s.RequestFriend(ctx, alice.ID, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AcceptFriendRequest(ctx, bob.ID, req.ID); err != nil {
			t.Fatal(err)
		}
		c, _, err := s.CreateDirect(ctx, alice.ID, "bob")
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			msg     *glasshouse.Message
			created bool
			err     error
		}
		release := blockWriter(t, s)
		results := make([]chan result, 2)
		for i := range results {
			results[i] = make(chan result, 1)
			go func() {
				msg, created, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: c.ID, SenderID: alice.ID, Text: "once", ClientTxnID: "retry-me"})
				results[i] <- result{msg, created, err}
			}()
			waitQueued(t, s, i+1)
		}
		release()
		first, second := <-results[0], <-results[1]
		if first.err != nil || second.err != nil {
			t.Fatalf("sends: %v, %v", first.err, second.err)
		}
		if !first.created || second.created || first.msg.ID != second.msg.ID || second.msg.Seq != 1 {
			t.Errorf("sends returned (id %d, seq %d, created %v) and (id %d, seq %d, created %v); want one message, created once",
				first.msg.ID, first.msg.Seq, first.created, second.msg.ID, second.msg.Seq, second.created)
		}
		next, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: c.ID, SenderID: bob.ID, Text: "next"})
		if err != nil {
			t.Fatal(err)
		}
		if next.Seq != 2 {
			t.Errorf("the next message has seq %d, want 2: a repeat must not use a seq", next.Seq)
		}
	})
}
