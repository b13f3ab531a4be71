package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/nginxtest"
)

// mustDeployedNginx starts nginx with deploy/nginx/glasshouse.conf, as an
// operator installs it, in front of the nodes.
func mustDeployedNginx(tb testing.TB, nodes ...string) *nginxtest.Proxy {
	tb.Helper()
	site, err := os.ReadFile("../../deploy/nginx/glasshouse.conf")
	if err != nil {
		tb.Fatal(err)
	}
	p := nginxtest.Start(tb, string(site), nodes...)
	nginxtest.WaitHealthy(tb, p.URL)
	return p
}

// TestBehindNginx runs the API, a WebSocket stream and an event stream
// through the nginx configuration of deploy/: messages go out as they are
// committed, through a proxy that must neither buffer nor time out a
// stream.
func TestBehindNginx(t *testing.T) {
	m := NewMain()
	m.Config.Addr, m.Config.Data, m.Config.LogLevel, m.Config.TrustedProxies = "127.0.0.1:0", t.TempDir(), "warn", "127.0.0.1"
	m.Stdout = io.Discard
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	proxy := mustDeployedNginx(t, strings.TrimPrefix(m.URL(), "http://"))

	w := newTestWorld(t, proxy.URL)
	alice, bob := w.member("alice"), w.member("bob")
	w.befriend(alice, bob, "bob")
	var direct glasshouse.Conversation
	w.do(alice, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "with": "bob"}, &direct)

	ws := w.stream(bob, 0)
	sse := openEventStream(t, proxy.URL, bob, 0)
	sent := w.send(alice, direct.ID, "through the proxy", "p1")
	if got := readMessages(t, ws, 1); got[0].ID != sent.ID {
		t.Fatalf("WebSocket stream got %+v; want message %d", got[0], sent.ID)
	}
	sse.waitFor(t, "event stream", []int64{sent.ID})
}
