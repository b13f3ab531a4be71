package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/glasshouse/glasshouse"
)

// MustRunMain starts the real program on a free port with a fresh data folder.
func MustRunMain(tb testing.TB) *Main {
	tb.Helper()
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.Data = tb.TempDir()
	m.Config.LogLevel = "warn"
	m.Stdout = io.Discard
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("run main: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close main: %v", err)
		}
	})
	return m
}

// testWorld drives a running server over HTTP only.
type testWorld struct {
	tb testing.TB
	c  *benchClient
}

func newTestWorld(tb testing.TB, url string) *testWorld {
	return &testWorld{tb: tb, c: &benchClient{base: url, http: newHTTPClient()}}
}

func (w *testWorld) do(token, method, path string, body, out any) {
	w.tb.Helper()
	if err := w.c.call(context.Background(), token, method, path, body, out); err != nil {
		w.tb.Fatal(err)
	}
}

func (w *testWorld) member(handle string) string {
	w.tb.Helper()
	tok, err := w.c.member(context.Background(), handle)
	if err != nil {
		w.tb.Fatal(err)
	}
	return tok
}

// befriend has from request to and to accept.
func (w *testWorld) befriend(fromTok, toTok, toHandle string) {
	w.tb.Helper()
	var resp struct{ Request struct{ ID int64 } }
	w.do(fromTok, "POST", "/api/v1/friend-requests", map[string]string{"handle": toHandle}, &resp)
	req := resp.Request
	var reqs glasshouse.FriendRequests
	w.do(toTok, "GET", "/api/v1/friend-requests", nil, &reqs)
	for _, r := range reqs.Incoming {
		if r.ID == req.ID {
			w.do(toTok, "POST", fmt.Sprintf("/api/v1/friend-requests/%d/accept", r.ID), nil, nil)
			return
		}
	}
	w.tb.Fatalf("request %d not among %s's incoming requests", req.ID, toHandle)
}

func (w *testWorld) send(tok string, conv int64, text, txn string) *glasshouse.Message {
	w.tb.Helper()
	var m glasshouse.Message
	w.do(tok, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), map[string]string{"text": text, "client_txn_id": txn}, &m)
	return &m
}

// testStream is a client of GET /api/v1/stream that behaves as docs/api.md
// tells clients to: it remembers the id of the last message it received (its
// cursor) and, when the stream ends (a "fell behind" close, a dropped
// connection), reconnects with after=<cursor>. It never drops a message it
// is sent, so a duplicate or a gap across a reconnection shows in what it
// returns.
type testStream struct {
	w          *testWorld
	tok        string
	conn       *websocket.Conn
	last       int64 // the cursor: the id of the last message received
	reconnects int
}

// stream opens tok's stream after the message id after (0: every message).
func (w *testWorld) stream(tok string, after int64) *testStream {
	w.tb.Helper()
	s := &testStream{w: w, tok: tok, last: after}
	conn, err := s.dial(context.Background())
	if err != nil {
		w.tb.Fatal(err)
	}
	s.conn = conn
	w.tb.Cleanup(func() { s.conn.CloseNow() })
	return s
}

func (s *testStream) dial(ctx context.Context) (*websocket.Conn, error) {
	bw := &benchWorld{c: s.w.c}
	return bw.openStream(ctx, s.tok, s.last)
}

// Close closes the stream as a client that goes away does.
func (s *testStream) Close() { s.conn.Close(websocket.StatusNormalClosure, "") }

// streamDeadline bounds how long a test waits for the messages it expects
// on a stream: generous, so that a busy machine is slow but not failing.
const streamDeadline = 2 * time.Minute

