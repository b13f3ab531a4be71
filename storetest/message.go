package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

var messageTests = []test{
	{"Send", testSendMessage},
	{"SeqPerConversation", testSeqPerConversation},
	{"IdempotentSend", testIdempotentSend},
	{"DirectAfterUnfriend", testDirectAfterUnfriend},
	{"DirectAfterBlock", testDirectAfterBlock},
	{"BlockInGroup", testBlockInGroup},
	{"History", testHistory},
	{"HistoryWalk", testHistoryWalk},
	{"HistoryLimit", testHistoryLimit},
	{"HistoryBothCursors", testHistoryBothCursors},
	{"DeleteForMe", testDeleteForMe},
	{"MessagesAfter", testMessagesAfter},
	{"MessagesAfterLeave", testMessagesAfterLeave},
	{"LatestMessages", testLatestMessages},
}

// walk pages through history from q in q's direction, following Next until it is 0, and returns every message in the order
// received. Every page but the last must be full, and Next must be 0 on the
// last page, not on an empty page after it.
func walk(t *testing.T, s glasshouse.Store, q glasshouse.MessageQuery) []*glasshouse.Message {
	t.Helper()
	var all []*glasshouse.Message
	for page := 0; ; page++ {
		p, err := s.Messages(t.Context(), q)
		if err != nil {
			t.Fatalf("Messages(%+v): %v", q, err)
		}
		if len(p.Messages) > q.Limit || (p.Next != 0 && len(p.Messages) < q.Limit) {
			t.Fatalf("Messages(%+v) = %d messages with Next %d, want a full page of %d or the last page", q, len(p.Messages), p.Next, q.Limit)
		}
		if page > 0 && len(p.Messages) == 0 {
			t.Errorf("Messages(%+v) is empty: the previous page should have had Next 0", q)
		}
		all = append(all, p.Messages...)
		if p.Next == 0 {
			return all
		}
		cursor := &q.Before
		if q.Forward {
			cursor = &q.After
		}
		if p.Next == *cursor || page > 10000 {
			t.Fatalf("Messages(%+v): Next %d does not move on", q, p.Next)
		}
		*cursor = p.Next
	}
}

func testSendMessage(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	c := MustDirect(t, s, a, b)
	sends := []glasshouse.NewMessage{
		{SenderID: a.ID, Text: "hello"},
		{SenderID: b.ID, Text: "hi alice", ClientTxnID: "b-1"},
		{SenderID: a.ID, Text: "watching Metropolis", ViaPartner: "streamflix"},
		{SenderID: a.ID, Text: "ünïcødé ✓"},
		{SenderID: b.ID, Text: "ok", ClientTxnID: "b-2", ViaPartner: "streamflix"},
	}
	var sent []*glasshouse.Message
	for i, nm := range sends {
		nm.ConversationID = c.ID
		msg, created, err := s.SendMessage(ctx, nm)
		must(t, err)
		sender := map[int64]string{a.ID: "alice", b.ID: "bob"}[nm.SenderID]
		if !created || msg.ID == 0 || msg.ConversationID != c.ID || msg.Seq != int64(i+1) || msg.SenderID != nm.SenderID ||
			msg.SenderHandle != sender || msg.Text != nm.Text || msg.ClientTxnID != nm.ClientTxnID ||
			msg.ViaPartner != nm.ViaPartner || msg.CreatedAt.IsZero() {
			t.Errorf("SendMessage(%+v) = %+v, created %v; want seq %d from %s, created", nm, msg, created, i+1, sender)
		}
		if i > 0 && msg.ID <= sent[i-1].ID {
			t.Errorf("message %d has id %d after id %d, want ids growing in send order", i+1, msg.ID, sent[i-1].ID)
		}
		sent = append(sent, msg)
	}
	for _, m := range []*glasshouse.Member{a, b} {
		if got := mustConversation(t, s, m, c.ID); got.LastSeq != int64(len(sent)) {
			t.Errorf("Conversation(%s).LastSeq = %d, want %d", m.Handle, got.LastSeq, len(sent))
		}
		p, err := s.Messages(ctx, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: m.ID})
		must(t, err)
		sameMessages(t, "Messages("+m.Handle+")", p.Messages, reversed(sent))
	}
}

