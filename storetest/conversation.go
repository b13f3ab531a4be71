package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse"
)

var conversationTests = []test{
	{"CreateDirect", testCreateDirect},
	{"CreateDirectErrors", testCreateDirectErrors},
	{"CreateGroup", testCreateGroup},
	{"CreateGroupErrors", testCreateGroupErrors},
	{"GroupSizeLimit", testGroupSizeLimit},
	{"AddMember", testAddMember},
	{"AddMemberErrors", testAddMemberErrors},
	{"Leave", testLeave},
	{"NonMember", testNonMember},
	{"ListOrder", testConversationsOrder},
	{"Unread", testUnread},
	{"MarkRead", testMarkRead},
}

// wantMembers checks the handles of c's members, in any order.
func wantMembers(t *testing.T, c *glasshouse.Conversation, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := sortedHandles(c.Members); !slices.Equal(got, want) {
		t.Errorf("conversation %d has members %q, want %q", c.ID, got, want)
	}
}

// wantConversations checks the ids of m's conversations, in order.
func wantConversations(t *testing.T, s glasshouse.Store, m *glasshouse.Member, want ...int64) []*glasshouse.Conversation {
	t.Helper()
	cs, err := s.Conversations(t.Context(), m.ID)
	must(t, err)
	got := make([]int64, len(cs))
	for i, c := range cs {
		got[i] = c.ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("Conversations(%s) = ids %v, want %v", m.Handle, got, want)
	}
	return cs
}

func testCreateDirect(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustFriends(t, s, a, b, c)
	conv, created, err := s.CreateDirect(ctx, a.ID, "bob")
	must(t, err)
	if !created || conv.ID == 0 || conv.Kind != glasshouse.Direct || conv.CreatorID != a.ID || conv.LastSeq != 0 ||
		conv.ReadSeq != 0 || conv.Unread != 0 || conv.CreatedAt.IsZero() {
		t.Errorf("CreateDirect(alice, bob) = %+v, created %v; want a new, empty direct conversation by alice", conv, created)
	}
	wantMembers(t, conv, "alice", "bob")

	for _, tt := range []struct {
		name  string
		by    *glasshouse.Member
		other string
	}{
		{"Again", a, "bob"},
		{"OtherWay", b, "alice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			again, created, err := s.CreateDirect(ctx, tt.by.ID, tt.other)
			must(t, err)
			if created || again.ID != conv.ID || again.Kind != glasshouse.Direct {
				t.Errorf("CreateDirect(%s, %s) = id %d, created %v; want the existing %d, created false", tt.by.Handle, tt.other, again.ID, created, conv.ID)
			}
			wantMembers(t, again, "alice", "bob")
		})
	}

	got := mustConversation(t, s, b, conv.ID)
	if got.Kind != glasshouse.Direct || got.CreatorID != a.ID {
		t.Errorf("Conversation(bob, %d) = %+v, want alice's direct conversation", conv.ID, got)
	}
	wantMembers(t, got, "alice", "bob")
	other, created, err := s.CreateDirect(ctx, a.ID, "carol")
	must(t, err)
	if !created || other.ID == conv.ID {
		t.Errorf("CreateDirect(alice, carol) = id %d, created %v; want a new conversation", other.ID, created)
	}
	wantConversations(t, s, b, conv.ID)
	wantConversations(t, s, c, other.ID)
}

func testCreateDirectErrors(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	ms := MustMembers(t, s, "alice", "carol", "dave", "erin", "frank")
	a, c, d, e, f := ms[0], ms[1], ms[2], ms[3], ms[4]
	MustFriends(t, s, a, d, e, f)
	must(t, s.Block(ctx, d.ID, "alice"))
	must(t, s.Block(ctx, a.ID, "erin"))
	MustDirect(t, s, a, f)
	must(t, s.RemoveFriend(ctx, f.ID, "alice"))

	for _, tt := range []struct {
		name, other, code string
	}{
		{"Self", "alice", glasshouse.EINVALID},
		{"Absent", "nobody", glasshouse.ENOTFOUND},
		{"NotFriends", "carol", glasshouse.EFORBIDDEN},
		{"BlockedByOther", "dave", glasshouse.ENOTFOUND},
		{"BlockedOther", "erin", glasshouse.ENOTFOUND},
		{"NoLongerFriends", "frank", glasshouse.EFORBIDDEN},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.CreateDirect(ctx, a.ID, tt.other)
			wantCode(t, err, tt.code, "CreateDirect(alice, "+tt.other+")")
		})
	}
	for _, m := range []*glasshouse.Member{c, d, e} {
		wantConversations(t, s, m)
	}
}

