package portal_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/oauth"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/ui/portal"
	"github.com/glasshouse/glasshouse/web"
)

// testPassword is every test member's password.
const testPassword = "correct horse battery staple"

// clock is a settable time, shared by the site's parts.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// site is the member web as cmd/glasshouse wires it (web.Server on a
// SQLite store in a temporary folder, the assets), with the portal
// mounted on it.
type site struct {
	*httptest.Server
	Store *sqlstore.Store
	Web   *web.Server
	Clock *clock
}

// MustSite starts a site; options adjust the portal's config.
func MustSite(tb testing.TB, options ...func(*portal.Config)) *site {
	tb.Helper()
	hub := realtime.NewHub(0)
	store, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Publisher: hub})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	clk := &clock{now: time.Now().UTC()}
	srv := web.New(web.Config{Store: store, Hub: hub})
	key := make([]byte, 32)
	rand.Read(key)
	kit := ui.New(ui.Config{Store: store, Key: key, IsOperator: store.IsOperator, Now: clk.Now})
	cfg := portal.Config{Kit: kit, Store: store, Key: key, Now: clk.Now}
	for _, o := range options {
		o(&cfg)
	}
	srv.Mount(kit.Mount)
	srv.Mount(portal.New(cfg).Mount)
	s := &site{Server: httptest.NewServer(srv.Handler()), Store: store, Web: srv, Clock: clk}
	tb.Cleanup(func() {
		srv.CloseStreams()
		s.Close()
		hub.Close()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
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

// client is one browser without JavaScript: its own cookies, redirects
// not followed, so that each answer can be checked.
type client struct {
	tb   testing.TB
	site *site
	http *http.Client
	jar  http.CookieJar
	csrf string
	me   *glasshouse.Member // once signed in as a member
}

// NewClient returns a visitor that has loaded /developers (and so holds a
// CSRF token).
func (s *site) NewClient(tb testing.TB) *client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{tb: tb, site: s, jar: jar, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	c.csrf = c.Get("/developers").MustStatus(http.StatusOK).CSRF()
	return c
}

// MustMember signs up a member with handle, signs it in, and returns its
// client; with operator, the member is made an operator.
func (s *site) MustMember(tb testing.TB, handle string, operator bool) *client {
	tb.Helper()
	ctx := context.Background()
	m, err := s.Web.Signup(ctx, glasshouse.Signup{Handle: handle, Email: handle + "@example.org", Password: testPassword, DisplayName: handle}, "192.0.2.1")
	if err != nil {
		tb.Fatal(err)
	}
	if operator {
		if err := s.Store.SetOperator(ctx, m.ID, true); err != nil {
			tb.Fatal(err)
		}
	}
	token, _, err := s.Web.Login(ctx, handle, testPassword, "192.0.2.1")
	if err != nil {
		tb.Fatal(err)
	}
	c := s.NewClient(tb)
	u, _ := url.Parse(s.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: ui.SessionCookie, Value: token, Path: "/"}})
	c.me = m
	return c
}

// SignIn signs c in to the portal as p.
func (c *client) SignIn(p *testPartner) {
	c.tb.Helper()
	c.Post("/developers/signin", url.Values{"client_id": {p.ClientID}, "client_secret": {p.Secret}}).MustRedirect("/developers/dashboard")
}

// page is a finished exchange.
type page struct {
	tb     testing.TB
	Status int
	Header http.Header
	Body   string
}

func (c *client) do(req *http.Request) *page {
	c.tb.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := &page{tb: c.tb, Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		p.mustBeSafe(req.Method + " " + req.URL.Path)
	}
	return p
}

// Get fetches path.
func (c *client) Get(path string) *page {
	c.tb.Helper()
	return c.Do(http.MethodGet, path, nil)
}

// Post posts form to path with the client's CSRF token.
func (c *client) Post(path string, form url.Values) *page {
	c.tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.Do(http.MethodPost, path, form)
}

// Do sends form (nil: no body) to path with method, as it is.
func (c *client) Do(method, path string, form url.Values) *page {
	c.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.site.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return c.do(req)
}

// Cookie returns the client's cookie name as the site would get it on
// path, or nil.
func (c *client) Cookie(path, name string) *http.Cookie {
	u, _ := url.Parse(c.site.URL + path)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

var (
	inlineScript = regexp.MustCompile(`(?i)<script(\s[^>]*)?>`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=`)
)

// mustBeSafe checks what every HTML page must have: the CSP header, and
// no inline script or style that it would block.
func (p *page) mustBeSafe(what string) {
	p.tb.Helper()
	if got := p.Header.Get("Content-Security-Policy"); got != ui.ContentSecurityPolicy {
		p.tb.Errorf("%s: Content-Security-Policy %q; want %q", what, got, ui.ContentSecurityPolicy)
	}
	for _, tag := range inlineScript.FindAllString(p.Body, -1) {
		if !strings.Contains(tag, " src=") {
			p.tb.Errorf("%s: inline script %s", what, tag)
		}
	}
	if styleAttr.MatchString(p.Body) || strings.Contains(p.Body, "<style") {
		p.tb.Errorf("%s: inline style", what)
	}
}

// MustStatus fails unless the status is want.
func (p *page) MustStatus(want int) *page {
	p.tb.Helper()
	if p.Status != want {
		p.tb.Fatalf("status %d; want %d; body:\n%s", p.Status, want, p.Body)
	}
	return p
}

// MustRedirect fails unless the answer is 303 See Other to location.
func (p *page) MustRedirect(location string) *page {
	p.tb.Helper()
	p.MustStatus(http.StatusSeeOther)
	if got := p.Header.Get("Location"); got != location {
		p.tb.Fatalf("redirect to %q; want %q", got, location)
	}
	return p
}

// MustContain fails unless the body holds every string.
func (p *page) MustContain(want ...string) *page {
	p.tb.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			p.tb.Errorf("body lacks %q:\n%s", w, p.Body)
		}
	}
	return p
}

// MustNotContain fails if the body holds any of the strings.
func (p *page) MustNotContain(unwanted ...string) *page {
	p.tb.Helper()
	for _, u := range unwanted {
		if strings.Contains(p.Body, u) {
			p.tb.Errorf("body holds %q", u)
		}
	}
	return p
}

// MustFieldError fails unless msg is shown next to the field name (the
// "field" template's error span).
func (p *page) MustFieldError(name, msg string) *page {
	p.tb.Helper()
	if got := p.Find(`id="e-` + regexp.QuoteMeta(name) + `">([^<]*)<`); got != htmlEscape(msg) {
		p.tb.Errorf("error next to %s: %q; want %q", name, got, msg)
	}
	return p
}

// MustFormError fails unless msg is the page's error for the whole form.
func (p *page) MustFormError(msg string) *page {
	p.tb.Helper()
	if got := p.Find(`<p class="error" role="alert">([^<]*)</p>`); got != htmlEscape(msg) {
		p.tb.Errorf("form error %q; want %q", got, msg)
	}
	return p
}

// Find returns the first submatch of expr in the body, failing if none.
func (p *page) Find(expr string) string {
	p.tb.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(p.Body)
	if m == nil {
		p.tb.Fatalf("body lacks %s:\n%s", expr, p.Body)
	}
	return m[1]
}

// CSRF returns the page's CSRF token.
func (p *page) CSRF() string {
	p.tb.Helper()
	return p.Find(`name="csrf" value="([^"]+)"`)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// signInLimit is a limiter for tests that count failed sign-ins.
func signInLimit(burst int) func(*portal.Config) {
	return func(c *portal.Config) {
		c.SignInLimit = ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: burst})
	}
}
