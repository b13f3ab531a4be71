package portal_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/ui/portal"
	"github.com/glasshouse/glasshouse/web"
)

// testPassword is every test member's password.
const testPassword = "correct horse battery staple"

// site is the member web as cmd/glasshouse wires it (web.Server on a
// SQLite store in a temporary folder, the assets), with the portal
// mounted on it.
type site struct {
	*httptest.Server
	Store  *sqlstore.Store
	Web    *web.Server
	SignIn *signin.Service
	Clock  *testclock.Clock // shared by the site's parts
}

// MustSite starts a site; options adjust the portal's config.
func MustSite(tb testing.TB, options ...func(*portal.Config)) *site {
	tb.Helper()
	hub := realtime.NewHub(0)
	store, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Publisher: hub})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	clk := testclock.At(time.Now().UTC())
	key := make([]byte, 32)
	rand.Read(key)
	signIn := signin.New(signin.Config{Store: store, Key: key, Now: clk.Now})
	srv := web.New(web.Config{Store: store, Hub: hub, SignIn: signIn})
	kit := ui.New(ui.Config{Store: store, SignIn: signIn, IsOperator: store.IsOperator})
	cfg := portal.Config{Kit: kit, Store: store, Key: key, Now: clk.Now}
	for _, o := range options {
		o(&cfg)
	}
	srv.Mount(kit.Mount)
	srv.Mount(portal.New(cfg).Mount)
	s := &site{Server: httptest.NewServer(srv.Handler()), Store: store, Web: srv, SignIn: signIn, Clock: clk}
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

// testPartner is a registered partner with its credentials.
type testPartner struct {
	*glasshouse.Partner
	Secret string
}

// MustPartner registers a partner named name with scopes, pending; with
// approve, its agreement is approved.
func (s *site) MustPartner(tb testing.TB, name string, approve bool, scopes ...string) *testPartner {
	tb.Helper()
	id, secret := oauth.NewClientCredentials()
	np := glasshouse.NewPartner{Name: name, RedirectURIs: []string{"https://" + strings.ToLower(strings.ReplaceAll(name, " ", "-")) + ".example/callback"},
		Scopes: scopes, Purpose: "Lets " + name + " do what its users ask of it.", RetentionDays: 30,
		ExpiresAt: time.Now().AddDate(1, 0, 0)}
	p, err := s.Store.CreatePartner(context.Background(), np, id, oauth.HashSecret(secret))
	if err != nil {
		tb.Fatal(err)
	}
	if approve {
		if _, err := s.Store.ApproveAgreement(context.Background(), id, time.Now()); err != nil {
			tb.Fatal(err)
		}
		p.Status = glasshouse.PartnerApproved
	}
	return &testPartner{Partner: p, Secret: secret}
}

// client is a browser without JavaScript (package pagetest), signed in
// as the member me once MustMember made it.
type client struct {
	*pagetest.Client
	me *glasshouse.Member
}

// NewClient returns a visitor that has loaded /developers (and so holds a
// CSRF token).
func (s *site) NewClient(tb testing.TB) *client {
	tb.Helper()
	return &client{Client: pagetest.New(tb, s.URL, "/developers")}
}

// MustMember signs up a member with handle, signs it in, and returns its
// client; with operator, the member is made an operator.
func (s *site) MustMember(tb testing.TB, handle string, operator bool) *client {
	tb.Helper()
	ctx := context.Background()
	m, err := s.Web.Signup(ctx, glasshouse.Signup{Handle: handle, Email: handle + "@example.org", Password: testPassword, DisplayName: handle}, "192.0.2.1")
	if err != nil {
		tb.Fatal(err)
	}
	if operator {
		if err := s.Store.SetOperator(ctx, m.ID, true); err != nil {
			tb.Fatal(err)
		}
	}
	token, _, err := s.SignIn.Login(ctx, handle, testPassword, "192.0.2.1")
	if err != nil {
		tb.Fatal(err)
	}
	c := s.NewClient(tb)
	c.SetCookie(&http.Cookie{Name: signin.CookieName, Value: token, Path: "/"})
	c.Get("/developers").MustStatus(http.StatusOK) // a page of the session: its forms' tokens
	c.me = m
	return c
}

// SignIn signs c in to the portal as p.
func (c *client) SignIn(p *testPartner) {
	c.TB().Helper()
	c.Post("/developers/signin", url.Values{"client_id": {p.ClientID}, "client_secret": {p.Secret}}).MustRedirect("/developers/dashboard")
}

// signInLimit is a limiter for tests that count failed sign-ins.
func signInLimit(burst int) func(*portal.Config) {
	return func(c *portal.Config) {
		c.SignInLimit = ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: burst})
	}
}
