package sitetest

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/internal/pagetest"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/web"
)

// Options adjust a site before it is built. The zero value is a site
// without a log, on the real time.
type Options struct {
	// Now is the time of the sign-in service and the pages' kit; nil is
	// time.Now.
	Now func() time.Time
	// SignIn and Web adjust the sign-in service's and the API's configs.
	SignIn func(*signin.Config)
	Web    func(*web.Config)
	// Log gives the site a real transparency log (Site.Log), which the API
	// serves as its access log.
	Log bool
	// Wrap wraps the whole handler, to serve something else than the
	// server would (a tampered proof).
	Wrap func(http.Handler) http.Handler
}

// Site is the member web on one store. Its Server is nil until Start.
type Site struct {
	*httptest.Server
	Store  *sqlstore.Store
	Hub    *realtime.Hub
	SignIn *signin.Service
	Web    *web.Server
	Kit    *ui.Kit
	Log    *Log // nil unless Options.Log

	wrap func(http.Handler) http.Handler
}

// Log is a site's transparency log.
type Log struct {
	Key      *accesslog.Key
	Feeder   *accesslog.Feeder
	Recorder *accesslog.Recorder

	store *sqlstore.Store
}

// New builds a site with the options that adjust set; the test then
// mounts its pages with Start. Everything it opened is closed when the test
// ends.
func New(tb testing.TB, adjust ...func(*Options)) *Site {
	tb.Helper()
	ctx := context.Background()
	var o Options
	for _, f := range adjust {
		f(&o)
	}
	s := &Site{Hub: realtime.NewHub(0), wrap: o.Wrap}
	var err error
	s.Store, err = sqlite.Open(ctx, filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Publisher: s.Hub})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if s.Server != nil {
			s.Web.CloseStreams()
			s.Server.Close()
		}
		if s.Log != nil {
			if err := s.Log.Feeder.Close(ctx); err != nil {
				tb.Errorf("close feeder: %v", err)
			}
		}
		s.Hub.Close()
		if err := s.Store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	if o.Log {
		s.Log = newLog(tb, s.Store)
	}
	sc := signin.Config{Store: s.Store, Key: random(32), Now: o.Now}
	if o.SignIn != nil {
		o.SignIn(&sc)
	}
	s.SignIn = signin.New(sc)
	wc := web.Config{Store: s.Store, Hub: s.Hub, SignIn: s.SignIn}
	if s.Log != nil {
		wc.AccessLog = s.Log.Feeder.Log()
	}
	if o.Web != nil {
		o.Web(&wc)
	}
	s.Web = web.New(wc)
	s.Kit = ui.New(ui.Config{Store: s.Store, SignIn: s.SignIn, IsOperator: s.Store.IsOperator})
	return s
}

// Start serves the site with the kit's routes (the assets) and mount's.
func (s *Site) Start(mount ...func(*http.ServeMux)) {
	s.Web.Mount(s.Kit.Mount)
	for _, m := range mount {
		s.Web.Mount(m)
	}
	h := s.Web.Handler()
	if s.wrap != nil {
		h = s.wrap(h)
	}
	s.Server = httptest.NewServer(h)
}

