package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// RunPublisher checks the events a store publishes: one Event per committed
// send, with the message and every current member of its conversation as
// recipients, in commit (ID) order, and none for a refused send or the
// repeat of an idempotent one.
//
// open has the same duties as in Run, and MUST give p to the store as its
// Publisher.
func RunPublisher(t *testing.T, open func(t *testing.T, p glasshouse.Publisher) glasshouse.Store) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s glasshouse.Store, r *recorder)
	}{
		{"OnePerSend", testPublishOnePerSend},
		{"CurrentMembers", testPublishCurrentMembers},
		{"NoneForRefusedSend", testPublishNoneForRefused},
		{"NoneForRepeat", testPublishNoneForRepeat},
		{"CommitOrder", testPublishCommitOrder},
		{"NotToBlockers", testPublishNotToBlockers},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := new(recorder)
			tt.fn(t, open(t, r), r)
		})
	}
}

// recorder is a Publisher that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []glasshouse.Event
}

func (r *recorder) Publish(ev glasshouse.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// upTo returns the events published so far, once the event of the message
// with the given id is among them: events are published in commit order, so
// all earlier ones are then in. It waits briefly for a store that publishes
// after SendMessage returns.
func (r *recorder) upTo(t *testing.T, id int64) []glasshouse.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		evs := slices.Clone(r.events)
		r.mu.Unlock()
		if slices.ContainsFunc(evs, func(ev glasshouse.Event) bool { return ev.Message != nil && ev.Message.ID == id }) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event for message %d within 5s; events so far: %s", id, describe(evs))
		}
		time.Sleep(time.Millisecond)
	}
}

// describe lists events briefly, for failure messages.
func describe(evs []glasshouse.Event) string {
	var out []string
	for _, ev := range evs {
		if ev.Message == nil {
			out = append(out, fmt.Sprintf("{nil message, to %v}", ev.Recipients))
			continue
		}
		out = append(out, fmt.Sprintf("{id %d, conversation %d, seq %d, to %v}", ev.Message.ID, ev.Message.ConversationID, ev.Message.Seq, ev.Recipients))
	}
	return fmt.Sprint(out)
}

// wantEvents checks that the events are exactly one per message, in order,
// each naming the recipients by member id, in any order.
func wantEvents(t *testing.T, evs []glasshouse.Event, msgs []*glasshouse.Message, recipients [][]*glasshouse.Member) {
	t.Helper()
	evIDs := make([]int64, len(evs))
	for i, ev := range evs {
		if ev.Message == nil {
			t.Fatalf("event %d has no message", i)
		}
		evIDs[i] = ev.Message.ID
	}
	if want := ids(msgs); !slices.Equal(evIDs, want) {
		t.Fatalf("events for messages %s", firstDiff(evIDs, want))
	}
	for i, ev := range evs {
		if d := diffMessage(ev.Message, msgs[i]); d != "" {
			t.Errorf("event %d: %s", i, d)
		}
		want := make([]int64, len(recipients[i]))
		for j, m := range recipients[i] {
			want[j] = m.ID
		}
		slices.Sort(want)
		if got := slices.Sorted(slices.Values(ev.Recipients)); !slices.Equal(got, want) {
			t.Errorf("event %d (message %d): recipients %v, want %v (in any order)", i, ev.Message.ID, got, want)
		}
	}
}

func testPublishOnePerSend(t *testing.T, s glasshouse.Store, r *recorder) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	direct := MustDirect(t, s, a, b)
	g := MustGroup(t, s, a, b, c)
	m1 := MustSend(t, s, direct, a, "one")
	m2 := MustSend(t, s, g, c, "two")
	m3 := MustSend(t, s, direct, b, "three")
	wantEvents(t, r.upTo(t, m3.ID), []*glasshouse.Message{m1, m2, m3},
		[][]*glasshouse.Member{{a, b}, {a, b, c}, {a, b}})
}

// testPublishNotToBlockers: a member who blocked the sender gets no event
// of their messages in a group; unblocking brings the next ones back.
func testPublishNotToBlockers(t *testing.T, s glasshouse.Store, r *recorder) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	g := MustGroup(t, s, a, b, c)
	m1 := MustSend(t, s, g, b, "before") // also fills the writer's recipient cache
	must(t, s.Block(ctx, a.ID, b.Handle))
	m2 := MustSend(t, s, g, b, "blocked")
	m3 := MustSend(t, s, g, a, "alice still reaches bob")
	must(t, s.Unblock(ctx, a.ID, b.Handle))
	m4 := MustSend(t, s, g, b, "after")
	wantEvents(t, r.upTo(t, m4.ID), []*glasshouse.Message{m1, m2, m3, m4},
		[][]*glasshouse.Member{{a, b, c}, {b, c}, {a, b, c}, {a, b, c}})
}

