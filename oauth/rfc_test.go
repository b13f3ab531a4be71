package oauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// answer is one HTTP answer of a protocol endpoint.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	json.Unmarshal(b, &a.body)
	return a
}

// wantOAuthError checks an RFC 6749 §5.2 error: the status, a JSON body
// with the code, no-store, and for a 401 a challenge of the scheme.
func (a answer) wantOAuthError(t *testing.T, status int, code, scheme string) {
	t.Helper()
	if a.status != status || a.body["error"] != code || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Errorf("%d %s %q, want %d JSON with error %s", a.status, a.header.Get("Content-Type"), a.raw, status, code)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", a.header.Get("Cache-Control"))
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), scheme+" ") {
		t.Errorf("401 with WWW-Authenticate %q, want a %s challenge", a.header.Get("WWW-Authenticate"), scheme)
	}
}

// post sends form to path with the given Basic credentials (none if id
// is "").
func (e *env) post(t *testing.T, path, id, secret string, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, resp)
}

// TestTokenEndpointRFC6749 checks the token and revocation endpoints
// against RFC 6749 §5: no-store on every answer, HTTP Basic as the one
// client authentication (as discovery says), and a Basic challenge on 401.
func TestTokenEndpointRFC6749(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile")

	ok := e.post(t, "/oauth/token", p.ClientID, p.secret, values("grant_type", "refresh_token", "refresh_token", tok.RefreshToken))
	if ok.status != http.StatusOK || ok.header.Get("Cache-Control") != "no-store" || ok.header.Get("Pragma") != "no-cache" {
		t.Errorf("refresh: %d, Cache-Control %q, Pragma %q; want 200 no-store no-cache", ok.status, ok.header.Get("Cache-Control"), ok.header.Get("Pragma"))
	}
	for _, path := range []string{"/oauth/token", "/revoke"} {
		form := values("grant_type", "refresh_token", "refresh_token", "x", "token", "x")
		t.Run(path+"/wrong secret", func(t *testing.T) {
			e.post(t, path, p.ClientID, "wrong", form).wantOAuthError(t, http.StatusUnauthorized, "invalid_client", "Basic")
		})
		t.Run(path+"/unknown client", func(t *testing.T) {
			e.post(t, path, "nobody", "wrong", form).wantOAuthError(t, http.StatusUnauthorized, "invalid_client", "Basic")
		})
		t.Run(path+"/no credentials", func(t *testing.T) {
			e.post(t, path, "", "", form).wantOAuthError(t, http.StatusUnauthorized, "invalid_client", "Basic")
		})
		t.Run(path+"/client_secret_post", func(t *testing.T) {
			post := values("grant_type", "refresh_token", "refresh_token", "x", "token", "x", "client_id", p.ClientID, "client_secret", p.secret)
			e.post(t, path, "", "", post).wantOAuthError(t, http.StatusUnauthorized, "invalid_client", "Basic")
		})
	}
}

