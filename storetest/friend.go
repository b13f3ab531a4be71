package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/glasshouse/glasshouse"
)

var friendTests = []test{
	{"Request", testRequestFriend},
	{"RequestErrors", testRequestFriendErrors},
	{"RequestsOldestFirst", testFriendRequestsOrder},
	{"Accept", testAcceptFriendRequest},
	{"AcceptOnlyByRecipient", testAcceptOnlyByRecipient},
	{"Decline", testDeclineFriendRequest},
	{"Cancel", testCancelFriendRequest},
	{"CrossingRequests", testCrossingRequests},
	{"Remove", testRemoveFriend},
	{"FriendsByHandle", testFriendsByHandle},
	{"AreFriends", testAreFriends},
	{"BlockEndsFriendship", testBlockEndsFriendship},
	{"BlockEndsRequests", testBlockEndsRequests},
	{"BlockHides", testBlockHides},
	{"BlockErrors", testBlockErrors},
	{"Unblock", testUnblock},
	{"Blocked", testBlocked},
}

// wantRequests checks m's pending requests: the handles of the other side,
// oldest first.
func wantRequests(t *testing.T, s glasshouse.Store, m *glasshouse.Member, incoming, outgoing []string) {
	t.Helper()
	reqs, err := s.FriendRequests(t.Context(), m.ID)
	must(t, err)
	var in, out []string
	for _, r := range reqs.Incoming {
		if r.To == nil || r.From == nil || r.To.ID != m.ID {
			t.Errorf("FriendRequests(%s): incoming request %d is not to %s: %+v", m.Handle, r.ID, m.Handle, r)
			continue
		}
		in = append(in, r.From.Handle)
	}
	for _, r := range reqs.Outgoing {
		if r.To == nil || r.From == nil || r.From.ID != m.ID {
			t.Errorf("FriendRequests(%s): outgoing request %d is not from %s: %+v", m.Handle, r.ID, m.Handle, r)
			continue
		}
		out = append(out, r.To.Handle)
	}
	if !slices.Equal(in, incoming) || !slices.Equal(out, outgoing) {
		t.Errorf("FriendRequests(%s) = incoming from %q, outgoing to %q; want incoming from %q, outgoing to %q", m.Handle, in, out, incoming, outgoing)
	}
}

// wantFriends checks m's friends, by handle.
func wantFriends(t *testing.T, s glasshouse.Store, m *glasshouse.Member, want ...string) {
	t.Helper()
	friends, err := s.Friends(t.Context(), m.ID)
	must(t, err)
	if got := handles(friends); !slices.Equal(got, want) {
		t.Errorf("Friends(%s) = %q, want %q", m.Handle, got, want)
	}
}

// wantAreFriends checks AreFriends both ways.
func wantAreFriends(t *testing.T, s glasshouse.Store, a, b *glasshouse.Member, want bool) {
	t.Helper()
	for _, p := range [][2]*glasshouse.Member{{a, b}, {b, a}} {
		got, err := s.AreFriends(t.Context(), p[0].ID, p[1].ID)
		must(t, err)
		if got != want {
			t.Errorf("AreFriends(%s, %s) = %v, want %v", p[0].Handle, p[1].Handle, got, want)
		}
	}
}

// mustRequest sends a friend request that must stay pending.
func mustRequest(t *testing.T, s glasshouse.Store, from, to *glasshouse.Member) *glasshouse.FriendRequest {
	t.Helper()
	req, err := s.RequestFriend(t.Context(), from.ID, to.Handle)
	if err != nil || req == nil {
		t.Fatalf("RequestFriend(%s, %s) = %v, %v; want a pending request", from.Handle, to.Handle, req, err)
	}
	return req
}

func testRequestFriend(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	req := mustRequest(t, s, a, b)
	if req.ID == 0 || req.From == nil || req.To == nil || req.From.ID != a.ID || req.From.Handle != "alice" ||
		req.To.ID != b.ID || req.To.Handle != "bob" || req.CreatedAt.IsZero() {
		t.Errorf("RequestFriend(alice, bob) = %+v, want an id, from alice, to bob and a time", req)
	}
	wantRequests(t, s, a, nil, []string{"bob"})
	wantRequests(t, s, b, []string{"alice"}, nil)
	wantRequests(t, s, c, nil, nil)
	wantAreFriends(t, s, a, b, false)
	wantFriends(t, s, a)
	wantFriends(t, s, b)
}

