package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/browsertest"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"github.com/glasshouse/glasshouse/oauth"
	"golang.org/x/oauth2"
)

// MustPartnerAt registers and approves a partner whose one redirect URI is
// redirect.
func MustPartnerAt(tb testing.TB, e *env, name, redirect string, scopes []string) *partner {
	tb.Helper()
	ctx := context.Background()
	id, secret := oauth.NewClientCredentials()
	p, err := e.store.CreatePartner(ctx, glasshouse.NewPartner{Name: name, RedirectURIs: []string{redirect}, Scopes: scopes,
		Purpose: "Testing " + name + ".", RetentionDays: 7, ExpiresAt: e.clock.Now().Add(365 * 24 * time.Hour)}, id, oauth.HashSecret(secret))
	if err != nil {
		tb.Fatalf("CreatePartner(%s): %v", name, err)
	}
	if _, err := e.store.ApproveAgreement(ctx, id, e.clock.Now()); err != nil {
		tb.Fatal(err)
	}
	return &partner{Partner: p, secret: secret, cfg: &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: e.http.URL + "/authorize", TokenURL: e.http.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}}
}

var formAction = regexp.MustCompile(`form-action ([^;]+);`)

// TestPagesContentSecurityPolicy checks each page's form-action: the login
// form posts here and goes on here; the consent form posts here and is
// redirected to the request's redirect URI (Chrome checks form-action on
// that redirect too); the error page has no form. None allows a script.
func TestPagesContentSecurityPolicy(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	alice := MustMember(t, e, "alice")
	for _, tc := range []struct {
		name, redirect, want string
	}{
		{"loopback", redirectURI, "'self' http://127.0.0.1:9"},
		{"https, port, upper case", "https://Partner.Example:8443/cb?x=1", "'self' https://partner.example:8443"},
		{"IPv6 literal: its scheme", "http://[::1]:9/callback", "'self' http:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := MustPartnerAt(t, e, tc.name, tc.redirect, []string{"profile"})
			b := newBrowser(t)
			login := b.Get(newAuth(p).URL("openid", "profile"))
			if !login.IsLogin() {
				t.Fatalf("want the login page, got %d", login.Status)
			}
			if got := formAction.FindStringSubmatch(login.Header.Get("Content-Security-Policy")); got == nil || got[1] != "'self'" {
				t.Errorf("login page form-action %q, want 'self'", got)
			}
			signIn(t, e, b, alice)
			page := b.Get(newAuth(p).URL("openid", "profile"))
			if !page.IsConsent() {
				t.Fatalf("want the consent page, got %d", page.Status)
			}
			csp := page.Header.Get("Content-Security-Policy")
			if got := formAction.FindStringSubmatch(csp); got == nil || got[1] != tc.want {
				t.Errorf("consent page form-action %q, want %q", got, tc.want)
			}
			for _, bad := range []string{"script-src", "unsafe"} {
				if strings.Contains(csp, bad) {
					t.Errorf("Content-Security-Policy %q holds %q", csp, bad)
				}
			}
		})
	}
	t.Run("error page", func(t *testing.T) {
		r := newBrowser(t).Get(e.http.URL + "/oauth/consent?id=nonesuch")
		if got := formAction.FindStringSubmatch(r.Header.Get("Content-Security-Policy")); r.Status != http.StatusNotFound || got == nil || got[1] != "'none'" {
			t.Errorf("error page %d, form-action %q", r.Status, got)
		}
	})
}

var (
	inputIDRE = regexp.MustCompile(`<input id="([^"]+)"|<input type="(?:checkbox|radio)" id="([^"]+)"`)
	inputRE   = regexp.MustCompile(`<input [^>]*>`)
)

