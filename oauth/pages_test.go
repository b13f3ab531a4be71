package oauth_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"github.com/glasshouse/glasshouse/ratelimit"
	"github.com/glasshouse/glasshouse/signin"
	"golang.org/x/oauth2"
)

// signIn gives b a glasshouse session of m, as package signin would.
func signIn(t *testing.T, e *env, b *oauthtest.Browser, m *glasshouse.Member) {
	t.Helper()
	token := oauth2.GenerateVerifier()
	h := sha256.Sum256([]byte(token))
	if err := e.store.CreateSession(context.Background(), &glasshouse.Session{TokenHash: h[:], MemberID: m.ID, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.http.URL)
	b.Jar.SetCookies(u, []*http.Cookie{{Name: "glasshouse_session", Value: token, Path: "/"}})
}

func TestLoginWithSession(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	b := newBrowser(t)
	signIn(t, e, b, alice)

	a := newAuth(p)
	if page := b.Get(a.URL("openid", "profile")); !page.IsConsent() || !strings.Contains(page.Body, alice.DisplayName) {
		t.Errorf("signed in: want the consent page, got %d at %s", page.Status, page.URL)
	}

	for name, opt := range map[string]oauth2.AuthCodeOption{
		"prompt=login": oauth2.SetAuthURLParam("prompt", "login"),
		"max_age=60":   oauth2.SetAuthURLParam("max_age", "60"),
	} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t)
			signIn(t, e, b, alice)
			e.clock.Advance(2 * time.Minute)
			a := newAuth(p)
			a.Params = append(a.Params, opt)
			page := b.Get(a.URL("openid", "profile"))
			if !page.IsLogin() {
				t.Fatalf("want the login page, got %d at %s", page.Status, page.URL)
			}
			if page = b.Submit(page, values("handle", "alice", "password", oauthtest.Password)); !page.IsConsent() {
				t.Fatalf("after signing in: want the consent page, got %d", page.Status)
			}
		})
	}

	// prompt=none never shows a page (OIDC Core §3.1.2.1): a code for a
	// signed-in member whose grant covers the request, else an error.
	none := func(extra ...oauth2.AuthCodeOption) *oauthtest.Flow {
		a := newAuth(p)
		a.Params = append(append(a.Params, oauth2.SetAuthURLParam("prompt", "none")), extra...)
		return a
	}
	t.Run("prompt=none/signed out", func(t *testing.T) {
		a := none()
		wantRedirectError(t, newBrowser(t).Get(a.URL("openid", "profile")), a, "login_required")
	})
	t.Run("prompt=none/no grant yet", func(t *testing.T) {
		a := none()
		wantRedirectError(t, b.Get(a.URL("openid", "profile")), a, "consent_required")
	})
	t.Run("prompt=none/with a standing grant", func(t *testing.T) {
		first := newAuth(p)
		first.Authorize(b, as(alice, consent{Scopes: []string{"profile"}}), "openid", "profile")
		a := none()
		r := b.Get(a.URL("openid", "profile"))
		if r.Location == nil || r.Location.Query().Get("code") == "" || r.Location.Query().Get("state") != a.State {
			t.Fatalf("want a redirect with a code, got %d %v", r.Status, r.Location)
		}
		tok, err := a.Exchange(t.Context(), r.Location.Query().Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		if scope, _ := tok.Extra("scope").(string); scope != "openid profile" {
			t.Errorf("scope %q, want openid profile", scope)
		}
		// A scope beyond the grant needs the consent screen.
		a = none()
		wantRedirectError(t, b.Get(a.URL("openid", "profile", "email")), a, "consent_required")
		// A session older than max_age needs the login page.
		e.clock.Advance(2 * time.Minute)
		a = none(oauth2.SetAuthURLParam("max_age", "60"))
		wantRedirectError(t, b.Get(a.URL("openid", "profile")), a, "login_required")
	})
	t.Run("prompt=none with login", func(t *testing.T) {
		a := newAuth(p)
		a.Params = append(a.Params, oauth2.SetAuthURLParam("prompt", "none login"))
		wantRedirectError(t, b.Get(a.URL("openid")), a, "invalid_request")
	})

	t.Run("signing in here signs in to glasshouse", func(t *testing.T) {
		b := newBrowser(t)
		a := newAuth(p)
		a.Authorize(b, as(alice, consent{}), "openid")
		u, _ := url.Parse(e.http.URL)
		var token string
		for _, c := range b.Jar.Cookies(u) {
			if c.Name == "glasshouse_session" {
				token = c.Value
			}
		}
		h := sha256.Sum256([]byte(token))
		if s, err := e.store.SessionByTokenHash(context.Background(), h[:], e.clock.Now()); err != nil || s.MemberID != alice.ID {
			t.Errorf("session cookie %q: %v", token, err)
		} else if d := s.ExpiresAt.Sub(s.CreatedAt); d != signin.DefaultLifetime {
			t.Errorf("the session lasts %v, want %v as one opened through the member API", d, signin.DefaultLifetime)
		}
	})
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	limiter := ratelimit.New(ratelimit.Config{Every: time.Hour, Burst: 2})
	e := MustEnv(t, nil, withSignIn(func(c *signin.Config) { c.PerAccount = limiter }))
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	MustMember(t, e, "alice")
	b := newBrowser(t)
	a := newAuth(p)
	page := b.Get(a.URL("openid"))

	for _, tc := range []struct {
		name, handle, password string
		status                 int
		text                   string
	}{
		{"empty", "alice", "", http.StatusBadRequest, "Enter your handle and password"},
		{"wrong password", "alice", "not the password", http.StatusUnauthorized, "Wrong handle or password"},
		{"unknown handle", "nobody", oauthtest.Password, http.StatusUnauthorized, "Wrong handle or password"},
		{"wrong again", "alice", "still not it", http.StatusUnauthorized, "Wrong handle or password"},
		{"limited, even with the right password", "alice", oauthtest.Password, http.StatusTooManyRequests, "Too many failed attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Submit(page, values("handle", tc.handle, "password", tc.password))
			if r.Status != tc.status || !strings.Contains(r.Body, tc.text) {
				t.Errorf("status %d, want %d with %q", r.Status, tc.status, tc.text)
			}
			if tc.status == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			page = r
		})
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	login := values("handle", "alice", "password", oauthtest.Password)

	victim, attacker := newBrowser(t), newBrowser(t)
	a := newAuth(p)
	loginPage := victim.Get(a.URL("openid", "profile"))
	attackerPage := attacker.Get(newAuth(p).URL("openid", "profile"))

	t.Run("login without a token", func(t *testing.T) {
		if r := victim.Post(loginPage.URL.String(), login); r.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", r.Status)
		}
	})
	t.Run("login with another browser's token", func(t *testing.T) {
		forged := *attackerPage
		forged.URL = loginPage.URL
		if r := victim.Submit(&forged, login); r.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", r.Status)
		}
	})

	consentPage := victim.Submit(loginPage, login)
	if !consentPage.IsConsent() {
		t.Fatalf("want the consent page, got %d", consentPage.Status)
	}
	t.Run("consent with the login token", func(t *testing.T) {
		forged := *loginPage
		forged.Body = strings.Replace(loginPage.Body, "/oauth/login", "/oauth/consent", 1)
		if r := victim.Submit(&forged, values("action", "allow", "scope", "profile")); r.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", r.Status)
		}
	})
	t.Run("consent with another request's token", func(t *testing.T) {
		other := consentPageFor(t, victim, p, alice)
		forged := *other
		forged.Body = strings.Replace(other.Body, idOf(t, other), idOf(t, consentPage), 1)
		if r := victim.Submit(&forged, values("action", "allow", "scope", "profile")); r.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", r.Status)
		}
	})
	if _, err := e.store.Grant(context.Background(), alice.ID, p.ID); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
		t.Errorf("a forged form saved a grant: %v", err)
	}
	// The genuine form still works.
	if r := victim.Submit(consentPage, values("action", "allow", "scope", "profile")); r.Location == nil || r.Location.Query().Get("code") == "" {
		t.Errorf("genuine consent: %d", r.Status)
	}
}

