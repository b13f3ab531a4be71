package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/glasshouse/glasshouse/web"
)

// streamFrame is one frame of a stream, as a client reads it.
type streamFrame struct {
	Type    string
	Message *glasshouse.Message
	Reason  string
}

// MustDialWS opens a WebSocket stream with a real client.
func (ts *testServer) MustDialWS(tb testing.TB, token, query string) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/v1/stream" + query
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		tb.Fatalf("dial %s: %v", url, err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	return c
}

// readWS reads one frame.
func readWS(c *websocket.Conn) (streamFrame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var f streamFrame
	typ, b, err := c.Read(ctx)
	if err != nil {
		return f, err
	} else if typ != websocket.MessageText {
		return f, fmt.Errorf("got a %v frame; want text", typ)
	}
	return f, json.Unmarshal(b, &f)
}

// MustReadMessages reads n message frames and returns their texts.
func MustReadMessages(tb testing.TB, c *websocket.Conn, n int) []string {
	tb.Helper()
	var texts []string
	for range n {
		f, err := readWS(c)
		if err != nil {
			tb.Fatalf("after %q: %v", texts, err)
		} else if f.Type != "message" || f.Message == nil {
			tb.Fatalf("frame %+v; want a message", f)
		}
		texts = append(texts, f.Message.Text)
	}
	return texts
}

func mustEqual(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		tb.Fatalf("%s: got %q; want %q", what, got, want)
	}
}

func TestWebSocketLiveThenResume(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	carol, dave := ts.MustMember(t, "carol"), ts.MustMember(t, "dave")
	ts.MustFriends(t, alice, bob)
	ts.MustFriends(t, carol, dave)
	conv, other := ts.MustDirect(t, alice, bob), ts.MustDirect(t, carol, dave)
	ts.MustSend(t, alice, conv.ID, "before any stream")

	// A stream without a cursor is live only; the handshake's end means
	// it is subscribed.
	ws := ts.MustDialWS(t, bob.Token, "")
	aliceWS := ts.MustDialWS(t, alice.Token, "")
	ts.MustSend(t, alice, conv.ID, "one")
	ts.MustSend(t, carol, other.ID, "not for bob")
	m2 := ts.MustSend(t, bob, conv.ID, "two")
	mustEqual(t, "bob's live messages", MustReadMessages(t, ws, 2), []string{"one", "two"})
	mustEqual(t, "alice's live messages", MustReadMessages(t, aliceWS, 2), []string{"one", "two"})
	ws.Close(websocket.StatusNormalClosure, "")

	// While bob is away.
	ts.MustSend(t, alice, conv.ID, "three")
	ts.MustSend(t, carol, other.ID, "still not for bob")
	ts.MustSend(t, alice, conv.ID, "four")

	ws = ts.MustDialWS(t, bob.Token, fmt.Sprintf("?after=%d", m2.ID))
	mustEqual(t, "missed messages", MustReadMessages(t, ws, 2), []string{"three", "four"})
	ts.MustSend(t, alice, conv.ID, "five")
	mustEqual(t, "next live message", MustReadMessages(t, ws, 1), []string{"five"})
}

// TestWebSocketResumeUnderLoad reconnects again and again while messages
// keep coming: the client must see every message once, in order.
func TestWebSocketResumeUnderLoad(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	first := ts.MustSend(t, alice, conv.ID, "m000")

	const n = 120
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i < n; i++ {
			body := map[string]string{"text": fmt.Sprintf("m%03d", i)}
			if r := ts.Do(t, alice.Token, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID), body); r.Status != http.StatusCreated {
				t.Errorf("send %d: %d %s", i, r.Status, r.Body)
				return
			}
		}
	})
	got := []string{"m000"}
	last := first.ID
	for len(got) < n {
		ws := ts.MustDialWS(t, bob.Token, fmt.Sprintf("?after=%d", last))
		for range 7 {
			f, err := readWS(ws)
			if err != nil {
				t.Fatalf("after %d messages: %v", len(got), err)
			}
			got = append(got, f.Message.Text)
			last = f.Message.ID
			if len(got) == n {
				break
			}
		}
		ws.CloseNow()
	}
	wg.Wait()
	for i, text := range got {
		if want := fmt.Sprintf("m%03d", i); text != want {
			t.Fatalf("message %d is %q; want %q (all: %q)", i, text, want, got)
		}
	}
}