func testRequestFriendErrors(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustFriends(t, s, a, b)
	mustRequest(t, s, a, c)
	for _, tt := range []struct {
		name     string
		from     *glasshouse.Member
		to, code string
	}{
		{"Self", a, "alice", glasshouse.EINVALID},
		{"Absent", a, "nobody", glasshouse.ENOTFOUND},
		{"AlreadyFriends", a, "bob", glasshouse.ECONFLICT},
		{"AlreadyFriendsOtherWay", b, "alice", glasshouse.ECONFLICT},
		{"AlreadyRequested", a, "carol", glasshouse.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.RequestFriend(t.Context(), tt.from.ID, tt.to)
			wantCode(t, err, tt.code, fmt.Sprintf("RequestFriend(%s, %s)", tt.from.Handle, tt.to))
		})
	}
	wantRequests(t, s, a, nil, []string{"carol"})
	wantRequests(t, s, c, []string{"alice"}, nil)
	wantFriends(t, s, a, "bob")
}

func testFriendRequestsOrder(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "alice", "zed", "xia", "bob", "abe", "yan", "carol")
	a := ms[0]
	// Incoming and outgoing interleaved, in an order that is not alphabetical.
	for i := 1; i < len(ms); i += 2 {
		mustRequest(t, s, ms[i], a)
		mustRequest(t, s, a, ms[i+1])
	}
	wantRequests(t, s, a, []string{"zed", "bob", "yan"}, []string{"xia", "abe", "carol"})
}

func testAcceptFriendRequest(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	req := mustRequest(t, s, a, b)
	mustRequest(t, s, c, b)
	must(t, s.AcceptFriendRequest(t.Context(), b.ID, req.ID))
	wantAreFriends(t, s, a, b, true)
	wantAreFriends(t, s, b, c, false)
	wantFriends(t, s, a, "bob")
	wantFriends(t, s, b, "alice")
	wantRequests(t, s, a, nil, nil)
	wantRequests(t, s, b, []string{"carol"}, nil)
	err := s.AcceptFriendRequest(t.Context(), b.ID, req.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "AcceptFriendRequest of an accepted request")
}

func testAcceptOnlyByRecipient(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	req := mustRequest(t, s, a, b)
	for _, tt := range []struct {
		name      string
		member    *glasshouse.Member
		requestID int64
	}{
		{"Sender", a, req.ID},
		{"ThirdMember", c, req.ID},
		{"UnknownRequest", b, req.ID + 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AcceptFriendRequest(t.Context(), tt.member.ID, tt.requestID)
			wantCode(t, err, glasshouse.ENOTFOUND, fmt.Sprintf("AcceptFriendRequest(%s, %d)", tt.member.Handle, tt.requestID))
		})
	}
	wantAreFriends(t, s, a, b, false)
	wantAreFriends(t, s, a, c, false)
	wantRequests(t, s, b, []string{"alice"}, nil)
}

func testDeclineFriendRequest(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	req := mustRequest(t, s, a, b)
	err := s.DeclineFriendRequest(t.Context(), a.ID, req.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "DeclineFriendRequest by the sender")
	err = s.DeclineFriendRequest(t.Context(), b.ID, req.ID+1000)
	wantCode(t, err, glasshouse.ENOTFOUND, "DeclineFriendRequest of an unknown request")
	wantRequests(t, s, b, []string{"alice"}, nil)

	must(t, s.DeclineFriendRequest(t.Context(), b.ID, req.ID))
	wantRequests(t, s, a, nil, nil)
	wantRequests(t, s, b, nil, nil)
	wantAreFriends(t, s, a, b, false)
	err = s.DeclineFriendRequest(t.Context(), b.ID, req.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "DeclineFriendRequest of a declined request")
	// A declined request may be made again.
	mustRequest(t, s, a, b)
}