func testSeqPerConversation(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	convs := []*glasshouse.Conversation{MustDirect(t, s, a, b), MustGroup(t, s, b, c), MustDirect(t, s, a, c)}
	senders := []*glasshouse.Member{a, c, c}
	var all []*glasshouse.Message
	for round := 1; round <= 4; round++ {
		for i, conv := range convs {
			msg := MustSend(t, s, conv, senders[i], fmt.Sprint(round))
			if msg.Seq != int64(round) {
				t.Errorf("message %d in conversation %d has seq %d, want %d", round, conv.ID, msg.Seq, round)
			}
			if len(all) > 0 && msg.ID <= all[len(all)-1].ID {
				t.Errorf("id %d after id %d, want ids growing in send order across conversations", msg.ID, all[len(all)-1].ID)
			}
			all = append(all, msg)
		}
	}
}

func testIdempotentSend(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	direct := MustDirect(t, s, a, b)
	g := MustGroup(t, s, a, b)
	send := func(c *glasshouse.Conversation, from *glasshouse.Member, text, txn string) (*glasshouse.Message, bool) {
		t.Helper()
		msg, created, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: c.ID, SenderID: from.ID, Text: text, ClientTxnID: txn})
		if err != nil {
			t.Fatalf("SendMessage(%s in %d, %q, txn %q): %v", from.Handle, c.ID, text, txn, err)
		}
		return msg, created
	}
	first, created := send(direct, a, "hello", "txn-1")
	if !created {
		t.Fatal("first send: created = false")
	}
	for _, text := range []string{"hello", "hello, edited"} {
		again, created := send(direct, a, text, "txn-1")
		if created {
			t.Errorf("repeat with text %q: created = true, want false", text)
		}
		if d := diffMessage(again, first); d != "" {
			t.Errorf("repeat with text %q returned %s", text, d)
		}
	}
	if got := mustConversation(t, s, a, direct.ID); got.LastSeq != 1 {
		t.Errorf("after repeats, LastSeq = %d, want 1", got.LastSeq)
	}

	for _, tt := range []struct {
		name string
		conv *glasshouse.Conversation
		from *glasshouse.Member
		txn  string
	}{
		{"OtherSender", direct, b, "txn-1"},
		{"OtherConversation", g, a, "txn-1"},
		{"OtherTxn", direct, a, "txn-2"},
		{"NoTxn", direct, a, ""},
		{"NoTxnAgain", direct, a, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg, created := send(tt.conv, tt.from, "hello", tt.txn)
			if !created || msg.ID == first.ID {
				t.Errorf("SendMessage(%s in %d, txn %q) = id %d, created %v; want a new message", tt.from.Handle, tt.conv.ID, tt.txn, msg.ID, created)
			}
		})
	}
	if got := mustConversation(t, s, a, direct.ID); got.LastSeq != 5 {
		t.Errorf("LastSeq = %d, want 5", got.LastSeq)
	}
	if got := mustConversation(t, s, a, g.ID); got.LastSeq != 1 {
		t.Errorf("group LastSeq = %d, want 1", got.LastSeq)
	}
}

// wantSendCode checks that from cannot send to c, and that nothing was
// stored.
func wantSendCode(t *testing.T, s glasshouse.Store, c *glasshouse.Conversation, from *glasshouse.Member, code string) {
	t.Helper()
	before := mustConversation(t, s, from, c.ID).LastSeq
	_, _, err := s.SendMessage(t.Context(), glasshouse.NewMessage{ConversationID: c.ID, SenderID: from.ID, Text: "are you there?", ClientTxnID: "refused"})
	wantCode(t, err, code, fmt.Sprintf("SendMessage(%s in %d)", from.Handle, c.ID))
	if after := mustConversation(t, s, from, c.ID).LastSeq; after != before {
		t.Errorf("a refused send moved LastSeq from %d to %d", before, after)
	}
}