func testCreateGroup(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustFriends(t, s, a, b, c)
	g, err := s.CreateGroup(ctx, a.ID, glasshouse.NewGroup{Title: "Weekend trip", Members: []string{"bob", "carol"}})
	must(t, err)
	if g.ID == 0 || g.Kind != glasshouse.Group || g.Title != "Weekend trip" || g.CreatorID != a.ID || g.LastSeq != 0 || g.CreatedAt.IsZero() {
		t.Errorf("CreateGroup = %+v, want a new, empty group titled %q by alice", g, "Weekend trip")
	}
	wantMembers(t, g, "alice", "bob", "carol")
	for _, m := range []*glasshouse.Member{a, b, c} {
		got := mustConversation(t, s, m, g.ID)
		if got.Kind != glasshouse.Group || got.Title != "Weekend trip" || got.CreatorID != a.ID {
			t.Errorf("Conversation(%s, %d) = %+v, want alice's group", m.Handle, g.ID, got)
		}
		wantMembers(t, got, "alice", "bob", "carol")
		wantConversations(t, s, m, g.ID)
	}
	// Members need not be friends with each other, and a creator may make
	// several groups of the same people.
	solo, err := s.CreateGroup(ctx, a.ID, glasshouse.NewGroup{Title: "Weekend trip", Members: []string{"bob"}})
	must(t, err)
	if solo.ID == g.ID {
		t.Errorf("two CreateGroup calls returned the same id %d", g.ID)
	}
	wantMembers(t, solo, "alice", "bob")
}

func testCreateGroupErrors(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	ms := MustMembers(t, s, "alice", "bob", "carol", "dave", "erin")
	a, b, c, d, e := ms[0], ms[1], ms[2], ms[3], ms[4]
	MustFriends(t, s, a, b, d, e)
	MustFriends(t, s, b, c)
	must(t, s.Block(ctx, d.ID, "alice"))
	must(t, s.Block(ctx, a.ID, "erin"))
	for _, tt := range []struct {
		name, other, code string
	}{
		{"NotFriend", "carol", glasshouse.EFORBIDDEN},
		{"Absent", "nobody", glasshouse.ENOTFOUND},
		{"BlockedByOther", "dave", glasshouse.ENOTFOUND},
		{"BlockedOther", "erin", glasshouse.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateGroup(ctx, a.ID, glasshouse.NewGroup{Title: "Party", Members: []string{"bob", tt.other}})
			wantCode(t, err, tt.code, "CreateGroup(alice, [bob "+tt.other+"])")
		})
	}
	for _, m := range ms {
		wantConversations(t, s, m)
	}
}

