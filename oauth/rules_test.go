package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"github.com/glasshouse/glasshouse/oauth"
	"golang.org/x/oauth2"
)

var shopScopes = []string{glasshouse.ScopeProfile, glasshouse.ScopeEmail, glasshouse.ScopeFriends}

// wantRedirectError checks that an authorization request was answered
// with a redirect to the partner carrying error and the request's state.
func wantRedirectError(t *testing.T, r *oauthtest.Page, a *oauthtest.Flow, want string) {
	t.Helper()
	if r.Location == nil || !strings.HasPrefix(r.Location.String(), redirectURI) {
		t.Fatalf("want a redirect to the partner with error %s, got %d at %s", want, r.Status, r.URL)
	}
	q := r.Location.Query()
	if q.Get("error") != want || q.Get("state") != a.State || q.Get("code") != "" {
		t.Errorf("redirect %s: want error=%s and the state", r.Location, want)
	}
}

func TestPKCERequired(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")

	for _, tc := range []struct {
		name   string
		params func(a *oauthtest.Flow) []oauth2.AuthCodeOption
	}{
		{"missing", func(a *oauthtest.Flow) []oauth2.AuthCodeOption { return nil }},
		{"plain", func(a *oauthtest.Flow) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", a.Verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")}
		}},
		{"method omitted (plain by default)", func(a *oauthtest.Flow) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(a.Verifier))}
		}},
		{"S256 with a malformed challenge", func(a *oauthtest.Flow) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", "short"), oauth2.SetAuthURLParam("code_challenge_method", "S256")}
		}},
	} {
		t.Run("authorize/"+tc.name, func(t *testing.T) {
			a := newAuth(p)
			a.Params = tc.params(a)
			wantRedirectError(t, newBrowser(t).Get(a.URL("openid", "profile")), a, "invalid_request")
		})
	}

	for _, tc := range []struct {
		name     string
		verifier func(a *oauthtest.Flow) []oauth2.AuthCodeOption
		want     string
	}{
		{"no verifier", func(a *oauthtest.Flow) []oauth2.AuthCodeOption { return nil }, "invalid_request"},
		{"wrong verifier", func(a *oauthtest.Flow) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
		}, "invalid_grant"},
		{"the challenge as verifier", func(a *oauthtest.Flow) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.S256ChallengeFromVerifier(a.Verifier))}
		}, "invalid_grant"},
	} {
		t.Run("token/"+tc.name, func(t *testing.T) {
			a := newAuth(p)
			code := a.Code(newBrowser(t), as(alice, consent{}), "openid", "profile")
			_, err := p.cfg.Exchange(context.Background(), code, tc.verifier(a)...)
			if errorCode(err) != tc.want {
				t.Errorf("exchange: %v, want %s", err, tc.want)
			}
		})
	}
}

func TestRedirectURIExact(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	for _, uri := range []string{
		redirectURI + "/",
		redirectURI + "?next=/",
		strings.ToUpper(redirectURI),
		"http://127.0.0.1:10/callback",
		"http://localhost:9/callback",
		"https://127.0.0.1:9/callback",
		"https://evil.example/callback",
		"",
	} {
		t.Run(uri, func(t *testing.T) {
			a := newAuth(p)
			cfg := *p.cfg
			cfg.RedirectURL = uri
			r := newBrowser(t).Get(cfg.AuthCodeURL(a.State, a.Params...))
			if r.Status != http.StatusBadRequest || r.Location != nil || strings.Contains(r.URL.String(), "/oauth/login") {
				t.Errorf("status %d at %s, location %v: want 400 without redirect", r.Status, r.URL, r.Location)
			}
		})
	}

	t.Run("token endpoint", func(t *testing.T) {
		a := newAuth(p)
		code := a.Code(newBrowser(t), as(MustMember(t, e, "alice"), consent{}), "openid")
		cfg := *p.cfg
		cfg.RedirectURL = redirectURI + "/other"
		if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(a.Verifier)); errorCode(err) != "invalid_grant" {
			t.Errorf("exchange with another redirect_uri: %v, want invalid_grant", err)
		}
	})
}

