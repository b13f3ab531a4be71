package demoapp_test

import (
	"context"
	"crypto/rand"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
	"github.com/glasshouse/glasshouse/demoapp"
	"github.com/glasshouse/glasshouse/graph"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/password"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
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

const testPassword = "correct horse battery"

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
	req, err := store.RequestFriend(ctx, w.alice.ID, "bob")
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.AcceptFriendRequest(ctx, w.bob.ID, req.ID); err != nil {
		tb.Fatal(err)
	}
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

// MustMember creates a member who signs in with testPassword.
func MustMember(tb testing.TB, s *sqlstore.Store, handle, name string) *glasshouse.Member {
	tb.Helper()
	m := &glasshouse.Member{Handle: handle, DisplayName: name, Email: handle + "@example.org", Visibility: glasshouse.DefaultVisibility}
	if err := s.CreateMember(context.Background(), m, password.Hash(testPassword)); err != nil {
		tb.Fatalf("CreateMember(%s): %v", handle, err)
	}
	return m
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// browser is a person's browser without JavaScript: cookies, redirects,
// forms.
type browser struct {
	tb   testing.TB
	base string
	c    *http.Client
}

func newBrowser(tb testing.TB, w *world) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, base: w.url, c: &http.Client{Jar: jar}}
}

// page is a fetched page after redirects.
type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) *page {
	b.tb.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.base + path
	}
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = b.c.Get(u)
	} else {
		resp, err = b.c.PostForm(u, form)
	}
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
}

var (
	formRE  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	csrfRE  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	scopeRE = regexp.MustCompile(`name="scope" value="([^"]+)"`)
)

// submit posts the platform page's form with fields and its CSRF token.
func (b *browser) submit(p *page, fields url.Values) *page {
	b.tb.Helper()
	action, csrf := formRE.FindStringSubmatch(p.body), csrfRE.FindStringSubmatch(p.body)
	if action == nil || csrf == nil {
		b.tb.Fatalf("no form with a CSRF token at %s:\n%s", p.url, p.body)
	}
	target, err := p.url.Parse(html.UnescapeString(action[1]))
	if err != nil {
		b.tb.Fatal(err)
	}
	fields.Set("csrf", html.UnescapeString(csrf[1]))
	return b.do(http.MethodPost, target.String(), fields)
}

// connect connects m to a demo app: its button, the platform's login and
// consent pages (ticking the scopes given, all if nil), back to the app.
func (b *browser) connect(app string, m *glasshouse.Member, ticked []string) *page {
	b.tb.Helper()
	b.do(http.MethodGet, "/demo/"+app+"/", nil)
	p := b.do(http.MethodPost, "/demo/"+app+"/connect", url.Values{})
	if strings.Contains(p.body, `name="password"`) {
		p = b.submit(p, url.Values{"handle": {m.Handle}, "password": {testPassword}})
	}
	form := url.Values{"action": {"allow"}, "email": {"relay"}}
	for _, s := range scopeRE.FindAllStringSubmatch(p.body, -1) {
		if ticked == nil || slices.Contains(ticked, s[1]) {
			form.Add("scope", s[1])
		}
	}
	p = b.submit(p, form)
	if p.url.Path != "/demo/"+app+"/" || !strings.Contains(p.body, "Connected to glasshouse") {
		b.tb.Fatalf("after consent: %d at %s\n%s", p.status, p.url, p.body)
	}
	return p
}
