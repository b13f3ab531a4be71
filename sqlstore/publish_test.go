package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
)

// visibility is a Publisher that checks, for each event, that the message
// can already be read: events come after commit.
type visibility struct {
	s      glasshouse.Store
	mu     sync.Mutex
	seen   []int64 // message ids, in publication order
	unseen []int64 // messages not readable when published
}

func (v *visibility) Publish(ev glasshouse.Event) {
	msgs, err := v.s.MessagesAfter(context.Background(), ev.Message.SenderID, ev.Message.ID-1, 1)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = append(v.seen, ev.Message.ID)
	if err != nil || len(msgs) != 1 || msgs[0].ID != ev.Message.ID {
		v.unseen = append(v.unseen, ev.Message.ID)
	}
}

// TestPublishAfterCommitBeforeAck checks that a send's event is published
// once the message is committed, and before SendMessage returns.
func TestPublishAfterCommitBeforeAck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := &visibility{}
		s := b.open(t, sqlstore.Config{Publisher: v})
		v.s = s
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
		for i := range 5 {
			msg, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: c.ID, SenderID: alice.ID, Text: "hi"})
			if err != nil {
				t.Fatal(err)
			}
			v.mu.Lock()
			n, last := len(v.seen), int64(0)
			if n > 0 {
				last = v.seen[n-1]
			}
			v.mu.Unlock()
			if n != i+1 || last != msg.ID {
				t.Errorf("send %d (message %d) returned with %d events published, the last for message %d", i, msg.ID, n, last)
			}
		}
		if len(v.unseen) > 0 {
			t.Errorf("messages %v were published before they could be read", v.unseen)
		}
	})
}
