package oauthtest

import (
	"context"
	"errors"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse/password"
	"golang.org/x/oauth2"
)

// Password is the password of the tests' members; PasswordHash is its
// hash, computed once (argon2id is slow on purpose), for the store.
const Password = "correct horse battery"

// PasswordHash returns Password's hash.
var PasswordHash = sync.OnceValue(func() string { return password.Hash(Password) })

// Browser is a member's browser without JavaScript: it keeps cookies and
// follows redirects, but not one to a URL that starts with StopAt.
type Browser struct {
	Base   string         // the platform: a URL that starts with "/" is fetched from it
	StopAt string         // where redirects stop being followed ("": nowhere)
	Jar    http.CookieJar // the browser's cookies

	tb     testing.TB
	client *http.Client
}

// NewBrowser returns a browser of the platform at base that stops at a
// redirect to a URL starting with stopAt (a partner's redirect URI; ""
// follows every redirect).
func NewBrowser(tb testing.TB, base, stopAt string) *Browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatalf("cookie jar: %v", err)
	}
	b := &Browser{Base: base, StopAt: stopAt, Jar: jar, tb: tb}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if b.StopAt != "" && strings.HasPrefix(req.URL.String(), b.StopAt) {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	return b
}

// TB returns the test the browser reports to.
func (b *Browser) TB() testing.TB { return b.tb }

// Page is a fetched page, after the redirects the browser followed.
type Page struct {
	Status   int
	URL      *url.URL // the page's own URL, after redirects
	Header   http.Header
	Body     string
	Location *url.URL // where a redirect the browser stopped at points (resolved), else nil

	tb testing.TB
}

// abs returns u, or the platform's u if it starts with "/".
func (b *Browser) abs(u string) string {
	if strings.HasPrefix(u, "/") {
		return b.Base + u
	}
	return u
}

// Get fetches u.
func (b *Browser) Get(u string) *Page {
	b.tb.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(u), nil)
	if err != nil {
		b.tb.Fatalf("GET %s: %v", u, err)
	}
	return b.Do(req)
}