// TestIntrospectionRFC7662 checks introspection: JSON errors that say the
// same for an unknown client and a wrong secret, no-store, and the
// client's own refresh tokens active while they can be used.
func TestIntrospectionRFC7662(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	other := MustPartner(t, e, "Searchly", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	tok := MustTokens(t, e, p, alice, consent{}, "openid", "offline_access", "profile")

	unknown := e.post(t, "/oauth/introspect", "nobody", "x", values("token", tok.AccessToken))
	wrong := e.post(t, "/oauth/introspect", p.ClientID, "x", values("token", tok.AccessToken))
	for _, a := range []answer{unknown, wrong} {
		a.wantOAuthError(t, http.StatusUnauthorized, "invalid_client", "Basic")
	}
	if unknown.raw != wrong.raw {
		t.Errorf("unknown client %q and wrong secret %q are told apart", unknown.raw, wrong.raw)
	}
	e.post(t, "/oauth/introspect", p.ClientID, p.secret, nil).wantOAuthError(t, http.StatusBadRequest, "invalid_request", "")
	e.post(t, "/oauth/introspect", "", "", values("token", tok.AccessToken, "client_id", p.ClientID, "client_secret", p.secret)).
		wantOAuthError(t, http.StatusUnauthorized, "invalid_client", "Basic")

	introspect := func(as *partner, token string) map[string]any {
		t.Helper()
		a := e.post(t, "/oauth/introspect", as.ClientID, as.secret, values("token", token))
		if a.status != http.StatusOK || a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("introspect: %d %q, Cache-Control %q", a.status, a.raw, a.header.Get("Cache-Control"))
		}
		return a.body
	}
	if b := introspect(p, tok.AccessToken); b["active"] != true || b["token_type"] != "Bearer" || b["client_id"] != p.ClientID {
		t.Errorf("access token: %v", b)
	}
	if b := introspect(p, tok.RefreshToken); b["active"] != true || b["scope"] != "openid offline_access profile" || b["sub"] == "" {
		t.Errorf("refresh token: %v, want active with its scopes", b)
	}
	for name, b := range map[string]map[string]any{
		"another client's access token":  introspect(other, tok.AccessToken),
		"another client's refresh token": introspect(other, tok.RefreshToken),
		"garbage":                        introspect(p, "garbage"),
	} {
		if b["active"] != false || len(b) != 1 {
			t.Errorf("%s: %v, want {active: false} alone", name, b)
		}
	}
	if _, err := p.refresh(tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if b := introspect(p, tok.RefreshToken); b["active"] != false {
		t.Errorf("a used refresh token: %v, want inactive", b)
	}
}

// TestUserinfoRFC6750 checks the UserInfo endpoint's bearer token errors.
func TestUserinfoRFC6750(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	withOpenID := MustTokens(t, e, p, alice, consent{}, "openid", "profile")
	without := MustTokens(t, e, p, alice, consent{}, "profile")
	get := func(bearer string) answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/userinfo", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readAnswer(t, resp)
	}
	if a := get(withOpenID.AccessToken); a.status != http.StatusOK || a.body["sub"] == nil || len(a.body) != 1 {
		t.Errorf("userinfo: %d %q, want the sub alone", a.status, a.raw)
	}
	none := get("")
	none.wantOAuthError(t, http.StatusUnauthorized, "invalid_request", "Bearer")
	if strings.Contains(none.header.Get("WWW-Authenticate"), "error=") {
		t.Errorf("no token: challenge %q carries an error code (RFC 6750 §3.1)", none.header.Get("WWW-Authenticate"))
	}
	garbage := get("garbage")
	garbage.wantOAuthError(t, http.StatusUnauthorized, "invalid_token", "Bearer")
	if !strings.Contains(garbage.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("garbage token: challenge %q", garbage.header.Get("WWW-Authenticate"))
	}
	noOpenID := get(without.AccessToken)
	noOpenID.wantOAuthError(t, http.StatusForbidden, "insufficient_scope", "Bearer")
	if !strings.Contains(noOpenID.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("no openid: challenge %q", noOpenID.header.Get("WWW-Authenticate"))
	}
}

// TestMetadata checks discovery says what is true, and that RFC 8414
// metadata is served too.
func TestMetadata(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	var docs []map[string]any
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		resp, err := http.Get(e.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		a := readAnswer(t, resp)
		if a.status != http.StatusOK || a.body["issuer"] != e.http.URL {
			t.Fatalf("%s: %d %q", path, a.status, a.raw)
		}
		docs = append(docs, a.body)
	}
	d := docs[0]
	for _, field := range []string{"token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"} {
		if methods, _ := d[field].([]any); len(methods) != 1 || methods[0] != "client_secret_basic" {
			t.Errorf("%s = %v, want [client_secret_basic]", field, d[field])
		}
	}
	claims, _ := d["claims_supported"].([]any)
	for _, c := range claims {
		if slices.Contains([]any{"name", "picture", "email", "phone_number", "c_hash"}, c) {
			t.Errorf("claims_supported lists %v, which neither the ID token nor userinfo ever carries", c)
		}
	}
	if d["token_endpoint"] != docs[1]["token_endpoint"] {
		t.Errorf("the two metadata documents disagree: %v, %v", d["token_endpoint"], docs[1]["token_endpoint"])
	}
}

// TestUnsupportedResponseTypeNoRedirect: an unsupported response_type with
// a redirect URI that is not registered is not redirected to.
func TestUnsupportedResponseTypeNoRedirect(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	a := newAuth(p)
	cfg := *p.cfg
	cfg.RedirectURL = "https://evil.example/callback"
	r := newBrowser(t).Get(cfg.AuthCodeURL(a.State, append(a.Params, oauth2.SetAuthURLParam("response_type", "token"))...))
	if r.Location != nil {
		t.Fatalf("redirected to %s", r.Location)
	}
}
