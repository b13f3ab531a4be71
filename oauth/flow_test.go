package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/oauth"
	"golang.org/x/oauth2"
)

// TestFlow drives the whole flow as a partner would, with golang.org/x/oauth2
// (PKCE) and go-oidc verifying the ID token against discovery and JWKS.
func TestFlow(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", []string{glasshouse.ScopeProfile, glasshouse.ScopeEmail, glasshouse.ScopeFriends}, time.Time{})
	alice := MustMember(t, e, "alice")
	ctx := context.Background()

	provider, err := oidc.NewProvider(ctx, e.http.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		SubjectTypes        []string `json:"subject_types_supported"`
		ResponseTypes       []string `json:"response_types_supported"`
		GrantTypes          []string `json:"grant_types_supported"`
		CodeChallenge       []string `json:"code_challenge_methods_supported"`
		IntrospectionURL    string   `json:"introspection_endpoint"`
		RevocationURL       string   `json:"revocation_endpoint"`
		IDTokenSigningAlgs  []string `json:"id_token_signing_alg_values_supported"`
		EndSessionEndpoint  string   `json:"end_session_endpoint"`
		DeviceAuthorization string   `json:"device_authorization_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ got, want any }{
		"subject types":        {meta.SubjectTypes, []string{"pairwise"}},
		"response types":       {meta.ResponseTypes, []string{"code"}},
		"grant types":          {meta.GrantTypes, []string{"authorization_code", "refresh_token"}},
		"code challenge":       {meta.CodeChallenge, []string{"S256"}},
		"signing algs":         {meta.IDTokenSigningAlgs, []string{"RS256"}},
		"introspection":        {meta.IntrospectionURL, e.http.URL + "/oauth/introspect"},
		"revocation":           {meta.RevocationURL, e.http.URL + "/revoke"},
		"end session":          {meta.EndSessionEndpoint, ""},
		"device authorization": {meta.DeviceAuthorization, ""},
	} {
		if !equalJSON(c.got, c.want) {
			t.Errorf("discovery %s = %v, want %v", name, c.got, c.want)
		}
	}
	p.cfg.Endpoint = provider.Endpoint()
	p.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader

	a := newAuth(p)
	code := a.Code(newBrowser(t), as(alice, consent{}), "openid", "offline_access", "profile", "email", "friends")
	tok, err := a.Exchange(t.Context(), code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" {
		t.Errorf("token type %q, refresh token %q", tok.TokenType, tok.RefreshToken)
	}
	if d := time.Until(tok.Expiry); d > glasshouse.AccessTokenLifetime || d < glasshouse.AccessTokenLifetime-time.Minute {
		t.Errorf("access token lives %v, want at most %v", d, glasshouse.AccessTokenLifetime)
	}
	if got, want := tok.Extra("scope"), "openid offline_access profile email friends"; got != want {
		t.Errorf("token scope %q, want %q", got, want)
	}

	// The ID token: RS256, issuer and audience from discovery, key from JWKS.
	raw, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: p.ClientID, SupportedSigningAlgs: []string{"RS256"}}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	sub := e.srv.PairwiseID(p.ClientID, alice.ID)
	if idToken.Subject != sub || idToken.Nonce != a.Nonce || idToken.Issuer != e.http.URL {
		t.Errorf("ID token sub %q nonce %q iss %q, want %q %q %q", idToken.Subject, idToken.Nonce, idToken.Issuer, sub, a.Nonce, e.http.URL)
	}
	if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var idClaims map[string]any
	idToken.Claims(&idClaims)
	for _, leak := range []string{"email", "name", "phone_number", "preferred_username"} {
		if _, ok := idClaims[leak]; ok {
			t.Errorf("ID token carries %s; claims belong to userinfo", leak)
		}
	}

	// Userinfo: pairwise sub, the relay address, the name.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	grant, err := e.store.Grant(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Name  string `json:"name"`
		Phone string `json:"phone_number"`
	}
	info.Claims(&claims)
	if info.Subject != sub || info.Email != "" || claims.Name != "" || claims.Phone != "" {
		t.Errorf("userinfo sub %q email %q name %q phone %q", info.Subject, info.Email, claims.Name, claims.Phone)
	}
	if !strings.HasSuffix(grant.RelayEmail, "@relay.127.0.0.1") || strings.Contains(grant.RelayEmail, alice.Handle) {
		t.Errorf("relay address %q", grant.RelayEmail)
	}

	// Introspection and the Graph API's check agree.
	status, in := e.introspect(t, p, tok.AccessToken)
	if status != http.StatusOK || !in.Active || in.Subject != sub || in.ClientID != p.ClientID || in.Scope != "openid offline_access profile email friends" {
		t.Errorf("introspection %d %+v", status, in)
	}
	access, err := e.srv.Authenticate(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if access.Token.MemberID != alice.ID || access.Partner.ID != p.ID || access.Grant.ID != grant.ID || access.Agreement.Version != 1 {
		t.Errorf("Authenticate: %+v", access)
	}

	// Refresh rotates the refresh token; the new access token works.
	next, err := p.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Errorf("refresh did not rotate: %q -> %q", tok.RefreshToken, next.RefreshToken)
	}
	if !e.active(t, p, next.AccessToken) {
		t.Error("refreshed access token inactive")
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestAccessTokenLifetime: an access token dies after 15 minutes.
func TestAccessTokenLifetime(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Searchly", []string{glasshouse.ScopeFriends}, time.Time{})
	tok := MustTokens(t, e, p, MustMember(t, e, "alice"), consent{}, "openid", "friends")
	if tok.RefreshToken != "" {
		t.Error("refresh token without offline_access")
	}
	e.clock.Advance(glasshouse.AccessTokenLifetime - time.Second)
	if !e.active(t, p, tok.AccessToken) {
		t.Fatal("inactive before 15 minutes")
	}
	e.clock.Advance(2 * time.Second)
	if e.active(t, p, tok.AccessToken) {
		t.Error("active after 15 minutes")
	}
	_, err := e.srv.Authenticate(context.Background(), tok.AccessToken)
	if glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED || oauth.Reason(err) != oauth.ReasonInvalidToken {
		t.Errorf("Authenticate after expiry: %v", err)
	}
}