func consentPageFor(t *testing.T, b *oauthtest.Browser, p *partner, m *glasshouse.Member) *oauthtest.Page {
	t.Helper()
	return consentPage(t, b, newAuth(p).URL("openid", "profile"), m)
}

// idOf returns the auth request id in a page's form action.
func idOf(t *testing.T, page *oauthtest.Page) string {
	t.Helper()
	_, id, _ := strings.Cut(page.FormAction(), "id=")
	return id
}

func TestDeny(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	a := newAuth(p)
	loc := a.Authorize(newBrowser(t), as(alice, consent{Deny: true}), "openid", "profile")
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != a.State || q.Get("code") != "" {
		t.Errorf("deny redirect %s", loc)
	}
	if _, err := e.store.Grant(context.Background(), alice.ID, p.ID); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
		t.Errorf("denying saved a grant: %v", err)
	}
}

func TestPages(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, `Evil <script>alert("x")</script>`, shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	b := newBrowser(t)
	page := consentPage(t, b, newAuth(p).URL("openid", "profile", "email"), alice)

	for _, want := range []string{
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
		"Testing Evil",
		"30 days",
		glasshouse.ScopeDescriptions["profile"],
		glasshouse.ScopeDescriptions["email"],
		`value="relay" checked`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the consent page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, "<script>") {
		t.Error("the partner's name is not escaped")
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY",
		"Cache-Control":   "no-store",
		"Content-Type":    "text/html; charset=utf-8",
	} {
		if got := page.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	e.clock.Advance(glasshouse.AuthRequestLifetime + time.Second)
	if r := b.Get(page.URL.String()); r.Status != http.StatusNotFound || !strings.Contains(r.Body, "expired") {
		t.Errorf("an expired request's page: %d", r.Status)
	}
	for _, path := range []string{"/authorize/callback?id=x", "/end_session", "/device_authorization"} {
		if r := b.Get(e.http.URL + path); r.Status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, r.Status)
		}
	}
}