// testGroupSizeLimit checks MaxGroupMembers, the creator included, with
// members who are all friends of the creator.
func testGroupSizeLimit(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	creator := MustMember(t, s, "m000")
	friends := make([]*glasshouse.Member, glasshouse.MaxGroupMembers)
	// Made concurrently, so that a store that batches writes is quick.
	var wg sync.WaitGroup
	for i := range friends {
		wg.Go(func() {
			m := &glasshouse.Member{Handle: fmt.Sprintf("m%03d", i+1), Email: fmt.Sprintf("m%03d@example.org", i+1), Visibility: glasshouse.DefaultVisibility}
			if err := s.CreateMember(ctx, m, "hash"); err != nil {
				t.Errorf("CreateMember(%s): %v", m.Handle, err)
				return
			}
			req, err := s.RequestFriend(ctx, creator.ID, m.Handle)
			if err == nil {
				err = s.AcceptFriendRequest(ctx, m.ID, req.ID)
			}
			if err != nil {
				t.Errorf("befriending %s: %v", m.Handle, err)
			}
			friends[i] = m
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ms := append([]*glasshouse.Member{creator}, friends...)

	_, err := s.CreateGroup(ctx, creator.ID, glasshouse.NewGroup{Title: "Too many", Members: handles(friends)})
	wantCode(t, err, glasshouse.ETOOLARGE, fmt.Sprintf("CreateGroup of %d members", len(ms)))
	wantConversations(t, s, creator)

	full := friends[:glasshouse.MaxGroupMembers-1]
	g, err := s.CreateGroup(ctx, creator.ID, glasshouse.NewGroup{Title: "Full", Members: handles(full)})
	if err != nil {
		t.Fatalf("CreateGroup of %d members: %v", glasshouse.MaxGroupMembers, err)
	}
	if len(g.Members) != glasshouse.MaxGroupMembers {
		t.Errorf("a full group has %d members, want %d", len(g.Members), glasshouse.MaxGroupMembers)
	}
	last := friends[len(friends)-1]
	err = s.AddMember(ctx, creator.ID, g.ID, last.Handle)
	wantCode(t, err, glasshouse.ETOOLARGE, "AddMember to a full group")
	_, err = s.Conversation(ctx, last.ID, g.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "Conversation of a member not added to a full group")

	must(t, s.Leave(ctx, full[0].ID, g.ID))
	must(t, s.AddMember(ctx, creator.ID, g.ID, last.Handle))
	if got := mustConversation(t, s, last, g.ID); len(got.Members) != glasshouse.MaxGroupMembers {
		t.Errorf("after one left and one joined, the group has %d members, want %d", len(got.Members), glasshouse.MaxGroupMembers)
	}
}

func testAddMember(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustFriends(t, s, a, c)
	g := MustGroup(t, s, a, b)
	must(t, s.AddMember(ctx, a.ID, g.ID, "carol"))
	for _, m := range []*glasshouse.Member{a, b, c} {
		wantMembers(t, mustConversation(t, s, m, g.ID), "alice", "bob", "carol")
	}
	wantConversations(t, s, c, g.ID)
	// An added member can send at once.
	MustSend(t, s, g, c, "hello")
}

func testAddMemberErrors(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	ms := MustMembers(t, s, "alice", "bob", "carol", "dave", "erin")
	a, b, c, d, e := ms[0], ms[1], ms[2], ms[3], ms[4]
	MustFriends(t, s, a, c, d)
	MustFriends(t, s, b, e)
	g := MustGroup(t, s, a, b)
	direct := MustDirect(t, s, a, d)
	for _, tt := range []struct {
		name   string
		by     *glasshouse.Member
		convID int64
		handle string
		code   string
	}{
		{"NotCreator", b, g.ID, "carol", glasshouse.EFORBIDDEN},
		{"NotFriendOfCreator", a, g.ID, "erin", glasshouse.EFORBIDDEN},
		{"AlreadyMember", a, g.ID, "bob", glasshouse.ECONFLICT},
		{"Creator", a, g.ID, "alice", glasshouse.ECONFLICT},
		{"Direct", a, direct.ID, "carol", glasshouse.EFORBIDDEN},
		{"NotMember", d, g.ID, "carol", glasshouse.ENOTFOUND},
		{"UnknownConversation", a, g.ID + direct.ID + 1000, "carol", glasshouse.ENOTFOUND},
		{"Absent", a, g.ID, "nobody", glasshouse.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AddMember(ctx, tt.by.ID, tt.convID, tt.handle)
			wantCode(t, err, tt.code, fmt.Sprintf("AddMember(%s, %d, %s)", tt.by.Handle, tt.convID, tt.handle))
		})
	}
	wantMembers(t, mustConversation(t, s, a, g.ID), "alice", "bob")
	wantMembers(t, mustConversation(t, s, a, direct.ID), "alice", "dave")
}

func testLeave(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	g := MustGroup(t, s, a, b, c)
	direct := MustDirect(t, s, a, b)
	MustSend(t, s, g, c, "bye")
	must(t, s.Leave(ctx, c.ID, g.ID))

	wantMembers(t, mustConversation(t, s, a, g.ID), "alice", "bob")
	wantConversations(t, s, c)
	_, err := s.Conversation(ctx, c.ID, g.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "Conversation after Leave")
	_, _, err = s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: g.ID, SenderID: c.ID, Text: "still here?"})
	wantCode(t, err, glasshouse.ENOTFOUND, "SendMessage after Leave")
	wantCode(t, s.Leave(ctx, c.ID, g.ID), glasshouse.ENOTFOUND, "Leave twice")
	wantCode(t, s.Leave(ctx, a.ID, direct.ID), glasshouse.EFORBIDDEN, "Leave of a direct conversation")
	wantMembers(t, mustConversation(t, s, a, direct.ID), "alice", "bob")

	// The creator may add a member who left back.
	must(t, s.AddMember(ctx, a.ID, g.ID, "carol"))
	wantMembers(t, mustConversation(t, s, c, g.ID), "alice", "bob", "carol")
	MustSend(t, s, g, c, "back")
}

