package messenger_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/internal/sitetest"
	"github.com/glasshouse/glasshouse/ui/messenger"
	"github.com/glasshouse/glasshouse/web"
)

var _ messenger.Accounts = (*web.Server)(nil)

// testPassword is every test member's password.
const testPassword = sitetest.Password

// site is the whole member web, as cmd/glasshouse wires it (package
// sitetest), with the messenger pages mounted on it.
type site struct {
	*sitetest.Site
}

// MustSite starts a site with the options that adjust set.
func MustSite(tb testing.TB, adjust ...func(*sitetest.Options)) *site {
	tb.Helper()
	s := sitetest.New(tb, adjust...)
	s.Start(messenger.New(messenger.Config{Kit: s.Kit, Store: s.Store, Accounts: s.Web}).Mount)
	return &site{s}
}

// client is a browser without JavaScript (package pagetest), signed in
// as me once MustMember made it.
type client struct {
	*pagetest.Client
	me *glasshouse.Member
}

// NewClient returns a signed-out client that has loaded the sign-in page
// (and so holds a CSRF token).
func (s *site) NewClient(tb testing.TB) *client {
	tb.Helper()
	return &client{Client: pagetest.New(tb, s.URL, "/signin")}
}

// T returns the client reporting to tb, for use in a subtest.
func (c *client) T(tb testing.TB) *client {
	return &client{Client: c.Client.T(tb), me: c.me}
}

// MustMember signs up a member with handle through the sign-up page and
// returns a signed-in client.
func (s *site) MustMember(tb testing.TB, handle, displayName string) *client {
	tb.Helper()
	c := s.NewClient(tb)
	c.Follow(c.Post("/signup", url.Values{"handle": {handle}, "display_name": {displayName}, "email": {handle + "@example.org"}, "new_password": {testPassword}}).
		MustRedirect("/friends?done=welcome"))
	m, err := s.Store.MemberByHandle(context.Background(), handle)
	if err != nil {
		tb.Fatal(err)
	}
	c.me = m
	return c
}

// MustFriends makes a and b friends through the friends page.
func MustFriends(tb testing.TB, a, b *client) {
	tb.Helper()
	a.Post("/friends", url.Values{"handle": {b.me.Handle}}).MustRedirect("/friends?done=requested")
	id := b.Get("/friends").MustStatus(http.StatusOK).Find(`/friends/requests/(\d+)/accept`)
	b.Post("/friends/requests/"+id+"/accept", nil).MustRedirect("/friends?done=friends")
}

// MustDirect opens the direct conversation of a with b and returns its
// path, /messages/{id}.
func MustDirect(tb testing.TB, a, b *client) string {
	tb.Helper()
	r := a.Post("/messages/direct", url.Values{"with": {b.me.Handle}}).MustStatus(http.StatusSeeOther)
	return r.Header.Get("Location")
}
