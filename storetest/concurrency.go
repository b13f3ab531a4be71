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

var concurrencyTests = []test{
	{"OneConversation", func(t *testing.T, s glasshouse.Store) { testConcurrentSends(t, s, 1) }},
	{"EightConversations", func(t *testing.T, s glasshouse.Store) { testConcurrentSends(t, s, 8) }},
}

// Sizes of the concurrency tests: enough writers to contend on every lock,
// few enough messages to stay fast on SQLite.
const (
	concurrentSenders = 32
	sendsPerSender    = 8
)

// testConcurrentSends has concurrentSenders members send sendsPerSender
// messages each, all at once, into nconv groups. The first member, the
// reader, created every group and is in all of them; each other member is in
// one. While they
// send, that first member's stream follows MessagesAfter, as a reconnecting
// client would. Afterwards every acknowledged message must be found exactly
// once: in each group's history, paged backward and forward, with seqs
// 1..N in ID order; in MessagesAfter; and in the stream, which misses
// messages if ids do not grow in commit order.
func testConcurrentSends(t *testing.T, s glasshouse.Store, nconv int) {
	ctx := t.Context()
	members := make([]*glasshouse.Member, concurrentSenders)
	for i := range members {
		members[i] = MustMember(t, s, fmt.Sprintf("sender%02d", i))
	}
	reader := members[0]
	groups := make([]*glasshouse.Conversation, nconv)
	for j := range groups {
		var in []*glasshouse.Member
		for i := j; i < len(members); i += nconv {
			if members[i] != reader {
				in = append(in, members[i])
			}
		}
		groups[j] = MustGroup(t, s, reader, in...)
	}

	start, sent := make(chan struct{}), make(chan struct{})
	acked := make([][]*glasshouse.Message, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		g := groups[i%nconv]
		wg.Go(func() {
			<-start
			for k := range sendsPerSender {
				nm := glasshouse.NewMessage{ConversationID: g.ID, SenderID: m.ID, Text: fmt.Sprintf("%s #%d", m.Handle, k), ClientTxnID: fmt.Sprint("txn-", k)}
				msg, created, err := s.SendMessage(ctx, nm)
				if err != nil {
					t.Errorf("concurrent SendMessage(%s #%d): %v", m.Handle, k, err)
					continue
				} else if !created {
					t.Errorf("concurrent SendMessage(%s #%d): created = false", m.Handle, k)
				}
				acked[i] = append(acked[i], msg)
			}
		})
	}
	streamed := make(chan []*glasshouse.Message, 1)
	go func() { streamed <- tail(t, s, reader, sent) }()
	close(start)
	wg.Wait()
	close(sent)
	stream := <-streamed

	for i, msgs := range acked {
		for k := 1; k < len(msgs); k++ {
			if msgs[k].Seq <= msgs[k-1].Seq || msgs[k].ID <= msgs[k-1].ID {
				t.Errorf("%s's sends %d and %d got seqs %d, %d and ids %d, %d; want both growing",
					members[i].Handle, k-1, k, msgs[k-1].Seq, msgs[k].Seq, msgs[k-1].ID, msgs[k].ID)
			}
		}
	}
	all := slices.SortedFunc(slices.Values(slices.Concat(acked...)), func(a, b *glasshouse.Message) int { return cmp.Compare(a.ID, b.ID) })
	for j, g := range groups {
		inGroup := slices.DeleteFunc(slices.Clone(all), func(m *glasshouse.Message) bool { return m.ConversationID != g.ID })
		checkHistory(t, s, fmt.Sprintf("group %d", j), reader, g, inGroup)
	}
	sameMessages(t, "MessagesAfter(0) in pages of 100", messagesAfter(t, s, reader, 0, 100), all)
	sameMessages(t, "stream following MessagesAfter during the sends", stream, all)
}

// checkHistory checks that a group's history, as m pages it backward with
// Before and forward with After, holds exactly the acknowledged messages
// (given in ID order) with seqs 1..N.
func checkHistory(t *testing.T, s glasshouse.Store, name string, m *glasshouse.Member, g *glasshouse.Conversation, acked []*glasshouse.Message) {
	t.Helper()
	for i, msg := range acked {
		if msg.Seq != int64(i+1) {
			t.Errorf("%s: message %d in id order has seq %d, want %d: seqs %v must be 1..%d in id order", name, msg.ID, msg.Seq, i+1, seqs(acked), len(acked))
			break
		}
	}
	if got := mustConversation(t, s, m, g.ID); got.LastSeq != int64(len(acked)) {
		t.Errorf("%s: LastSeq = %d, want %d", name, got.LastSeq, len(acked))
	}
	back := walk(t, s, glasshouse.MessageQuery{ConversationID: g.ID, MemberID: m.ID, Limit: 50})
	sameMessages(t, name+": history paged backward", reversed(back), acked)
	fwd := walk(t, s, glasshouse.MessageQuery{ConversationID: g.ID, MemberID: m.ID, Forward: true, Limit: 50})
	sameMessages(t, name+": history paged forward", fwd, acked)
}

// messagesAfter returns all of m's messages after the id, fetched in pages.
func messagesAfter(t *testing.T, s glasshouse.Store, m *glasshouse.Member, after int64, limit int) []*glasshouse.Message {
	t.Helper()
	var all []*glasshouse.Message
	for {
		msgs, err := s.MessagesAfter(t.Context(), m.ID, after, limit)
		must(t, err)
		if len(msgs) > limit {
			t.Fatalf("MessagesAfter(%s, %d, %d) = %d messages", m.Handle, after, limit, len(msgs))
		}
		if len(msgs) == 0 {
			return all
		}
		all = append(all, msgs...)
		after = msgs[len(msgs)-1].ID
	}
}

// tail follows m's messages with MessagesAfter until done is closed and it
// has caught up, as a stream that resumes from the last id it delivered. It
// runs in its own goroutine, so it reports with t.Errorf only.
func tail(t *testing.T, s glasshouse.Store, m *glasshouse.Member, done <-chan struct{}) []*glasshouse.Message {
	var got []*glasshouse.Message
	var last int64
	for {
		finished := false
		select {
		case <-done:
			finished = true
		default:
		}
		msgs, err := s.MessagesAfter(t.Context(), m.ID, last, 100)
		if err != nil {
			t.Errorf("MessagesAfter(%s, %d) during sends: %v", m.Handle, last, err)
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
