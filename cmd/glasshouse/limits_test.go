package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/glasshouse/glasshouse/internal/natstest"
)

// TestClusterLimits runs three nodes on one database and one NATS server
// and checks that what must hold for the deployment holds whichever node a
// request reaches: ten wrong passwords spread over the nodes lock the
// account; a partner's rate limit is the same with one node or three; a
// member's disconnecting a partner refuses its token on every node at
// once; a sign-out on one node ends the session's stream on another at
// once, well before the stream's next ping (an hour here) would have.
func TestClusterLimits(t *testing.T) {
	db := clusterPostgres(t)
	natsURL := natstest.Start(t).URL()
	data := t.TempDir()
	const burst = 5
	config := func(c *Config) {
		c.PartnerBurst, c.PartnerRate = burst, 0.001 // no token comes back during the test
		c.StreamPing = time.Hour
	}
	nodes := []*Main{mustStartNode(t, data, db, natsURL, config), mustStartNode(t, data, db, natsURL, config), mustStartNode(t, data, db, natsURL, config)}
	worlds := make([]*testWorld, len(nodes))
	for i, n := range nodes {
		worlds[i] = newTestWorld(t, n.URL())
	}
	ctx := context.Background()

	t.Run("wrong passwords over the nodes", func(t *testing.T) {
		worlds[0].member("dave")
		for i := range 10 {
			err := worlds[i%3].c.call(ctx, "", "POST", "/api/v1/sessions", map[string]string{"handle": "dave", "password": fmt.Sprint("guess ", i)}, nil)
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("wrong password %d on node %d: %v; want 401", i, i%3, err)
			}
		}
		for i, w := range worlds {
			err := w.c.call(ctx, "", "POST", "/api/v1/sessions", map[string]string{"handle": "dave", "password": "dave-bench-password"}, nil)
			if err == nil || !strings.Contains(err.Error(), "429") {
				t.Errorf("the right password on node %d after 10 wrong ones over three nodes: %v; want 429", i, err)
			}
		}
	})

	// A partner, and bob's token for it, issued through node 0.
	const redirect = "https://partner.example/callback"
	creds := mustApprovedPartner(t, []string{"--data", data, "--db", db}, "--name", "Limited", "--redirect-uri", redirect,
		"--scopes", "profile,friends", "--assessed", "2026-09-01", "--purpose", "Testing cluster limits", "--retention", "30")
	bob := worlds[0].member("bob")
	app := newPartnerApp(t, nodes[0].URL(), creds.ClientID, creds.ClientSecret, redirect, "profile", "friends")
	token, _ := app.authorize(consentOf("bob", "bob-bench-password", []string{"profile", "friends"}))
	graphStatus := func(n int) int {
		t.Helper()
		a := *app
		a.base = nodes[n].URL()
		st, _ := a.graph(token, "GET", "/graph/v1/me", nil, nil)
		return st
	}

	t.Run("partner rate limit", func(t *testing.T) {
		granted := 0
		for i := range 3 * burst {
			switch st := graphStatus(i % 3); st {
			case http.StatusOK:
				granted++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("call %d: %d", i, st)
			}
		}
		if granted != burst {
			t.Fatalf("%d of %d calls over three nodes granted; want the partner's burst, %d, as on one node", granted, 3*burst, burst)
		}
	})

	t.Run("disconnect", func(t *testing.T) {
		var apps []struct {
			PartnerID int64 `json:"partner_id"`
		}
		worlds[1].do(bob, "GET", "/api/v1/me/apps", nil, &apps)
		if len(apps) != 1 {
			t.Fatalf("bob's apps: %+v", apps)
		}
		worlds[1].do(bob, "DELETE", fmt.Sprintf("/api/v1/me/apps/%d", apps[0].PartnerID), nil, nil)
		for n := range nodes {
			if st := graphStatus(n); st != http.StatusUnauthorized {
				t.Errorf("node %d answered %d to the disconnected partner's token; want 401", n, st)
			}
		}
	})

	t.Run("sign-out ends streams on every node", func(t *testing.T) {
		carol := worlds[0].member("carol")
		stream := worlds[2].stream(carol, 0)
		worlds[0].do(carol, "DELETE", "/api/v1/sessions/current", nil, nil)
		rctx, cancel := context.WithTimeout(ctx, streamDeadline) // far below the hour of the next ping
		defer cancel()
		for {
			_, _, err := stream.conn.Read(rctx)
			if err == nil {
				continue
			}
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Reason != "signed out; sign in again" {
				t.Fatalf("carol's stream on node 2 ended with %v; want a close for the sign-out on node 0", err)
			}
			return
		}
	})
}