func TestCodeSingleUse(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")

	t.Run("reuse", func(t *testing.T) {
		a := newAuth(p)
		code := a.Code(newBrowser(t), as(alice, consent{}), "openid", "offline_access", "profile")
		tok, err := a.Exchange(t.Context(), code)
		if err != nil {
			t.Fatal(err)
		}
		if !e.active(t, p, tok.AccessToken) {
			t.Fatal("fresh token inactive")
		}
		if _, err := a.Exchange(t.Context(), code); errorCode(err) != "invalid_grant" {
			t.Fatalf("second exchange: %v, want invalid_grant", err)
		}
		if e.active(t, p, tok.AccessToken) {
			t.Error("the access token of a reused code is still active")
		}
		if _, err := p.refresh(tok.RefreshToken); errorCode(err) != "invalid_grant" {
			t.Errorf("refresh token of a reused code: %v, want invalid_grant", err)
		}
		if _, err := e.srv.Authenticate(context.Background(), tok.AccessToken); glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED {
			t.Errorf("Authenticate: %v, want unauthorized", err)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		a := newAuth(p)
		code := a.Code(newBrowser(t), as(alice, consent{}), "openid", "profile")
		e.clock.Advance(glasshouse.AuthCodeLifetime + time.Second)
		if _, err := a.Exchange(t.Context(), code); errorCode(err) != "invalid_grant" {
			t.Errorf("exchange after 61 s: %v, want invalid_grant", err)
		}
	})

	t.Run("one code per request", func(t *testing.T) {
		a := newAuth(p)
		b := newBrowser(t)
		loc := a.Authorize(b, as(alice, consent{}), "openid", "profile")
		// Replaying the consent (or the op's callback) mints no second code.
		r := b.Get(e.http.URL + "/authorize/callback?id=x")
		if r.Status != http.StatusNotFound {
			t.Errorf("/authorize/callback: %d, want 404", r.Status)
		}
		if _, err := a.Exchange(t.Context(), loc.Query().Get("code")); err != nil {
			t.Errorf("exchange: %v", err)
		}
	})
}

// TestStolenCodeNotBurnt presents a code as someone who saw the redirect
// but holds neither the client's secret nor the PKCE verifier: each try
// fails without using the code up, and after the real exchange such tries
// revoke nothing; only the owning client's own replay does.
func TestStolenCodeNotBurnt(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	other := MustPartner(t, e, "Searchly", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	a := newAuth(p)
	code := a.Code(newBrowser(t), as(alice, consent{}), "openid", "offline_access", "profile")

	thief := func(t *testing.T) {
		t.Helper()
		wrongSecret := *p.cfg
		wrongSecret.ClientSecret = "not-the-secret"
		if _, err := wrongSecret.Exchange(context.Background(), code, oauth2.VerifierOption(a.Verifier)); errorCode(err) != "invalid_client" {
			t.Errorf("exchange with a wrong secret: %v, want invalid_client", err)
		}
		if _, err := p.cfg.Exchange(context.Background(), code); errorCode(err) == "" {
			t.Errorf("exchange without the verifier: %v, want an error", err)
		}
		if _, err := p.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); errorCode(err) != "invalid_grant" {
			t.Errorf("exchange with a wrong verifier: %v, want invalid_grant", err)
		}
		if _, err := other.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(a.Verifier)); errorCode(err) != "invalid_grant" {
			t.Errorf("exchange by another client: %v, want invalid_grant", err)
		}
	}
	thief(t)
	tok, err := a.Exchange(t.Context(), code)
	if err != nil {
		t.Fatalf("the real exchange after the thief's tries: %v", err)
	}
	thief(t)
	if !e.active(t, p, tok.AccessToken) {
		t.Fatal("the thief's tries after the exchange revoked the client's tokens")
	}
	if _, err := a.Exchange(t.Context(), code); errorCode(err) != "invalid_grant" {
		t.Fatalf("the owner's replay: %v, want invalid_grant", err)
	}
	if e.active(t, p, tok.AccessToken) {
		t.Error("the owner's replay of its code left its tokens active")
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	t1 := MustTokens(t, e, p, MustMember(t, e, "alice"), consent{}, "openid", "offline_access", "profile")
	t2, err := p.refresh(t1.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if t2.RefreshToken == t1.RefreshToken {
		t.Fatal("refresh token not rotated")
	}
	// The spent token comes back: a replay. The whole family dies.
	if _, err := p.refresh(t1.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Fatalf("replayed refresh token: %v, want invalid_grant", err)
	}
	if _, err := p.refresh(t2.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Errorf("the family's newest refresh token after a replay: %v, want invalid_grant", err)
	}
	for name, tok := range map[string]string{"first": t1.AccessToken, "second": t2.AccessToken} {
		if e.active(t, p, tok) {
			t.Errorf("%s access token still active after the replay", name)
		}
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	q := MustPartner(t, e, "Searchly", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	ctx := context.Background()

	t.Run("access token", func(t *testing.T) {
		tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile")
		if status := e.revoke(t, q, tok.AccessToken); status != http.StatusOK {
			t.Fatalf("revoke by another partner: %d", status)
		}
		if !e.active(t, p, tok.AccessToken) {
			t.Fatal("another partner revoked the token")
		}
		if status := e.revoke(t, p, tok.AccessToken); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		if e.active(t, p, tok.AccessToken) {
			t.Error("revoked access token active")
		}
		_, err := e.srv.Authenticate(ctx, tok.AccessToken)
		if glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED || oauth.Reason(err) != oauth.ReasonInvalidToken {
			t.Errorf("Authenticate a revoked token: %v", err)
		}
		if _, err := p.refresh(tok.RefreshToken); err != nil {
			t.Errorf("the refresh token died with its access token: %v", err)
		}
	})

	t.Run("refresh token", func(t *testing.T) {
		tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile")
		if status := e.revoke(t, p, tok.RefreshToken); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		if _, err := p.refresh(tok.RefreshToken); errorCode(err) != "invalid_grant" {
			t.Errorf("revoked refresh token: %v, want invalid_grant", err)
		}
		if e.active(t, p, tok.AccessToken) {
			t.Error("access token of a revoked refresh token active")
		}
	})

	t.Run("client authentication", func(t *testing.T) {
		tok := MustTokens(t, e, p, alice, consent{}, "openid", "profile")
		if status := e.revoke(t, nil, tok.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("revoke without credentials: %d, want 401", status)
		}
		wrong := *p
		wrong.secret = "wrong"
		if status := e.revoke(t, &wrong, tok.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("revoke with a wrong secret: %d, want 401", status)
		}
		if status := e.revoke(t, p, "no-such-token"); status != http.StatusOK {
			t.Errorf("revoke an unknown token: %d, want 200", status)
		}
		if !e.active(t, p, tok.AccessToken) {
			t.Error("token revoked by an unauthenticated request")
		}
	})

	t.Run("grant revoked by the member", func(t *testing.T) {
		tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile")
		if err := e.store.RevokeGrant(ctx, alice.ID, p.ID); err != nil {
			t.Fatal(err)
		}
		if e.active(t, p, tok.AccessToken) {
			t.Error("token active after the grant was revoked")
		}
		if _, err := p.refresh(tok.RefreshToken); errorCode(err) != "invalid_grant" {
			t.Errorf("refresh after the grant was revoked: %v", err)
		}
	})
}

func TestIntrospectionClientAuth(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	q := MustPartner(t, e, "Searchly", shopScopes, time.Time{})
	tok := MustTokens(t, e, p, MustMember(t, e, "alice"), consent{}, "openid", "profile")
	wrong := *p
	wrong.secret = "wrong"

	for _, tc := range []struct {
		name       string
		as         *partner
		form       url.Values
		wantStatus int
		wantActive bool
	}{
		{"owner", p, nil, http.StatusOK, true},
		{"no credentials", nil, nil, http.StatusUnauthorized, false},
		{"client_id without secret", nil, url.Values{"client_id": {p.ClientID}}, http.StatusUnauthorized, false},
		{"secret in the form", nil, url.Values{"client_id": {p.ClientID}, "client_secret": {p.secret}}, http.StatusUnauthorized, false},
		{"wrong secret", &wrong, nil, http.StatusUnauthorized, false},
		{"another partner", q, nil, http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"token": {tok.AccessToken}}
			for k, v := range tc.form {
				form[k] = v
			}
			resp := e.postAs(t, tc.as, "/oauth/introspect", form)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusOK {
				if _, got := e.introspect(t, tc.as, tok.AccessToken); got.Active != tc.wantActive {
					t.Errorf("active %v, want %v", got.Active, tc.wantActive)
				}
			}
		})
	}
}

func TestSuspendedPartner(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Streamflix", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	ctx := context.Background()

	tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile")
	pending := newAuth(p) // a code issued before the suspension
	code := pending.Code(newBrowser(t), as(alice, consent{}), "openid", "profile")
	half := newAuth(p) // a login page opened before the suspension
	loginPage := newBrowser(t).Get(half.URL("openid", "profile"))
	if !loginPage.IsLogin() {
		t.Fatalf("want the login page, got %d", loginPage.Status)
	}

	if _, err := e.store.SetPartnerStatus(ctx, p.ClientID, glasshouse.PartnerSuspended); err != nil {
		t.Fatal(err)
	}
	t.Run("authorize", func(t *testing.T) {
		a := newAuth(p)
		r := newBrowser(t).Get(a.URL("openid", "profile"))
		if r.Status != http.StatusBadRequest || r.IsLogin() {
			t.Errorf("authorize: %d at %s, want 400", r.Status, r.URL)
		}
		if r := newBrowser(t).Get(loginPage.URL.String()); r.Status != http.StatusForbidden || !strings.Contains(r.Body, "suspended") {
			t.Errorf("login page of an earlier request: %d", r.Status)
		}
	})
	t.Run("token", func(t *testing.T) {
		if _, err := pending.Exchange(t.Context(), code); errorCode(err) != "invalid_client" {
			t.Errorf("exchange: %v, want invalid_client", err)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		if _, err := p.refresh(tok.RefreshToken); errorCode(err) != "invalid_client" {
			t.Errorf("refresh: %v, want invalid_client", err)
		}
	})
	t.Run("introspection", func(t *testing.T) {
		if status, _ := e.introspect(t, p, tok.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("introspection: %d, want 401", status)
		}
	})
	t.Run("userinfo", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("userinfo: %d %q, want 401 with an invalid_token challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("graph API check", func(t *testing.T) {
		_, _, err := e.srv.VerifyAccessToken(ctx, tok.AccessToken)
		if glasshouse.ErrorCode(err) != glasshouse.EFORBIDDEN || oauth.Reason(err) != oauth.ReasonAgreementSuspended {
			t.Errorf("VerifyAccessToken: %v, want forbidden agreement_suspended", err)
		}
	})

	if _, err := e.store.SetPartnerStatus(ctx, p.ClientID, glasshouse.PartnerApproved); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.srv.VerifyAccessToken(ctx, tok.AccessToken); err != nil {
		t.Errorf("after resuming: %v", err)
	}
}

func TestExpiredGrant(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	ctx := context.Background()
	tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile")
	tok, err := p.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh of a live grant: %v", err)
	}

	// The grant now ends in a minute (as a grant confirmed 90 days ago
	// would); the refresh token itself stays valid for 30 days.
	g, err := e.store.Grant(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	g.ConfirmedAt = e.clock.Now()
	g.ExpiresAt = g.ConfirmedAt.Add(time.Minute)
	if _, err := e.store.SaveGrant(ctx, *g, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)

	if _, err := p.refresh(tok.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Errorf("refresh of an expired grant: %v, want invalid_grant", err)
	}
	_, err = e.srv.Authenticate(ctx, tok.AccessToken)
	if glasshouse.ErrorCode(err) != glasshouse.EFORBIDDEN || oauth.Reason(err) != oauth.ReasonConsentRequired {
		t.Errorf("Authenticate under an expired grant: %v, want forbidden consent_required", err)
	}
	if e.active(t, p, tok.AccessToken) {
		t.Error("introspection: active under an expired grant")
	}
}

// TestOnlyCodeFlow: no implicit flow, no grant but the code and refresh.
func TestOnlyCodeFlow(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})

	for _, rt := range []string{"token", "id_token", "code id_token", "id_token token"} {
		t.Run("response_type="+rt, func(t *testing.T) {
			a := newAuth(p)
			a.Params = append(a.Params, oauth2.SetAuthURLParam("response_type", rt), oauth2.SetAuthURLParam("response_mode", "query"))
			// Refused with an error redirect to the registered URI (RFC
			// 6749 §4.1.2.1); never a login page, never a token.
			wantRedirectError(t, newBrowser(t).Get(a.URL("openid")), a, "unsupported_response_type")
		})
	}
	t.Run("response_mode=fragment", func(t *testing.T) {
		a := newAuth(p)
		a.Params = append(a.Params, oauth2.SetAuthURLParam("response_mode", "fragment"))
		r := newBrowser(t).Get(a.URL("openid"))
		if r.Location == nil {
			t.Fatalf("%d: want an error redirect", r.Status)
		}
		// The error itself goes back in the fragment, as asked.
		q, _ := url.ParseQuery(r.Location.Fragment)
		if q.Get("error") != "invalid_request" || q.Get("state") != a.State {
			t.Errorf("redirect %s: want error=invalid_request", r.Location)
		}
	})
	for _, grant := range []string{
		"client_credentials",
		"password",
		"urn:ietf:params:oauth:grant-type:jwt-bearer",
		"urn:ietf:params:oauth:grant-type:token-exchange",
		"urn:ietf:params:oauth:grant-type:device_code",
	} {
		t.Run("grant_type="+grant, func(t *testing.T) {
			resp := e.postAs(t, p, "/oauth/token", values("grant_type", grant, "assertion", "x.y.z", "username", "alice",
				"password", oauthtest.Password, "subject_token", "x", "subject_token_type", "urn:ietf:params:oauth:token-type:access_token", "device_code", "x"))
			var body struct {
				Error       string `json:"error"`
				AccessToken string `json:"access_token"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode < 400 || body.AccessToken != "" {
				t.Errorf("status %d, body %+v: want refused", resp.StatusCode, body)
			}
		})
	}
}

// TestRefusalCarriesAccess checks that Authenticate, refusing a token that
// it found, still says whose token it was (so that the Graph API records
// the refusal) and lets no data scope through.
func TestRefusalCarriesAccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		refuse func(t *testing.T, e *env, p *partner, m *glasshouse.Member, tok *oauth2.Token)
		code   string
		reason string
	}{
		{"suspended partner", func(t *testing.T, e *env, p *partner, _ *glasshouse.Member, _ *oauth2.Token) {
			if _, err := e.store.SetPartnerStatus(context.Background(), p.ClientID, glasshouse.PartnerSuspended); err != nil {
				t.Fatal(err)
			}
		}, glasshouse.EFORBIDDEN, oauth.ReasonAgreementSuspended},
		{"lapsed consent", func(t *testing.T, e *env, p *partner, m *glasshouse.Member, _ *oauth2.Token) {
			g, err := e.store.Grant(context.Background(), m.ID, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			g.ConfirmedAt, g.ExpiresAt = e.clock.Now(), e.clock.Now().Add(time.Minute)
			if _, err := e.store.SaveGrant(context.Background(), *g, ""); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(2 * time.Minute)
		}, glasshouse.EFORBIDDEN, oauth.ReasonConsentRequired},
		{"revoked token", func(t *testing.T, e *env, p *partner, _ *glasshouse.Member, tok *oauth2.Token) {
			if status := e.revoke(t, p, tok.AccessToken); status != http.StatusOK {
				t.Fatalf("revoke: %d", status)
			}
		}, glasshouse.EUNAUTHORIZED, oauth.ReasonInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := MustEnv(t, nil)
			p := MustPartner(t, e, "Streamflix", shopScopes, time.Time{})
			alice := MustMember(t, e, "alice")
			tok := MustTokens(t, e, p, alice, consent{}, "openid", "profile")
			tc.refuse(t, e, p, alice, tok)
			a, err := e.srv.Authenticate(context.Background(), tok.AccessToken)
			if glasshouse.ErrorCode(err) != tc.code || oauth.Reason(err) != tc.reason {
				t.Fatalf("Authenticate: %v, want %s %s", err, tc.code, tc.reason)
			}
			if a == nil || a.Token == nil || a.Partner == nil {
				t.Fatalf("Authenticate refused without the access: %+v", a)
			}
			if a.Token.MemberID != alice.ID || a.Partner.ID != p.ID || a.Agreement == nil || a.Agreement.Version != 1 || a.Grant != nil {
				t.Errorf("refused access = token %+v, partner %+v, agreement %+v, grant %+v", a.Token, a.Partner, a.Agreement, a.Grant)
			}
			if !slices.Equal(a.Token.Scopes, []string{"openid"}) {
				t.Errorf("refused token scopes %v, want openid alone", a.Token.Scopes)
			}
		})
	}
	t.Run("unknown token", func(t *testing.T) {
		e := MustEnv(t, nil)
		if a, err := e.srv.Authenticate(context.Background(), "nope"); a != nil || oauth.Reason(err) != oauth.ReasonInvalidToken {
			t.Errorf("Authenticate(nope) = %+v, %v; want nil, invalid_token", a, err)
		}
	})
}

// TestAuthorizeRateLimit: /authorize, which anyone can call, stores a
// request per call; one address is held to a burst, then 429 with
// Retry-After, after which it is served again. The server's clock stands
// still unless the test moves it, so that a slow machine refills no bucket.
func TestAuthorizeRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	e := MustEnv(t, nil, func(c *oauth.Config) {
		c.Now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
	})
	p := MustPartner(t, e, "Shopzon", []string{"profile"}, time.Time{})
	statuses := map[int]int{}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func() *http.Response {
		t.Helper()
		resp, err := client.Get(newAuth(p).URL("openid", "profile"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	var last *http.Response
	for range 70 {
		last = get()
		statuses[last.StatusCode]++
	}
	if statuses[http.StatusFound] != 60 || statuses[http.StatusTooManyRequests] != 10 {
		t.Fatalf("statuses %v; want 60 served and the last 10 refused with 429", statuses)
	}
	wait, err := strconv.Atoi(last.Header.Get("Retry-After"))
	if err != nil || wait < 1 {
		t.Fatalf("429 with Retry-After %q; want a number of seconds", last.Header.Get("Retry-After"))
	}
	mu.Lock()
	now = now.Add(time.Duration(wait) * time.Second)
	mu.Unlock()
	if resp := get(); resp.StatusCode != http.StatusFound {
		t.Errorf("after waiting Retry-After (%ds): status %d; want served", wait, resp.StatusCode)
	}
}

// TestRewidenedAgreement narrows an agreement and widens it again: a scope
// the agreement dropped stays out of the member's grant, so neither a live
// access token, nor a refresh, nor a new authorization without the member
// ticking it again brings it back.
func TestRewidenedAgreement(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Streamflix", []string{glasshouse.ScopeProfile, glasshouse.ScopeFriends}, time.Time{})
	alice := MustMember(t, e, "alice")
	ctx := context.Background()
	tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile", "friends")

	for _, scopes := range [][]string{{glasshouse.ScopeProfile}, {glasshouse.ScopeProfile, glasshouse.ScopeFriends}} {
		a, err := e.store.CurrentAgreement(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		a.Scopes = scopes
		if _, err := e.store.ProposeAgreement(ctx, p.ID, *a); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.ApproveAgreement(ctx, p.ClientID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	hasFriends := func(bearer string) bool {
		t.Helper()
		access, err := e.srv.Authenticate(ctx, bearer)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		return slices.Contains(access.Token.Scopes, glasshouse.ScopeFriends)
	}
	t.Run("live access token", func(t *testing.T) {
		if hasFriends(tok.AccessToken) {
			t.Error("the access token regained friends")
		}
	})
	t.Run("refresh", func(t *testing.T) {
		fresh, err := p.refresh(tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if scope, _ := fresh.Extra("scope").(string); strings.Contains(scope, "friends") || hasFriends(fresh.AccessToken) {
			t.Errorf("the refreshed token (scope %q) regained friends", scope)
		}
	})
	t.Run("new authorization", func(t *testing.T) {
		// The consent screen asks again; unticked, friends stays out.
		fresh := MustTokens(t, e, p, alice, consent{Scopes: []string{"profile"}}, "openid", "profile", "friends")
		if hasFriends(fresh.AccessToken) {
			t.Error("a new authorization without ticking friends carries it")
		}
		// Ticked again, it is the member's consent again.
		fresh = MustTokens(t, e, p, alice, consent{}, "openid", "profile", "friends")
		if !hasFriends(fresh.AccessToken) {
			t.Error("friends ticked again on the consent screen is not granted")
		}
	})
}
