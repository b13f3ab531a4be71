package graph_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// TestHangUpStillRecorded sends Graph requests and hangs up at once: half
// of the clients half-close their side (as a client that has sent its
// request and shuts down its writes), the other half close the connection
// without reading. The server runs each request to its record anyway: a
// partner cannot make calls that leave no trace.
func TestHangUpStillRecorded(t *testing.T) {
	w := MustWorld(t)
	token := MustToken(t, w.env, w.p, w.alice, consent{scopes: glasshouse.DataScopes})
	before := len(w.env.Records(t, w.alice))
	addr := strings.TrimPrefix(w.env.http.URL, "http://")
	const n = 20
	for i := range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		path := []string{"/graph/v1/me/friends", "/graph/v1/me"}[i%2]
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", path, addr, token)
		if i%2 == 0 {
			conn.(*net.TCPConn).CloseWrite()
			go func() { io.Copy(io.Discard, conn); conn.Close() }()
		} else {
			conn.Close()
		}
	}
	var got int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = len(w.env.Records(t, w.alice)) - before; got >= n {
			break
		}
	}
	if got != n {
		t.Fatalf("%d of %d calls whose client hung up were recorded", got, n)
	}
}

// TestOtherTokensRecorded sends a refresh token and an ID token as
// bearers: neither is an access token, so the calls are refused, but each
// names its partner and member, so each refusal is recorded for the member
// like any other.
func TestOtherTokensRecorded(t *testing.T) {
	w := MustWorld(t)
	tok := MustTokens(t, w.env, w.p, w.alice, consent{scopes: glasshouse.DataScopes, offline: true})
	idToken, _ := tok.Extra("id_token").(string)
	if tok.RefreshToken == "" || idToken == "" {
		t.Fatalf("no refresh token or ID token: %+v", tok)
	}
	for name, bearer := range map[string]string{"refresh token": tok.RefreshToken, "ID token": idToken} {
		t.Run(name, func(t *testing.T) {
			before := len(w.env.Records(t, w.alice))
			if r := w.get(t, "/graph/v1/me/friends", bearer).Error(401, "invalid_token"); r.Header.Get("Glasshouse-Receipt") == "" {
				t.Error("a recorded refusal without its receipt")
			}
			recs := w.env.Records(t, w.alice)
			if len(recs) != before+1 {
				t.Fatalf("%d new records for a %s sent as a bearer, want 1", len(recs)-before, name)
			}
			if r := recs[len(recs)-1]; r.Granted || r.Reason != "invalid_token" || r.ClientID != w.p.ClientID || r.Endpoint != "GET /graph/v1/me/friends" {
				t.Errorf("record %+v, want a denied invalid_token of %s", r, w.p.ClientID)
			}
		})
	}
	// Garbage, and a token signed by someone else, name nobody: refused,
	// and nothing to record.
	before := len(w.env.Records(t, w.alice))
	parts := strings.Split(idToken, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for _, bearer := range []string{"garbage", forged, ""} {
		if r := w.get(t, "/graph/v1/me/friends", bearer).Error(401, "invalid_token"); r.Header.Get("Glasshouse-Receipt") != "" {
			t.Error("an unrecorded refusal carries a receipt")
		}
	}
	if n := len(w.env.Records(t, w.alice)); n != before {
		t.Errorf("a garbage or forged bearer was recorded for alice")
	}
}
