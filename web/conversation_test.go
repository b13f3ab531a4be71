package web_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/glasshouse/glasshouse"
)

func TestDirectConversation(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	if conv.Kind != glasshouse.Direct || len(conv.Members) != 2 {
		t.Fatalf("direct conversation %+v", conv)
	}
	// Opening it again, from either side, finds the same one.
	var again glasshouse.Conversation
	ts.Do(t, bob.Token, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": "alice"}).
		MustStatus(t, http.StatusOK).Decode(t, &again)
	if again.ID != conv.ID {
		t.Fatalf("second open gave conversation %d; want %d", again.ID, conv.ID)
	}

	path := fmt.Sprintf("/api/v1/conversations/%d", conv.ID)
	m1 := ts.MustSend(t, alice, conv.ID, "hello bob")
	// A retried send with the same client_txn_id is stored once.
	var sent, repeat glasshouse.Message
	body := map[string]string{"text": "are you there?", "client_txn_id": "txn-1"}
	ts.Do(t, alice.Token, "POST", path+"/messages", body).MustStatus(t, http.StatusCreated).Decode(t, &sent)
	ts.Do(t, alice.Token, "POST", path+"/messages", body).MustStatus(t, http.StatusOK).Decode(t, &repeat)
	if repeat.ID != sent.ID || sent.Seq != 2 || sent.SenderHandle != "alice" || m1.Seq != 1 {
		t.Fatalf("sent %+v then %+v; want the same message, seq 2", sent, repeat)
	}
	m3 := ts.MustSend(t, bob, conv.ID, "yes!")

	// Bob's list shows 2 unread; reading up to seq 2 clears them.
	var list []glasshouse.Conversation
	ts.Do(t, bob.Token, "GET", "/api/v1/conversations", nil).MustStatus(t, http.StatusOK).Decode(t, &list)
	if len(list) != 1 || list[0].Unread != 2 || list[0].LastSeq != 3 {
		t.Fatalf("bob's conversations %+v; want one with 2 unread, last seq 3", list)
	}
	ts.Do(t, bob.Token, "POST", path+"/read", map[string]int64{"seq": 2}).MustStatus(t, http.StatusNoContent)
	var got glasshouse.Conversation
	ts.Do(t, bob.Token, "GET", path, nil).MustStatus(t, http.StatusOK).Decode(t, &got)
	if got.Unread != 0 || got.ReadSeq != 2 {
		t.Fatalf("after read: %+v; want 0 unread, read seq 2", got)
	}
	ts.Do(t, bob.Token, "POST", path+"/read", map[string]int64{"seq": 9}).MustError(t, http.StatusBadRequest, glasshouse.EINVALID)

	// History pages by seq.
	seqs := func(member *member, query string) []int64 {
		var page glasshouse.MessagePage
		ts.Do(t, member.Token, "GET", path+"/messages"+query, nil).MustStatus(t, http.StatusOK).Decode(t, &page)
		var out []int64
		for _, m := range page.Messages {
			out = append(out, m.Seq)
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{3, 2, 1}},
		{"?limit=2", []int64{3, 2}},
		{"?before=3", []int64{2, 1}},
		{"?after=1", []int64{2, 3}},
		{"?after=1&limit=1", []int64{2}},
	} {
		if got := seqs(alice, tt.query); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("messages%s = %v; want %v", tt.query, got, tt.want)
		}
	}

	// Delete for me hides a message from bob only.
	ts.Do(t, bob.Token, "DELETE", fmt.Sprintf("%s/messages/%d", path, m3.Seq), nil).MustStatus(t, http.StatusNoContent)
	if got := seqs(bob, ""); fmt.Sprint(got) != "[2 1]" {
		t.Errorf("bob sees %v after deleting seq 3; want [2 1]", got)
	}
	if got := seqs(alice, ""); fmt.Sprint(got) != "[3 2 1]" {
		t.Errorf("alice sees %v; want [3 2 1]", got)
	}
	ts.Do(t, bob.Token, "DELETE", path+"/messages/99", nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
}

func TestGroupConversation(t *testing.T) {
	ts := MustServer(t)
	alice, bob, carol, dave := ts.MustMember(t, "alice"), ts.MustMember(t, "bob"), ts.MustMember(t, "carol"), ts.MustMember(t, "dave")
	ts.MustFriends(t, alice, bob)
	ts.MustFriends(t, alice, carol)

	var group glasshouse.Conversation
	ts.Do(t, alice.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "title": "Trip", "members": []string{"bob"}}).
		MustStatus(t, http.StatusCreated).Decode(t, &group)
	if group.Kind != glasshouse.Group || group.Title != "Trip" || len(group.Members) != 2 {
		t.Fatalf("group %+v", group)
	}
	path := fmt.Sprintf("/api/v1/conversations/%d", group.ID)

	t.Run("non-friend cannot be added", func(t *testing.T) {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, alice.Token, "POST", path+"/members", map[string]string{"handle": "dave"}).
				MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
		})
	})
	t.Run("only the creator adds", func(t *testing.T) {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, bob.Token, "POST", path+"/members", map[string]string{"handle": "carol"}).
				MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
		})
	})
	ts.Do(t, alice.Token, "POST", path+"/members", map[string]string{"handle": "carol"}).MustStatus(t, http.StatusNoContent)
	ts.Do(t, alice.Token, "POST", path+"/members", map[string]string{"handle": "carol"}).MustError(t, http.StatusConflict, glasshouse.ECONFLICT)
	ts.MustSend(t, carol, group.ID, "hi all")

	ts.Do(t, carol.Token, "DELETE", path+"/members/me", nil).MustStatus(t, http.StatusNoContent)
	ts.Do(t, carol.Token, "GET", path, nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
	ts.Do(t, carol.Token, "POST", path+"/messages", map[string]string{"text": "back?"}).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
	ts.Do(t, dave.Token, "GET", path+"/messages", nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
}

func TestGroupOverLimit(t *testing.T) {
	ts := MustServer(t)
	alice := ts.MustMember(t, "alice")
	handles := make([]string, glasshouse.MaxGroupMembers) // with alice, one too many
	for i := range handles {
		handles[i] = fmt.Sprintf("friend_%03d", i)
	}
	ts.MustWriteNothing(t, func() {
		ts.Do(t, alice.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "title": "Everyone", "members": handles}).
			MustError(t, http.StatusRequestEntityTooLarge, glasshouse.ETOOLARGE)
	})
}

