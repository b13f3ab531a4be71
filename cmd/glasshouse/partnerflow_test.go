package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/oauthtest"
	"golang.org/x/oauth2"
)

// partnerApp is a partner's side of the flow, with the standard client
// libraries: golang.org/x/oauth2 and github.com/coreos/go-oidc.
type partnerApp struct {
	tb       testing.TB
	base     string
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newPartnerApp(tb testing.TB, issuer, clientID, secret, redirect string, scopes ...string) *partnerApp {
	provider, err := oidc.NewProvider(context.Background(), issuer) // discovery; checks the issuer
	if err != nil {
		tb.Fatal(err)
	}
	return &partnerApp{
		tb:       tb,
		base:     issuer,
		oauth:    &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirect, Scopes: append([]string{oidc.ScopeOpenID}, scopes...)},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
	}
}

// authorize runs the code flow with PKCE in a new browser of the member
// who answers the login and consent pages with c; it returns the tokens
// and the ID token, verified against the JWKS with the nonce checked.
func (p *partnerApp) authorize(c oauthtest.Consent) (*oauth2.Token, *oidc.IDToken) {
	p.tb.Helper()
	f := oauthtest.NewFlow(p.oauth)
	// The browser stops at the partner's redirect URI, which nothing serves
	// here.
	tok := f.MustTokens(oauthtest.NewBrowser(p.tb, p.base, p.oauth.RedirectURL), c)
	raw, _ := tok.Extra("id_token").(string)
	id, err := p.verifier.Verify(context.Background(), raw)
	if err != nil {
		p.tb.Fatalf("id token: %v", err)
	}
	if id.Nonce != f.Nonce {
		p.tb.Fatalf("id token nonce %q, want %q", id.Nonce, f.Nonce)
	}
	return tok, id
}

