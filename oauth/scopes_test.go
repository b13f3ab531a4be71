package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"golang.org/x/oauth2"
)

// consentPage signs m in and returns the consent page for authURL.
func consentPage(t *testing.T, b *oauthtest.Browser, authURL string, m *glasshouse.Member) *oauthtest.Page {
	t.Helper()
	return b.ConsentPage(b.Get(authURL), as(m, consent{}))
}

func TestPartialGrant(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	ctx := context.Background()

	tok := MustTokens(t, e, p, alice, consent{Scopes: []string{"profile", "friends"}}, "openid", "offline_access", "profile", "email", "friends")
	if got, want := tok.Extra("scope"), "openid offline_access profile friends"; got != want {
		t.Errorf("token scope %q, want %q", got, want)
	}
	if _, in := e.introspect(t, p, tok.AccessToken); in.Scope != "openid offline_access profile friends" {
		t.Errorf("introspection scope %q", in.Scope)
	}
	a, err := e.srv.Authenticate(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(a.Token.Scopes, "email") || !slices.Equal(a.Grant.Scopes, []string{"profile", "friends"}) {
		t.Errorf("token scopes %v, grant scopes %v", a.Token.Scopes, a.Grant.Scopes)
	}
	// A refresh carries the same partial grant, and cannot widen it.
	next, err := p.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := next.Extra("scope"); got != "openid offline_access profile friends" {
		t.Errorf("refreshed scope %q", got)
	}
	resp := e.postAs(t, p, "/oauth/token", values("grant_type", "refresh_token", "refresh_token", next.RefreshToken, "scope", "openid email"))
	var body struct {
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || body.Error != "invalid_scope" {
		t.Errorf("refresh asking for email: %d %q, want invalid_scope", resp.StatusCode, body.Error)
	}
	// Unticking everything grants only the sign-in.
	tok = MustTokens(t, e, p, alice, consent{Scopes: []string{}}, "openid", "profile", "email")
	if got := tok.Extra("scope"); got != "openid" {
		t.Errorf("nothing ticked: scope %q, want openid", got)
	}
}

func TestScopeIntersection(t *testing.T) {
	t.Parallel()
	ceiling := []string{glasshouse.ScopeProfile, glasshouse.ScopeEmail, glasshouse.ScopeFriends, glasshouse.ScopeMessagesRead}
	e := MustEnv(t, ceiling)
	assessed := e.clock.Now().Add(-glasshouse.MaxAssessmentAge + 24*time.Hour)
	p := MustPartner(t, e, "Streamflix", []string{glasshouse.ScopeProfile, glasshouse.ScopePhone, glasshouse.ScopeMessagesRead}, assessed)
	alice := MustMember(t, e, "alice")
	all := []string{"openid", "profile", "email", "phone", "friends", "messages.read", "messages.send", "address"}

	// phone: not in the ceiling; email, friends: not in the agreement.
	a := newAuth(p)
	page := consentPage(t, newBrowser(t), a.URL(all...), alice)
	if got, want := page.Offered(), []string{"profile", "messages.read"}; !slices.Equal(got, want) {
		t.Errorf("offered %v, want %v", got, want)
	}
	// Ticking what was not offered grants nothing more.
	a = newAuth(p)
	code := a.Code(newBrowser(t), as(alice, consent{Scopes: []string{"profile", "phone", "email", "friends"}}), all...)
	tok, err := a.Exchange(t.Context(), code)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Extra("scope"); got != "openid profile" {
		t.Errorf("token scope %q, want openid profile", got)
	}

	// Two days on, the security assessment is over a year old: no more
	// messages.read.
	e.clock.Advance(2 * 24 * time.Hour)
	a = newAuth(p)
	if got := consentPage(t, newBrowser(t), a.URL(all...), alice).Offered(); !slices.Equal(got, []string{"profile"}) {
		t.Errorf("offered with a stale assessment %v, want [profile]", got)
	}

	// Nothing grantable at all.
	a = newAuth(p)
	wantRedirectError(t, newBrowser(t).Get(a.URL("email", "friends")), a, "invalid_scope")
}

func TestMessagesReadConversations(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Streamflix", []string{glasshouse.ScopeMessagesRead}, e.clock.Now().Add(-30*24*time.Hour))
	alice, bob, carol := MustMember(t, e, "alice"), MustMember(t, e, "bob"), MustMember(t, e, "carol")
	ctx := context.Background()
	var convs []*glasshouse.Conversation
	for _, friend := range []*glasshouse.Member{bob, carol} {
		req, err := e.store.RequestFriend(ctx, alice.ID, friend.Handle)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.AcceptFriendRequest(ctx, friend.ID, req.ID); err != nil {
			t.Fatal(err)
		}
		c, _, err := e.store.CreateDirect(ctx, alice.ID, friend.Handle)
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
	}

	a := newAuth(p)
	page := consentPage(t, newBrowser(t), a.URL("openid", "messages.read"), alice)
	for _, name := range []string{bob.DisplayName, carol.DisplayName} {
		if !strings.Contains(page.Body, name) {
			t.Errorf("the consent page does not list the conversation with %s", name)
		}
	}

	// Pick bob's conversation only (and try to slip in one that is not hers).
	tok := MustTokens(t, e, p, alice, consent{Fields: values("conversation", itoa(convs[0].ID), "conversation", "999999")}, "openid", "messages.read")
	g, err := e.store.Grant(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Conversations, []int64{convs[0].ID}) || tok.Extra("scope") != "openid messages.read" {
		t.Errorf("conversations %v, scope %q: want [%d] and messages.read", g.Conversations, tok.Extra("scope"), convs[0].ID)
	}

	// Picking none reads nothing: messages.read is not granted.
	tok = MustTokens(t, e, p, alice, consent{}, "openid", "messages.read")
	if tok.Extra("scope") != "openid" {
		t.Errorf("no conversation picked: scope %q, want openid", tok.Extra("scope"))
	}
}

func TestPairwiseSubjects(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	shop := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	search := MustPartner(t, e, "Searchly", shopScopes, time.Time{})
	alice, bob := MustMember(t, e, "alice"), MustMember(t, e, "bob")
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, e.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	sub := func(p *partner, m *glasshouse.Member) string {
		t.Helper()
		tok := MustTokens(t, e, p, m, consent{}, "openid")
		id, err := provider.Verifier(&oidc.Config{ClientID: p.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		if info := userinfo(t, e, tok); info.Subject != id.Subject {
			t.Errorf("userinfo sub %q, ID token sub %q", info.Subject, id.Subject)
		}
		return id.Subject
	}
	aliceShop, aliceSearch, bobShop := sub(shop, alice), sub(search, alice), sub(shop, bob)
	if aliceShop == aliceSearch {
		t.Errorf("alice has the same id %q at two partners", aliceShop)
	}
	if aliceShop == bobShop {
		t.Errorf("alice and bob share the id %q", aliceShop)
	}
	if again := sub(shop, alice); again != aliceShop {
		t.Errorf("alice's id at Shopzon changed: %q then %q", aliceShop, again)
	}
	if aliceShop != e.srv.PairwiseID(shop.ClientID, alice.ID) {
		t.Errorf("sub %q is not PairwiseID", aliceShop)
	}
	for _, leak := range []string{alice.Handle, itoa(alice.ID)} {
		if aliceShop == leak {
			t.Errorf("sub is the member's %q", leak)
		}
	}
	if id, ok := e.srv.MemberIDFor(shop.ClientID, aliceShop, []int64{bob.ID, alice.ID}); !ok || id != alice.ID {
		t.Errorf("MemberIDFor = %d, %v; want alice", id, ok)
	}
	if _, ok := e.srv.MemberIDFor(search.ClientID, aliceShop, []int64{bob.ID, alice.ID}); ok {
		t.Error("MemberIDFor maps Shopzon's id at Searchly")
	}
}

// TestUserinfoClaims: whatever the scopes, userinfo says who (the pairwise
// sub) and nothing else; profile data goes through the Graph API, where it
// is decided by the policy and recorded.
func TestUserinfoClaims(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", []string{"profile", "email", "phone"}, time.Time{})
	alice := MustMember(t, e, "alice")
	tok := MustTokens(t, e, p, alice, consent{}, "openid", "profile", "email", "phone")
	if got, want := userinfo(t, e, tok), (claims{Subject: e.srv.PairwiseID(p.ClientID, alice.ID)}); got != want {
		t.Errorf("userinfo %+v, want %+v", got, want)
	}

	t.Run("needs openid", func(t *testing.T) {
		tok := MustTokens(t, e, p, alice, consent{}, "profile")
		if status := userinfoStatus(t, e, tok.AccessToken); status != http.StatusForbidden {
			t.Errorf("userinfo without openid: %d, want 403", status)
		}
	})
}

func TestRelayEmail(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", []string{"email"}, time.Time{})
	q := MustPartner(t, e, "Searchly", []string{"email"}, time.Time{})
	alice := MustMember(t, e, "alice")
	ctx := context.Background()
	MustTokens(t, e, p, alice, consent{}, "openid", "email")
	MustTokens(t, e, q, alice, consent{}, "openid", "email")
	g, err := e.store.Grant(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.store.Grant(ctx, alice.ID, q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.RelayEmail == h.RelayEmail {
		t.Errorf("one relay address %q for two partners", g.RelayEmail)
	}

	if err := e.srv.Relay(ctx, g.RelayEmail, "Your order", "It shipped."); err != nil {
		t.Fatalf("Relay: %v", err)
	}
	sent := e.mailer.Sent()
	if len(sent) != 1 || sent[0].To != alice.Email || sent[0].Subject != "Your order" ||
		!strings.Contains(sent[0].Body, "It shipped.") || !strings.Contains(sent[0].Body, "Shopzon") {
		t.Fatalf("sent %+v", sent)
	}

	forged := []byte(g.RelayEmail)
	forged[0] ^= 1
	for name, addr := range map[string]string{
		"unknown":      "nobody@relay.127.0.0.1",
		"forged":       string(forged),
		"other domain": strings.Split(g.RelayEmail, "@")[0] + "@example.org",
	} {
		if err := e.srv.Relay(ctx, addr, "x", "y"); glasshouse.ErrorCode(err) != glasshouse.ENOTFOUND {
			t.Errorf("Relay to %s address: %v, want not found", name, err)
		}
	}

	if err := e.store.SetRelayEnabled(ctx, alice.ID, p.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Relay(ctx, g.RelayEmail, "Sale", "Buy now."); glasshouse.ErrorCode(err) != glasshouse.EFORBIDDEN {
		t.Errorf("Relay to a cut-off address: %v, want forbidden", err)
	}
	if err := e.srv.Relay(ctx, h.RelayEmail, "Hello", "From Searchly."); err != nil {
		t.Errorf("cutting one relay off cut another: %v", err)
	}
	if n := len(e.mailer.Sent()); n != 2 {
		t.Errorf("%d messages sent, want 2", n)
	}
}

// claims are the userinfo claims the tests check.
type claims struct {
	Subject string `json:"sub"`
	Name    string `json:"name"`
	Picture string `json:"picture"`
	Email   string `json:"email"`
	Phone   string `json:"phone_number"`
}

func userinfo(t *testing.T, e *env, tok *oauth2.Token) claims {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), e.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	info, err := provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var c claims
	if err := info.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func userinfoStatus(t *testing.T, e *env, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