// testNonMember checks that every method taking a conversation id treats a
// conversation the member is not in like one that does not exist.
func testNonMember(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustFriends(t, s, a, c)
	g := MustGroup(t, s, a, b)
	MustSend(t, s, g, a, "private")
	for _, who := range []struct {
		name   string
		member *glasshouse.Member
		convID int64
	}{
		{"Outsider", c, g.ID},
		{"UnknownConversation", a, g.ID + 1000},
	} {
		m, id := who.member, who.convID
		for _, tt := range []struct {
			name string
			call func() error
		}{
			{"Conversation", func() error { _, err := s.Conversation(ctx, m.ID, id); return err }},
			{"Messages", func() error {
				_, err := s.Messages(ctx, glasshouse.MessageQuery{ConversationID: id, MemberID: m.ID})
				return err
			}},
			{"SendMessage", func() error {
				_, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: id, SenderID: m.ID, Text: "hi"})
				return err
			}},
			{"MarkRead", func() error { return s.MarkRead(ctx, m.ID, id, 1) }},
			{"DeleteForMe", func() error { return s.DeleteForMe(ctx, m.ID, id, 1) }},
			{"Leave", func() error { return s.Leave(ctx, m.ID, id) }},
			{"AddMember", func() error { return s.AddMember(ctx, m.ID, id, "carol") }},
		} {
			t.Run(who.name+"/"+tt.name, func(t *testing.T) {
				wantCode(t, tt.call(), glasshouse.ENOTFOUND, fmt.Sprintf("%s(%s, %d)", tt.name, m.Handle, id))
			})
		}
	}
	if got := mustConversation(t, s, a, g.ID); got.LastSeq != 1 {
		t.Errorf("LastSeq = %d after an outsider's send, want 1", got.LastSeq)
	}
	msgs, err := s.MessagesAfter(ctx, c.ID, 0, 100)
	must(t, err)
	if len(msgs) != 0 {
		t.Errorf("MessagesAfter(carol) = %d messages of a conversation carol is not in", len(msgs))
	}
}

func testConversationsOrder(t *testing.T, s glasshouse.Store) {
	a, b, c, d := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol"), MustMember(t, s, "dave")
	ab, ac := MustDirect(t, s, a, b), MustDirect(t, s, a, c)
	g := MustGroup(t, s, a, c, d)
	MustSend(t, s, ab, a, "1")
	MustSend(t, s, g, d, "2")
	MustSend(t, s, ac, c, "3")
	MustSend(t, s, g, c, "4")
	MustSend(t, s, ab, b, "5")
	wantConversations(t, s, a, ab.ID, g.ID, ac.ID)
	wantConversations(t, s, c, g.ID, ac.ID)
	wantConversations(t, s, d, g.ID)
	MustSend(t, s, ac, a, "6")
	wantConversations(t, s, a, ac.ID, ab.ID, g.ID)
	wantConversations(t, s, c, ac.ID, g.ID)
}

