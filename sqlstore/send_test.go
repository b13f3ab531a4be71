package sqlstore_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// eventLog is a Publisher that keeps the events.
type eventLog struct {
	mu     sync.Mutex
	events []glasshouse.Event
}

func (r *eventLog) Publish(ev glasshouse.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// TestSendRunAsOneByOne queues sends of every kind into one batch, where
// the writer runs them together, and checks that each gets what it gets
// when the same sends run one at a time: the same message, seq, id order,
// refusal and event.
func TestSendRunAsOneByOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var together, alone []string
		for _, batched := range []bool{true, false} {
			rec := &eventLog{}
			s := b.open(t, sqlstore.Config{Publisher: rec})
			alice, bob, carol := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob"), storetest.MustMember(t, s, "carol")
			ab := storetest.MustDirect(t, s, alice, bob)
			ac := storetest.MustDirect(t, s, alice, carol)
			g := storetest.MustGroup(t, s, alice, bob, carol)
			if err := s.RemoveFriend(t.Context(), alice.ID, "carol"); err != nil {
				t.Fatal(err)
			}
			if err := s.Block(t.Context(), carol.ID, "bob"); err != nil {
				t.Fatal(err)
			}
			old, _, err := s.SendMessage(t.Context(), glasshouse.NewMessage{ConversationID: ab.ID, SenderID: alice.ID, Text: "old", ClientTxnID: "old"})
			if err != nil {
				t.Fatal(err)
			}
			rec.events = nil
			sends := []glasshouse.NewMessage{
				{ConversationID: ab.ID, SenderID: alice.ID, Text: "a1", ClientTxnID: "t1"},
				{ConversationID: ab.ID, SenderID: bob.ID, Text: "b1"},
				{ConversationID: ab.ID, SenderID: alice.ID, Text: "a1 again", ClientTxnID: "t1"}, // a repeat of the first
				{ConversationID: ab.ID, SenderID: alice.ID, Text: "old again", ClientTxnID: "old"},
				{ConversationID: ab.ID, SenderID: carol.ID, Text: "not mine"},
				{ConversationID: ab.ID + 1000, SenderID: alice.ID, Text: "nowhere"},
				{ConversationID: ac.ID, SenderID: alice.ID, Text: "not friends"},
				{ConversationID: ac.ID, SenderID: alice.ID, Text: "not friends", ClientTxnID: "t-ac"},
				{ConversationID: g.ID, SenderID: alice.ID, Text: "g1", ClientTxnID: "t1"},
				{ConversationID: g.ID, SenderID: bob.ID, Text: "g2"},
				{ConversationID: g.ID, SenderID: carol.ID, Text: "g3", ClientTxnID: "t1"},
				{ConversationID: ab.ID, SenderID: alice.ID, Text: "a2", ViaPartner: "app"},
				{ConversationID: g.ID, SenderID: alice.ID, Text: "g1 again", ClientTxnID: "t1"},
			}
			type result struct {
				msg     *glasshouse.Message
				created bool
				err     error
			}
			results := make([]chan result, len(sends))
			send := func(i int) {
				msg, created, err := s.SendMessage(t.Context(), sends[i])
				results[i] <- result{msg, created, err}
			}
			var release func()
			if batched {
				release = blockWriter(t, s)
			}
			for i := range sends {
				results[i] = make(chan result, 1)
				if batched {
					go send(i)
					waitQueued(t, s, i+1)
				} else {
					send(i)
				}
			}
			if batched {
				release()
			}
			var got []string
			for i := range sends {
				r := <-results[i]
				if r.err != nil {
					got = append(got, fmt.Sprintf("%d: %s", i, glasshouse.ErrorCode(r.err)))
					continue
				}
				m := r.msg
				got = append(got, fmt.Sprintf("%d: id +%d, %d/%d by %s %q txn %q via %q, created %v",
					i, m.ID-old.ID, m.ConversationID, m.Seq, m.SenderHandle, m.Text, m.ClientTxnID, m.ViaPartner, r.created))
			}
			rec.mu.Lock()
			for _, ev := range rec.events {
				ids := slices.Sorted(slices.Values(ev.Recipients))
				got = append(got, fmt.Sprintf("event: id +%d, %d/%d %q to %v", ev.Message.ID-old.ID, ev.Message.ConversationID, ev.Message.Seq, ev.Message.Text, ids))
			}
			rec.mu.Unlock()
			for _, c := range []*glasshouse.Conversation{ab, g} {
				page, err := s.Messages(t.Context(), glasshouse.MessageQuery{ConversationID: c.ID, MemberID: alice.ID, Forward: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range page.Messages {
					got = append(got, fmt.Sprintf("stored: id +%d, %d/%d %q", m.ID-old.ID, m.ConversationID, m.Seq, m.Text))
				}
			}
			if batched {
				together = got
			} else {
				alone = got
			}
		}
		if !slices.Equal(together, alone) {
			t.Errorf("sends run together:\n\t%s\none by one:\n\t%s", strings.Join(together, "\n\t"), strings.Join(alone, "\n\t"))
		}
	})
}

// TestSendRunFailure makes one send of a run fail in the database: the
// others are stored, in order, and only it gets an error.
func TestSendRunFailure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, sqlstore.Config{})
		alice, bob := storetest.MustMember(t, s, "alice"), storetest.MustMember(t, s, "bob")
		ab := storetest.MustDirect(t, s, alice, bob)
		for _, q := range b.refuseVia {
			if err := s.Write(t.Context(), func(tx sqlstore.TestTx) error { return tx.Exec(q) }); err != nil {
				t.Fatal(err)
			}
		}
		sends := []glasshouse.NewMessage{
			{ConversationID: ab.ID, SenderID: alice.ID, Text: "one"},
			{ConversationID: ab.ID, SenderID: bob.ID, Text: "refused", ViaPartner: "refused"},
			{ConversationID: ab.ID, SenderID: bob.ID, Text: "two"},
		}
		release := blockWriter(t, s)
		results := make([]chan error, len(sends))
		msgs := make([]*glasshouse.Message, len(sends))
		for i := range sends {
			results[i] = make(chan error, 1)
			go func() {
				var err error
				msgs[i], _, err = s.SendMessage(t.Context(), sends[i])
				results[i] <- err
			}()
			waitQueued(t, s, i+1)
		}
		release()
		errs := []error{<-results[0], <-results[1], <-results[2]}
		if errs[0] != nil || errs[2] != nil || errs[1] == nil {
			t.Fatalf("sends returned %v; want an error for the refused one only", errs)
		}
		if msgs[0].Seq != 1 || msgs[2].Seq != 2 || msgs[2].ID <= msgs[0].ID {
			t.Errorf("stored (id %d, seq %d) and (id %d, seq %d); want seqs 1 and 2 in id order", msgs[0].ID, msgs[0].Seq, msgs[2].ID, msgs[2].Seq)
		}
		page, err := s.Messages(t.Context(), glasshouse.MessageQuery{ConversationID: ab.ID, MemberID: alice.ID, Forward: true})
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range page.Messages {
			texts = append(texts, m.Text)
		}
		if !slices.Equal(texts, []string{"one", "two"}) {
			t.Errorf("stored %q, want [one two]", texts)
		}
	})
}