func TestCreateConversationRejected(t *testing.T) {
	ts := MustServer(t)
	alice, bob, carol := ts.MustMember(t, "alice"), ts.MustMember(t, "bob"), ts.MustMember(t, "carol")
	ts.MustFriends(t, alice, bob)
	ts.Do(t, carol.Token, "POST", "/api/v1/blocks", map[string]string{"handle": "alice"}).MustStatus(t, http.StatusNoContent)
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"direct with a member who blocked me", map[string]any{"kind": "direct", "with": "carol"}, 404, glasshouse.ENOTFOUND},
		{"direct with oneself", map[string]any{"kind": "direct", "with": "alice"}, 400, glasshouse.EINVALID},
		{"direct with nobody", map[string]any{"kind": "direct", "with": "nobody"}, 404, glasshouse.ENOTFOUND},
		{"direct with a title", map[string]any{"kind": "direct", "with": "bob", "title": "x"}, 400, glasshouse.EINVALID},
		{"group without title", map[string]any{"kind": "group", "members": []string{"bob"}}, 400, glasshouse.EINVALID},
		{"group with a blocker", map[string]any{"kind": "group", "title": "x", "members": []string{"bob", "carol"}}, 404, glasshouse.ENOTFOUND},
		{"unknown kind", map[string]any{"kind": "channel"}, 400, glasshouse.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				ts.Do(t, alice.Token, "POST", "/api/v1/conversations", tt.body).MustError(t, tt.status, tt.code)
			})
		})
	}
}

func TestMessageToNonFriend(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	t.Run("no conversation without friendship", func(t *testing.T) {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, alice.Token, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": "bob"}).
				MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
		})
	})
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	ts.Do(t, bob.Token, "DELETE", "/api/v1/friends/alice", nil).MustStatus(t, http.StatusNoContent)
	t.Run("no message once unfriended", func(t *testing.T) {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, alice.Token, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID), map[string]string{"text": "hey"}).
				MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
		})
	})
}

func TestMessageToBlockedMember(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	ts.Do(t, bob.Token, "POST", "/api/v1/blocks", map[string]string{"handle": "alice"}).MustStatus(t, http.StatusNoContent)
	ts.MustWriteNothing(t, func() {
		ts.Do(t, alice.Token, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID), map[string]string{"text": "hey"}).
			MustError(t, http.StatusForbidden, glasshouse.EFORBIDDEN)
		ts.Do(t, alice.Token, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": "bob"}).
			MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
	})
}

// TestOtherMembersConversation checks that a conversation one does not
// belong to looks absent, whatever one tries.
func TestOtherMembersConversation(t *testing.T) {
	ts := MustServer(t)
	alice, bob, eve := ts.MustMember(t, "alice"), ts.MustMember(t, "bob"), ts.MustMember(t, "eve")
	ts.MustFriends(t, alice, bob)
	ts.MustFriends(t, eve, alice)
	conv := ts.MustDirect(t, alice, bob)
	m := ts.MustSend(t, alice, conv.ID, "secret")
	path := fmt.Sprintf("/api/v1/conversations/%d", conv.ID)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", path, nil},
		{"GET", path + "/messages", nil},
		{"GET", path + "/messages?after=1", nil},
		{"POST", path + "/messages", map[string]string{"text": "let me in"}},
		{"POST", path + "/read", map[string]int64{"seq": m.Seq}},
		{"DELETE", fmt.Sprintf("%s/messages/%d", path, m.Seq), nil},
		{"POST", path + "/members", map[string]string{"handle": "eve"}},
		{"DELETE", path + "/members/me", nil},
	} {
		t.Run(req.method+" "+req.path, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				ts.Do(t, eve.Token, req.method, req.path, req.body).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
			})
		})
	}
	var list []glasshouse.Conversation
	ts.Do(t, eve.Token, "GET", "/api/v1/conversations", nil).MustStatus(t, http.StatusOK).Decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("eve lists %+v", list)
	}
}