// graph calls the Graph API with tok and decodes the reply; it returns the
// status and the raw body.
func (p *partnerApp) graph(tok *oauth2.Token, method, path string, body, out any) (int, string) {
	p.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.oauth.Client(context.Background(), tok).Do(req)
	if err != nil {
		p.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			p.tb.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// partnerCreds are what `partner create` prints for a new partner.
type partnerCreds struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// mustApprovedPartner registers a partner with the operator's commands, as
// the partner guide says, and approves its agreement. store holds the
// flags that find the deployment (--data, and --db, --storage-key-file as
// it has them); create the other flags of `partner create`.
func mustApprovedPartner(t *testing.T, store []string, create ...string) partnerCreds {
	t.Helper()
	out, err := runCLI(t, append(append([]string{"partner", "create"}, store...), create...)...)
	if err != nil {
		t.Fatalf("partner create: %v\n%s", err, out)
	}
	var creds partnerCreds
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.ClientID == "" || creds.ClientSecret == "" {
		t.Fatalf("partner create printed %q (%v)", out, err)
	}
	if out, err := runCLI(t, append([]string{"partner", "approve", creds.ClientID}, store...)...); err != nil {
		t.Fatalf("partner approve: %v\n%s", err, out)
	}
	return creds
}

// TestPartnerFlowEndToEnd: an operator registers a partner with the CLI,
// members consent with real pages, and the partner, with the standard
// client libraries, verifies the ID token and calls every Graph endpoint.
func TestPartnerFlowEndToEnd(t *testing.T) {
	m := MustRunMain(t)
	const redirect = "https://partner.example/callback"
	creds := mustApprovedPartner(t, []string{"--data", m.Config.Data}, "--name", "Streamflix", "--redirect-uri", redirect,
		"--scopes", "profile,friends,messages.send,messages.read", "--assessed", "2026-09-01",
		"--purpose", "Share what you watch with a friend", "--retention", "30")

	w := newTestWorld(t, m.URL())
	aliceTok, bobTok := w.member("alice"), w.member("bob")
	w.befriend(aliceTok, bobTok, "bob")
	var direct glasshouse.Conversation
	w.do(aliceTok, "POST", "/api/v1/conversations", map[string]string{"kind": "direct", "with": "bob"}, &direct)
	w.send(bobTok, direct.ID, "see you at eight", "b1")

	app := newPartnerApp(t, m.URL(), creds.ClientID, creds.ClientSecret, redirect, "profile", "friends", "messages.send", "messages.read")
	// bob grants everything but messages.read; alice unticks profile and
	// lets the app read her conversation with bob.
	bobToken, bobID := app.authorize(consentOf("bob", "bob-bench-password", []string{"profile", "friends", "messages.send"}))
	aliceToken, aliceID := app.authorize(consentOf("alice", "alice-bench-password", []string{"friends", "messages.send", "messages.read"}, direct.ID))
	if aliceID.Subject == bobID.Subject || len(aliceID.Subject) != 22 {
		t.Fatalf("subjects %q and %q", aliceID.Subject, bobID.Subject)
	}
	if got := strings.Fields(fmt.Sprint(aliceToken.Extra("scope"))); strings.Contains(fmt.Sprint(got), "profile") {
		t.Errorf("alice's token carries the unticked profile scope: %v", got)
	}

	// GET /me: alice's pairwise id, no name (profile unticked), her picked conversation.
	var me struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		Conversations []string `json:"conversations"`
	}
	if st, body := app.graph(aliceToken, "GET", "/graph/v1/me", nil, &me); st != 200 || me.ID != aliceID.Subject || me.Name != "" || len(me.Conversations) != 1 {
		t.Fatalf("GET /me: %d %s", st, body)
	}
	// GET /me/friends: bob, who granted the app, under his pairwise id.
	var friends struct {
		Friends []struct{ ID string } `json:"friends"`
	}
	if st, body := app.graph(aliceToken, "GET", "/graph/v1/me/friends", nil, &friends); st != 200 || len(friends.Friends) != 1 || friends.Friends[0].ID != bobID.Subject {
		t.Fatalf("GET /me/friends: %d %s", st, body)
	}
	// POST /me/messages: lands in bob's conversation with alice, marked.
	if st, body := app.graph(aliceToken, "POST", "/graph/v1/me/messages", map[string]string{"to": bobID.Subject, "text": "Watching Metropolis"}, nil); st != 201 {
		t.Fatalf("POST /me/messages: %d %s", st, body)
	}
	var page glasshouse.MessagePage
	w.do(bobTok, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=1", direct.ID), nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].Text != "Watching Metropolis" || page.Messages[0].ViaPartner != "Streamflix" {
		t.Fatalf("bob's conversation: %+v", page.Messages)
	}
	// GET /me/conversations/{id}/messages: alice's own messages of the
	// picked conversation (bob did not grant messages.read, so his stay out).
	var msgs struct {
		Messages []struct{ From, Text string } `json:"messages"`
	}
	if st, body := app.graph(aliceToken, "GET", "/graph/v1/me/conversations/"+me.Conversations[0]+"/messages", nil, &msgs); st != 200 {
		t.Fatalf("GET messages: %d %s", st, body)
	} else if strings.Contains(body, "see you at eight") || !strings.Contains(body, "Watching Metropolis") {
		t.Fatalf("GET messages returned %s", body)
	}
	// No scope reads a whole inbox or deletes: those paths do not exist.
	for _, path := range []string{"/graph/v1/me/conversations", "/graph/v1/me/inbox"} {
		if st, _ := app.graph(aliceToken, "GET", path, nil, nil); st != 404 {
			t.Errorf("GET %s: %d, want 404", path, st)
		}
	}
	// bob left messages.read unticked: refused.
	if st, body := app.graph(bobToken, "GET", "/graph/v1/me/conversations/"+me.Conversations[0]+"/messages", nil, nil); st != 403 || !strings.Contains(body, "insufficient_scope") {
		t.Fatalf("bob reading without messages.read: %d %s", st, body)
	}
	// The operator suspends the partner: refused on its very next call.
	if _, err := runCLI(t, "partner", "suspend", creds.ClientID, "--data", m.Config.Data); err != nil {
		t.Fatal(err)
	}
	if st, body := app.graph(aliceToken, "GET", "/graph/v1/me/friends", nil, nil); st != 403 || !strings.Contains(body, "agreement_suspended") {
		t.Fatalf("after suspension: %d %s", st, body)
	}

	// An auditor verifies the log and counts what the partner did: every
	// Graph request above, granted or denied, is in it.
	const calls = 9 // me, friends, send, read, two unknown paths, bob's refused read, the suspended call
	waitForLog(t, m, calls-1)
	out, err := runCLI(t, "audit", "report", m.URL(), "--state", filepath.Join(t.TempDir(), "state.json"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Size   uint64
		Counts []struct {
			Partner, Scope, Decision, Reason string
			N                                uint64
		}
	}
	json.Unmarshal([]byte(out), &rep)
	got := map[string]uint64{}
	for _, c := range rep.Counts {
		if c.Partner != creds.ClientID {
			t.Errorf("entry of another partner: %+v", c)
		}
		got[c.Scope+" "+c.Decision+" "+c.Reason] += c.N
	}
	for key, want := range map[string]uint64{
		"messages.send granted ":                  1,
		"messages.read granted ":                  2, // the read, and /me listing the picked conversation
		"messages.read denied insufficient_scope": 1,
		"friends granted ":                        1,
		"friends denied agreement_suspended":      1,
		" denied unknown_request":                 2,
	} {
		if got[key] != want {
			t.Errorf("audit report: %q = %d, want %d (all: %v)", key, got[key], want, got)
		}
	}

	// alice finds her own entries in the log with the key her privacy
	// center gives her, without the server's word for where they are.
	var mine struct {
		Count     uint64 `json:"count"`
		MemberKey []byte `json:"member_key"`
	}
	w.do(aliceTok, "GET", "/api/v1/me/access", nil, &mine)
	// alice's calls: me, friends, send, read, two unknown paths and the
	// suspended call.
	if mine.Count != 7 || len(mine.MemberKey) != 32 {
		t.Fatalf("alice's access count %d and key of %d bytes; want 7 and 32", mine.Count, len(mine.MemberKey))
	}
	key := base64.StdEncoding.EncodeToString(mine.MemberKey)
	state := filepath.Join(t.TempDir(), "trail-state.json")
	out, err = runCLI(t, "audit", "trail", m.URL(), "--member-key", key, "--count", fmt.Sprint(mine.Count), "--state", state, "--json")
	if err != nil {
		t.Fatalf("audit trail: %v\n%s", err, out)
	}
	var trail struct {
		Found   []struct{ Counter, Index uint64 }
		Missing []uint64
	}
	json.Unmarshal([]byte(out), &trail)
	if uint64(len(trail.Found)) != mine.Count || len(trail.Missing) != 0 {
		t.Fatalf("audit trail found %d of alice's %d entries, missing %v", len(trail.Found), mine.Count, trail.Missing)
	}
	// Claiming one more access than the log holds shows the gap.
	if out, err := runCLI(t, "audit", "trail", m.URL(), "--member-key", key, "--count", fmt.Sprint(mine.Count+1), "--state", state); err == nil || !strings.Contains(out, "MISSING") {
		t.Errorf("audit trail with one access too many: err %v, output %q; want the missing counter named", err, out)
	}
	if _, err := runCLI(t, "audit", "trail", m.URL(), "--member-key", "not-a-key", "--state", state); err == nil {
		t.Error("audit trail accepted a malformed key")
	}
}

// waitForLog waits (boundedly) until the served checkpoint holds at least
// n entries.
func waitForLog(t *testing.T, m *Main, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		cp, err := m.Feeder.Checkpoint(context.Background())
		if err == nil && cp.Size >= n {
			return
		}
	}
	t.Fatalf("the log did not reach %d entries", n)
}
