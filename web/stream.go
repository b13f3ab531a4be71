package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/httpio"
)

const (
	// backfillPage is how many missed messages one store read returns.
	backfillPage = glasshouse.MaxPageSize
	// writeTimeout bounds each write (and each ping's round trip) to a
	// stream; a client slower than that is dropped.
	writeTimeout = 10 * time.Second
)

// frame is one JSON frame of a stream.
type frame struct {
	Type    string              `json:"type"` // "message" or, on SSE, "close"
	Message *glasshouse.Message `json:"message,omitempty"`
	Reason  string              `json:"reason,omitempty"`
}

// ending says why pump returned.
type ending int

const (
	clientGone   ending = iota // the client closed, or a write to it failed
	lagged                     // the subscription fell a full buffer behind
	shuttingDown               // CloseStreams was called
	failed                     // the store failed
	signedOut                  // the stream's session ended (logout, password change, expiry)

	streaming ending = -1 // the stream goes on (backlog's result when all went well)
)

// signedOutReason tells a client whose session ended why its stream closed.
const signedOutReason = "signed out; sign in again"

// liveStream is one open stream, so that ending a session ends its streams.
type liveStream struct {
	memberID  int64
	tokenHash []byte
	ended     chan struct{} // closed when the session ends; nil for ws
	ws        *wsStream     // a WebSocket stream without a goroutine, told when the session ends
}

// CloseMemberStreams ends every open stream of a member, for example once
// their account is deleted.
func (s *Server) CloseMemberStreams(memberID int64) {
	s.endSessions(glasshouse.SessionsEnded{MemberID: memberID})
}

// endSessions ends the open streams of the sessions e names, here at once
// and, through Config.Sessions, on the other nodes of a cluster (without
// it, or while it is down, streams elsewhere notice at their next ping,
// which re-checks the session).
func (s *Server) endSessions(e glasshouse.SessionsEnded) {
	s.endStreams(e)
	if s.sessions != nil {
		s.sessions.EndSessions(e)
	}
}

// endStreams ends the open streams on this node of the sessions e names.
func (s *Server) endStreams(e glasshouse.SessionsEnded) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.live {
		if e.Covers(l.memberID, l.tokenHash) {
			if l.ws != nil {
				l.ws.kick(workSignedOut)
			} else {
				close(l.ended)
			}
			delete(s.live, l)
		}
	}
}

// transport writes frames on one kind of stream.
type transport interface {
	send(ctx context.Context, m *glasshouse.Message) error
	ping(ctx context.Context) error
}

// cursor is where a stream starts: after a message id, reading the
// backlog first, or (without backfill) with live messages only.
type cursor struct {
	after    int64
	backfill bool
}

// stream serves GET /api/v1/stream as a WebSocket when the request is an
// upgrade, or as server-sent events. It subscribes before the handshake
// ends, so that once the client sees the stream open no later message can
// be missed.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, c caller) error {
	cur, err := streamCursor(r)
	if err != nil {
		return err
	}
	ws := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if !ws && !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return glasshouse.Errorf(glasshouse.EINVALID, "Open the stream as a WebSocket, or with Accept: text/event-stream.")
	}
	if h, ok := s.hub.(watcher); ok && ws {
		return s.serveWatched(w, r, h, &liveStream{memberID: c.memberID, tokenHash: c.tokenHash}, cur)
	}
	live := &liveStream{memberID: c.memberID, tokenHash: c.tokenHash, ended: make(chan struct{})}
	if err := s.startStream(live); err != nil {
		return err
	}
	// A WebSocket stream outlives this handler, so its subscription must
	// not end with the request's context. Whoever ends the stream calls end.
	ctx := context.WithoutCancel(r.Context())
	sub, err := s.hub.Subscribe(ctx, c.memberID)
	if err != nil {
		s.stopStream(live)
		return err
	}
	end := func() {
		sub.Close()
		s.stopStream(live)
	}

	if !ws {
		defer end()
		s.serveEvents(w, r, sub, live, cur)
		return nil
	}
	conn, err := websocket.Accept(smallBuffers{w, nil}, r, nil) // same-origin only; no compression
	if err != nil {
		end()
		s.log.InfoContext(r.Context(), "websocket handshake", "err", err) // Accept wrote the response
		return nil
	}
	// The handler returns at once: net/http then drops its goroutine, whose
	// stack grew while serving the request, and the request's buffers. An
	// idle WebSocket stream costs one small goroutine here and the reader
	// goroutine of CloseRead.
	go func() {
		defer end()
		defer func() { // net/http no longer recovers for us
			if v := recover(); v != nil {
				s.log.ErrorContext(ctx, "panic", "route", streamRoute, "err", fmt.Sprint(v), "stack", string(debug.Stack()))
				conn.CloseNow()
			}
		}()
		s.serveWebSocket(ctx, conn, sub, live, cur)
	}()
	return nil
}

// streamCursor reads the Last-Event-ID header (an SSE reconnection) or
// else the after query parameter.
func streamCursor(r *http.Request) (cursor, error) {
	name, raw := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if raw == "" {
		if !r.URL.Query().Has("after") {
			return cursor{}, nil
		}
		name, raw = "after", r.URL.Query().Get("after")
	}
	after, ok := httpio.ParseInt(raw, 0, math.MaxInt64)
	if !ok {
		return cursor{}, glasshouse.Errorf(glasshouse.EINVALID, "%s must be a message id (an integer from 0, in decimal without sign or leading zeros).", name)
	}
	return cursor{after: after, backfill: true}, nil
}

