package oauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/oauth"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	for _, tc := range []struct {
		name string
		cfg  oauth.Config
	}{
		{"no store", oauth.Config{Issuer: "https://glasshouse.example", SignIn: e.signIn}},
		{"no sign-in", oauth.Config{Issuer: "https://glasshouse.example", Store: e.store}},
		{"no issuer", oauth.Config{Store: e.store, SignIn: e.signIn}},
		{"issuer with a path", oauth.Config{Issuer: "https://glasshouse.example/oauth", Store: e.store, SignIn: e.signIn}},
		{"issuer with a trailing slash", oauth.Config{Issuer: "https://glasshouse.example/", Store: e.store, SignIn: e.signIn}},
		{"issuer not http", oauth.Config{Issuer: "ftp://glasshouse.example", Store: e.store, SignIn: e.signIn}},
		{"unknown ceiling scope", oauth.Config{Issuer: "https://glasshouse.example", Store: e.store, SignIn: e.signIn, Ceiling: []string{"inbox"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := oauth.New(tc.cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

// TestSecretsShared: a second server on the same store (another node, or
// a restart) has the same keys: same pairwise ids, and it accepts the
// first one's tokens.
func TestSecretsShared(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	alice := MustMember(t, e, "alice")
	tok := MustTokens(t, e, p, alice, consent{}, "openid", "profile")

	other, err := oauth.New(oauth.Config{Issuer: "https://node2.example", Store: e.store, SignIn: e.signIn, Now: e.clock.Now, Ceiling: glasshouse.DataScopes})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := other.PairwiseID(p.ClientID, alice.ID), e.srv.PairwiseID(p.ClientID, alice.ID); got != want {
		t.Errorf("pairwise ids differ between nodes: %q, %q", got, want)
	}
	if _, err := other.Authenticate(context.Background(), tok.AccessToken); err != nil {
		t.Errorf("the other node refuses the token: %v", err)
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	tok := MustTokens(t, e, p, MustMember(t, e, "alice"), consent{}, "openid", "profile")
	sealed := []byte(tok.AccessToken)
	sealed[len(sealed)-5] ^= 1
	for name, bearer := range map[string]string{
		"empty":                  "",
		"garbage":                "not-a-token",
		"tampered":               string(sealed),
		"huge":                   strings.Repeat("a", 5000),
		"a session token":        "c2Vzc2lvbi10b2tlbi1vZi0zMi1ieXRlcy1sb25nLi4",
		"the ID token":           tok.Extra("id_token").(string),
		"another server's token": foreignToken(t),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.srv.Authenticate(context.Background(), bearer)
			if glasshouse.ErrorCode(err) != glasshouse.EUNAUTHORIZED || oauth.Reason(err) != oauth.ReasonInvalidToken {
				t.Errorf("Authenticate: %v, want unauthorized invalid_token", err)
			}
		})
	}
}

// foreignToken is a valid access token of another server.
func foreignToken(t *testing.T) string {
	e := MustEnv(t, nil)
	p := MustPartner(t, e, "Shopzon", shopScopes, time.Time{})
	return MustTokens(t, e, p, MustMember(t, e, "alice"), consent{}, "openid").AccessToken
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	id, secret := oauth.NewClientCredentials()
	id2, secret2 := oauth.NewClientCredentials()
	if len(id) != 22 || len(secret) != 43 || id == id2 || secret == secret2 {
		t.Errorf("credentials %q %q, %q %q", id, secret, id2, secret2)
	}
	want := sha256.Sum256([]byte(secret))
	if !bytes.Equal(oauth.HashSecret(secret), want[:]) {
		t.Error("HashSecret is not SHA-256")
	}
}

// A client id that started with "-" would read as a flag on the command
// line (glasshouse partner approve ID): one in 64 would without the guard.
func TestClientIDNeverLooksLikeAFlag(t *testing.T) {
	for range 2000 {
		id, secret := oauth.NewClientCredentials()
		if strings.HasPrefix(id, "-") || len(id) != 22 || len(secret) != 43 {
			t.Fatalf("credentials %q, %q", id, secret)
		}
	}
}
