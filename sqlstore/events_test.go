package sqlstore_test

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// recorder keeps the events a store publishes.
type recorder struct {
	mu     sync.Mutex
	events []glasshouse.Event
}

func (r *recorder) Publish(ev glasshouse.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// TestMessageIDsHaveNoGaps checks that committed message ids follow each
// other without gaps, also when an operation that took an id fails and
// when a repeated send stores nothing, alone or in one batch with other
// sends: a node fed through NATS relies on it to tell a missed event.
func TestMessageIDsHaveNoGaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, sqlstore.Config{})
		ctx := t.Context()
		alice, bob := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob")
		c := storetest.MustDirect(t, s, alice, bob)
		send := func(txn string) (*glasshouse.Message, error) {
			msg, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: c.ID, SenderID: alice.ID, Text: "hi", ClientTxnID: txn})
			return msg, err
		}
		failing := func(tx sqlstore.TestTx) error {
			if _, err := tx.NextMessageID(); err != nil {
				return err
			}
			return errors.New("fails after taking an id")
		}
		var ids []int64
		keep := func(msg *glasshouse.Message, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, msg.ID)
		}
		keep(send("one"))
		if err := s.Write(ctx, failing); err == nil {
			t.Fatal("the failing operation succeeded")
		}
		if _, err := send("one"); err != nil { // a repeat: stores nothing
			t.Fatal(err)
		}
		keep(send("two"))

		// The same in one batch.
		release := blockWriter(t, s)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range 6 {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					s.Write(ctx, failing)
				case 1:
					send("two")
				default:
					msg, err := send("")
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					ids = append(ids, msg.ID)
					mu.Unlock()
				}
			})
		}
		waitQueued(t, s, 6)
		release()
		wg.Wait()
		keep(send("three"))

		slices.Sort(ids)
		for i, id := range ids {
			if id != ids[0]+int64(i) {
				t.Fatalf("message ids %v have a gap", ids)
			}
		}
		last, err := s.LastMessageID(ctx)
		if err != nil || last != ids[len(ids)-1] {
			t.Fatalf("LastMessageID = %d, %v; want %d", last, err, ids[len(ids)-1])
		}
	})
}

// TestEventsAfter reads back, from the database, the events a store
// published: the same messages, the same recipients (a member who blocked
// the sender left out), in pages, complete through the id it says; a
// message deleted for one member leaves them out.
func TestEventsAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := &recorder{}
		s := b.open(t, sqlstore.Config{Publisher: rec})
		ctx := t.Context()
		ms := storetest.MustMembers(t, s, "alice", "bob", "carol")
		alice, bob, carol := ms[0], ms[1], ms[2]
		g := storetest.MustGroup(t, s, alice, bob, carol)
		d := storetest.MustDirect(t, s, alice, bob)
		if err := s.Block(ctx, carol.ID, "bob"); err != nil {
			t.Fatal(err)
		}
		storetest.MustSend(t, s, g, alice, "to the group")
		storetest.MustSend(t, s, g, bob, "carol blocked me")
		storetest.MustSend(t, s, d, bob, "just us")
		storetest.MustSend(t, s, g, carol, "hello")
		storetest.MustSend(t, s, d, alice, "again")

		rec.mu.Lock()
		live := slices.Clone(rec.events)
		rec.mu.Unlock()
		var read []glasshouse.Event
		after := int64(0)
		for {
			evs, through, err := s.EventsAfter(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 2 && through != evs[1].Message.ID {
				t.Fatalf("a full page through %d; want the last id read, %d", through, evs[1].Message.ID)
			}
			read = append(read, evs...)
			if len(evs) < 2 {
				if want := live[len(live)-1].Message.ID; through != want {
					t.Fatalf("through = %d at the end; want the newest id, %d", through, want)
				}
				break
			}
			after = through
		}
		if len(read) != len(live) {
			t.Fatalf("EventsAfter read %d events; %d were published", len(read), len(live))
		}
		for i := range live {
			got, want := read[i], live[i]
			if *got.Message != *want.Message {
				t.Errorf("event %d: message %+v; published %+v", i, got.Message, want.Message)
			}
			g, w := slices.Sorted(slices.Values(got.Recipients)), slices.Sorted(slices.Values(want.Recipients))
			if !slices.Equal(g, w) {
				t.Errorf("event %d (%q): recipients %v; published %v", i, want.Message.Text, g, w)
			}
		}

		if err := s.DeleteForMe(ctx, alice.ID, g.ID, 1); err != nil {
			t.Fatal(err)
		}
		evs, _, err := s.EventsAfter(ctx, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || slices.Contains(evs[0].Recipients, alice.ID) {
			t.Fatalf("after alice deleted it for herself, EventsAfter(0) = %+v; want the first message without alice", evs)
		}
		if evs, through, err := s.EventsAfter(ctx, live[len(live)-1].Message.ID, 10); err != nil || len(evs) != 0 || through != live[len(live)-1].Message.ID {
			t.Fatalf("EventsAfter(newest) = %v, %d, %v; want nothing through the newest id", evs, through, err)
		}
	})
}