func testCancelFriendRequest(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	req := mustRequest(t, s, a, b)
	err := s.CancelFriendRequest(t.Context(), b.ID, req.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "CancelFriendRequest by the recipient")
	err = s.CancelFriendRequest(t.Context(), a.ID, req.ID+1000)
	wantCode(t, err, glasshouse.ENOTFOUND, "CancelFriendRequest of an unknown request")
	wantRequests(t, s, a, nil, []string{"bob"})

	must(t, s.CancelFriendRequest(t.Context(), a.ID, req.ID))
	wantRequests(t, s, a, nil, nil)
	wantRequests(t, s, b, nil, nil)
	wantAreFriends(t, s, a, b, false)
	err = s.AcceptFriendRequest(t.Context(), b.ID, req.ID)
	wantCode(t, err, glasshouse.ENOTFOUND, "AcceptFriendRequest of a cancelled request")
	mustRequest(t, s, a, b)
}

func testCrossingRequests(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	mustRequest(t, s, a, b)
	req, err := s.RequestFriend(t.Context(), b.ID, "alice")
	if err != nil || req != nil {
		t.Fatalf("RequestFriend(bob, alice) after alice asked = %+v, %v; want nil, nil (friends at once)", req, err)
	}
	wantAreFriends(t, s, a, b, true)
	wantRequests(t, s, a, nil, nil)
	wantRequests(t, s, b, nil, nil)
	wantFriends(t, s, a, "bob")
	wantFriends(t, s, b, "alice")
}

func testRemoveFriend(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustFriends(t, s, a, b, c)
	must(t, s.RemoveFriend(t.Context(), b.ID, "alice"))
	wantAreFriends(t, s, a, b, false)
	wantAreFriends(t, s, a, c, true)
	wantFriends(t, s, a, "carol")
	wantFriends(t, s, b)
	for _, tt := range []struct {
		name   string
		member *glasshouse.Member
		handle string
	}{
		{"Removed", a, "bob"},
		{"RemovedOtherWay", b, "alice"},
		{"Stranger", b, "carol"},
		{"Absent", a, "nobody"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.RemoveFriend(t.Context(), tt.member.ID, tt.handle)
			wantCode(t, err, glasshouse.ENOTFOUND, fmt.Sprintf("RemoveFriend(%s, %s)", tt.member.Handle, tt.handle))
		})
	}
	// Former friends may ask again.
	mustRequest(t, s, b, a)
}

func testFriendsByHandle(t *testing.T, s glasshouse.Store) {
	ms := MustMembers(t, s, "mia", "zed", "abe", "kim", "bea")
	MustFriends(t, s, ms[0], ms[1:]...)
	wantFriends(t, s, ms[0], "abe", "bea", "kim", "zed")
	wantFriends(t, s, ms[1], "mia")
}

func testAreFriends(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	wantAreFriends(t, s, a, b, false)
	MustFriends(t, s, b, a)
	wantAreFriends(t, s, a, b, true)
	wantAreFriends(t, s, a, c, false)
	wantAreFriends(t, s, b, c, false)
}

func testBlockEndsFriendship(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustFriends(t, s, a, b, c)
	must(t, s.Block(t.Context(), b.ID, "alice"))
	wantAreFriends(t, s, a, b, false)
	wantAreFriends(t, s, a, c, true)
	wantFriends(t, s, a, "carol")
	wantFriends(t, s, b)
}

func testBlockEndsRequests(t *testing.T, s glasshouse.Store) {
	a, b, c, d := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol"), MustMember(t, s, "dave")
	mustRequest(t, s, a, b) // blocker asked
	mustRequest(t, s, c, a) // blocked asked
	mustRequest(t, s, a, d) // not involved
	must(t, s.Block(t.Context(), a.ID, "bob"))
	must(t, s.Block(t.Context(), a.ID, "carol"))
	wantRequests(t, s, a, nil, []string{"dave"})
	wantRequests(t, s, b, nil, nil)
	wantRequests(t, s, c, nil, nil)
	wantAreFriends(t, s, a, b, false)
	wantAreFriends(t, s, a, c, false)
}