func testDirectAfterUnfriend(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	direct := MustDirect(t, s, a, b)
	MustSend(t, s, direct, a, "hi")
	must(t, s.RemoveFriend(t.Context(), b.ID, "alice"))
	wantSendCode(t, s, direct, a, glasshouse.EFORBIDDEN)
	wantSendCode(t, s, direct, b, glasshouse.EFORBIDDEN)
	// Friends again, they may write again.
	MustFriends(t, s, a, b)
	MustSend(t, s, direct, b, "welcome back")
}

func testDirectAfterBlock(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	direct := MustDirect(t, s, a, b)
	MustSend(t, s, direct, b, "hi")
	must(t, s.Block(t.Context(), a.ID, "bob"))
	wantSendCode(t, s, direct, a, glasshouse.EFORBIDDEN)
	wantSendCode(t, s, direct, b, glasshouse.EFORBIDDEN)
	must(t, s.Unblock(t.Context(), a.ID, "bob"))
	// Unblocking does not restore the friendship.
	wantSendCode(t, s, direct, b, glasshouse.EFORBIDDEN)
}

// testBlockInGroup: in a group, the blocker sees none of the blocked
// member's messages (history, the stream's backlog, the latest message, the
// unread count), the others see all; unblocking shows them again.
func testBlockInGroup(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	g := MustGroup(t, s, a, b, c)
	hi := MustSend(t, s, g, c, "hi all")
	MustSend(t, s, g, b, "one")
	must(t, s.Block(ctx, a.ID, b.Handle))
	last := MustSend(t, s, g, b, "two")
	texts := func(msgs []*glasshouse.Message) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, m.Text)
		}
		return out
	}
	if got := texts(history(t, s, a, g.ID)); !slices.Equal(got, []string{"hi all"}) {
		t.Errorf("alice's history after blocking bob: %q, want carol's message alone", got)
	}
	if got := texts(history(t, s, c, g.ID)); !slices.Equal(got, []string{"two", "one", "hi all"}) {
		t.Errorf("carol's history: %q, want all three", got)
	}
	after, err := s.MessagesAfter(ctx, a.ID, 0, 10)
	must(t, err)
	if got := texts(after); !slices.Equal(got, []string{"hi all"}) {
		t.Errorf("alice's MessagesAfter: %q, want carol's message alone", got)
	}
	latest, err := s.LatestMessages(ctx, a.ID)
	must(t, err)
	if m := latest[g.ID]; m == nil || m.ID != hi.ID {
		t.Errorf("alice's latest message in the group: %+v, want carol's", m)
	}
	conv, err := s.Conversation(ctx, a.ID, g.ID)
	must(t, err)
	if conv.Unread != 1 {
		t.Errorf("alice's unread count: %d, want 1 (bob's two do not count)", conv.Unread)
	}
	must(t, s.Unblock(ctx, a.ID, b.Handle))
	if got := texts(history(t, s, a, g.ID)); !slices.Equal(got, []string{"two", "one", "hi all"}) {
		t.Errorf("alice's history after unblocking: %q, want all three", got)
	}
	if latest, _ := s.LatestMessages(ctx, a.ID); latest[g.ID] == nil || latest[g.ID].ID != last.ID {
		t.Errorf("alice's latest message after unblocking: %+v, want bob's last", latest[g.ID])
	}
}