func TestWebSocketLaggingClientIsClosed(t *testing.T) {
	ts := mustServer(t, realtime.NewHub(1))
	bob := ts.MustMember(t, "bob")
	ws := ts.MustDialWS(t, bob.Token, "")
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for i := range int64(2000) {
			ts.Hub.Publish(glasshouse.Event{Message: &glasshouse.Message{ID: 1_000_000 + i, Text: "flood"}, Recipients: []int64{bob.ID}})
		}
	})
	var last int64
	for {
		f, err := readWS(ws)
		if err == nil {
			last = f.Message.ID
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater || ce.Reason != fmt.Sprintf("fell behind; reconnect with after=%d", last) {
			t.Fatalf("stream ended with %v after message %d; want close 1013 naming the cursor", err, last)
		}
		return
	}
}

// sseStream is a server-sent events client.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
}

type sseEvent struct {
	ID    string
	Frame streamFrame
}

// MustOpenSSE opens an event stream; header holds name, value pairs.
func (ts *testServer) MustOpenSSE(tb testing.TB, token, query string, header ...string) *sseStream {
	tb.Helper()
	req, err := http.NewRequest("GET", ts.URL+"/api/v1/stream"+query, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		tb.Fatalf("stream answered %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 100)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Frame); err != nil {
					ev.Frame.Type = "unparsable: " + line
				}
			case line == "" && ev.Frame.Type != "":
				s.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	return s
}

// MustNext returns the next event.
func (s *sseStream) MustNext(tb testing.TB) sseEvent {
	tb.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			tb.Fatal("event stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		tb.Fatal("timed out waiting for an event")
	}
	panic("unreachable")
}

// MustReadMessages reads n message events and returns their texts, checking
// that each event's id is its message's id.
func (s *sseStream) MustReadMessages(tb testing.TB, n int) []string {
	tb.Helper()
	var texts []string
	for range n {
		ev := s.MustNext(tb)
		if ev.Frame.Type != "message" || ev.ID != fmt.Sprint(ev.Frame.Message.ID) {
			tb.Fatalf("event %+v; want a message whose id is the message id", ev)
		}
		texts = append(texts, ev.Frame.Message.Text)
	}
	return texts
}

func TestServerSentEvents(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ts.MustFriends(t, alice, bob)
	conv := ts.MustDirect(t, alice, bob)
	m1 := ts.MustSend(t, alice, conv.ID, "one")

	live := ts.MustOpenSSE(t, bob.Token, "")
	ts.MustSend(t, alice, conv.ID, "two")
	ts.MustSend(t, alice, conv.ID, "three")
	mustEqual(t, "live events", live.MustReadMessages(t, 2), []string{"two", "three"})

	// EventSource reconnects with Last-Event-ID, which wins over ?after.
	resumed := ts.MustOpenSSE(t, bob.Token, "?after=0", "Last-Event-ID", fmt.Sprint(m1.ID))
	mustEqual(t, "missed events", resumed.MustReadMessages(t, 2), []string{"two", "three"})
	ts.MustSend(t, bob, conv.ID, "four")
	mustEqual(t, "next live event", resumed.MustReadMessages(t, 1), []string{"four"})
	mustEqual(t, "first stream", live.MustReadMessages(t, 1), []string{"four"})

	fromStart := ts.MustOpenSSE(t, bob.Token, "?after=0")
	mustEqual(t, "all events", fromStart.MustReadMessages(t, 4), []string{"one", "two", "three", "four"})
}

func TestCloseStreams(t *testing.T) {
	ts := MustServer(t)
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	ws := ts.MustDialWS(t, alice.Token, "")
	sse := ts.MustOpenSSE(t, bob.Token, "")

	done := make(chan struct{})
	go func() {
		ts.Web.CloseStreams()
		close(done)
	}()
	_, err := readWS(ws)
	if status := websocket.CloseStatus(err); status != websocket.StatusGoingAway {
		t.Fatalf("WebSocket ended with %v; want close 1001", err)
	}
	if ev := sse.MustNext(t); ev.Frame.Type != "close" || ev.Frame.Reason != "server shutting down" {
		t.Fatalf("SSE event %+v; want a close event", ev)
	}
	if _, ok := <-sse.events; ok {
		t.Fatal("SSE response goes on after its close event")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("CloseStreams did not return")
	}
	ts.Raw(t, bob.Token, "GET", "/api/v1/stream", "", nil, "Accept", "text/event-stream").
		MustError(t, http.StatusServiceUnavailable, glasshouse.EUNAVAILABLE)
	ts.Do(t, "", "GET", "/healthz", nil).MustError(t, http.StatusServiceUnavailable, glasshouse.EUNAVAILABLE)
}

func TestStreamRejected(t *testing.T) {
	ts := MustServer(t)
	bob := ts.MustMember(t, "bob")
	for _, tt := range []struct {
		name   string
		query  string
		header []string
	}{
		{"neither WebSocket nor event stream", "", []string{"Accept", "application/json"}},
		{"negative cursor", "?after=-1", []string{"Accept", "text/event-stream"}},
		{"cursor not a number", "?after=abc", []string{"Accept", "text/event-stream"}},
		{"bad Last-Event-ID", "", []string{"Accept", "text/event-stream", "Last-Event-ID", "x"}},
		{"cursor with a sign", "?after=%2B1", []string{"Accept", "text/event-stream"}},
		{"cursor with a leading zero", "?after=01", []string{"Accept", "text/event-stream"}},
		{"Last-Event-ID with a leading zero", "", []string{"Accept", "text/event-stream", "Last-Event-ID", "007"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.Raw(t, bob.Token, "GET", "/api/v1/stream"+tt.query, "", nil, tt.header...).MustError(t, http.StatusBadRequest, glasshouse.EINVALID)
		})
	}
	if n := ts.Hub.Len(); n != 0 {
		t.Fatalf("%d subscriptions left open by rejected streams", n)
	}
}

// TestSignOutEndsStreams: logging out, logging out everywhere and changing
// the password close the streams of the sessions that ended (and only
// those), so no private message reaches a signed-out client.
func TestSignOutEndsStreams(t *testing.T) {
	ts := MustServer(t)
	bob := ts.MustMember(t, "bob")
	other := ts.MustLogin(t, "bob", testPassword) // a second session of bob's
	wantSignedOut := func(ws *websocket.Conn) {
		t.Helper()
		_, err := readWS(ws)
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "signed out; sign in again" {
			t.Fatalf("stream ended with %v; want close 1008 signed out", err)
		}
	}

	// Changing the password ends the other session's stream, not this one's.
	mine, theirs := ts.MustDialWS(t, bob.Token, ""), ts.MustDialWS(t, other, "")
	ts.Do(t, bob.Token, "PUT", "/api/v1/me/password", map[string]string{"current": testPassword, "new": "a new password 123"}).MustStatus(t, http.StatusNoContent)
	wantSignedOut(theirs)

	// Logging out ends this session's stream.
	ts.Do(t, bob.Token, "DELETE", "/api/v1/sessions/current", nil).MustStatus(t, http.StatusNoContent)
	wantSignedOut(mine)

	// Logging out everywhere ends every stream of the member.
	a, b := ts.MustLogin(t, "bob", "a new password 123"), ts.MustLogin(t, "bob", "a new password 123")
	wa, wb := ts.MustDialWS(t, a, ""), ts.MustDialWS(t, b, "")
	ts.Do(t, a, "DELETE", "/api/v1/sessions", nil).MustStatus(t, http.StatusNoContent)
	wantSignedOut(wa)
	wantSignedOut(wb)
}

// TestStreamsPerMember: a member holds at most MaxMemberStreams streams at
// once; one more is refused 429 with Retry-After, others are not affected,
// and a closed stream frees its place.
func TestStreamsPerMember(t *testing.T) {
	ts := MustServer(t, func(c *web.Config) { c.MaxMemberStreams = 2 })
	alice, bob := ts.MustMember(t, "alice"), ts.MustMember(t, "bob")
	first := ts.MustDialWS(t, bob.Token, "")
	ts.MustDialWS(t, bob.Token, "")
	refused := ts.Raw(t, bob.Token, "GET", "/api/v1/stream", "", nil, "Accept", "text/event-stream")
	refused.MustError(t, http.StatusTooManyRequests, glasshouse.ERATELIMITED)
	if refused.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	ts.MustDialWS(t, alice.Token, "") // another member is not limited by bob's streams

	first.Close(websocket.StatusNormalClosure, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/v1/stream"
	for {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + bob.Token}}})
		if err == nil {
			c.CloseNow()
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("a closed stream never freed its place: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
