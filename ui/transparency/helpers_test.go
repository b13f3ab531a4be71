package transparency_test

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
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/ui/transparency"
	"github.com/glasshouse/glasshouse/web"
)

// site is the log's machine routes and its page on one real server: a
// SQLite store, a real Tessera log fed by a real Feeder, access records made
// by a real Recorder.
type site struct {
	*httptest.Server
	Store    *sqlstore.Store
	Feeder   *accesslog.Feeder
	Recorder *accesslog.Recorder
	Key      *accesslog.Key
	Member   *glasshouse.Member
}

func MustSite(tb testing.TB) *site {
	tb.Helper()
	ctx := context.Background()
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
	uiKey := make([]byte, 32)
	rand.Read(uiKey)
	signIn := signin.New(signin.Config{Store: store, Key: uiKey})
	kit := ui.New(ui.Config{Store: store, SignIn: signIn})
	srv := web.New(web.Config{Store: store, Hub: hub, SignIn: signIn})
	page := transparency.New(transparency.Config{Kit: kit, Log: s.Feeder.Log(), VerifierKey: key.VerifierKey, Partners: store})
	srv.Mount(func(mux *http.ServeMux) {
		kit.Mount(mux)
		page.Mount(mux)
		accesslog.NewHandler(s.Feeder.Log(), key.VerifierKey, accesslog.StoreOutbox{Store: store}).Register(mux)
	})
	s.Server = httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		srv.CloseStreams()
		s.Server.Close()
		if err := s.Feeder.Close(ctx); err != nil {
			tb.Errorf("close feeder: %v", err)
		}
		hub.Close()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	if s.Member, err = srv.Signup(ctx, glasshouse.Signup{Handle: "alice", Email: "alice@example.org",
		Password: "correct horse battery staple"}, "192.0.2.1"); err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustPartner registers and approves a partner.
func (s *site) MustPartner(tb testing.TB, name, clientID string, scopes ...string) *glasshouse.Partner {
	tb.Helper()
	ctx := context.Background()
	p, err := s.Store.CreatePartner(ctx, glasshouse.NewPartner{
		Name: name, RedirectURIs: []string{"https://partner.example/callback"}, Scopes: scopes,
		Purpose: "Testing the log page.", RetentionDays: 30, ExpiresAt: time.Now().Add(365 * 24 * time.Hour),
	}, clientID, []byte("secret hash"))
	if err != nil {
		tb.Fatalf("create partner %s: %v", name, err)
	}
	if _, err := s.Store.ApproveAgreement(ctx, clientID, time.Now()); err != nil {
		tb.Fatalf("approve %s: %v", name, err)
	}
	return p
}

// MustRecord records one Graph API access by p for the member, as the
// Graph API does.
func (s *site) MustRecord(tb testing.TB, p *glasshouse.Partner, at time.Time, endpoint string, granted bool, scopes ...string) {
	tb.Helper()
	rec := &glasshouse.AccessRecord{PartnerID: p.ID, ClientID: p.ClientID, MemberID: s.Member.ID, AgreementVersion: 1,
		Endpoint: endpoint, Scopes: scopes, Granted: granted, Items: 1, At: at}
	if !granted {
		rec.Reason, rec.Items = "scope_not_granted", 0
	}
	if _, err := s.Recorder.Record(context.Background(), rec); err != nil {
		tb.Fatalf("record: %v", err)
	}
}

// MustFeed moves every pending entry into the log and waits until a signed
// checkpoint covers them all.
func (s *site) MustFeed(tb testing.TB) *accesslog.Checkpoint {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.Feeder.Feed(ctx); err != nil {
		tb.Fatalf("feed: %v", err)
	}
	size, err := s.Store.LogSize(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for {
		cp, err := s.Feeder.Checkpoint(ctx)
		if err == nil && cp.Size >= size {
			return cp
		}
		time.Sleep(10 * time.Millisecond) // the test's deadline bounds the wait
	}
}