func testHistory(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	c := MustGroup(t, s, a, b)
	sent := MustSendN(t, s, c, a, 25)
	span := func(from, to int64) []*glasshouse.Message {
		var out []*glasshouse.Message
		for _, seq := range seqRange(from, to) {
			out = append(out, sent[seq-1])
		}
		return out
	}
	for _, tt := range []struct {
		name          string
		before, after int64
		limit         int
		want          []*glasshouse.Message
		next          int64
	}{
		{"Newest", 0, 0, 10, span(25, 16), 16},
		{"NewestAll", 0, 0, 25, span(25, 1), 0},
		{"NewestMoreThanAll", 0, 0, 30, span(25, 1), 0},
		{"Before", 16, 0, 10, span(15, 6), 6},
		{"BeforeToStart", 6, 0, 10, span(5, 1), 0},
		{"BeforeExactlyToStart", 6, 0, 5, span(5, 1), 0},
		{"BeforeFirst", 1, 0, 10, nil, 0},
		{"BeforePastLast", 100, 0, 3, span(25, 23), 23},
		{"After", 0, 10, 5, span(11, 15), 15},
		{"AfterToEnd", 0, 20, 10, span(21, 25), 0},
		{"AfterExactlyToEnd", 0, 20, 5, span(21, 25), 0},
		{"AfterLast", 0, 25, 10, nil, 0},
		{"AfterPastLast", 0, 100, 10, nil, 0},
		{"One", 0, 0, 1, span(25, 25), 25},
		{"ForwardFromStart", 0, 0, 10, span(1, 10), 10},
		{"ForwardFromStartAll", 0, 0, 30, span(1, 25), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forward := strings.HasPrefix(tt.name, "After") || strings.HasPrefix(tt.name, "Forward")
			q := glasshouse.MessageQuery{ConversationID: c.ID, MemberID: b.ID, Forward: forward, Before: tt.before, After: tt.after, Limit: tt.limit}
			p, err := s.Messages(t.Context(), q)
			must(t, err)
			sameMessages(t, fmt.Sprintf("Messages(%+v)", q), p.Messages, tt.want)
			if p.Next != tt.next {
				t.Errorf("Messages(%+v).Next = %d, want %d", q, p.Next, tt.next)
			}
		})
	}
}

func testHistoryWalk(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	c := MustGroup(t, s, a, b)
	var sent []*glasshouse.Message
	for i := range 25 {
		sent = append(sent, MustSend(t, s, c, []*glasshouse.Member{a, b}[i%2], fmt.Sprint(i+1)))
	}
	for _, limit := range []int{1, 2, 5, 7, 24, 25, 26} {
		t.Run(fmt.Sprint("Limit", limit), func(t *testing.T) {
			back := walk(t, s, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: a.ID, Limit: limit})
			sameMessages(t, "backward walk", back, reversed(sent))
			fwd := walk(t, s, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: b.ID, Forward: true, Limit: limit})
			sameMessages(t, "forward walk", fwd, sent)
		})
	}
}

// testHistoryLimit checks that Limit 0 means DefaultPageSize and that no page
// is larger than MaxPageSize: a larger or negative Limit is either EINVALID
// or served as a bounded page.
func testHistoryLimit(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	c := MustGroup(t, s, a, b)
	sent := MustSendN(t, s, c, a, glasshouse.MaxPageSize+5)
	q := glasshouse.MessageQuery{ConversationID: c.ID, MemberID: b.ID}
	p, err := s.Messages(t.Context(), q)
	must(t, err)
	sameMessages(t, "Messages with Limit 0", p.Messages, reversed(sent)[:glasshouse.DefaultPageSize])

	q.Limit = glasshouse.MaxPageSize
	p, err = s.Messages(t.Context(), q)
	must(t, err)
	sameMessages(t, "Messages with MaxPageSize", p.Messages, reversed(sent)[:glasshouse.MaxPageSize])

	for _, limit := range []int{glasshouse.MaxPageSize + 1, 1 << 30, -1} {
		q.Limit = limit
		p, err := s.Messages(t.Context(), q)
		if err != nil {
			wantCode(t, err, glasshouse.EINVALID, fmt.Sprintf("Messages with Limit %d", limit))
		} else if len(p.Messages) > glasshouse.MaxPageSize || len(p.Messages) == 0 {
			t.Errorf("Messages with Limit %d = %d messages, want EINVALID or 1 to %d", limit, len(p.Messages), glasshouse.MaxPageSize)
		}
	}
}

