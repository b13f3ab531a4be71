package privacy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/export"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/internal/sitetest"
	"github.com/glasshouse/glasshouse/ui/privacy"
)

// site is the member API, the transparency log and the privacy center on
// one real server (package sitetest, with its log).
type site struct {
	*sitetest.Site

	// Streamflix and Shopzon are approved partners.
	Streamflix, Shopzon *glasshouse.Partner

	mu         sync.Mutex
	deleted    []int64 // the members DeleteAccount erased
	exporter   *export.Exporter
	exportFail *int // see FailExport
}

// MustSite starts a site with the options that adjust set (and a log).
func MustSite(tb testing.TB, adjust ...func(*sitetest.Options)) *site {
	tb.Helper()
	return mustSiteWith(tb, nil, adjust...)
}

// mustSiteWith is MustSite with the privacy center's configuration
// adjusted by center, if not nil.
func mustSiteWith(tb testing.TB, center func(*privacy.Config), adjust ...func(*sitetest.Options)) *site {
	tb.Helper()
	ss := sitetest.New(tb, append(adjust, func(o *sitetest.Options) { o.Log = true })...)
	s := &site{Site: ss}
	l := ss.Log
	s.exporter = export.New(export.Config{Store: ss.Store, Log: l.Feeder.Log(), LogKey: l.Key.VerifierKey, MemberKey: l.Recorder.MemberKey})
	cfg := privacy.Config{
		Kit: ss.Kit, Store: ss.Store, Export: s.export, DeleteAccount: s.deleteAccount, SignOut: ss.Web.Logout,
		MemberKey: l.Recorder.MemberKey,
	}
	if center != nil {
		center(&cfg)
	}
	c := privacy.New(cfg)
	ss.Start(c.Mount, l.Handler().Register)
	s.Streamflix = s.MustPartner(tb, "Streamflix", "Lets members share what they watch with a friend.",
		glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
	s.Shopzon = s.MustPartner(tb, "Shopzon", "Sends order confirmations to the member.",
		glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	return s
}

// MustPartner registers and approves a partner.
func (s *site) MustPartner(tb testing.TB, name, purpose string, scopes ...string) *glasshouse.Partner {
	tb.Helper()
	clientID := "client-" + strings.ToLower(regexp.MustCompile(`[^A-Za-z]`).ReplaceAllString(name, ""))
	return s.Site.MustPartner(tb, glasshouse.NewPartner{Name: name, Scopes: scopes, Purpose: purpose}, clientID, []byte("secret hash"), true)
}

// member is a signed-in member and their browser without JavaScript
// (package pagetest), which holds the member's session and a CSRF token.
type member struct {
	*pagetest.Client
	*glasshouse.Member
	Token string // the session
}

// T returns m reporting to tb, for use in a subtest; it shares the cookies.
func (m *member) T(tb testing.TB) *member {
	return &member{Client: m.Client.T(tb), Member: m.Member, Token: m.Token}
}

// MustMember signs a member up and in, and loads the privacy center as
// them (and so holds a CSRF token).
func (s *site) MustMember(tb testing.TB, handle string) *member {
	tb.Helper()
	m, token := s.Site.MustMember(tb, handle, strings.ToUpper(handle))
	return &member{Client: s.Client(tb, token, "/privacy"), Member: m, Token: token}
}

// Visitor returns a signed-out client that has loaded nothing: it holds
// no cookie and no CSRF token.
func (s *site) Visitor(tb testing.TB) *pagetest.Client {
	tb.Helper()
	return s.Client(tb, "", "")
}

// MustGrant records m's consent to p for scopes, with a relay address.
func (s *site) MustGrant(tb testing.TB, m *member, p *glasshouse.Partner, scopes ...string) *glasshouse.Grant {
	tb.Helper()
	now := time.Now()
	g, err := s.Store.SaveGrant(context.Background(), glasshouse.Grant{MemberID: m.ID, PartnerID: p.ID, AgreementVersion: 1,
		Scopes: scopes, ConfirmedAt: now, ExpiresAt: now.Add(glasshouse.GrantLifetime)},
		fmt.Sprintf("%s.%d@relay.glasshouse.test", m.Handle, p.ID))
	if err != nil {
		tb.Fatalf("grant %s to %s: %v", scopes, p.Name, err)
	}
	return g
}

// MustToken issues an access token of p for m carrying scopes, as the
// authorization server would, and returns its id.
func (s *site) MustToken(tb testing.TB, m *member, p *glasshouse.Partner, id string, scopes ...string) string {
	tb.Helper()
	now := time.Now()
	tok := &glasshouse.Token{ID: id, Kind: glasshouse.AccessToken, FamilyID: "family-" + id, AuthRequestID: "req-" + id,
		PartnerID: p.ID, ClientID: p.ClientID, MemberID: m.ID, Subject: "sub-" + m.Handle, Scopes: scopes,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(glasshouse.AccessTokenLifetime)}
	if err := s.Store.CreateTokens(context.Background(), tok, nil, "", now); err != nil {
		tb.Fatalf("create token %s: %v", id, err)
	}
	return id
}

// TokenLive reports whether the token is still unrevoked.
func (s *site) TokenLive(tb testing.TB, id string) bool {
	tb.Helper()
	tok, err := s.Store.Token(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return tok.RevokedAt.IsZero()
}

// MustRecord records one Graph API access by p for m through the real
// Recorder, as the Graph API does, at time at.
func (s *site) MustRecord(tb testing.TB, m *member, p *glasshouse.Partner, at time.Time, endpoint string, granted bool, scopes ...string) *glasshouse.AccessRecord {
	tb.Helper()
	return s.Log.MustRecord(tb, m.ID, p, at, endpoint, granted, scopes...)
}

// export is the product's exporter (package export) on the site's store and
// log, unless FailExport broke the way to the browser.
func (s *site) export(ctx context.Context, memberID int64, w io.Writer) error {
	s.mu.Lock()
	fail := s.exportFail
	s.mu.Unlock()
	if fail != nil {
		w = &failingWriter{w: w, left: *fail}
	}
	return s.exporter.Write(ctx, memberID, w)
}

// failingWriter passes on its first left bytes, then fails, like a
// connection that drops.
type failingWriter struct {
	w    io.Writer
	left int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= f.left {
		f.left -= len(p)
		return f.w.Write(p)
	}
	n, _ := f.w.Write(p[:f.left])
	f.left = 0
	return n, errors.New("the connection dropped")
}

// deleteAccount is the product's erasure (the store's DeleteMember), and
// remembers whom it erased.
func (s *site) deleteAccount(ctx context.Context, memberID int64) error {
	if err := s.Store.DeleteMember(ctx, memberID); err != nil {
		return err
	}
	s.mu.Lock()
	s.deleted = append(s.deleted, memberID)
	s.mu.Unlock()
	return nil
}

// FailExport makes Export fail after writing n bytes.
func (s *site) FailExport(n int) {
	s.mu.Lock()
	s.exportFail = &n
	s.mu.Unlock()
}

// Deleted returns the members DeleteAccount erased.
func (s *site) Deleted() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.deleted...)
}