// testBlockHides checks that no request crosses a block either way, and that
// the blocked member sees the blocker as absent.
func testBlockHides(t *testing.T, s glasshouse.Store) {
	a, b := MustMember(t, s, "alice"), MustMember(t, s, "bob")
	MustFriends(t, s, a, b)
	must(t, s.Block(t.Context(), a.ID, "bob"))
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"RequestByBlocked", func() error { _, err := s.RequestFriend(t.Context(), b.ID, "alice"); return err }},
		{"RequestByBlocker", func() error { _, err := s.RequestFriend(t.Context(), a.ID, "bob"); return err }},
		{"RemoveByBlocked", func() error { return s.RemoveFriend(t.Context(), b.ID, "alice") }},
		{"DirectByBlocked", func() error { _, _, err := s.CreateDirect(t.Context(), b.ID, "alice"); return err }},
		{"DirectByBlocker", func() error { _, _, err := s.CreateDirect(t.Context(), a.ID, "bob"); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(), glasshouse.ENOTFOUND, tt.name)
		})
	}
	wantRequests(t, s, a, nil, nil)
	wantRequests(t, s, b, nil, nil)
	wantAreFriends(t, s, a, b, false)
}

func testBlockErrors(t *testing.T, s glasshouse.Store) {
	a := MustMember(t, s, "alice")
	MustMember(t, s, "bob")
	must(t, s.Block(t.Context(), a.ID, "bob"))
	for _, tt := range []struct {
		name, handle, code string
	}{
		{"Self", "alice", glasshouse.EINVALID},
		{"Absent", "nobody", glasshouse.ENOTFOUND},
		{"AlreadyBlocked", "bob", glasshouse.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, s.Block(t.Context(), a.ID, tt.handle), tt.code, "Block(alice, "+tt.handle+")")
		})
	}
}

func testUnblock(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	must(t, s.Block(t.Context(), a.ID, "bob"))
	must(t, s.Block(t.Context(), a.ID, "carol"))
	must(t, s.Unblock(t.Context(), a.ID, "bob"))
	blocked, err := s.Blocked(t.Context(), a.ID)
	must(t, err)
	if got := handles(blocked); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("Blocked(alice) after unblocking bob = %q, want [carol]", got)
	}
	for _, tt := range []struct {
		name   string
		member *glasshouse.Member
		handle string
	}{
		{"Again", a, "bob"},
		{"ByBlockedMember", c, "alice"},
		{"Absent", a, "nobody"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Unblock(t.Context(), tt.member.ID, tt.handle)
			wantCode(t, err, glasshouse.ENOTFOUND, fmt.Sprintf("Unblock(%s, %s)", tt.member.Handle, tt.handle))
		})
	}
	// Unblocked members may befriend each other again, and a block may be
	// set again.
	MustFriends(t, s, b, a)
	_, err = s.RequestFriend(t.Context(), c.ID, "alice")
	wantCode(t, err, glasshouse.ENOTFOUND, "RequestFriend(carol, alice) while carol is blocked")
	must(t, s.Block(t.Context(), a.ID, "bob"))
}

func testBlocked(t *testing.T, s glasshouse.Store) {
	a, b, c := MustMember(t, s, "alice"), MustMember(t, s, "bob"), MustMember(t, s, "carol")
	MustMember(t, s, "dave")
	for _, h := range []string{"dave", "bob", "carol"} {
		must(t, s.Block(t.Context(), a.ID, h))
	}
	must(t, s.Block(t.Context(), b.ID, "dave"))
	for _, tt := range []struct {
		member *glasshouse.Member
		want   []string
	}{
		{a, []string{"bob", "carol", "dave"}},
		{b, []string{"dave"}},
		{c, nil},
	} {
		blocked, err := s.Blocked(t.Context(), tt.member.ID)
		must(t, err)
		if got := sortedHandles(blocked); !slices.Equal(got, tt.want) {
			t.Errorf("Blocked(%s) = %q, want %q (in any order)", tt.member.Handle, got, tt.want)
		}
	}
}