func testHistoryBothCursors(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	c := MustGroup(t, s, a, b)
	MustSendN(t, s, c, a, 5)
	_, err := s.Messages(t.Context(), glasshouse.MessageQuery{ConversationID: c.ID, MemberID: b.ID, Forward: true, Before: 4, After: 1, Limit: 10})
	wantCode(t, err, glasshouse.EINVALID, "Messages with both Before and After")
}

func testDeleteForMe(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	c := MustGroup(t, s, a, b)
	sent := MustSendN(t, s, c, a, 6)
	must(t, s.DeleteForMe(ctx, b.ID, c.ID, 5))
	must(t, s.DeleteForMe(ctx, b.ID, c.ID, 1))
	// bob deletes alice's messages for himself; alice deletes her own.
	must(t, s.DeleteForMe(ctx, a.ID, c.ID, 3))
	pick := func(seqs ...int64) []*glasshouse.Message {
		var out []*glasshouse.Message
		for _, seq := range seqs {
			out = append(out, sent[seq-1])
		}
		return out
	}
	for _, tt := range []struct {
		name     string
		member   *glasshouse.Member
		visible  []int64
		newest   []int64
		newestTo int64
	}{
		{"Bob", b, []int64{2, 3, 4, 6}, []int64{6, 4, 3}, 3},
		{"Alice", a, []int64{1, 2, 4, 5, 6}, []int64{6, 5, 4}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := glasshouse.MessageQuery{ConversationID: c.ID, MemberID: tt.member.ID, Limit: 3}
			p, err := s.Messages(ctx, q)
			must(t, err)
			sameMessages(t, "newest page", p.Messages, pick(tt.newest...))
			if p.Next != tt.newestTo {
				t.Errorf("newest page: Next = %d, want %d", p.Next, tt.newestTo)
			}
			visible := pick(tt.visible...)
			sameMessages(t, "backward walk", walk(t, s, glasshouse.MessageQuery{ConversationID: c.ID, MemberID: tt.member.ID, Limit: 2}), reversed(visible))
			q = glasshouse.MessageQuery{ConversationID: c.ID, MemberID: tt.member.ID, Forward: true, After: visible[0].Seq, Limit: 2}
			sameMessages(t, "forward walk", walk(t, s, q), visible[1:])
			if got := mustConversation(t, s, tt.member, c.ID); got.LastSeq != 6 {
				t.Errorf("LastSeq = %d after DeleteForMe, want 6", got.LastSeq)
			}
		})
	}
	for _, seq := range []int64{0, 7, 100} {
		wantCode(t, s.DeleteForMe(ctx, b.ID, c.ID, seq), glasshouse.ENOTFOUND, fmt.Sprintf("DeleteForMe(seq %d)", seq))
	}
}

