package portal_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pagetest"
)

func TestDevelopersPage(t *testing.T) {
	s := MustSite(t)
	p := s.NewClient(t).Get("/developers").MustStatus(http.StatusOK)
	p.MustContain(`href="/docs/partners.md"`, "Consent per scope", "Every access is logged", "Receipts",
		`action="/developers/signin"`, `name="client_id"`, `name="client_secret"`, `autocomplete="current-password"`)
	for _, scope := range glasshouse.DataScopes {
		p.MustContain("<code>"+scope+"</code>", html.EscapeString(glasshouse.ScopeDescriptions[scope]))
	}
}

func TestDocs(t *testing.T) {
	s := MustSite(t)
	c := s.NewClient(t)
	// Every guide is a page in the layout, rendered from its Markdown.
	index := c.Get("/docs/").MustStatus(http.StatusOK)
	for _, name := range []string{"partners.md", "api.md", "audit.md", "log-format.md", "operations.md", "BENCHMARKS.md"} {
		index.MustContain(`href="/docs/` + name + `"`)
		p := c.Get("/docs/" + name).MustStatus(http.StatusOK)
		if ct := p.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s served as %s; want an HTML page", name, ct)
		}
		p.MustContain(`<link rel="stylesheet" href="/assets/style.css?v=`, `<article class="card doc-body">`)
		// Nothing of a guide is lost: goldmark leaves out raw HTML, so a
		// guide writes <placeholders> in code.
		p.MustNotContain("raw HTML omitted")
	}
	guide := c.Get("/docs/partners.md")
	guide.MustContain("<title>Partner guide · glasshouse</title>", `<h1 id="partner-guide">Partner guide</h1>`, "<table>", "<code>")
	// Links between guides stay links between pages.
	c.Get("/docs/audit.md").MustContain(`<a href="log-format.md">log-format.md</a>`)
	for _, path := range []string{"/docs/nothing.md", "/docs/docs.go", "/docs/..%2Fgo.mod"} {
		if p := c.Get(path); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "Page not found") {
			t.Errorf("GET %s: status %d; want the 404 page", path, p.Status)
		}
	}
}

