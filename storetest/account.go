package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

var accountTests = []test{
	{"MemberSecret", testMemberSecret},
	{"DeleteMemberErasesData", testDeleteMemberErasesData},
	{"DeleteMemberMessages", testDeleteMemberMessages},
	{"DeleteMemberFreesHandle", testDeleteMemberFreesHandle},
	{"DeleteMemberUnknown", testDeleteMemberUnknown},
	{"DeleteMemberTwice", testDeleteMemberTwice},
}

// mustSecret returns m's secret.
func mustSecret(t *testing.T, s glasshouse.Store, m *glasshouse.Member) []byte {
	t.Helper()
	secret, err := s.MemberSecret(t.Context(), m.ID)
	if err != nil {
		t.Fatalf("MemberSecret(%s): %v", m.Handle, err)
	}
	return secret
}

func mustDelete(t *testing.T, s glasshouse.Store, m *glasshouse.Member) {
	t.Helper()
	if err := s.DeleteMember(t.Context(), m.ID); err != nil {
		t.Fatalf("DeleteMember(%s): %v", m.Handle, err)
	}
}

func testMemberSecret(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	sa, sb := mustSecret(t, s, a), mustSecret(t, s, b)
	if len(sa) != glasshouse.MemberSecretSize || len(sb) != glasshouse.MemberSecretSize {
		t.Fatalf("secrets of %d and %d bytes, want %d", len(sa), len(sb), glasshouse.MemberSecretSize)
	}
	if bytes.Equal(sa, sb) {
		t.Errorf("alice and bob have the same secret %x", sa)
	}
	if bytes.Equal(sa, make([]byte, len(sa))) {
		t.Errorf("alice's secret is all zeros")
	}
	want := bytes.Clone(sa)
	clear(sa) // the caller's copy is its own
	if again := mustSecret(t, s, a); !bytes.Equal(again, want) {
		t.Errorf("MemberSecret(alice) changed from %x to %x", want, again)
	}
	_, err := s.MemberSecret(t.Context(), a.ID+b.ID+100)
	wantCode(t, err, glasshouse.ENOTFOUND, "MemberSecret(unknown member)")
}