// backlog sends the messages after cur, when cur asks for them. It
// returns streaming and the id of the last message sent, or why the stream
// ends.
func (s *Server) backlog(ctx context.Context, t transport, memberID int64, cur cursor) (ending, int64, error) {
	last := cur.after
	for cur.backfill {
		if s.isStopping() {
			return shuttingDown, last, nil
		}
		msgs, err := s.store.MessagesAfter(ctx, memberID, last, backfillPage)
		if ctx.Err() != nil {
			return clientGone, last, nil
		} else if err != nil {
			return failed, last, fmt.Errorf("stream backlog: %w", err)
		}
		for _, m := range msgs {
			if err := t.send(ctx, m); err != nil {
				return clientGone, last, err
			}
			last = m.ID
		}
		if len(msgs) < backfillPage {
			break
		}
	}
	return streaming, last, nil
}

// pump sends the backlog after cur, then live events, until the stream
// ends. It returns why, and the id of the last message sent. (WebSocket
// streams on a watcher hub do the same without a goroutine: wsStream.)
func (s *Server) pump(ctx context.Context, t transport, sub glasshouse.Subscription, live *liveStream, cur cursor) (ending, int64, error) {
	end, last, err := s.backlog(ctx, t, live.memberID, cur)
	if end != streaming {
		return end, last, err
	}

	ping := time.NewTicker(s.streamPing)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok && s.isStopping() {
				return shuttingDown, last, nil
			} else if !ok {
				return lagged, last, nil
			}
			if ev.Message.ID <= last { // already sent from the backlog
				continue
			}
			if err := t.send(ctx, ev.Message); err != nil {
				return clientGone, last, err
			}
			last = ev.Message.ID
		case <-ping.C:
			// Sessions can also end on another node, or expire.
			if _, err := s.signIn.Lookup(ctx, live.tokenHash); glasshouse.ErrorCode(err) == glasshouse.EUNAUTHORIZED {
				return signedOut, last, nil
			}
			if err := t.ping(ctx); err != nil {
				return clientGone, last, err
			}
		case <-live.ended:
			return signedOut, last, nil
		case <-s.closing:
			return shuttingDown, last, nil
		case <-ctx.Done():
			return clientGone, last, nil
		}
	}
}

// laggedReason tells a client that fell behind how to resume.
func laggedReason(last int64) string {
	return fmt.Sprintf("fell behind; reconnect with after=%d", last)
}

// serveWebSocket runs a WebSocket stream: text frames of JSON, a close
// status of 1013 (try again later) when the client fell behind, 1001 when
// the server shuts down.
func (s *Server) serveWebSocket(ctx context.Context, conn *websocket.Conn, sub glasshouse.Subscription, live *liveStream, cur cursor) {
	conn.SetReadLimit(1 << 10) // clients send nothing but control frames
	ctx = conn.CloseRead(ctx)
	gauge := s.metrics.streams.WithLabelValues("websocket")
	gauge.Inc()
	defer gauge.Dec()

	end, last, err := s.pump(ctx, wsTransport{conn}, sub, live, cur)
	switch end {
	case lagged:
		conn.Close(websocket.StatusTryAgainLater, laggedReason(last))
	case signedOut:
		conn.Close(websocket.StatusPolicyViolation, signedOutReason)
	case shuttingDown:
		conn.Close(websocket.StatusGoingAway, "server shutting down")
	case failed:
		s.log.ErrorContext(ctx, "stream", "err", err)
		conn.Close(websocket.StatusInternalError, "internal error; reconnect later")
	default:
		conn.CloseNow()
	}
}

type wsTransport struct{ conn *websocket.Conn }

func (t wsTransport) send(ctx context.Context, m *glasshouse.Message) error {
	b, err := json.Marshal(frame{Type: "message", Message: m})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return t.conn.Write(ctx, websocket.MessageText, b)
}

func (t wsTransport) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return t.conn.Ping(ctx)
}

// serveEvents runs a server-sent events stream: each message is an event
// whose id is the message id, so that EventSource resumes with
// Last-Event-ID. When the client fell behind or the server shuts down, a
// final {"type":"close"} event says why and the response ends.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, sub glasshouse.Subscription, live *liveStream, cur cursor) {
	// The stream outlives the server's read and write timeouts; each
	// write sets its own deadline instead.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	t := sseTransport{w, rc}
	if err := t.write(": glasshouse stream\n\n"); err != nil {
		return
	}
	gauge := s.metrics.streams.WithLabelValues("sse")
	gauge.Inc()
	defer gauge.Dec()

	end, last, err := s.pump(r.Context(), t, sub, live, cur)
	switch end {
	case lagged:
		t.close(laggedReason(last))
	case signedOut:
		t.close(signedOutReason)
	case shuttingDown:
		t.close("server shutting down")
	case failed:
		s.log.ErrorContext(r.Context(), "stream", "err", err)
		t.close("internal error; reconnect later")
	}
}

type sseTransport struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (t sseTransport) send(_ context.Context, m *glasshouse.Message) error {
	b, err := json.Marshal(frame{Type: "message", Message: m})
	if err != nil {
		return err
	}
	return t.write(fmt.Sprintf("id: %d\ndata: %s\n\n", m.ID, b))
}

func (t sseTransport) ping(context.Context) error { return t.write(": ping\n\n") }

func (t sseTransport) close(reason string) {
	b, _ := json.Marshal(frame{Type: "close", Reason: reason})
	t.write(fmt.Sprintf("data: %s\n\n", b))
}

// write sends one chunk of the event stream now.
func (t sseTransport) write(s string) error {
	t.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := t.w.Write([]byte(s)); err != nil {
		return err
	}
	return t.rc.Flush()
}