// next returns the next frame of the stream, reconnecting with the cursor
// when the stream ends, until ctx is done. A frame that is not a message is
// returned with a nil message.
func (s *testStream) next(ctx context.Context) (*glasshouse.Message, error) {
	for {
		_, b, err := s.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			if err := s.resume(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		var f struct {
			Type    string
			Message *glasshouse.Message
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("stream frame %q: %v", b, err)
		}
		if f.Type != "message" {
			return nil, nil
		}
		s.last = f.Message.ID
		return f.Message, nil
	}
}

// resume handles the end of the stream (ended is the read's error) as
// docs/api.md says: on "fell behind", which names the client's cursor, or
// any other end, reconnect with after=<the last id received>; a
// "signed out" close is not expected in these tests.
func (s *testStream) resume(ctx context.Context, ended error) error {
	s.conn.CloseNow()
	switch websocket.CloseStatus(ended) {
	case websocket.StatusPolicyViolation:
		return fmt.Errorf("stream ended: %w", ended)
	case websocket.StatusTryAgainLater:
		// The server names the last id it sent: with nothing lost on the
		// way, that is the client's cursor.
		var ce websocket.CloseError
		errors.As(ended, &ce)
		if want := fmt.Sprintf("fell behind; reconnect with after=%d", s.last); ce.Reason != want {
			return fmt.Errorf("stream closed with %q; want %q (the client's cursor)", ce.Reason, want)
		}
	}
	s.w.tb.Logf("stream ended (%v); reconnecting with after=%d", ended, s.last)
	s.reconnects++
	for {
		conn, err := s.dial(ctx)
		if err == nil {
			s.conn = conn
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("reconnect after %v: %w", ended, err)
		}
		s.w.tb.Logf("reconnect: %v; retrying", err)
		select { // a pause between attempts, not a deadline
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// readMessages reads n messages from a stream, reconnecting with its cursor
// whenever the stream ends, and fails once streamDeadline has passed.
func readMessages(tb testing.TB, s *testStream, n int) []*glasshouse.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamDeadline)
	defer cancel()
	var out []*glasshouse.Message
	for len(out) < n {
		m, err := s.next(ctx)
		if err != nil {
			tb.Fatalf("stream read after %d of %d messages (%d reconnections): %v", len(out), n, s.reconnects, err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

// expectQuiet checks that a stream delivers nothing more for a moment
// (reconnecting with its cursor should the stream end meanwhile).
func expectQuiet(tb testing.TB, s *testStream) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	m, err := s.next(ctx)
	cancel()
	if err == nil {
		tb.Fatalf("unexpected frame: %+v", m)
	} else if ctx.Err() == nil {
		tb.Fatalf("stream: %v", err)
	}
	// A read whose context ends closes the connection (coder/websocket):
	// resume from the cursor now, so that later reads and checks are made
	// on a live stream.
	s.conn.CloseNow()
	ctx, cancel = context.WithTimeout(context.Background(), streamDeadline)
	defer cancel()
	if err := s.resume(ctx, errors.New("quiet check done")); err != nil {
		tb.Fatal(err)
	}
}

func texts(ms []*glasshouse.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

func TestEndToEndMessaging(t *testing.T) {
	m := MustRunMain(t)
	w := newTestWorld(t, m.URL())
	alice, bob, carol := w.member("alice"), w.member("bob"), w.member("carol")
	w.befriend(alice, bob, "bob")
	w.befriend(alice, carol, "carol")
	w.befriend(bob, carol, "carol")

	var friends []*glasshouse.Member
	w.do(alice, "GET", "/api/v1/friends", nil, &friends)
	if len(friends) != 2 {
		t.Fatalf("alice has %d friends, want 2", len(friends))
	}

	var direct, group glasshouse.Conversation
	w.do(alice, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "with": "bob"}, &direct)
	w.do(alice, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "title": "Trio", "members": []string{"bob", "carol"}}, &group)

	bobStream := w.stream(bob, 0)
	carolStream := w.stream(carol, 0)

	w.send(alice, direct.ID, "hello bob", "d1")
	if got := readMessages(t, bobStream, 1); got[0].Text != "hello bob" || got[0].ConversationID != direct.ID {
		t.Fatalf("bob's stream got %+v", got[0])
	}
	w.send(carol, group.ID, "hello group", "g1")
	if got := readMessages(t, bobStream, 1); got[0].Text != "hello group" {
		t.Fatalf("bob's stream got %q", got[0].Text)
	}
	// carol sees her own group message but not alice and bob's direct one.
	if got := readMessages(t, carolStream, 1); got[0].Text != "hello group" || got[0].SenderHandle != "carol" {
		t.Fatalf("carol's stream got %+v", got[0])
	}
	expectQuiet(t, carolStream)

	// bob drops his stream; what is sent meanwhile arrives on reconnect,
	// once each, followed by live messages.
	last := int64(0)
	var page glasshouse.MessagePage
	w.do(bob, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=1", group.ID), nil, &page)
	last = page.Messages[0].ID
	bobStream.Close()
	w.send(alice, direct.ID, "missed 1", "d2")
	w.send(carol, group.ID, "missed 2", "g2")
	w.send(alice, group.ID, "missed 3", "g3")
	bobStream = w.stream(bob, last)
	got := readMessages(t, bobStream, 3)
	if fmt.Sprint(texts(got)) != "[missed 1 missed 2 missed 3]" {
		t.Fatalf("after reconnect bob got %q", texts(got))
	}
	w.send(alice, direct.ID, "live again", "d3")
	if got := readMessages(t, bobStream, 1); got[0].Text != "live again" {
		t.Fatalf("bob got %q", got[0].Text)
	}
	expectQuiet(t, bobStream)

	// A retried send is stored once.
	again := w.send(alice, direct.ID, "live again", "d3")
	w.do(bob, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages", direct.ID), nil, &page)
	if len(page.Messages) != 3 || page.Messages[0].ID != again.ID {
		t.Fatalf("direct history has %d messages (%q), want 3 with the retry stored once", len(page.Messages), texts(page.Messages))
	}
	expectQuiet(t, bobStream)

	// Unread counts and read markers.
	var convs []*glasshouse.Conversation
	w.do(bob, "GET", "/api/v1/conversations", nil, &convs)
	unread := map[int64]int64{}
	for _, c := range convs {
		unread[c.ID] = c.Unread
	}
	if unread[direct.ID] != 3 || unread[group.ID] != 3 {
		t.Fatalf("bob's unread counts %v, want 3 and 3", unread)
	}
	w.do(bob, "POST", fmt.Sprintf("/api/v1/conversations/%d/read", direct.ID), map[string]int64{"seq": 3}, nil)
	var c glasshouse.Conversation
	w.do(bob, "GET", fmt.Sprintf("/api/v1/conversations/%d", direct.ID), nil, &c)
	if c.Unread != 0 {
		t.Fatalf("unread after marking read: %d", c.Unread)
	}
}

// TestEndToEndCompleteness: 32 members send at once into one group; the
// history, paged both ways, and every member's live stream hold every
// acknowledged message exactly once, in order.
func TestEndToEndCompleteness(t *testing.T) {
	const senders, each = 32, 20
	m := MustRunMain(t)
	w := newTestWorld(t, m.URL())
	owner := w.member("owner")
	var handles []string
	toks := make([]string, senders)
	for i := range senders {
		h := fmt.Sprintf("member%02d", i)
		toks[i] = w.member(h)
		w.befriend(owner, toks[i], h)
		handles = append(handles, h)
	}
	var group glasshouse.Conversation
	w.do(owner, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "title": "Everyone", "members": handles}, &group)
	streams := make([]*testStream, senders)
	for i := range senders {
		streams[i] = w.stream(toks[i], 0)
	}

	var mu sync.Mutex
	acked := map[int64]string{} // id -> text
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				text := fmt.Sprintf("m%02d-%02d", i, k)
				var msg glasshouse.Message
				if err := w.c.call(context.Background(), toks[i], "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", group.ID), map[string]string{"text": text, "client_txn_id": text}, &msg); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[msg.ID] = text
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	const total = senders * each
	if len(acked) != total {
		t.Fatalf("%d distinct acknowledged ids, want %d", len(acked), total)
	}

	check := func(name string, got []*glasshouse.Message) {
		t.Helper()
		if len(got) != total {
			t.Fatalf("%s: %d messages, want %d", name, len(got), total)
		}
		for i, msg := range got {
			if acked[msg.ID] != msg.Text {
				t.Fatalf("%s: message %d (id %d, %q) was not acknowledged as such", name, i, msg.ID, msg.Text)
			}
			if msg.Seq != int64(i+1) {
				t.Fatalf("%s: position %d has seq %d", name, i, msg.Seq)
			}
			if i > 0 && msg.ID <= got[i-1].ID {
				t.Fatalf("%s: ids not increasing at %d", name, i)
			}
		}
	}

	// Backward from the newest, 37 at a time (an odd page size on purpose).
	var back []*glasshouse.Message
	path := fmt.Sprintf("/api/v1/conversations/%d/messages?limit=37", group.ID)
	for {
		var p glasshouse.MessagePage
		w.do(owner, "GET", path, nil, &p)
		back = append(back, p.Messages...)
		if p.Next == 0 {
			break
		}
		path = fmt.Sprintf("/api/v1/conversations/%d/messages?limit=37&before=%d", group.ID, p.Next)
	}
	rev := make([]*glasshouse.Message, len(back))
	for i, msg := range back {
		rev[len(back)-1-i] = msg
	}
	check("history backward", rev)

	var fwd []*glasshouse.Message
	for after := int64(0); ; {
		var p glasshouse.MessagePage
		w.do(owner, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=41&after=%d", group.ID, after), nil, &p)
		fwd = append(fwd, p.Messages...)
		if p.Next == 0 {
			break
		}
		after = p.Next
	}
	check("history forward", fwd)

	for i, s := range streams {
		check(fmt.Sprintf("stream of %s", handles[i]), readMessages(t, s, total))
		expectQuiet(t, s)
	}
}

// TestBadServeFlags shows that a flag Run cannot use stops it with a line
// naming the flag, before anything listens.
func TestBadServeFlags(t *testing.T) {
	for flag, value := range map[string]string{"trusted-proxies": "proxy.example", "ceiling": "profile,everything"} {
		m := NewMain()
		m.Config.Addr, m.Config.Data, m.Config.LogLevel, m.Stdout = "127.0.0.1:0", t.TempDir(), "warn", io.Discard
		m.Config.Ceiling = "profile"
		if flag == "trusted-proxies" {
			m.Config.TrustedProxies = value
		} else {
			m.Config.Ceiling = value
		}
		err := m.Run(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "--"+flag) {
			t.Errorf("--%s %q: %v; want an error naming the flag", flag, value, err)
		}
	}
}