// testDeleteMemberErasesData gives alice one of everything a member can
// have, deletes her, and checks through every method that reads it that
// nothing is left, while bob's own data is untouched.
func testDeleteMemberErasesData(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	ms := MustMembers(t, s, "alice", "bob", "carol", "dave", "erin", "frank", "gina")
	a, b, c, d, e, f, g := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6]
	MustFriends(t, s, a, b, c)
	MustFriends(t, s, b, c)
	mustRequest(t, s, a, d)
	mustRequest(t, s, e, a)
	mustRequest(t, s, b, d)
	must(t, s.Block(ctx, a.ID, f.Handle))
	must(t, s.Block(ctx, g.ID, a.Handle))
	sess := mustSession(t, s, a, "alice's session")
	other := mustSession(t, s, b, "bob's session")
	p := everyScope(t, s, "streamflix")
	direct := MustDirect(t, s, a, b)
	ga := newGrant(a, p, glasshouse.ScopeProfile, glasshouse.ScopeEmail, glasshouse.ScopeMessagesRead)
	ga.Conversations = []int64{direct.ID}
	mustSaveGrant(t, s, ga, relayEmail(a, p))
	gb := mustGrant(t, s, b, p, glasshouse.ScopeProfile)
	mustAuthRequest(t, s, p, a, "req-alice", glasshouse.ScopeOpenID, glasshouse.ScopeProfile)
	mustAuthRequest(t, s, p, b, "req-bob", glasshouse.ScopeOpenID, glasshouse.ScopeProfile)
	atA, rtA := mustTokens(t, s, a, p, "alice", glasshouse.ScopeProfile)
	atB, _ := mustTokens(t, s, b, p, "bob", glasshouse.ScopeProfile)
	recA, recB := newAccess(t, a, p), newAccess(t, b, p)
	mustRecord(t, s, recA)
	mustRecord(t, s, recB)
	must(t, s.SetOperator(ctx, a.ID, true))

	mustDelete(t, s, a)

	// Alice is gone for every lookup.
	_, err := s.MemberByID(ctx, a.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "MemberByID(deleted alice)")
	_, err = s.MemberByHandle(ctx, "alice")
	wantCode(t, err, glasshouse.ENOTFOUND, "MemberByHandle(alice)")
	_, _, err = s.PasswordHash(ctx, "alice")
	wantCode(t, err, glasshouse.ENOTFOUND, "PasswordHash(alice)")
	_, err = s.MemberSecret(ctx, a.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "MemberSecret(deleted alice)")
	_, err = s.FriendRequests(ctx, a.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "FriendRequests(deleted alice)")
	_, err = s.UpdateProfile(ctx, a.ID, glasshouse.ProfileUpdate{DisplayName: ptr("Back")})
	wantCode(t, err, glasshouse.ENOTFOUND, "UpdateProfile(deleted alice)")
	err = s.SetPassword(ctx, a.ID, "new hash", nil)
	wantCode(t, err, glasshouse.ENOTFOUND, "SetPassword(deleted alice)")
	_, err = s.RequestFriend(ctx, b.ID, "alice")
	wantCode(t, err, glasshouse.ENOTFOUND, "RequestFriend(bob, alice)")
	_, err = s.SaveGrant(ctx, newGrant(a, p, glasshouse.ScopeProfile), "")
	wantCode(t, err, glasshouse.ENOTFOUND, "SaveGrant(deleted alice)")

	// Her sessions end and no new one starts.
	during := sessionStart.Add(time.Hour)
	_, err = s.SessionByTokenHash(ctx, sess.TokenHash, during)
	wantCode(t, err, glasshouse.EUNAUTHORIZED, "SessionByTokenHash(alice's session)")
	err = s.CreateSession(ctx, &glasshouse.Session{TokenHash: tokenHash("a new one"), MemberID: a.ID})
	wantCode(t, err, glasshouse.ENOTFOUND, "CreateSession(deleted alice)")
	if _, err := s.SessionByTokenHash(ctx, other.TokenHash, during); err != nil {
		t.Errorf("bob's session: %v", err)
	}

	// Friends, requests and blocks, both ways.
	wantFriends(t, s, b, "carol")
	wantFriends(t, s, c, "bob")
	wantRequests(t, s, d, []string{"bob"}, nil)
	wantRequests(t, s, e, nil, nil)
	for _, m := range []*glasshouse.Member{f, g} {
		blocked, err := s.Blocked(ctx, m.ID)
		must(t, err)
		if len(blocked) != 0 {
			t.Errorf("Blocked(%s) = %q, want none", m.Handle, handles(blocked))
		}
	}

	// Conversations: she left; bob keeps theirs.
	wantConversations(t, s, a)
	wantMembers(t, mustConversation(t, s, b, direct.ID), "bob")

	// Consent, OAuth and access records.
	grants, err := s.Grants(ctx, a.ID)
	must(t, err)
	if len(grants) != 0 {
		t.Errorf("Grants(deleted alice) = %d grants, want none", len(grants))
	}
	wantNoGrant(t, s, a, p)
	wantGrant(t, s, gb)
	wantAbsent(t, s, atA.ID, rtA.ID)
	_, err = s.RefreshTokenByHash(ctx, refreshHash(rtA))
	wantCode(t, err, glasshouse.ENOTFOUND, "RefreshTokenByHash(alice's refresh token)")
	if _, err := s.Token(ctx, atB.ID); err != nil {
		t.Errorf("Token(bob's): %v", err)
	}
	_, err = s.AuthRequest(ctx, "req-alice", authStart)
	wantCode(t, err, glasshouse.ENOTFOUND, "AuthRequest(alice's)")
	if _, err := s.AuthRequest(ctx, "req-bob", authStart); err != nil {
		t.Errorf("AuthRequest(bob's): %v", err)
	}
	if recs := mustMemberAccess(t, s, a, 0, 0); len(recs) != 0 {
		t.Errorf("MemberAccess(deleted alice) = %d records, want none", len(recs))
	}
	wantAccessCount(t, s, a, 0)
	wantAccessCount(t, s, b, 1)
	_, _, err = s.EventLogIndex(ctx, recA.EventID)
	wantCode(t, err, glasshouse.ENOTFOUND, "EventLogIndex(alice's access)")
	wantOperator(t, s, a, false)

	// Her log entry is still published: its outbox row stays, and goes
	// once integrated.
	pending := mustPending(t, s, 10)
	if got, want := eventIDs(pending), [][16]byte{recA.EventID, recB.EventID}; !slices.Equal(got, want) {
		t.Fatalf("PendingEntries = events %x, want %x (alice's entry must still reach the log)", got, want)
	}
	must(t, s.MarkIntegrated(ctx, positions([]*glasshouse.AccessRecord{recA, recB}, 0)))
	if left := mustPending(t, s, 10); len(left) != 0 {
		t.Errorf("PendingEntries after MarkIntegrated = %d rows, want none", len(left))
	}
	wantEventIndex(t, s, recB, 1, true)
	wantLogSize(t, s, 2)
}

