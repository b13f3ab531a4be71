package messenger_test

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
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/sqlite"
	"github.com/glasshouse/glasshouse/sqlstore"
	"github.com/glasshouse/glasshouse/ui"
	"github.com/glasshouse/glasshouse/ui/messenger"
	"github.com/glasshouse/glasshouse/web"
)

var _ messenger.Accounts = (*web.Server)(nil)

// testPassword is every test member's password.
const testPassword = "correct horse battery staple"

// site is the whole member web, as cmd/glasshouse wires it: the API
// (web.Server) on a SQLite store in a temporary folder and a real hub, with
// the messenger pages and the assets mounted on it.
type site struct {
	*httptest.Server
	Store *sqlstore.Store
}

// MustSite starts a site; options adjust the API's config.
func MustSite(tb testing.TB, options ...func(*web.Config)) *site {
	tb.Helper()
	hub := realtime.NewHub(0)
	store, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "glasshouse.db"), sqlstore.Config{Publisher: hub})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	cfg := web.Config{Store: store, Hub: hub}
	for _, o := range options {
		o(&cfg)
	}
	srv := web.New(cfg)
	key := make([]byte, 32)
	rand.Read(key)
	kit := ui.New(ui.Config{Store: store, Key: key})
	srv.Mount(messenger.New(messenger.Config{Kit: kit, Store: store, Accounts: srv}).Mount)
	srv.Mount(kit.Mount)
	s := &site{Server: httptest.NewServer(srv.Handler()), Store: store}
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

// client is one browser without JavaScript: its own cookies, redirects
// not followed, so that each answer can be checked.
type client struct {
	tb   testing.TB
	site *site
	http *http.Client
	csrf string
	me   *glasshouse.Member // once signed in
}

// NewClient returns a signed-out client that has loaded the sign-in page
// (and so holds a CSRF token).
func (s *site) NewClient(tb testing.TB) *client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{tb: tb, site: s, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	c.csrf = c.Get("/signin").MustStatus(http.StatusOK).CSRF()
	return c
}

// MustMember signs up a member with handle through the sign-up page and
// returns a signed-in client.
func (s *site) MustMember(tb testing.TB, handle, displayName string) *client {
	tb.Helper()
	c := s.NewClient(tb)
	c.Post("/signup", url.Values{"handle": {handle}, "display_name": {displayName}, "email": {handle + "@example.org"}, "new_password": {testPassword}}).
		MustRedirect("/friends?done=welcome")
	m, err := s.Store.MemberByHandle(context.Background(), handle)
	if err != nil {
		tb.Fatal(err)
	}
	c.me = m
	return c
}

// MustFriends makes a and b friends through the friends page.
func MustFriends(tb testing.TB, a, b *client) {
	tb.Helper()
	a.Post("/friends", url.Values{"handle": {b.me.Handle}}).MustRedirect("/friends?done=requested")
	id := b.Get("/friends").MustStatus(http.StatusOK).Find(`/friends/requests/(\d+)/accept`)
	b.Post("/friends/requests/"+id+"/accept", nil).MustRedirect("/friends?done=friends")
}

// MustDirect opens the direct conversation of a with b and returns its
// path, /messages/{id}.
func MustDirect(tb testing.TB, a, b *client) string {
	tb.Helper()
	r := a.Post("/messages/direct", url.Values{"with": {b.me.Handle}}).MustStatus(http.StatusSeeOther)
	return r.Header.Get("Location")
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
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && resp.StatusCode/100 != 3 {
		p.mustBeSafe(req.Method + " " + req.URL.Path)
	}
	return p
}

// T returns the client reporting to tb, for use in a subtest.
func (c *client) T(tb testing.TB) *client {
	cp := *c
	cp.tb = tb
	return &cp
}

// Get fetches path.
func (c *client) Get(path string) *page {
	c.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.site.URL+path, nil)
	return c.do(req)
}

// Post posts form to path with the client's CSRF token.
func (c *client) Post(path string, form url.Values) *page {
	c.tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.PostRaw(path, form)
}

// PostRaw posts form as it is.
func (c *client) PostRaw(path string, form url.Values) *page {
	c.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.site.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
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

// MustRedirect fails unless the answer is a 303 to location.
func (p *page) MustRedirect(location string) *page {
	p.tb.Helper()
	p.MustStatus(http.StatusSeeOther)
	if got := p.Header.Get("Location"); got != location {
		p.tb.Fatalf("redirect to %q; want %q", got, location)
	}
	return p
}

// MustContain fails unless the body holds each of s.
func (p *page) MustContain(s ...string) *page {
	p.tb.Helper()
	for _, x := range s {
		if !strings.Contains(p.Body, x) {
			p.tb.Errorf("page lacks %q; body:\n%s", x, p.Body)
		}
	}
	return p
}

// MustNotContain fails if the body holds any of s.
func (p *page) MustNotContain(s ...string) *page {
	p.tb.Helper()
	for _, x := range s {
		if strings.Contains(p.Body, x) {
			p.tb.Errorf("page holds %q", x)
		}
	}
	return p
}

// MustFieldError fails unless the page shows msg as the error of field,
// next to it.
func (p *page) MustFieldError(field, msg string) *page {
	p.tb.Helper()
	re := regexp.MustCompile(`<span class="field-error" id="e-` + regexp.QuoteMeta(field) + `"[^>]*>([^<]*)</span>`)
	m := re.FindStringSubmatch(p.Body)
	if m == nil {
		p.tb.Fatalf("no error next to %s; body:\n%s", field, p.Body)
	}
	if got := htmlText(m[1]); got != msg {
		p.tb.Errorf("error next to %s: %q; want %q", field, got, msg)
	}
	return p
}

// MustFormError fails unless the page shows msg above its forms.
func (p *page) MustFormError(msg string) *page {
	p.tb.Helper()
	m := regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`).FindStringSubmatch(p.Body)
	if m == nil || htmlText(m[1]) != msg {
		p.tb.Errorf("form error %q; want %q", m, msg)
	}
	return p
}

// CSRF returns the page's CSRF token.
func (p *page) CSRF() string {
	p.tb.Helper()
	return p.Find(`name="csrf" value="([^"]+)"`)
}

// Find returns the first group of the first match of re.
func (p *page) Find(re string) string {
	p.tb.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(p.Body)
	if m == nil {
		p.tb.Fatalf("page lacks %s; body:\n%s", re, p.Body)
	}
	return m[1]
}

// htmlText undoes html/template's escaping of text.
func htmlText(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}
