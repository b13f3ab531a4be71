package messenger_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/ui/messenger"
	"github.com/glasshouse/glasshouse/web"
)

var _ messenger.Accounts = (*web.Server)(nil)

// testPassword is every test member's password.
const testPassword = "correct horse battery staple"

// site is the whole member web, as cmd/glasshouse wires it: the API
// (web.Server) on a SQLite store in a temporary folder and a real hub, with
// the messenger pages and the assets mounted on it.
type site struct {
	*httptest.Server
	Store *sqlstore.Store
}

// MustSite starts a site; options adjust the API's config, which holds the
// sign-in service's (web.Config.SignIn, made here unless an option did).
func MustSite(tb testing.TB, options ...func(*web.Config)) *site {
	tb.Helper()
	hub := realtime.NewHub(0)
	store, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Publisher: hub})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	cfg := web.Config{Store: store, Hub: hub}
	for _, o := range options {
		o(&cfg)
	}
	if cfg.SignIn == nil {
		withSignIn(func(*signin.Config) {})(&cfg)
	}
	srv := web.New(cfg)
	kit := ui.New(ui.Config{Store: store, SignIn: cfg.SignIn})
	srv.Mount(messenger.New(messenger.Config{Kit: kit, Store: store, Accounts: srv}).Mount)
	srv.Mount(kit.Mount)
	s := &site{Server: httptest.NewServer(srv.Handler()), Store: store}
	tb.Cleanup(func() {
		srv.CloseStreams()
		s.Close()
		hub.Close()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// withSignIn gives the site a sign-in service on its store, as adjust
// changes its config.
func withSignIn(adjust func(*signin.Config)) func(*web.Config) {
	return func(c *web.Config) {
		key := make([]byte, 32)
		rand.Read(key)
		sc := signin.Config{Store: c.Store, Key: key}
		adjust(&sc)
		c.SignIn = signin.New(sc)
	}
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