func TestSignIn(t *testing.T) {
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", true, glasshouse.ScopeMessagesSend)
	t.Run("good", func(t *testing.T) {
		c := s.NewClient(t)
		p := c.Post("/developers/signin", url.Values{"client_id": {" " + sf.ClientID + " "}, "client_secret": {sf.Secret}}).
			MustRedirect("/developers/dashboard")
		var cookie *http.Cookie
		for _, ck := range (&http.Response{Header: p.Header}).Cookies() {
			if ck.Name == "glasshouse_partner" {
				cookie = ck
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/developers" ||
			cookie.MaxAge != 3600 || strings.Contains(cookie.Value, sf.Secret) {
			t.Errorf("session cookie %+v; want HttpOnly, SameSite=Lax, Path=/developers, an hour, no secret", cookie)
		}
		c.Get("/developers/dashboard").MustStatus(http.StatusOK).MustContain("Streamflix", sf.ClientID)
		c.Get("/developers").MustContain("Signed in as Streamflix", `href="/developers/dashboard"`)
		if c.Cookie("/", "glasshouse_partner") != nil {
			t.Error("the partner session is sent outside /developers")
		}
	})
	// An unknown client id and a wrong secret get the same answer.
	var refusals []string
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		errors map[string]string
	}{
		{"wrong secret", url.Values{"client_id": {sf.ClientID}, "client_secret": {sf.Secret + "x"}}, 401,
			map[string]string{"client_secret": "Unknown client id or wrong secret."}},
		{"unknown client", url.Values{"client_id": {"no-such-client"}, "client_secret": {sf.Secret}}, 401,
			map[string]string{"client_secret": "Unknown client id or wrong secret."}},
		{"empty", url.Values{}, 400,
			map[string]string{"client_id": "Enter your app's client id.", "client_secret": "Enter your client secret."}},
		{"no secret", url.Values{"client_id": {sf.ClientID}}, 400,
			map[string]string{"client_secret": "Enter your client secret."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.NewClient(t)
			p := c.Post("/developers/signin", tc.form).MustStatus(tc.status)
			for field, msg := range tc.errors {
				p.MustFieldError(field, msg)
			}
			p.MustNotContain(sf.Secret)
			if tc.status == 401 {
				p.MustContain(`value="` + tc.form.Get("client_id") + `"`)
				body := strings.ReplaceAll(p.Body, tc.form.Get("client_id"), "ID")
				refusals = append(refusals, strings.ReplaceAll(body, p.CSRF(), "TOKEN"))
			}
			if c.Cookie("/developers", "glasshouse_partner") != nil {
				t.Error("refused, yet a partner session was set")
			}
			c.Get("/developers/dashboard").MustRedirect("/developers#signin")
		})
	}
	if len(refusals) == 2 && refusals[0] != refusals[1] {
		t.Error("the pages for an unknown client id and a wrong secret differ")
	}
	t.Run("CSRF missing", func(t *testing.T) {
		c := s.NewClient(t)
		c.Do(http.MethodPost, "/developers/signin", url.Values{"client_id": {sf.ClientID}, "client_secret": {sf.Secret}}).
			MustStatus(http.StatusForbidden).MustContain("This form has expired or came from another site.")
		if c.Cookie("/developers", "glasshouse_partner") != nil {
			t.Error("signed in without a CSRF token")
		}
	})
}

func TestSignInRateLimited(t *testing.T) {
	s := MustSite(t, signInLimit(3))
	sf := s.MustPartner(t, "Streamflix", true, glasshouse.ScopeProfile)
	c := s.NewClient(t)
	// Sign-ins that succeed do not count.
	for range 4 {
		c.SignIn(sf)
	}
	for range 3 {
		c.Post("/developers/signin", url.Values{"client_id": {sf.ClientID}, "client_secret": {"guess"}}).MustStatus(http.StatusUnauthorized)
	}
	p := c.Post("/developers/signin", url.Values{"client_id": {sf.ClientID}, "client_secret": {sf.Secret}}).MustStatus(http.StatusTooManyRequests)
	p.MustFormError("Too many failed sign-ins from this address. Wait a minute and try again.")
	if p.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

func TestPartnerSession(t *testing.T) {
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", true, glasshouse.ScopeProfile)
	other := s.MustPartner(t, "Shopzon", true, glasshouse.ScopeEmail)
	c := s.NewClient(t)
	c.SignIn(sf)
	good := c.Cookie("/developers", "glasshouse_partner").Value
	parts := strings.Split(good, ".")
	otherID := base64.RawURLEncoding.EncodeToString([]byte(other.ClientID))
	for _, tc := range []struct {
		name, value string
	}{
		{"garbage", "nonsense"},
		{"other client", otherID + "." + parts[1] + "." + parts[2]},
		{"later expiry", parts[0] + ".9999999999." + parts[2]},
		{"bad mac", parts[0] + "." + parts[1] + ".AAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forger := s.NewClient(t)
			u, _ := url.Parse(s.URL + "/developers")
			forger.Jar.SetCookies(u, []*http.Cookie{{Name: "glasshouse_partner", Value: tc.value, Path: "/developers"}})
			forger.Get("/developers/dashboard").MustRedirect("/developers#signin")
		})
	}
	c.Get("/developers/dashboard").MustStatus(http.StatusOK)
	s.Clock.Advance(time.Hour)
	c.Get("/developers/dashboard").MustRedirect("/developers#signin")

	t.Run("header", func(t *testing.T) {
		// Signed in as a partner, the header offers the partner's
		// dashboard and sign-out, not a member's sign-in.
		c := s.NewClient(t)
		c.SignIn(sf)
		header := func(p *pagetest.Page) string {
			return p.Body[strings.Index(p.Body, "<header"):strings.Index(p.Body, "</header>")]
		}
		for _, path := range []string{"/developers", "/developers/dashboard"} {
			h := header(c.Get(path).MustStatus(http.StatusOK))
			for _, want := range []string{`href="/developers/dashboard"`, `<form method="post" action="/developers/signout" class="inline">`,
				"Sign out Streamflix</button>"} {
				if !strings.Contains(h, want) {
					t.Errorf("%s: the header lacks %q:\n%s", path, want, h)
				}
			}
			if strings.Contains(h, `href="/signin"`) || strings.Contains(h, `href="/signup"`) {
				t.Errorf("%s: the header offers a member sign-in to a signed-in partner:\n%s", path, h)
			}
		}
		h := header(s.NewClient(t).Get("/developers").MustStatus(http.StatusOK))
		if !strings.Contains(h, `href="/signin"`) || strings.Contains(h, "/developers/signout") {
			t.Errorf("signed out, the header is:\n%s", h)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		c, elsewhere := s.NewClient(t), s.NewClient(t)
		c.SignIn(sf)
		elsewhere.SignIn(sf)
		copied := c.Cookie("/developers", "glasshouse_partner")
		c.Post("/developers/signout", nil).MustRedirect("/developers?done=signedout")
		c.Get("/developers?done=signedout").MustContain("Signed out.", "Partner sign-in")
		c.Get("/developers/dashboard").MustRedirect("/developers#signin")
		// The session is over on the server, not only in this browser: a
		// copy of its cookie, and the app's other sessions, no longer work.
		thief := s.NewClient(t)
		u, _ := url.Parse(s.URL + "/developers")
		thief.Jar.SetCookies(u, []*http.Cookie{copied})
		thief.Get("/developers/dashboard").MustRedirect("/developers#signin")
		elsewhere.Get("/developers/dashboard").MustRedirect("/developers#signin")
		// Signing in again works.
		c.SignIn(sf)
		c.Get("/developers/dashboard").MustStatus(http.StatusOK)
	})
}

// mustAccess records an access by p at, granted unless reason is set.
func (s *site) mustAccess(t *testing.T, p *testPartner, m *glasshouse.Member, at time.Time, endpoint, reason string, scopes ...string) *glasshouse.AccessRecord {
	t.Helper()
	rec := &glasshouse.AccessRecord{PartnerID: p.ID, ClientID: p.ClientID, MemberID: m.ID, AgreementVersion: 1, Endpoint: endpoint,
		Scopes: scopes, Granted: reason == "", Reason: reason, Items: 1, At: at}
	rand.Read(rec.EventID[:])
	if reason != "" {
		rec.Items = 0
	}
	if err := s.Store.RecordAccess(context.Background(), rec, func(c uint64, _ []byte) ([]byte, error) { return []byte("entry"), nil }); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestDashboard(t *testing.T) {
	s := MustSite(t)
	sf := s.MustPartner(t, "Streamflix", true, glasshouse.ScopeMessagesSend, glasshouse.ScopeProfile)
	alice := s.MustMember(t, "alice", false).me
	today := s.Clock.Now().UTC().Truncate(24 * time.Hour) // the window ends with today
	sent := s.mustAccess(t, sf, alice, today.Add(time.Hour), "POST /graph/v1/me/messages", "", glasshouse.ScopeMessagesSend)
	refused := s.mustAccess(t, sf, alice, today.Add(90*time.Minute), "GET /graph/v1/me/conversations/{id}/messages", "scope_not_granted", glasshouse.ScopeMessagesRead)
	old := s.mustAccess(t, sf, alice, today.Add(-40*24*time.Hour), "GET /graph/v1/me", "", glasshouse.ScopeProfile)
	if err := s.Store.MarkIntegrated(context.Background(), []glasshouse.LogPosition{{EventID: sent.EventID, Index: 41}}); err != nil {
		t.Fatal(err)
	}
	// A new version waits for approval.
	v1, _ := s.Store.CurrentAgreement(context.Background(), sf.ID)
	v2 := *v1
	v2.Scopes = append(v2.Scopes, glasshouse.ScopeFriends)
	if _, err := s.Store.ProposeAgreement(context.Background(), sf.ID, v2); err != nil {
		t.Fatal(err)
	}

	c := s.NewClient(t)
	c.SignIn(sf)
	p := c.Get("/developers/dashboard").MustStatus(http.StatusOK)
	p.MustContain(
		"Streamflix", ">approved<", sf.ClientID,
		html.EscapeString(v1.Purpose), "30 days",
		"Version 2, proposed", "waits for approval", "profile, friends, messages.send",
		"<code>messages.send</code>", html.EscapeString(glasshouse.ScopeDescriptions[glasshouse.ScopeMessagesSend]),
		// usage: one granted and one refused in the window, three in all
		`<span class="portal-stat">1</span> granted`, `<span class="portal-stat portal-stat-bad">1</span> denied`,
		`<span class="portal-stat">3</span> accesses since you started`,
		"<code>scope_not_granted</code>", `<svg viewBox="0 0 720 150" preserveAspectRatio="none" role="img"`,
		// receipts: the newest first, with its log index or pending, and its link
		"/log/receipt/"+hex.EncodeToString(refused.EventID[:]), "/log/receipt/"+hex.EncodeToString(sent.EventID[:]),
		`<td class="num">41</td>`, `<span class="muted">pending</span>`,
		"POST /graph/v1/me/messages",
	)
	p.MustNotContain(hex.EncodeToString(old.EventID[:]), "alice")
	// Dates and times in the pages' one style, each a <time> for time.js.
	p.MustContain(`data-format="date">`+time.Now().UTC().Format("2 Jan 2006")+`</time>`, `data-format="datetime">`)
	if regexp.MustCompile(`[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:`).MatchString(p.Body) {
		t.Errorf("the dashboard writes a date in another style:\n%s", p.Body)
	}
	// The chart has a bar for each of the 30 days, today's with its counts.
	if n := strings.Count(p.Body, `<rect class="granted"`); n != 30 {
		t.Errorf("chart of %d days; want 30", n)
	}
	p.MustContain("<title>" + today.Format("2 Jan") + ": 1 granted, 1 denied</title>")
	if strings.Index(p.Body, hex.EncodeToString(refused.EventID[:])) > strings.Index(p.Body, hex.EncodeToString(sent.EventID[:])) {
		t.Error("receipts are not newest first")
	}
}

func TestDashboardStates(t *testing.T) {
	s := MustSite(t)
	for _, tc := range []struct {
		name    string
		setup   func(p *testPartner)
		approve bool
		want    string
	}{
		{"pending", func(*testPartner) {}, false, "Your agreement waits for an operator's approval"},
		{"suspended", func(p *testPartner) {
			if _, err := s.Store.SetPartnerStatus(context.Background(), p.ClientID, glasshouse.PartnerSuspended); err != nil {
				t.Fatal(err)
			}
		}, true, "Your app is suspended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := s.MustPartner(t, "App "+tc.name, tc.approve, glasshouse.ScopeProfile)
			tc.setup(p)
			c := s.NewClient(t)
			c.SignIn(p)
			c.Get("/developers/dashboard").MustStatus(http.StatusOK).MustContain(tc.want, ">"+tc.name+"<")
		})
	}
}
