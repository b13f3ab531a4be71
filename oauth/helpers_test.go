package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/testclock"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/password"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
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

const testPassword = "correct horse battery"

// MustMember creates a member who signs in with testPassword.
func MustMember(tb testing.TB, e *env, handle string) *glasshouse.Member {
	tb.Helper()
	m := &glasshouse.Member{
		Handle:      handle,
		DisplayName: "Name of " + handle,
		Email:       handle + "@example.org",
		Phone:       "+44 20 7946 0000",
		PictureURL:  "https://example.org/" + handle + ".png",
		Visibility:  glasshouse.DefaultVisibility,
	}
	if err := e.store.CreateMember(context.Background(), m, password.Hash(testPassword)); err != nil {
		tb.Fatalf("CreateMember(%s): %v", handle, err)
	}
	return m
}

// browser is a member's browser: it keeps cookies and stops at the
// partner's redirect URI.
type browser struct {
	tb     testing.TB
	client *http.Client
}

func newBrowser(tb testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}
}

// response is a fetched page.
type response struct {
	status   int
	location *url.URL // where a redirect to the partner went
	body     string
	url      string // the URL of the final page
	header   http.Header
}

func (b *browser) do(req *http.Request) *response {
	b.tb.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, body: string(body), url: resp.Request.URL.String(), header: resp.Header}
	if loc := resp.Header.Get("Location"); loc != "" {
		r.location, _ = url.Parse(loc)
	}
	return r
}

func (b *browser) get(u string) *response {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) *response {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// submit posts the page's form with values and its CSRF token.
func (b *browser) submit(page *response, values url.Values) *response {
	b.tb.Helper()
	action, csrf := actionRE.FindStringSubmatch(page.body), csrfRE.FindStringSubmatch(page.body)
	if action == nil || csrf == nil {
		b.tb.Fatalf("no form on the page at %s (status %d):\n%s", page.url, page.status, page.body)
	}
	u, err := url.Parse(page.url)
	if err != nil {
		b.tb.Fatal(err)
	}
	target, err := u.Parse(html.UnescapeString(action[1]))
	if err != nil {
		b.tb.Fatal(err)
	}
	values.Set("csrf", html.UnescapeString(csrf[1]))
	return b.post(target.String(), values)
}

// isLogin and isConsent tell the pages apart.
func (r *response) isLogin() bool {
	return r.status == http.StatusOK && strings.Contains(r.body, `name="password"`)
}
func (r *response) isConsent() bool {
	return r.status == http.StatusOK && strings.Contains(r.body, `value="allow"`)
}

// auth is one authorization request of a partner.
type auth struct {
	state, nonce, verifier string
	params                 []oauth2.AuthCodeOption
}

func newAuth() *auth {
	a := &auth{state: randomText(), nonce: randomText(), verifier: oauth2.GenerateVerifier()}
	a.params = []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.verifier), oauth2.SetAuthURLParam("nonce", a.nonce)}
	return a
}

func randomText() string { return oauth2.GenerateVerifier()[:22] }

func (a *auth) url(p *partner, scopes ...string) string {
	cfg := *p.cfg
	cfg.Scopes = scopes
	return cfg.AuthCodeURL(a.state, a.params...)
}

// consent says what the member does on the consent page.
type consent struct {
	tick  []string   // the data scopes to leave ticked; nil: all offered
	extra url.Values // other fields (email, conversation)
	deny  bool
}

// authorize runs the browser side of the flow for m: authorize, sign in
// if asked, consent, and returns the redirect to the partner.
func (b *browser) authorize(authURL string, m *glasshouse.Member, c consent) *url.URL {
	b.tb.Helper()
	page := b.get(authURL)
	if page.isLogin() {
		page = b.submit(page, url.Values{"handle": {m.Handle}, "password": {testPassword}})
	}
	if !page.isConsent() {
		b.tb.Fatalf("want the consent page, got %d at %s:\n%s", page.status, page.url, page.body)
	}
	form := url.Values{"action": {"allow"}}
	if c.deny {
		form.Set("action", "deny")
	}
	for k, v := range c.extra {
		form[k] = v
	}
	tick := c.tick
	if tick == nil {
		for _, m := range regexp.MustCompile(`name="scope" value="([^"]+)"`).FindAllStringSubmatch(page.body, -1) {
			tick = append(tick, m[1])
		}
	}
	form["scope"] = tick
	resp := b.submit(page, form)
	if resp.location == nil || !strings.HasPrefix(resp.location.String(), redirectURI) {
		b.tb.Fatalf("consent: want a redirect to the partner, got %d:\n%s", resp.status, resp.body)
	}
	return resp.location
}

// code runs the browser side and returns the code, checking the state.
func (b *browser) code(a *auth, authURL string, m *glasshouse.Member, c consent) string {
	b.tb.Helper()
	loc := b.authorize(authURL, m, c)
	q := loc.Query()
	if q.Get("error") != "" {
		b.tb.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state {
		b.tb.Fatalf("state %q, want %q", q.Get("state"), a.state)
	}
	return q.Get("code")
}

// exchange trades a code for tokens with the verifier.
func (p *partner) exchange(tb testing.TB, a *auth, code string) (*oauth2.Token, error) {
	tb.Helper()
	return p.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(a.verifier))
}

// MustTokens runs the whole flow for m at p with scopes and consent c.
func MustTokens(tb testing.TB, e *env, p *partner, m *glasshouse.Member, c consent, scopes ...string) *oauth2.Token {
	tb.Helper()
	a := newAuth()
	code := newBrowser(tb).code(a, a.url(p, scopes...), m, c)
	tok, err := p.exchange(tb, a, code)
	if err != nil {
		tb.Fatalf("exchange: %v", err)
	}
	return tok
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