// Post posts form to u as it is (no CSRF token added).
func (b *Browser) Post(u string, form url.Values) *Page {
	b.tb.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(u), strings.NewReader(form.Encode()))
	if err != nil {
		b.tb.Fatalf("POST %s: %v", u, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

// Do sends req with the browser's cookies and redirect policy.
func (b *Browser) Do(req *http.Request) *Page {
	b.tb.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.tb.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	p := &Page{tb: b.tb, Status: resp.StatusCode, URL: resp.Request.URL, Header: resp.Header, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		if p.Location, err = resp.Request.URL.Parse(loc); err != nil {
			b.tb.Fatalf("%s %s: Location %q: %v", req.Method, req.URL, loc, err)
		}
	}
	return p
}

var (
	actionRE  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	csrfRE    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	scopeRE   = regexp.MustCompile(`name="scope" value="([^"]+)"`)
	preTicked = regexp.MustCompile(`<input [^>]*name="(?:scope|conversation)"[^>]*\schecked`)
)

// Submit posts p's first form with fields and the page's CSRF token, to the
// form's action resolved against the page's URL. fields is not changed.
func (b *Browser) Submit(p *Page, fields url.Values) *Page {
	b.tb.Helper()
	action, csrf := actionRE.FindStringSubmatch(p.Body), csrfRE.FindStringSubmatch(p.Body)
	if action == nil || csrf == nil {
		b.tb.Fatalf("no form with a CSRF token on the page at %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	target, err := p.URL.Parse(html.UnescapeString(action[1]))
	if err != nil {
		b.tb.Fatalf("form action %q at %s: %v", action[1], p.URL, err)
	}
	form := maps.Clone(fields)
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", html.UnescapeString(csrf[1]))
	return b.Post(target.String(), form)
}

// IsLogin reports whether p is the authorization server's login page.
func (p *Page) IsLogin() bool {
	return p.Status == http.StatusOK && strings.Contains(p.Body, `name="password"`)
}

// IsConsent reports whether p is the consent page.
func (p *Page) IsConsent() bool {
	return p.Status == http.StatusOK && strings.Contains(p.Body, `value="allow"`)
}

// Offered returns the scopes a consent page offers, in its order.
func (p *Page) Offered() []string {
	var out []string
	for _, m := range scopeRE.FindAllStringSubmatch(p.Body, -1) {
		out = append(out, m[1])
	}
	return out
}

// FormAction returns the action of p's first form, as written, failing the
// test if p has no form.
func (p *Page) FormAction() string {
	p.tb.Helper()
	m := actionRE.FindStringSubmatch(p.Body)
	if m == nil {
		p.tb.Fatalf("no form on the page at %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	return html.UnescapeString(m[1])
}

// MustStatus fails the test unless the page's status is want.
func (p *Page) MustStatus(want int) *Page {
	p.tb.Helper()
	if p.Status != want {
		p.tb.Fatalf("status %d at %s, want %d:\n%s", p.Status, p.URL, want, p.Body)
	}
	return p
}

// Consent is what a member does on the login and consent pages.
type Consent struct {
	Handle, Password string     // how the member signs in, if the login page shows
	Scopes           []string   // the scopes to tick, as they are; nil: every one offered
	Fields           url.Values // other fields: email ("relay" or "real"), conversation
	Deny             bool       // deny instead of allow
}

// ConsentPage returns the consent page that p, the page an authorization
// request showed, leads to: p itself, or, if p is the login page, the page
// after signing in as c says. It fails the test if that is not the consent
// page, or if a box on it comes ticked: consent is given, never presumed.
func (b *Browser) ConsentPage(p *Page, c Consent) *Page {
	b.tb.Helper()
	if p.IsLogin() {
		if c.Handle == "" {
			b.tb.Fatalf("the login page shows at %s, and the consent names no member", p.URL)
		}
		p = b.Submit(p, url.Values{"handle": {c.Handle}, "password": {c.Password}})
	}
	if !p.IsConsent() {
		b.tb.Fatalf("want the consent page, got %d at %s:\n%s", p.Status, p.URL, p.Body)
	}
	if m := preTicked.FindString(p.Body); m != "" {
		b.tb.Fatalf("the consent page at %s ticks a box for the member: %s", p.URL, m)
	}
	return p
}

// Answer answers p, the page an authorization request showed: on the
// consent page (ConsentPage) it ticks c's scopes, adds its fields, and
// allows or denies. It returns the page the consent form led to.
func (b *Browser) Answer(p *Page, c Consent) *Page {
	b.tb.Helper()
	p = b.ConsentPage(p, c)
	form := url.Values{"action": {"allow"}}
	if c.Deny {
		form.Set("action", "deny")
	}
	maps.Copy(form, c.Fields)
	scopes := c.Scopes
	if scopes == nil {
		scopes = p.Offered()
	}
	form["scope"] = scopes
	return b.Submit(p, form)
}

// ConnectDemo connects the member of c to a demo app (package demoapp,
// under /demo/ on the platform) as a person would: the app's home page,
// its Connect button, the platform's login and consent pages answered with
// c, and back to the app's home page, which must say it is connected. It
// returns that page.
func (b *Browser) ConnectDemo(app string, c Consent) *Page {
	b.tb.Helper()
	home := "/demo/" + app + "/"
	b.Get(home).MustStatus(http.StatusOK)
	p := b.Answer(b.Post(home+"connect", url.Values{}), c).MustStatus(http.StatusOK)
	if p.URL.Path != home || !strings.Contains(p.Body, "Connected to glasshouse") {
		b.tb.Fatalf("after consent: %d at %s\n%s", p.Status, p.URL, p.Body)
	}
	return p
}

// Flow is a partner's side of one authorization request: PKCE with S256,
// a state and a nonce, all random.
type Flow struct {
	Config                 *oauth2.Config
	State, Nonce, Verifier string
	// Params are the auth URL's parameters beyond the config's: at first
	// the S256 challenge of Verifier and the nonce. A test that sends
	// something else sets them.
	Params []oauth2.AuthCodeOption
}

// NewFlow starts an authorization request of the partner whose client cfg
// is.
func NewFlow(cfg *oauth2.Config) *Flow {
	f := &Flow{Config: cfg, State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	f.Params = []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier), oauth2.SetAuthURLParam("nonce", f.Nonce)}
	return f
}

func random() string { return oauth2.GenerateVerifier()[:22] }

// URL returns the auth URL for scopes (none given: the config's).
func (f *Flow) URL(scopes ...string) string {
	cfg := *f.Config
	if scopes != nil {
		cfg.Scopes = scopes
	}
	return cfg.AuthCodeURL(f.State, f.Params...)
}

// Authorize has b open the auth URL for scopes and answer with c, and
// returns where that redirected back to the partner, failing the test
// unless it is the config's redirect URI.
func (f *Flow) Authorize(b *Browser, c Consent, scopes ...string) *url.URL {
	b.tb.Helper()
	if b.StopAt == "" || !strings.HasPrefix(f.Config.RedirectURL, b.StopAt) {
		b.tb.Fatalf("the browser stops at %q, not at the redirect URI %s", b.StopAt, f.Config.RedirectURL)
	}
	p := b.Answer(b.Get(f.URL(scopes...)), c)
	if p.Location == nil || !strings.HasPrefix(p.Location.String(), f.Config.RedirectURL) {
		b.tb.Fatalf("consent: want a redirect to the partner at %s, got %d at %s:\n%s", f.Config.RedirectURL, p.Status, p.URL, p.Body)
	}
	return p.Location
}

// CodeFrom returns the code of back, the redirect to the partner, failing
// the test if it carries an error, another state or no code.
func (f *Flow) CodeFrom(tb testing.TB, back *url.URL) string {
	tb.Helper()
	q := back.Query()
	if q.Get("error") != "" {
		tb.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != f.State {
		tb.Fatalf("state %q, want %q", q.Get("state"), f.State)
	}
	if q.Get("code") == "" {
		tb.Fatalf("no code in the redirect %s", back)
	}
	return q.Get("code")
}

// Code runs Authorize and returns the code, checked by CodeFrom.
func (f *Flow) Code(b *Browser, c Consent, scopes ...string) string {
	b.tb.Helper()
	return f.CodeFrom(b.tb, f.Authorize(b, c, scopes...))
}

// Exchange trades code for tokens with the verifier.
func (f *Flow) Exchange(ctx context.Context, code string) (*oauth2.Token, error) {
	return f.Config.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
}

// MustTokens runs the whole flow in b for scopes (none given: the
// config's), answering with c, and returns the tokens.
func (f *Flow) MustTokens(b *Browser, c Consent, scopes ...string) *oauth2.Token {
	b.tb.Helper()
	code := f.Code(b, c, scopes...)
	tok, err := f.Exchange(context.Background(), code)
	if err != nil {
		b.tb.Fatalf("exchange: %v", err)
	}
	return tok
}
