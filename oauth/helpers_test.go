package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/storetest"
	"golang.org/x/oauth2"
)

// env is an authorization server on a real SQLite store, served over HTTP.
type env struct {
	store  *sqlstore.Store
	signIn *signin.Service
	srv    *oauth.Server
	http   *httptest.Server
	clock  *testclock.Clock // running: the op stamps ID tokens with time.Now, and go-oidc checks them against it
	mailer *oauth.RecordingMailer
}

// MustEnv starts a server with the given ceiling (nil: every data scope).
func MustEnv(tb testing.TB, ceiling []string, opts ...func(*oauth.Config)) *env {
	tb.Helper()
	if ceiling == nil {
		ceiling = glasshouse.DataScopes
	}
	e := &env{clock: testclock.Running(), mailer: &oauth.RecordingMailer{}}
	var err error
	e.store, err = sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Now: e.clock.Now})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { e.store.Close() })
	mux := http.NewServeMux()
	e.http = httptest.NewServer(mux)
	tb.Cleanup(e.http.Close)
	cfg := oauth.Config{Issuer: e.http.URL, Store: e.store, Now: e.clock.Now, Ceiling: ceiling, Mailer: e.mailer}
	withSignIn(func(*signin.Config) {})(&cfg)
	for _, o := range opts {
		o(&cfg)
	}
	e.signIn = cfg.SignIn
	e.srv, err = oauth.New(cfg)
	if err != nil {
		tb.Fatalf("oauth.New: %v", err)
	}
	e.srv.Register(mux)
	return e
}

// withSignIn gives the server a sign-in service on its store and clock, as
// adjust changes its config.
func withSignIn(adjust func(*signin.Config)) func(*oauth.Config) {
	return func(c *oauth.Config) {
		sc := signin.Config{Store: c.Store.(signin.Store), Key: make([]byte, 32), Now: c.Now}
		adjust(&sc)
		c.SignIn = signin.New(sc)
	}
}

// partner is a registered, approved partner and its OAuth client.
type partner struct {
	*glasshouse.Partner
	secret string
	cfg    *oauth2.Config
}

const redirectURI = "http://127.0.0.1:9/callback"

// MustPartner registers and approves a partner with scopes. A non-zero
// assessed records a security assessment (needed for messages.read).
func MustPartner(tb testing.TB, e *env, name string, scopes []string, assessed time.Time) *partner {
	tb.Helper()
	ctx := context.Background()
	id, secret := oauth.NewClientCredentials()
	now := e.clock.Now()
	p, err := e.store.CreatePartner(ctx, glasshouse.NewPartner{
		Name:               name,
		RedirectURIs:       []string{redirectURI},
		Scopes:             scopes,
		Purpose:            "Testing " + name + " with care.",
		RetentionDays:      30,
		ExpiresAt:          now.Add(365 * 24 * time.Hour),
		SecurityAssessedAt: assessed,
	}, id, oauth.HashSecret(secret))
	if err != nil {
		tb.Fatalf("CreatePartner(%s): %v", name, err)
	}
	if _, err := e.store.ApproveAgreement(ctx, id, now); err != nil {
		tb.Fatalf("ApproveAgreement(%s): %v", name, err)
	}
	p, err = e.store.PartnerByClientID(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	return &partner{Partner: p, secret: secret, cfg: &oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		RedirectURL:  redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.http.URL + "/authorize",
			TokenURL:  e.http.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}}
}

// MustMember creates a member with a phone and a picture, who signs in
// with oauthtest.Password.
func MustMember(tb testing.TB, e *env, handle string) *glasshouse.Member {
	tb.Helper()
	m := storetest.NewMember(handle)
	m.Phone, m.PictureURL = "+44 20 7946 0000", "https://example.org/"+handle+".png"
	return storetest.MustCreateMember(tb, e.store, m, oauthtest.PasswordHash())
}

// newBrowser is a member's browser that stops at the partners' redirect
// URI.
func newBrowser(tb testing.TB) *oauthtest.Browser {
	return oauthtest.NewBrowser(tb, "", redirectURI)
}

// newAuth starts an authorization request of p.
func newAuth(p *partner) *oauthtest.Flow { return oauthtest.NewFlow(p.cfg) }

// consent is what a member does on the consent page.
type consent = oauthtest.Consent

// as is c answered by m, who signs in with oauthtest.Password.
func as(m *glasshouse.Member, c consent) consent {
	c.Handle, c.Password = m.Handle, oauthtest.Password
	return c
}

// MustTokens runs the whole flow for m at p with scopes and consent c.
func MustTokens(tb testing.TB, e *env, p *partner, m *glasshouse.Member, c consent, scopes ...string) *oauth2.Token {
	tb.Helper()
	return newAuth(p).MustTokens(newBrowser(tb), as(m, c), scopes...)
}

// refresh uses a refresh token once.
func (p *partner) refresh(rt string) (*oauth2.Token, error) {
	return p.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
}

// introspection is the part of an RFC 7662 answer the tests check.
type introspection struct {
	Active   bool   `json:"active"`
	Scope    string `json:"scope"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Exp      int64  `json:"exp"`
}

// introspect asks about token as p; it returns the status and the answer.
func (e *env) introspect(tb testing.TB, p *partner, token string) (int, introspection) {
	tb.Helper()
	resp := e.postAs(tb, p, "/oauth/introspect", url.Values{"token": {token}})
	defer resp.Body.Close()
	var out introspection
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			tb.Fatalf("introspection answer: %v", err)
		}
	}
	return resp.StatusCode, out
}

// active reports whether introspection by p says token is active.
func (e *env) active(tb testing.TB, p *partner, token string) bool {
	tb.Helper()
	status, out := e.introspect(tb, p, token)
	if status != http.StatusOK {
		tb.Fatalf("introspect: status %d", status)
	}
	return out.Active
}

// postAs posts form to path with p's credentials (none if p is nil).
func (e *env) postAs(tb testing.TB, p *partner, path string, form url.Values) *http.Response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p != nil {
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

// revoke revokes token as p (RFC 7009) and returns the status.
func (e *env) revoke(tb testing.TB, p *partner, token string) int {
	tb.Helper()
	resp := e.postAs(tb, p, "/revoke", url.Values{"token": {token}})
	resp.Body.Close()
	return resp.StatusCode
}

// errorCode returns the OAuth error code of a failed token request.
func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// values builds url.Values from key, value pairs.
func values(kv ...string) url.Values {
	v := make(url.Values)
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
