package privacy_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/export"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/ui/privacy"
	"github.com/glasshouse/glasshouse/web"
)

// testPassword is every test member's password.
const testPassword = "correct horse battery staple"

// site is the member API, the transparency log and the privacy center on
// one real server: a SQLite store in a temporary folder, a real Tessera log
// fed by a real Feeder, access records made by a real Recorder.
type site struct {
	*httptest.Server
	Store    *sqlstore.Store
	Web      *web.Server
	SignIn   *signin.Service
	Feeder   *accesslog.Feeder
	Recorder *accesslog.Recorder
	Key      *accesslog.Key

	// Streamflix and Shopzon are approved partners.
	Streamflix, Shopzon *glasshouse.Partner

	mu         sync.Mutex
	deleted    []int64 // the members DeleteAccount erased
	exporter   *export.Exporter
	exportFail *int // see FailExport
}

// siteOptions adjusts a site before it starts.
type siteOptions struct {
	// wrap wraps the whole handler, to serve something else than the
	// server would (a tampered proof).
	wrap func(http.Handler) http.Handler
}

// MustSite starts a site.
func MustSite(tb testing.TB, opts ...func(*siteOptions)) *site {
	tb.Helper()
	ctx := context.Background()
	var o siteOptions
	for _, f := range opts {
		f(&o)
	}
	hub := realtime.NewHub(0)
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Publisher: hub})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	_, key, err := accesslog.NewKey("glasshouse.test/log", nil)
	if err != nil {
		tb.Fatal(err)
	}
	s := &site{Store: store, Key: key}
	s.Feeder, err = accesslog.NewFeeder(ctx, accesslog.FeederConfig{
		Dir: tb.TempDir(), Key: key, Outbox: accesslog.StoreOutbox{Store: store}, CheckpointInterval: 100 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	master := make([]byte, accesslog.MinMasterKeySize)
	rand.Read(master)
	if s.Recorder, err = accesslog.NewRecorder(accesslog.RecorderConfig{Store: store, MasterKey: master, Signer: key.Signer}); err != nil {
		tb.Fatal(err)
	}

	s.exporter = export.New(export.Config{Store: store, Log: s.Feeder.Log(), LogKey: key.VerifierKey, MemberKey: s.Recorder.MemberKey})

	uiKey := make([]byte, 32)
	rand.Read(uiKey)
	s.SignIn = signin.New(signin.Config{Store: store, Key: uiKey})
	kit := ui.New(ui.Config{Store: store, SignIn: s.SignIn})
	s.Web = web.New(web.Config{Store: store, Hub: hub, SignIn: s.SignIn, AccessLog: s.Feeder.Log()})
	center := privacy.New(privacy.Config{
		Kit: kit, Store: store, Export: s.export, DeleteAccount: s.deleteAccount, SignOut: s.Web.Logout,
		MemberKey: s.Recorder.MemberKey,
	})
	s.Web.Mount(func(mux *http.ServeMux) {
		kit.Mount(mux)
		center.Mount(mux)
		accesslog.NewHandler(s.Feeder.Log(), key.VerifierKey, accesslog.StoreOutbox{Store: store}).Register(mux)
	})
	var h http.Handler = s.Web.Handler()
	if o.wrap != nil {
		h = o.wrap(h)
	}
	s.Server = httptest.NewServer(h)
	tb.Cleanup(func() {
		s.Web.CloseStreams()
		s.Server.Close()
		if err := s.Feeder.Close(ctx); err != nil {
			tb.Errorf("close feeder: %v", err)
		}
		hub.Close()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	s.Streamflix = s.MustPartner(tb, "Streamflix", "Lets members share what they watch with a friend.",
		glasshouse.ScopeFriends, glasshouse.ScopeMessagesSend)
	s.Shopzon = s.MustPartner(tb, "Shopzon", "Sends order confirmations to the member.",
		glasshouse.ScopeProfile, glasshouse.ScopeEmail)
	return s
}

// MustPartner registers and approves a partner.
func (s *site) MustPartner(tb testing.TB, name, purpose string, scopes ...string) *glasshouse.Partner {
	tb.Helper()
	ctx := context.Background()
	clientID := "client-" + strings.ToLower(regexp.MustCompile(`[^A-Za-z]`).ReplaceAllString(name, ""))
	p, err := s.Store.CreatePartner(ctx, glasshouse.NewPartner{
		Name: name, RedirectURIs: []string{"https://partner.example/callback"}, Scopes: scopes,
		Purpose: purpose, RetentionDays: 30, ExpiresAt: time.Now().Add(365 * 24 * time.Hour),
	}, clientID, []byte("secret hash"))
	if err != nil {
		tb.Fatalf("create partner %s: %v", name, err)
	}
	if _, err := s.Store.ApproveAgreement(ctx, clientID, time.Now()); err != nil {
		tb.Fatalf("approve %s: %v", name, err)
	}
	return p
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
	ctx := context.Background()
	m, err := s.Web.Signup(ctx, glasshouse.Signup{Handle: handle, Email: handle + "@example.org", Password: testPassword,
		DisplayName: strings.ToUpper(handle)}, "192.0.2.1")
	if err != nil {
		tb.Fatalf("sign up %s: %v", handle, err)
	}
	token, _, err := s.SignIn.Login(ctx, handle, testPassword, "192.0.2.1")
	if err != nil {
		tb.Fatalf("log in %s: %v", handle, err)
	}
	c := s.Visitor(tb)
	c.SetCookie(&http.Cookie{Name: signin.CookieName, Value: token, Path: "/"})
	c.CSRF = c.Get("/privacy").MustStatus(http.StatusOK).CSRF()
	return &member{Client: c, Member: m, Token: token}
}

// Visitor returns a signed-out client that has loaded nothing: it holds
// no cookie and no CSRF token.
func (s *site) Visitor(tb testing.TB) *pagetest.Client {
	tb.Helper()
	return pagetest.New(tb, s.URL, "")
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
	rec := &glasshouse.AccessRecord{PartnerID: p.ID, ClientID: p.ClientID, MemberID: m.ID, AgreementVersion: 1,
		Endpoint: endpoint, Scopes: scopes, Granted: granted, Items: 1, At: at}
	if !granted {
		rec.Reason, rec.Items = "scope_not_granted", 0
	}
	if _, err := s.Recorder.Record(context.Background(), rec); err != nil {
		tb.Fatalf("record: %v", err)
	}
	return rec
}

// MustFeed moves every pending entry into the log and waits until a signed
// checkpoint covers them all.
func (s *site) MustFeed(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.Feeder.Feed(ctx); err != nil {
		tb.Fatalf("feed: %v", err)
	}
	size, err := s.Store.LogSize(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := s.Feeder.Checkpoint(ctx)
		if err == nil && cp.Size >= size {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no checkpoint of size %d after 10s (last error %v)", size, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