func testPublishCurrentMembers(t *testing.T, s glasshouse.Store, r *recorder) {
	ctx := t.Context()
	a, b, c, d := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol"), MustMember(t, s, "dave")
	MustFriends(t, s, a, d)
	g := MustGroup(t, s, a, b, c)
	m1 := MustSend(t, s, g, b, "before")
	must(t, s.AddMember(ctx, a.ID, g.ID, "dave"))
	m2 := MustSend(t, s, g, d, "joined")
	must(t, s.Leave(ctx, c.ID, g.ID))
	m3 := MustSend(t, s, g, a, "left")
	wantEvents(t, r.upTo(t, m3.ID), []*glasshouse.Message{m1, m2, m3},
		[][]*glasshouse.Member{{a, b, c}, {a, b, c, d}, {a, b, d}})
}

func testPublishNoneForRefused(t *testing.T, s glasshouse.Store, r *recorder) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	direct := MustDirect(t, s, a, b)
	g := MustGroup(t, s, a, c)
	must(t, s.RemoveFriend(ctx, a.ID, "bob"))
	for _, tt := range []struct {
		name string
		nm   glasshouse.NewMessage
		code string
	}{
		{"NotMember", glasshouse.NewMessage{ConversationID: g.ID, SenderID: b.ID, Text: "let me in"}, glasshouse.ENOTFOUND},
		{"UnknownConversation", glasshouse.NewMessage{ConversationID: g.ID + direct.ID + 1000, SenderID: a.ID, Text: "anyone?"}, glasshouse.ENOTFOUND},
		{"NoLongerFriends", glasshouse.NewMessage{ConversationID: direct.ID, SenderID: a.ID, Text: "sorry"}, glasshouse.EFORBIDDEN},
	} {
		_, _, err := s.SendMessage(ctx, tt.nm)
		wantCode(t, err, tt.code, tt.name)
	}
	ok := MustSend(t, s, g, c, "fine")
	wantEvents(t, r.upTo(t, ok.ID), []*glasshouse.Message{ok}, [][]*glasshouse.Member{{a, c}})
}

func testPublishNoneForRepeat(t *testing.T, s glasshouse.Store, r *recorder) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	direct := MustDirect(t, s, a, b)
	nm := glasshouse.NewMessage{ConversationID: direct.ID, SenderID: a.ID, Text: "once", ClientTxnID: "txn-1"}
	first, created, err := s.SendMessage(t.Context(), nm)
	must(t, err)
	if !created {
		t.Fatal("first send: created = false")
	}
	for range 3 {
		_, created, err := s.SendMessage(t.Context(), nm)
		must(t, err)
		if created {
			t.Error("repeat send: created = true")
		}
	}
	next := MustSend(t, s, direct, b, "next")
	wantEvents(t, r.upTo(t, next.ID), []*glasshouse.Message{first, next}, [][]*glasshouse.Member{{a, b}, {a, b}})
}

// testPublishCommitOrder sends from many goroutines into several
// conversations at once and checks that the events come in ID order, one per
// acknowledged message.
func testPublishCommitOrder(t *testing.T, s glasshouse.Store, r *recorder) {
	const senders, perSender, nconv = 16, 10, 4
	members := make([]*glasshouse.Member, senders)
	for i := range members {
		members[i] = MustMember(t, s, fmt.Sprintf("sender%02d", i))
	}
	groups := make([]*glasshouse.Conversation, nconv)
	for j := range groups {
		groups[j] = MustGroup(t, s, members[0], members[1:]...)
	}
	acked := make([][]*glasshouse.Message, senders)
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			for k := range perSender {
				nm := glasshouse.NewMessage{ConversationID: groups[(i+k)%nconv].ID, SenderID: m.ID, Text: fmt.Sprint(k)}
				msg, _, err := s.SendMessage(t.Context(), nm)
				if err != nil {
					t.Errorf("concurrent SendMessage(%s #%d): %v", m.Handle, k, err)
					continue
				}
				acked[i] = append(acked[i], msg)
			}
		})
	}
	wg.Wait()
	all := slices.SortedFunc(slices.Values(slices.Concat(acked...)), func(a, b *glasshouse.Message) int { return cmp.Compare(a.ID, b.ID) })
	if len(all) == 0 {
		t.Fatal("no message was sent")
	}
	recipients := make([][]*glasshouse.Member, len(all))
	for i := range recipients {
		recipients[i] = members
	}
	wantEvents(t, r.upTo(t, all[len(all)-1].ID), all, recipients)
}