func testMessagesAfter(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c, d := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol"), MustMember(t, s, "dave")
	ab := MustDirect(t, s, a, b)
	acd := MustGroup(t, s, a, c, d)
	bc := MustDirect(t, s, b, c)
	MustDirect(t, s, a, d) // no messages
	var all []*glasshouse.Message
	for i, p := range []struct {
		conv *glasshouse.Conversation
		from *glasshouse.Member
	}{
		{ab, a}, {bc, b}, {acd, c}, {bc, c}, {ab, b}, {acd, a}, {bc, b}, {acd, d}, {ab, a}, {bc, c},
	} {
		all = append(all, MustSend(t, s, p.conv, p.from, fmt.Sprint(i)))
	}
	in := func(convs ...*glasshouse.Conversation) []*glasshouse.Message {
		return slices.DeleteFunc(slices.Clone(all), func(m *glasshouse.Message) bool {
			return !slices.ContainsFunc(convs, func(c *glasshouse.Conversation) bool { return c.ID == m.ConversationID })
		})
	}
	after := func(msgs []*glasshouse.Message, id int64) []*glasshouse.Message {
		return slices.DeleteFunc(slices.Clone(msgs), func(m *glasshouse.Message) bool { return m.ID <= id })
	}
	for _, tt := range []struct {
		name   string
		member *glasshouse.Member
		after  int64
		limit  int
		want   []*glasshouse.Message
	}{
		{"AliceAll", a, 0, 100, in(ab, acd)},
		{"BobAll", b, 0, 100, in(ab, bc)},
		{"DaveAll", d, 0, 100, in(acd)},
		{"AliceAfter", a, all[4].ID, 100, after(in(ab, acd), all[4].ID)},
		{"AliceAfterFirst", a, all[0].ID, 100, after(in(ab, acd), all[0].ID)},
		{"AliceLimit", a, 0, 2, in(ab, acd)[:2]},
		{"AliceAfterLimit", a, all[2].ID, 2, after(in(ab, acd), all[2].ID)[:2]},
		{"AliceAfterLast", a, all[len(all)-1].ID, 100, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.MessagesAfter(ctx, tt.member.ID, tt.after, tt.limit)
			must(t, err)
			sameMessages(t, fmt.Sprintf("MessagesAfter(%s, %d, %d)", tt.member.Handle, tt.after, tt.limit), got, tt.want)
		})
	}
}

func testLatestMessages(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c, d := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol"), MustMember(t, s, "dave")
	ab := MustDirect(t, s, a, b)
	acd := MustGroup(t, s, a, c, d)
	ad := MustDirect(t, s, a, d) // no messages
	bc := MustDirect(t, s, b, c)
	MustSend(t, s, ab, a, "first")
	abSecond := MustSend(t, s, ab, b, "second, and the newest for alice")
	abThird := MustSend(t, s, ab, a, "third: alice deletes it for herself")
	MustSend(t, s, acd, c, "group hello")
	acdLast := MustSend(t, s, acd, d, "héllo from dave 👋")
	bcLast := MustSend(t, s, bc, c, "bob and carol only")
	hidden := MustGroup(t, s, a, b)
	only := MustSend(t, s, hidden, b, "alice hides the only message")
	must(t, s.DeleteForMe(ctx, a.ID, ab.ID, abThird.Seq))
	must(t, s.DeleteForMe(ctx, a.ID, hidden.ID, only.Seq))

	for _, tt := range []struct {
		member *glasshouse.Member
		want   map[int64]*glasshouse.Message
	}{
		{a, map[int64]*glasshouse.Message{ab.ID: abSecond, acd.ID: acdLast}},
		{b, map[int64]*glasshouse.Message{ab.ID: abThird, bc.ID: bcLast, hidden.ID: only}},
		{d, map[int64]*glasshouse.Message{acd.ID: acdLast}},
	} {
		got, err := s.LatestMessages(ctx, tt.member.ID)
		must(t, err)
		if len(got) != len(tt.want) {
			t.Errorf("LatestMessages(%s) = %d conversations, want %d", tt.member.Handle, len(got), len(tt.want))
		}
		for conv, w := range tt.want {
			// The text is read back decrypted, like the history's.
			if g := got[conv]; g == nil || g.ID != w.ID || g.Text != w.Text || g.SenderHandle != w.SenderHandle || !g.CreatedAt.Equal(w.CreatedAt) {
				t.Errorf("LatestMessages(%s)[%d] = %+v, want %+v", tt.member.Handle, conv, g, w)
			}
		}
		if _, ok := got[ad.ID]; ok {
			t.Errorf("LatestMessages(%s) has an entry for a conversation without messages", tt.member.Handle)
		}
	}
}

func testMessagesAfterLeave(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	g := MustGroup(t, s, a, b, c)
	before := MustSend(t, s, g, a, "before")
	must(t, s.Leave(t.Context(), c.ID, g.ID))
	MustSend(t, s, g, a, "after")
	got, err := s.MessagesAfter(t.Context(), c.ID, before.ID, 100)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("MessagesAfter(carol) after she left = seqs %v, want none", seqs(got))
	}
}
