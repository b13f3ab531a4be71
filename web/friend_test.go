package web_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/glasshouse/glasshouse"
)

func handles(ms []*glasshouse.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Handle)
	}
	return fmt.Sprint(out)
}

func TestFriendRequests(t *testing.T) {
	ts := MustServer(t)
	alice, bob, carol := ts.MustMember(t, "alice"), ts.MustMember(t, "bob"), ts.MustMember(t, "carol")

	var toBob, toCarol struct {
		Status  string
		Request glasshouse.FriendRequest
	}
	ts.Do(t, alice.Token, "POST", "/api/v1/friend-requests", map[string]string{"handle": "bob"}).
		MustStatus(t, http.StatusCreated).Decode(t, &toBob)
	ts.Do(t, alice.Token, "POST", "/api/v1/friend-requests", map[string]string{"handle": "carol"}).
		MustStatus(t, http.StatusCreated).Decode(t, &toCarol)
	if toBob.Status != "requested" || toBob.Request.To.Handle != "bob" {
		t.Fatalf("request answered %+v", toBob)
	}
	ts.Do(t, alice.Token, "POST", "/api/v1/friend-requests", map[string]string{"handle": "bob"}).
		MustError(t, http.StatusConflict, glasshouse.ECONFLICT)

	var reqs glasshouse.FriendRequests
	ts.Do(t, bob.Token, "GET", "/api/v1/friend-requests", nil).MustStatus(t, http.StatusOK).Decode(t, &reqs)
	if len(reqs.Incoming) != 1 || reqs.Incoming[0].From.Handle != "alice" || len(reqs.Outgoing) != 0 {
		t.Fatalf("bob's requests %+v", reqs)
	}

	// Only the recipient accepts or declines; only the sender cancels.
	bobPath := fmt.Sprintf("/api/v1/friend-requests/%d", toBob.Request.ID)
	for _, req := range []struct {
		who          *member
		method, path string
	}{
		{alice, "POST", bobPath + "/accept"},
		{carol, "POST", bobPath + "/decline"},
		{bob, "DELETE", bobPath},
	} {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, req.who.Token, req.method, req.path, nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
		})
	}
	ts.Do(t, bob.Token, "POST", bobPath+"/accept", nil).MustStatus(t, http.StatusNoContent)
	ts.Do(t, alice.Token, "DELETE", fmt.Sprintf("/api/v1/friend-requests/%d", toCarol.Request.ID), nil).MustStatus(t, http.StatusNoContent)
	ts.Do(t, carol.Token, "GET", "/api/v1/friend-requests", nil).MustStatus(t, http.StatusOK).Decode(t, &reqs)
	if len(reqs.Incoming) != 0 {
		t.Fatalf("carol still has %+v after the cancel", reqs.Incoming)
	}

	var friends []*glasshouse.Member
	ts.Do(t, alice.Token, "GET", "/api/v1/friends", nil).MustStatus(t, http.StatusOK).Decode(t, &friends)
	if handles(friends) != "[bob]" || friends[0].DisplayName != "BOB" || friends[0].Email != "" {
		t.Fatalf("alice's friends %+v; want bob with his name but not his email", friends)
	}

	// Crossing requests make friends at once.
	ts.Do(t, carol.Token, "POST", "/api/v1/friend-requests", map[string]string{"handle": "bob"}).MustStatus(t, http.StatusCreated)
	var crossed struct{ Status string }
	ts.Do(t, bob.Token, "POST", "/api/v1/friend-requests", map[string]string{"handle": "carol"}).
		MustStatus(t, http.StatusOK).Decode(t, &crossed)
	if crossed.Status != "friends" {
		t.Fatalf("crossing request answered %+v; want friends", crossed)
	}

	ts.Do(t, bob.Token, "DELETE", "/api/v1/friends/alice", nil).MustStatus(t, http.StatusNoContent)
	ts.Do(t, bob.Token, "DELETE", "/api/v1/friends/alice", nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
	ts.Do(t, bob.Token, "GET", "/api/v1/friends", nil).MustStatus(t, http.StatusOK).Decode(t, &friends)
	if handles(friends) != "[carol]" {
		t.Fatalf("bob's friends %v; want [carol]", handles(friends))
	}
}

func TestFriendRequestRejected(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.Do(t, bob.Token, "POST", "/api/v1/blocks", map[string]string{"handle": "alice"}).MustStatus(t, http.StatusNoContent)
	for _, tt := range []struct {
		name, handle string
		status       int
		code         string
	}{
		{"oneself", "alice", 400, glasshouse.EINVALID},
		{"unknown", "nobody", 404, glasshouse.ENOTFOUND},
		{"blocked", "bob", 404, glasshouse.ENOTFOUND},
		{"malformed handle", "Not A Handle", 400, glasshouse.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.MustWriteNothing(t, func() {
				ts.Do(t, alice.Token, "POST", "/api/v1/friend-requests", map[string]string{"handle": tt.handle}).MustError(t, tt.status, tt.code)
			})
		})
	}
}

