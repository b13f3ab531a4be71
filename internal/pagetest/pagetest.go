package pagetest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/ui"
)

// Client is one browser without JavaScript on the site at URL.
type Client struct {
	URL  string         // the site, without a trailing slash
	Jar  http.CookieJar // the client's cookies
	CSRF string         // the token Post sends

	tb   testing.TB
	http *http.Client
}

// New returns a client of the site at siteURL that has loaded path (a page
// with a form), and so holds a CSRF token. With path "", it loads nothing
// and holds no token: for a client that needs a cookie first (SetCookie,
// then set CSRF from a page), or that posts only forms as they are.
func New(tb testing.TB, siteURL, path string) *Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatalf("cookie jar: %v", err)
	}
	c := &Client{URL: siteURL, Jar: jar, tb: tb, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if path != "" {
		c.CSRF = c.Get(path).MustStatus(http.StatusOK).CSRF()
	}
	return c
}

// T returns the client reporting to tb, for use in a subtest; it shares
// the cookies.
func (c *Client) T(tb testing.TB) *Client {
	cp := *c
	cp.tb = tb
	return &cp
}

// TB returns the test the client reports to, for helpers built on it.
func (c *Client) TB() testing.TB {
	return c.tb
}

// Get fetches path.
func (c *Client) Get(path string) *Page {
	c.tb.Helper()
	return c.Do(http.MethodGet, path, nil)
}

// Post posts form to path with the client's CSRF token.
func (c *Client) Post(path string, form url.Values) *Page {
	c.tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.CSRF)
	return c.PostRaw(path, form)
}

// PostRaw posts form as it is.
func (c *Client) PostRaw(path string, form url.Values) *Page {
	c.tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	return c.Do(http.MethodPost, path, form)
}

// Do sends form (nil: no body) to path with method, as it is.
func (c *Client) Do(method, path string, form url.Values) *Page {
	c.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.URL+path, body)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	p := &Page{tb: c.tb, Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		p.mustBeSafe(method + " " + path)
		// Like a browser, the client posts with the token of the latest
		// page it was shown: tokens are bound to the session, and change
		// when the member signs in or out.
		if m := csrfRE.FindStringSubmatch(p.Body); m != nil {
			c.CSRF = html.UnescapeString(m[1])
		}
	}
	return p
}

// Follow loads the page a redirect sends to, as a browser would (and so
// takes up the tokens of its forms).
func (c *Client) Follow(p *Page) *Page {
	c.tb.Helper()
	loc := p.Header.Get("Location")
	if p.Status/100 != 3 || loc == "" {
		c.tb.Fatalf("Follow: %d is not a redirect", p.Status)
	}
	return c.Get(strings.TrimPrefix(loc, c.URL))
}

// Cookie returns the client's cookie name as the site would get it on
// path, or nil.
func (c *Client) Cookie(path, name string) *http.Cookie {
	c.tb.Helper()
	u, err := url.Parse(c.URL + path)
	if err != nil {
		c.tb.Fatalf("cookie %s on %s: %v", name, path, err)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// SetCookie puts ck in the client's jar as the site at URL had set it.
func (c *Client) SetCookie(ck *http.Cookie) {
	c.tb.Helper()
	u, err := url.Parse(c.URL)
	if err != nil {
		c.tb.Fatalf("set cookie %s: %v", ck.Name, err)
	}
	c.Jar.SetCookies(u, []*http.Cookie{ck})
}

// Page is a finished exchange.
type Page struct {
	Status int
	Header http.Header
	Body   string

	tb testing.TB
}

var (
	inlineScript = regexp.MustCompile(`(?i)<script(\s[^>]*)?>`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=`)
	formError    = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)
)

// mustBeSafe checks what every HTML page must have: the CSP header, and
// no inline script or style that it would block.
func (p *Page) mustBeSafe(what string) {
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
func (p *Page) MustStatus(want int) *Page {
	p.tb.Helper()
	if p.Status != want {
		p.tb.Fatalf("status %d; want %d; body:\n%s", p.Status, want, p.Body)
	}
	return p
}

// MustRedirect fails unless the answer is 303 See Other to location.
func (p *Page) MustRedirect(location string) *Page {
	p.tb.Helper()
	p.MustStatus(http.StatusSeeOther)
	if got := p.Header.Get("Location"); got != location {
		p.tb.Fatalf("redirect to %q; want %q", got, location)
	}
	return p
}

// MustContain fails unless the body holds each of s.
func (p *Page) MustContain(s ...string) *Page {
	p.tb.Helper()
	for _, x := range s {
		if !strings.Contains(p.Body, x) {
			p.tb.Errorf("page lacks %q; body:\n%s", x, p.Body)
		}
	}
	return p
}

// MustNotContain fails if the body holds any of s.
func (p *Page) MustNotContain(s ...string) *Page {
	p.tb.Helper()
	for _, x := range s {
		if strings.Contains(p.Body, x) {
			p.tb.Errorf("page holds %q", x)
		}
	}
	return p
}

// MustFieldError fails unless the page shows msg as the error of field,
// next to it (the span of ui's "field" template).
func (p *Page) MustFieldError(field, msg string) *Page {
	p.tb.Helper()
	got := p.Find(`<span class="field-error" id="e-` + regexp.QuoteMeta(field) + `"[^>]*>([^<]*)</span>`)
	if got := html.UnescapeString(got); got != msg {
		p.tb.Errorf("error next to %s: %q; want %q", field, got, msg)
	}
	return p
}

// MustFormError fails unless the page shows msg above its forms.
func (p *Page) MustFormError(msg string) *Page {
	p.tb.Helper()
	m := formError.FindStringSubmatch(p.Body)
	if m == nil {
		p.tb.Fatalf("no form error; want %q; body:\n%s", msg, p.Body)
	}
	if got := html.UnescapeString(m[1]); got != msg {
		p.tb.Errorf("form error %q; want %q", got, msg)
	}
	return p
}

// csrfRE finds a form's CSRF token.
var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF returns the page's CSRF token.
func (p *Page) CSRF() string {
	p.tb.Helper()
	return p.Find(`name="csrf" value="([^"]+)"`)
}

// Find returns the first group of the first match of expr in the body,
// failing if there is none.
func (p *Page) Find(expr string) string {
	p.tb.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(p.Body)
	if m == nil {
		p.tb.Fatalf("page lacks %s; body:\n%s", expr, p.Body)
	}
	return m[1]
}