// newLog starts a log in a temporary folder that checkpoints every 100 ms.
func newLog(tb testing.TB, store *sqlstore.Store) *Log {
	tb.Helper()
	_, key, err := accesslog.NewKey("glasshouse.test/log", nil)
	if err != nil {
		tb.Fatal(err)
	}
	l := &Log{Key: key, store: store}
	l.Feeder, err = accesslog.NewFeeder(context.Background(), accesslog.FeederConfig{
		Dir: tb.TempDir(), Key: key, Outbox: accesslog.StoreOutbox{Store: store}, CheckpointInterval: 100 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if l.Recorder, err = accesslog.NewRecorder(accesslog.RecorderConfig{Store: store, MasterKey: random(accesslog.MinMasterKeySize), Signer: key.Signer}); err != nil {
		tb.Fatal(err)
	}
	return l
}

// Handler is the log's machine routes (checkpoint, tiles, entries).
func (l *Log) Handler() *accesslog.Handler {
	return accesslog.NewHandler(l.Feeder.Log(), l.Key.VerifierKey, accesslog.StoreOutbox{Store: l.store})
}

// MustRecord records one Graph API access by p for member through the real
// Recorder, as the Graph API does, at time at: granted with one item, or
// denied for a scope not granted.
func (l *Log) MustRecord(tb testing.TB, member int64, p *glasshouse.Partner, at time.Time, endpoint string, granted bool, scopes ...string) *glasshouse.AccessRecord {
	tb.Helper()
	rec := &glasshouse.AccessRecord{PartnerID: p.ID, ClientID: p.ClientID, MemberID: member, AgreementVersion: 1,
		Endpoint: endpoint, Scopes: scopes, Granted: granted, Items: 1, At: at}
	if !granted {
		rec.Reason, rec.Items = "scope_not_granted", 0
	}
	if _, err := l.Recorder.Record(context.Background(), rec); err != nil {
		tb.Fatalf("record: %v", err)
	}
	return rec
}

// MustFeed moves every pending entry into the log and waits until a signed
// checkpoint covers them all, which it returns.
func (l *Log) MustFeed(tb testing.TB) *accesslog.Checkpoint {
	tb.Helper()
	ctx := context.Background()
	if _, err := l.Feeder.Feed(ctx); err != nil {
		tb.Fatalf("feed: %v", err)
	}
	size, err := l.store.LogSize(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	const patience = time.Minute // generous: the machine may be busy
	for deadline := time.Now().Add(patience); ; {
		cp, err := l.Feeder.Checkpoint(ctx)
		if err == nil && cp.Size >= size {
			return cp
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no checkpoint of size %d after %v (last error %v)", size, patience, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// MustPartner registers a partner with the credentials given and scopes,
// and, with approve, approves its agreement.
func (s *Site) MustPartner(tb testing.TB, p glasshouse.NewPartner, clientID string, secretHash []byte, approve bool) *glasshouse.Partner {
	tb.Helper()
	ctx := context.Background()
	if p.RedirectURIs == nil {
		p.RedirectURIs = []string{"https://partner.example/callback"}
	}
	if p.RetentionDays == 0 {
		p.RetentionDays = 30
	}
	if p.ExpiresAt.IsZero() {
		p.ExpiresAt = time.Now().AddDate(1, 0, 0)
	}
	created, err := s.Store.CreatePartner(ctx, p, clientID, secretHash)
	if err != nil {
		tb.Fatalf("create partner %s: %v", p.Name, err)
	}
	if approve {
		if _, err := s.Store.ApproveAgreement(ctx, clientID, time.Now()); err != nil {
			tb.Fatalf("approve %s: %v", p.Name, err)
		}
		created.Status = glasshouse.PartnerApproved
	}
	return created
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Password is the password of the members MustMember signs up.
const Password = "correct horse battery staple"

// MustMember signs a member up through the API, with Password, and in; it
// returns the member and the session's token.
func (s *Site) MustMember(tb testing.TB, handle, displayName string) (*glasshouse.Member, string) {
	tb.Helper()
	ctx := context.Background()
	m, err := s.Web.Signup(ctx, glasshouse.Signup{Handle: handle, Email: handle + "@example.org", Password: Password,
		DisplayName: displayName}, "192.0.2.1")
	if err != nil {
		tb.Fatalf("sign up %s: %v", handle, err)
	}
	token, _, err := s.SignIn.Login(ctx, handle, Password, "192.0.2.1")
	if err != nil {
		tb.Fatalf("sign in %s: %v", handle, err)
	}
	return m, token
}

// Client returns a browser without JavaScript that holds the session token
// ("" for none) and has loaded path ("" for nothing), and so holds the
// CSRF token of its forms.
func (s *Site) Client(tb testing.TB, token, path string) *pagetest.Client {
	tb.Helper()
	c := pagetest.New(tb, s.URL, "")
	if token != "" {
		c.SetCookie(&http.Cookie{Name: signin.CookieName, Value: token, Path: "/"})
	}
	if path != "" {
		c.Get(path).MustStatus(http.StatusOK)
	}
	return c
}