func TestBlocks(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	ts.Do(t, alice.Token, "POST", "/api/v1/blocks", map[string]string{"handle": "bob"}).MustStatus(t, http.StatusNoContent)
	ts.Do(t, alice.Token, "POST", "/api/v1/blocks", map[string]string{"handle": "bob"}).MustError(t, http.StatusConflict, glasshouse.ECONFLICT)

	var list []*glasshouse.Member
	ts.Do(t, alice.Token, "GET", "/api/v1/blocks", nil).MustStatus(t, http.StatusOK).Decode(t, &list)
	if handles(list) != "[bob]" {
		t.Fatalf("alice's blocks %v; want [bob]", handles(list))
	}
	ts.Do(t, alice.Token, "GET", "/api/v1/friends", nil).MustStatus(t, http.StatusOK).Decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("friends after block %v; want none", handles(list))
	}
	ts.Do(t, alice.Token, "DELETE", "/api/v1/blocks/bob", nil).MustStatus(t, http.StatusNoContent)
	ts.Do(t, alice.Token, "DELETE", "/api/v1/blocks/bob", nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
	ts.Do(t, alice.Token, "GET", "/api/v1/blocks", nil).MustStatus(t, http.StatusOK).Decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("blocks after unblock %v; want none", handles(list))
	}
}

func TestProfiles(t *testing.T) {
	ts := MustServer(t)
	alice, bob, carol := ts.MustMember(t, "alice"), ts.MustMember(t, "bob"), ts.MustMember(t, "carol")
	ts.MustFriends(t, alice, bob)

	var me glasshouse.Member
	ts.Do(t, alice.Token, "PATCH", "/api/v1/me", map[string]any{
		"phone": "+41 79 000 00 00", "visibility": glasshouse.Fields{DisplayName: "friends", Email: "friends", Phone: "me", PictureURL: "me"},
	}).MustStatus(t, http.StatusOK).Decode(t, &me)
	if me.Phone != "+41 79 000 00 00" || me.DisplayName != "ALICE" || me.Visibility.Email != glasshouse.VisibleToFriends {
		t.Fatalf("updated profile %+v", me)
	}

	for _, tt := range []struct {
		name   string
		viewer *member
		want   glasshouse.Member
	}{
		{"herself", alice, glasshouse.Member{Handle: "alice", DisplayName: "ALICE", Email: "alice@example.org", Phone: "+41 79 000 00 00"}},
		{"a friend", bob, glasshouse.Member{Handle: "alice", DisplayName: "ALICE", Email: "alice@example.org"}},
		{"a stranger", carol, glasshouse.Member{Handle: "alice"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got glasshouse.Member
			ts.Do(t, tt.viewer.Token, "GET", "/api/v1/members/alice", nil).MustStatus(t, http.StatusOK).Decode(t, &got)
			if got.Handle != tt.want.Handle || got.DisplayName != tt.want.DisplayName || got.Email != tt.want.Email || got.Phone != tt.want.Phone {
				t.Fatalf("%s sees %+v; want %+v", tt.name, got, tt.want)
			}
		})
	}

	t.Run("bad update", func(t *testing.T) {
		ts.MustWriteNothing(t, func() {
			ts.Do(t, alice.Token, "PATCH", "/api/v1/me", map[string]any{"email": "not an address"}).MustError(t, 400, glasshouse.EINVALID)
			ts.Do(t, alice.Token, "PATCH", "/api/v1/me", map[string]any{"visibility": map[string]string{"email": "everyone"}}).MustError(t, 400, glasshouse.EINVALID)
			ts.Do(t, alice.Token, "PATCH", "/api/v1/me", map[string]any{"email": "bob@example.org"}).MustError(t, 409, glasshouse.ECONFLICT)
		})
	})

	ts.Do(t, alice.Token, "GET", "/api/v1/members/nobody", nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND)
	ts.Do(t, carol.Token, "POST", "/api/v1/blocks", map[string]string{"handle": "alice"}).MustStatus(t, http.StatusNoContent)
	ts.Do(t, alice.Token, "GET", "/api/v1/members/carol", nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND) // carol blocked alice
	ts.Do(t, carol.Token, "GET", "/api/v1/members/alice", nil).MustError(t, http.StatusNotFound, glasshouse.ENOTFOUND) // and sees her no more
}
