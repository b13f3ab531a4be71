package demoapp_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/demoapp"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
	"github.com/glasshouse/glasshouse/ui"
)

// world is the platform as the demo apps meet it, on one origin as in
// `glasshouse demo`: the real authorization server (its pages styled with
// the ui package's stylesheet), the Graph API with the real access
// recorder, on a real SQLite store, and the three demo apps registered as
// approved partners. alice and bob are friends.
type world struct {
	store      *sqlstore.Store
	url        string
	alice, bob *glasshouse.Member
}

func MustWorld(tb testing.TB) *world {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	_, key, err := accesslog.NewKey(accesslog.Origin("glasshouse.test"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	recorder, err := accesslog.NewRecorder(accesslog.RecorderConfig{Store: store, MasterKey: random(32), Signer: key.Signer})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	w := &world{store: store, url: srv.URL}

	signIn := signin.New(signin.Config{Store: store, Key: random(32)})
	ui.New(ui.Config{Store: store, SignIn: signIn}).Mount(mux)
	auth, err := oauth.New(oauth.Config{Issuer: srv.URL, Store: store, SignIn: signIn, Ceiling: glasshouse.DataScopes,
		Stylesheet: "/assets/style.css", AccessCount: w.accessCount})
	if err != nil {
		tb.Fatalf("oauth.New: %v", err)
	}
	auth.Register(mux)
	api, err := graph.New(graph.Config{Store: store, Verifier: auth, Recorder: recorder, Ceiling: glasshouse.DataScopes})
	if err != nil {
		tb.Fatalf("graph.New: %v", err)
	}
	api.Register(mux)

	creds := map[string]demoapp.Credentials{}
	for _, a := range demoapp.Apps {
		id, secret := oauth.NewClientCredentials()
		_, err := store.CreatePartner(ctx, glasshouse.NewPartner{Name: a.Name, RedirectURIs: []string{demoapp.RedirectURI(srv.URL, a.Slug)},
			Scopes: a.Scopes, Purpose: a.Purpose, RetentionDays: 30, ExpiresAt: time.Now().AddDate(1, 0, 0)}, id, oauth.HashSecret(secret))
		if err != nil {
			tb.Fatalf("CreatePartner(%s): %v", a.Name, err)
		}
		if _, err := store.ApproveAgreement(ctx, id, time.Now()); err != nil {
			tb.Fatal(err)
		}
		creds[a.Slug] = demoapp.Credentials{ClientID: id, ClientSecret: secret}
	}
	demoapp.New(demoapp.Config{Platform: srv.URL, Credentials: creds}).Register(mux)

	w.alice, w.bob = MustMember(tb, store, "alice", "Alice Martin"), MustMember(tb, store, "bob", "Bob Okafor")
	storetest.MustFriends(tb, store, w.alice, w.bob)
	return w
}

// accessCount counts a partner's accesses to the world's members, as the
// consent page's AccessCount.
func (w *world) accessCount(ctx context.Context, partnerID int64) (int64, error) {
	var n int64
	for _, m := range []*glasshouse.Member{w.alice, w.bob} {
		if m == nil {
			continue
		}
		recs, err := w.store.MemberAccess(ctx, m.ID, 0, glasshouse.MaxPageSize)
		if err != nil {
			return 0, err
		}
		for _, r := range recs {
			if r.PartnerID == partnerID {
				n++
			}
		}
	}
	return n, nil
}

// MustMember creates a member named name who signs in with
// oauthtest.Password.
func MustMember(tb testing.TB, s *sqlstore.Store, handle, name string) *glasshouse.Member {
	tb.Helper()
	m := storetest.NewMember(handle)
	m.DisplayName = name
	return storetest.MustCreateMember(tb, s, m, oauthtest.PasswordHash())
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// newBrowser is a person's browser without JavaScript on w: cookies,
// redirects, forms.
func newBrowser(tb testing.TB, w *world) *oauthtest.Browser {
	return oauthtest.NewBrowser(tb, w.url, "")
}

// connect connects m to a demo app, ticking the scopes given (all if nil)
// and the relay address.
func connect(b *oauthtest.Browser, app string, m *glasshouse.Member, ticked []string) *oauthtest.Page {
	b.TB().Helper()
	return b.ConnectDemo(app, oauthtest.Consent{Handle: m.Handle, Password: oauthtest.Password, Scopes: ticked,
		Fields: url.Values{"email": {"relay"}}})
}
