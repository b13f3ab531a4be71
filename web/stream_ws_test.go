package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/signin"
	"github.com/glasshouse/glasshouse/web"
)

// channelsOnly hides realtime.Hub's Watch, so that WebSocket streams run
// as they do on any other glasshouse.Hub: a goroutine each.
type channelsOnly struct{ glasshouse.Hub }

// hubs are the two ways a WebSocket stream is served.
var hubs = []struct {
	name string
	opt  func(*web.Config)
}{
	{"watch", func(*web.Config) {}},
	{"channels", func(c *web.Config) { c.Hub = channelsOnly{c.Hub} }},
}

// TestStreamPings: an idle WebSocket stream is pinged every StreamPing,
// and a ping that finds the session expired closes it 1008.
func TestStreamPings(t *testing.T) {
	for _, h := range hubs {
		t.Run(h.name, func(t *testing.T) {
			var skew atomic.Int64 // added to the sign-in clock
			now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
			ts := MustServer(t, h.opt, func(c *web.Config) { c.StreamPing = 40 * time.Millisecond },
				withSignIn(func(c *signin.Config) { c.Now = now; c.Lifetime = time.Hour }))
			bob := ts.MustMember(t, "bob")
			var pings atomic.Int64
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/v1/stream"
			start := time.Now()
			ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
				HTTPHeader:     http.Header{"Authorization": {"Bearer " + bob.Token}},
				OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			ended := make(chan error, 1)
			go func() { // reading answers the pings
				_, _, err := ws.Read(ctx)
				ended <- err
			}()
			for pings.Load() < 5 && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			if n := pings.Load(); n < 5 {
				t.Fatalf("%d pings in %v; want one every 40ms", n, elapsed)
			} else if elapsed < 5*40*time.Millisecond-5*pingSlack {
				t.Fatalf("5 pings within %v; want at most one every 40ms", elapsed)
			}
			select {
			case err := <-ended:
				t.Fatalf("stream ended (%v) while its session was valid", err)
			default:
			}

			skew.Store(int64(2 * time.Hour))
			err = <-ended
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "signed out; sign in again" {
				t.Fatalf("stream ended with %v; want close 1008 signed out", err)
			}
			waitNoSubscriptions(t, ts.Hub)
		})
	}
}

// pingSlack is how early the shared ping clock may ping: a 32nd of
// StreamPing, at least 5ms.
const pingSlack = 5 * time.Millisecond

// waitNoSubscriptions waits until every stream's subscription is closed.
func waitNoSubscriptions(tb testing.TB, h *realtime.Hub) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.Len() > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("%d subscriptions still open", h.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamEndsWhenClientLeaves: a client that goes (closing, or just
// dropping the connection) frees its stream's subscription and place.
func TestStreamEndsWhenClientLeaves(t *testing.T) {
	for _, h := range hubs {
		t.Run(h.name, func(t *testing.T) {
			ts := MustServer(t, h.opt)
			bob := ts.MustMember(t, "bob")
			for range 3 {
				ts.MustDialWS(t, bob.Token, "").Close(websocket.StatusNormalClosure, "")
				ts.MustDialWS(t, bob.Token, "").CloseNow()
			}
			waitNoSubscriptions(t, ts.Hub)
		})
	}
}

// TestStreamsOnEitherHub runs the stream protocol's WebSocket cases on a
// hub without Watch too.
func TestStreamsOnEitherHub(t *testing.T) {
	ts := MustServer(t, hubs[1].opt)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	ts.MustSend(t, alice, conv.ID, "one")
	ws := ts.MustDialWS(t, bob.Token, "?after=0")
	mustEqual(t, "backlog", MustReadMessages(t, ws, 1), []string{"one"})
	ts.MustSend(t, alice, conv.ID, "two")
	mustEqual(t, "live", MustReadMessages(t, ws, 1), []string{"two"})
	ts.Do(t, bob.Token, "DELETE", "/api/v1/sessions/current", nil).MustStatus(t, http.StatusNoContent)
	_, err := readWS(ws)
	if status := websocket.CloseStatus(err); status != websocket.StatusPolicyViolation {
		t.Fatalf("stream ended with %v; want close 1008", err)
	}
}
