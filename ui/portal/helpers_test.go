package portal_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/internal/sitetest"
	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/ui/portal"
)

// site is the member web as cmd/glasshouse wires it (package sitetest),
// with the portal mounted on it, on a clock that the test moves.
type site struct {
	*sitetest.Site
	Clock *testclock.Clock
}

// MustSite starts a site; options adjust the portal's config.
func MustSite(tb testing.TB, options ...func(*portal.Config)) *site {
	tb.Helper()
	clk := testclock.At(time.Now().UTC())
	s := sitetest.New(tb, func(o *sitetest.Options) { o.Now = clk.Now })
	key := make([]byte, 32)
	rand.Read(key)
	cfg := portal.Config{Kit: s.Kit, Store: s.Store, Key: key, Now: clk.Now}
	for _, o := range options {
		o(&cfg)
	}
	s.Start(portal.New(cfg).Mount)
	return &site{Site: s, Clock: clk}
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
	m, token := s.Site.MustMember(tb, handle, handle)
	if operator {
		if err := s.Store.SetOperator(context.Background(), m.ID, true); err != nil {
			tb.Fatal(err)
		}
	}
	return &client{Client: s.Client(tb, token, "/developers"), me: m}
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