// wantUnread checks m's view of c, through Conversation and Conversations,
// after the messages sent: the last seq, the read marker (read, or the seq of
// a later message of m's own, as the contract leaves open whether sending
// moves the sender's marker), and the unread count, which leaves out m's own
// messages.
func wantUnread(t *testing.T, s glasshouse.Store, m *glasshouse.Member, c *glasshouse.Conversation, sent []*glasshouse.Message, read int64) {
	t.Helper()
	check := func(call string, got *glasshouse.Conversation) {
		t.Helper()
		wantRead, unread := read, int64(0)
		for _, msg := range sent {
			if msg.SenderID == m.ID && msg.Seq == got.ReadSeq && msg.Seq > read {
				wantRead = msg.Seq
			}
		}
		for _, msg := range sent {
			if msg.Seq > wantRead && msg.SenderID != m.ID {
				unread++
			}
		}
		if got.LastSeq != int64(len(sent)) || got.ReadSeq != wantRead || got.Unread != unread {
			t.Errorf("%s: last %d, read %d, unread %d; want last %d, read %d, unread %d",
				call, got.LastSeq, got.ReadSeq, got.Unread, len(sent), wantRead, unread)
		}
	}
	check(fmt.Sprintf("Conversation(%s, %d)", m.Handle, c.ID), mustConversation(t, s, m, c.ID))
	cs, err := s.Conversations(t.Context(), m.ID)
	must(t, err)
	if i := slices.IndexFunc(cs, func(x *glasshouse.Conversation) bool { return x.ID == c.ID }); i < 0 {
		t.Errorf("Conversations(%s) lacks %d", m.Handle, c.ID)
	} else {
		check(fmt.Sprintf("Conversations(%s)[id %d]", m.Handle, c.ID), cs[i])
	}
}

func testUnread(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	g := MustGroup(t, s, a, b, c)
	sent := MustSendN(t, s, g, b, 2)
	sent = append(sent, MustSendN(t, s, g, a, 3)...)
	wantUnread(t, s, a, g, sent, 0)
	wantUnread(t, s, b, g, sent, 0)
	wantUnread(t, s, c, g, sent, 0)

	must(t, s.MarkRead(t.Context(), c.ID, g.ID, 4))
	wantUnread(t, s, c, g, sent, 4)
	must(t, s.MarkRead(t.Context(), b.ID, g.ID, 5))
	wantUnread(t, s, b, g, sent, 5)

	sent = append(sent, MustSend(t, s, g, a, "more"), MustSend(t, s, g, c, "mine"), MustSend(t, s, g, b, "also mine"))
	wantUnread(t, s, a, g, sent, 0)
	wantUnread(t, s, b, g, sent, 5)
	wantUnread(t, s, c, g, sent, 4)
}

func testMarkRead(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	g := MustGroup(t, s, a, b)
	empty, _, err := s.CreateDirect(ctx, a.ID, "bob")
	must(t, err)
	sent := MustSendN(t, s, g, a, 3)
	for _, tt := range []struct {
		name     string
		seq      int64
		code     string
		wantRead int64
	}{
		{"Forward", 2, "", 2},
		{"Back", 1, "", 2},
		{"Same", 2, "", 2},
		{"Last", 3, "", 3},
		{"BeyondLast", 4, glasshouse.EINVALID, 3},
		{"FarBeyondLast", 1000, glasshouse.EINVALID, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, s.MarkRead(ctx, b.ID, g.ID, tt.seq), tt.code, fmt.Sprintf("MarkRead(bob, %d)", tt.seq))
			wantUnread(t, s, b, g, sent, tt.wantRead)
		})
	}
	wantCode(t, s.MarkRead(ctx, b.ID, empty.ID, 1), glasshouse.EINVALID, "MarkRead(1) of an empty conversation")
	wantUnread(t, s, b, empty, nil, 0)
}