// TestConsentPageLook checks what the styled consent page shows: the
// product's stylesheet, the partner's accesses so far (from AccessCount,
// asked about this partner), a label for every field, nothing pre-ticked.
func TestConsentPageLook(t *testing.T) {
	t.Parallel()
	var count atomic.Int64
	var askedFor atomic.Int64
	countErr := errors.New("count unavailable")
	e := MustEnv(t, nil, func(c *oauth.Config) {
		c.Stylesheet = "/assets/style.css?v=0123456789abcdef"
		c.AccessCount = func(ctx context.Context, partnerID int64) (int64, error) {
			askedFor.Store(partnerID)
			if n := count.Load(); n >= 0 {
				return n, nil
			}
			return 0, countErr
		}
	})
	p := MustPartner(t, e, "Streamflix", []string{"profile", "email", "friends", "messages.read"}, e.clock.Now())
	alice := MustMember(t, e, "alice")
	b := newBrowser(t)
	signIn(t, e, b, alice)
	consent := func() string {
		t.Helper()
		page := b.Get(newAuth(p).URL("openid", "profile", "email", "friends", "messages.read"))
		if !page.IsConsent() {
			t.Fatalf("want the consent page, got %d:\n%s", page.Status, page.Body)
		}
		return page.Body
	}

	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "None yet. Every access is recorded"},
		{1, "1 access to members&#39; data across glasshouse."},
		{1234, "1,234 accesses to members&#39; data"},
		{98765432, "98,765,432 accesses"},
		{-1, ""}, // the count failed: the line is left out, the page still shows
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			count.Store(tc.n)
			body := consent()
			if tc.want != "" && !strings.Contains(body, tc.want) {
				t.Errorf("the page lacks %q", tc.want)
			}
			if tc.want == "" && strings.Contains(body, "accesses so far") {
				t.Error("a failed count still shows its line")
			}
			if askedFor.Load() != p.ID {
				t.Errorf("AccessCount asked about partner %d, want %d", askedFor.Load(), p.ID)
			}
		})
	}

	body := consent()
	for _, want := range []string{
		`<link rel="stylesheet" href="/assets/style.css?v=0123456789abcdef">`,
		`<header class="top">`, "Signed in as <strong>Name of alice</strong>",
		"Testing Streamflix with care.", "30 days", "Your consent lasts until",
		`<a href="/log">public transparency log</a>`, // the log's page, not its raw checkpoint
		`<legend>Tick what you agree to share (nothing is ticked for you)</legend>`,
		"Your profile", glasshouse.ScopeDescriptions["friends"], "Which conversations it may read",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the consent page lacks %q", want)
		}
	}
	// Dates in the one style of every page: "3 Dec 2026".
	if !regexp.MustCompile(`Your consent lasts until</dt><dd>[1-9][0-9]? [A-Z][a-z]{2} [0-9]{4}, `).MatchString(body) {
		t.Errorf("the consent page does not write its end date as 3 Dec 2026:\n%s", body)
	}
	for _, bad := range []string{"<script", "<style", " style="} {
		if strings.Contains(body, bad) {
			t.Errorf("the consent page holds %q", bad)
		}
	}
	if regexp.MustCompile(`<input [^>]*name="(scope|conversation)"[^>]* checked`).MatchString(body) {
		t.Error("the consent page pre-ticks a box")
	}
	// Every field but the hidden token has an id and a label for it.
	for _, in := range inputRE.FindAllString(body, -1) {
		if strings.Contains(in, `type="hidden"`) {
			continue
		}
		m := inputIDRE.FindStringSubmatch(in)
		if m == nil {
			t.Errorf("field without an id: %s", in)
			continue
		}
		id := m[1] + m[2]
		if !strings.Contains(body, `<label for="`+id+`">`) {
			t.Errorf("no label for %s", in)
		}
	}
}

func TestStylesheetIsLocal(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"/assets/style.css?v=0123", true},
		{"https://cdn.example/style.css", false},
		{"//cdn.example/style.css", false},
		{`/\cdn.example/style.css`, false},
		{"style.css", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := oauth.New(oauth.Config{Issuer: "http://127.0.0.1:9", Store: e.store, SignIn: e.signIn, Stylesheet: tc.url})
			if (err == nil) != tc.ok {
				t.Errorf("New with Stylesheet %q: %v", tc.url, err)
			}
		})
	}
}

// TestConsentInBrowser runs the flow in Chromium with the partner on
// another origin: the consent form's POST is redirected there, which the
// page's form-action must allow (a CSP violation fails the test). No box
// is ticked at first; one is ticked from the keyboard.
func TestConsentInBrowser(t *testing.T) {
	br := browsertest.New(t)
	e := MustEnv(t, nil)
	alice := MustMember(t, e, "alice")
	var back atomic.Value // the partner's callback URL, once reached
	partnerSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		back.Store(r.URL.String())
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>partner</title><main><h1>Partner</h1><p id="done">Back at the partner.</p></main></html>`)
	}))
	t.Cleanup(partnerSite.Close)
	p := MustPartnerAt(t, e, "Elsewhere", partnerSite.URL+"/callback", []string{"profile", "friends"})
	a := newAuth(p)

	ctx := br.NewContext(t)
	browsertest.Do(t, ctx,
		chromedp.Navigate(a.URL("openid", "profile", "friends")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#handle"), alice.Handle),
		chromedp.SendKeys(chromedp.CSS("#password"), oauthtest.Password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)),
	)
	if n := browsertest.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("input[name=scope]:checked").length`)); n != 0 {
		t.Errorf("%d boxes ticked before the member did anything", n)
	}
	browsertest.Do(t, ctx,
		chromedp.Focus(chromedp.CSS(`#scope-friends`)),
		chromedp.KeyEvent(" "),
	)
	if ticked := browsertest.Run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("scope-friends").checked`)); !ticked {
		t.Fatal("the space bar did not tick the focused box")
	}
	browsertest.Do(t, ctx,
		chromedp.Click(chromedp.CSS(`button[value=allow]`)),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	u, _ := back.Load().(string)
	if !strings.Contains(u, "code=") || !strings.Contains(u, "state="+a.State) {
		t.Fatalf("the partner got %q", u)
	}
	g, err := e.store.Grant(context.Background(), alice.ID, p.ID)
	if err != nil || strings.Join(g.Scopes, " ") != "friends" {
		t.Errorf("grant %+v, %v; want friends alone", g, err)
	}
}
