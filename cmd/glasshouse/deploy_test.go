package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

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
	sse := openSSE(t, proxy.URL, bob)
	w.send(alice, direct.ID, "through the proxy", "p1")
	if got := readMessages(t, ws, 1); got[0].Text != "through the proxy" {
		t.Fatalf("WebSocket stream got %q", got[0].Text)
	}
	if got := sse.next(t); got.Text != "through the proxy" {
		t.Fatalf("event stream got %q", got.Text)
	}
}

// sseClient reads GET /api/v1/stream as server-sent events.
type sseClient struct {
	frames chan []byte
}

func openSSE(tb testing.TB, base, token string) *sseClient {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/stream?after=0", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		tb.Fatalf("event stream: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &sseClient{frames: make(chan []byte, 64)}
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				s.frames <- []byte(data)
			}
		}
	}()
	return s
}

// next returns the next message of the stream, skipping other frames.
func (s *sseClient) next(tb testing.TB) *glasshouse.Message {
	tb.Helper()
	deadline := time.After(streamDeadline)
	for {
		select {
		case b, ok := <-s.frames:
			if !ok {
				tb.Fatal("event stream ended")
			}
			var f struct {
				Type    string
				Message *glasshouse.Message
			}
			if err := json.Unmarshal(b, &f); err != nil {
				tb.Fatalf("event %q: %v", b, err)
			}
			if f.Type == "message" {
				return f.Message
			}
		case <-deadline:
			tb.Fatalf("no message on the event stream after %v", streamDeadline)
		}
	}
}
