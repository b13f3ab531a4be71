package messenger_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

func TestFriendRequests(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob")

	alice.Post("/friends", url.Values{"handle": {" @Bob"}}).MustRedirect("/friends?done=requested")
	alice.Get("/friends?done=requested").MustContain("Friend request sent.", "you asked @bob", "/cancel")
	bob.Get("/friends").MustContain("@alice wants to be your friend", "/accept", "/decline")

	for _, tc := range []struct {
		name, handle string
		status       int
		msg          string
	}{
		{"again", "bob", http.StatusConflict, "You already asked @bob."},
		{"unknown", "nobody", http.StatusNotFound, "No member @nobody."},
		{"oneself", "alice", http.StatusBadRequest, ""},
		{"not a handle", "<script>x</script>", http.StatusBadRequest, "Handle must be 3 to 30 characters of a-z, 0-9 and _."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := alice.T(t).Post("/friends", url.Values{"handle": {tc.handle}}).MustStatus(tc.status)
			if tc.msg != "" {
				p.MustFieldError("handle", tc.msg)
			} else {
				p.Find(`id="e-handle">([^<]+)<`)
			}
			p.MustNotContain("<script>x")
		})
	}

	id := bob.Get("/friends").Find(`/friends/requests/(\d+)/accept`)
	bob.Post("/friends/requests/"+id+"/accept", nil).MustRedirect("/friends?done=friends")
	bob.Post("/friends/requests/"+id+"/accept", nil).MustStatus(http.StatusNotFound).MustFormError("Friend request not found.")
	alice.Get("/friends").MustContain("<strong>Bob</strong>", `aria-label="Message @bob"`).MustNotContain("you asked")
	bob.Get("/friends").MustContain("<strong>Alice</strong>")

	bob.Post("/friends/alice/remove", nil).MustRedirect("/friends?done=removed")
	bob.Post("/friends/alice/remove", nil).MustStatus(http.StatusNotFound).MustFormError("You are not friends with @alice.")
	if ok, _ := s.Store.AreFriends(context.Background(), alice.me.ID, bob.me.ID); ok {
		t.Error("still friends after remove")
	}
}

func TestDeclineAndCancel(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob")

	alice.Post("/friends", url.Values{"handle": {"bob"}}).MustStatus(http.StatusSeeOther)
	id := bob.Get("/friends").Find(`/friends/requests/(\d+)/decline`)
	alice.Post("/friends/requests/"+id+"/decline", nil).MustStatus(http.StatusNotFound) // not addressed to alice
	bob.Post("/friends/requests/"+id+"/decline", nil).MustRedirect("/friends?done=declined")
	bob.Get("/friends").MustContain("No pending requests.")

	alice.Post("/friends", url.Values{"handle": {"bob"}}).MustStatus(http.StatusSeeOther)
	id = alice.Get("/friends").Find(`/friends/requests/(\d+)/cancel`)
	bob.Post("/friends/requests/"+id+"/cancel", nil).MustStatus(http.StatusNotFound) // not sent by bob
	alice.Post("/friends/requests/"+id+"/cancel", nil).MustRedirect("/friends?done=cancelled")
	bob.Get("/friends").MustContain("No pending requests.")
	alice.Post("/friends/requests/x/cancel", nil).MustStatus(http.StatusNotFound)
}

func TestBlock(t *testing.T) {
	s := MustSite(t)
	alice, bob := s.MustMember(t, "alice", "Alice"), s.MustMember(t, "bob", "Bob")
	MustFriends(t, alice, bob)

	alice.Post("/blocks", url.Values{"handle": {"bob"}}).MustRedirect("/friends?done=blocked")
	alice.Get("/friends?done=blocked").MustContain("Blocked. Neither of you", `aria-label="Unblock @bob"`).MustNotContain("<strong>Bob</strong>")
	alice.Post("/blocks", url.Values{"handle": {"bob"}}).MustStatus(http.StatusConflict).MustFormError("You have already blocked @bob.")
	bob.Post("/friends", url.Values{"handle": {"alice"}}).MustStatus(http.StatusNotFound).MustFieldError("handle", "No member @alice.")

	alice.Post("/blocks/bob/unblock", nil).MustRedirect("/friends?done=unblocked")
	alice.Post("/blocks/bob/unblock", nil).MustStatus(http.StatusNotFound).MustFormError("You have not blocked @bob.")
	bob.Post("/friends", url.Values{"handle": {"alice"}}).MustRedirect("/friends?done=requested")
}