// testDeleteMemberMessages checks what the others see of the messages of
// a deleted member: the rows, without text or handle, marked; their own
// messages as they were.
func testDeleteMemberMessages(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	direct := MustDirect(t, s, a, b)
	group := MustGroup(t, s, b, a, c)
	sent := []*glasshouse.Message{
		MustSend(t, s, direct, a, "alice's secret"),
		MustSend(t, s, direct, b, "bob's answer"),
		MustSend(t, s, group, a, "alice to the group"),
		MustSend(t, s, group, c, "carol to the group"),
	}
	retried, _, err := s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: group.ID, SenderID: a.ID, Text: "sent once", ClientTxnID: "txn-1"})
	must(t, err)
	sent = append(sent, retried)

	mustDelete(t, s, a)

	want := make([]*glasshouse.Message, len(sent))
	for i, m := range sent {
		w := *m
		if m.SenderID == a.ID {
			w.Text, w.SenderHandle, w.SenderDeleted = "", "", true
		}
		want[i] = &w
	}
	inDirect, inGroup := want[:2], want[2:]
	sameMessages(t, "Messages(bob, direct)", walk(t, s, glasshouse.MessageQuery{ConversationID: direct.ID, MemberID: b.ID, Forward: true, Limit: 1}), inDirect)
	sameMessages(t, "Messages(carol, group)", walk(t, s, glasshouse.MessageQuery{ConversationID: group.ID, MemberID: c.ID, Forward: true, Limit: 2}), inGroup)
	sameMessages(t, "Messages(bob, group, backward)", walk(t, s, glasshouse.MessageQuery{ConversationID: group.ID, MemberID: b.ID, Limit: 2}), reversed(inGroup))
	sameMessages(t, "MessagesAfter(bob)", messagesAfter(t, s, b, 0, 10), want)

	// She is no member anywhere; the others go on in the group, and no one
	// is left to talk to in the direct conversation.
	_, err = s.Messages(ctx, glasshouse.MessageQuery{ConversationID: group.ID, MemberID: a.ID})
	wantCode(t, err, glasshouse.ENOTFOUND, "Messages(deleted alice, group)")
	wantMembers(t, mustConversation(t, s, c, group.ID), "bob", "carol")
	wantMembers(t, mustConversation(t, s, b, direct.ID), "bob")
	wantSendCode(t, s, direct, b, glasshouse.EFORBIDDEN)
	after := MustSend(t, s, group, c, "carol goes on")
	if got := messagesAfter(t, s, b, sent[len(sent)-1].ID, 10); len(got) != 1 || diffMessage(got[0], after) != "" {
		t.Errorf("MessagesAfter(bob) after the deletion = %+v, want carol's new message %+v", got, after)
	}
	_, _, err = s.SendMessage(ctx, glasshouse.NewMessage{ConversationID: group.ID, SenderID: a.ID, Text: "sent once", ClientTxnID: "txn-1"})
	wantCode(t, err, glasshouse.ENOTFOUND, "SendMessage(deleted alice, retry)")
}

func testDeleteMemberFreesHandle(t *testing.T, s glasshouse.Store) {
	ctx := t.Context()
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	old := mustSecret(t, s, a)
	direct := MustDirect(t, s, a, b)
	MustSend(t, s, direct, a, "from the first alice")

	mustDelete(t, s, a)

	again := MustMember(t, s, "alice") // same handle, same email
	if again.ID == a.ID {
		t.Fatalf("the new alice got the deleted member's id %d", a.ID)
	}
	if got, err := s.MemberByHandle(ctx, "alice"); err != nil || got.ID != again.ID {
		t.Errorf("MemberByHandle(alice) = %+v, %v; want the new alice, id %d", got, err, again.ID)
	}
	if bytes.Equal(mustSecret(t, s, again), old) {
		t.Errorf("the new alice got the deleted member's secret")
	}
	wantConversations(t, s, again)
	_, err := s.Conversation(ctx, again.ID, direct.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "Conversation(new alice, the old direct conversation)")
	fresh := MustDirect(t, s, again, b)
	if fresh.ID == direct.ID {
		t.Errorf("bob and the new alice share the old direct conversation %d", direct.ID)
	}
	history := walk(t, s, glasshouse.MessageQuery{ConversationID: direct.ID, MemberID: b.ID, Limit: 10})
	if len(history) != 1 || !history[0].SenderDeleted || history[0].SenderID != a.ID {
		t.Errorf("the old conversation's history = %+v, want the deleted alice's one message", history)
	}
}

func testDeleteMemberUnknown(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	err := s.DeleteMember(t.Context(), a.ID+100)
	wantCode(t, err, glasshouse.ENOTFOUND, "DeleteMember(unknown member)")
	if _, err := s.MemberByID(t.Context(), a.ID); err != nil {
		t.Errorf("MemberByID(alice) after deleting an unknown member: %v", err)
	}
}

func testDeleteMemberTwice(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	MustSend(t, s, MustDirect(t, s, a, b), a, "hello")
	mustDelete(t, s, a)
	err := s.DeleteMember(t.Context(), a.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, fmt.Sprintf("DeleteMember(%s) a second time", a.Handle))
	wantFriends(t, s, b)
}
