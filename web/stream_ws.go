package web

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/realtime"
)

// An idle WebSocket stream has one goroutine: coder/websocket's reader
// (CloseRead), which answers the client's control frames and notices when
// it leaves. Everything else a stream does (its backlog, its messages, its
// pings, its end) is work that something else hands it (the hub's
// notification, the shared ping clock, a sign-out, the shutdown, the
// reader closing the connection) and that a goroutine started for the
// occasion carries out and then exits. The protocol is pump's, step for
// step: see pump for what each step means.

// watcher is a hub that can feed a stream without a goroutine waiting on
// a channel (realtime.Hub and natshub.Hub). With another hub, WebSocket
// streams run pump in a goroutine of their own.
type watcher interface {
	Watch(memberID int64, notify func()) (*realtime.Feed, error)
}

// work is what a wsStream has to do next, as bits.
type work uint8

const (
	workStart     work = 1 << iota // send the backlog, then follow the feed
	workEvents                     // events wait in the feed, or it ended
	workPing                       // re-check the session, then ping
	workSignedOut                  // the session ended
	workShutdown                   // CloseStreams was called
	workGone                       // the connection was closed
)

// wsStream is one WebSocket stream served without a goroutine of its own.
type wsStream struct {
	s    *Server
	live *liveStream
	cur  cursor
	feed *realtime.Feed
	conn *websocket.Conn
	ctx  context.Context // CloseRead's: done once the reader ends
	last int64           // the id of the last message sent; the worker's

	nextPing time.Duration // since its set's base; guarded by the set's mu

	mu      sync.Mutex
	pending work
	busy    bool // a worker runs, or the stream has not started or has ended
}

// kick adds w to the stream's work and starts a worker unless one runs.
// It never blocks for long: the hub calls it with its lock held.
func (st *wsStream) kick(w work) {
	st.mu.Lock()
	st.pending |= w
	start := !st.busy
	st.busy = true
	st.mu.Unlock()
	if start {
		go st.run()
	}
}

// serveWatched serves a WebSocket stream through h's Watch. Like stream,
// it registers live before it subscribes, and subscribes before the
// handshake ends.
func (s *Server) serveWatched(w http.ResponseWriter, r *http.Request, h watcher, live *liveStream, cur cursor) error {
	st := &wsStream{s: s, live: live, cur: cur, busy: true} // busy until started: kicks wait
	live.ws = st
	if err := s.startStream(live); err != nil {
		return err
	}
	feed, err := h.Watch(live.memberID, func() { st.kick(workEvents) })
	if err != nil {
		s.stopStream(live)
		return err
	}
	st.feed = feed
	conn, err := websocket.Accept(smallBuffers{w, func() { st.kick(workGone) }}, r, nil) // same-origin only; no compression
	if err != nil {
		feed.Close()
		s.stopStream(live)
		s.log.InfoContext(r.Context(), "websocket handshake", "err", err) // Accept wrote the response
		return nil
	}
	conn.SetReadLimit(1 << 10) // clients send nothing but control frames
	st.conn = conn
	// The stream outlives this request. Its context ends when the reader
	// does; it does not keep the request's (context.WithoutCancel would
	// keep it, with the cancel state and channel that net/http and the
	// session lookup gave it: about 1 KiB per idle stream).
	st.ctx = conn.CloseRead(context.Background())
	s.metrics.streams.WithLabelValues("websocket").Inc()
	s.joinPings(st)
	st.mu.Lock()
	st.pending |= workStart
	st.mu.Unlock()
	go st.run()
	return nil
}

// run carries out the stream's work until none is left, or the stream
// ends.
func (st *wsStream) run() {
	defer func() { // net/http does not recover for us
		if v := recover(); v != nil {
			st.s.log.ErrorContext(st.ctx, "panic", "route", streamRoute, "err", fmt.Sprint(v), "stack", string(debug.Stack()))
			st.conn.CloseNow()
			st.finish()
		}
	}()
	for {
		st.mu.Lock()
		w := st.pending
		st.pending = 0
		if w == 0 {
			st.busy = false
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()
		if end, err, over := st.do(w); over {
			st.close(end, err)
			st.finish()
			return // busy stays set: later kicks start nothing
		}
	}
}

// do carries out w; over is true when the stream ends, for the reason end.
func (st *wsStream) do(w work) (end ending, err error, over bool) {
	s := st.s
	switch {
	case w&workGone != 0 || st.ctx.Err() != nil:
		return clientGone, nil, true
	case w&workSignedOut != 0:
		return signedOut, nil, true
	case w&workShutdown != 0:
		return shuttingDown, nil, true
	}
	t := wsTransport{st.conn}
	if w&workStart != 0 {
		end, last, err := s.backlog(st.ctx, t, st.live.memberID, st.cur)
		st.last = last
		if end != streaming {
			return end, err, true
		}
	}
	if w&(workStart|workEvents) != 0 {
		// At most a buffer's worth at a time, so that other work is
		// looked at between them. Once the feed was found empty, its next
		// event notifies again.
		drained := false
		for range realtime.DefaultBuffer {
			ev, ok, open := st.feed.Next()
			if !ok && !open && s.isStopping() {
				return shuttingDown, nil, true
			} else if !ok && !open {
				return lagged, nil, true
			} else if !ok {
				drained = true
				break
			}
			if ev.Message.ID <= st.last { // already sent from the backlog
				continue
			}
			if err := t.send(st.ctx, ev.Message); err != nil {
				return clientGone, err, true
			}
			st.last = ev.Message.ID
		}
		if !drained {
			st.mu.Lock()
			st.pending |= workEvents
			st.mu.Unlock()
		}
	}
	if w&workPing != 0 {
		// Sessions can also end on another node, or expire.
		if _, err := s.signIn.Lookup(st.ctx, st.live.tokenHash); glasshouse.ErrorCode(err) == glasshouse.EUNAUTHORIZED {
			return signedOut, nil, true
		}
		if err := t.ping(st.ctx); err != nil {
			return clientGone, err, true
		}
	}
	return streaming, nil, false
}

// close ends the connection as serveWebSocket does.
func (st *wsStream) close(end ending, err error) {
	switch end {
	case lagged:
		st.conn.Close(websocket.StatusTryAgainLater, laggedReason(st.last))
	case signedOut:
		st.conn.Close(websocket.StatusPolicyViolation, signedOutReason)
	case shuttingDown:
		st.conn.Close(websocket.StatusGoingAway, "server shutting down")
	case failed:
		st.s.log.ErrorContext(st.ctx, "stream", "err", err)
		st.conn.Close(websocket.StatusInternalError, "internal error; reconnect later")
	default:
		st.conn.CloseNow()
	}
}

// finish unregisters the ended stream everywhere.
func (st *wsStream) finish() {
	st.s.metrics.streams.WithLabelValues("websocket").Dec()
	st.s.leavePings(st)
	st.feed.Close()
	st.s.stopStream(st.live)
}

// pingSet is a server's WebSocket streams served by wsStream: one
// goroutine, while any is open, pings each every streamPing (a little
// early rather than late) and ends them all when CloseStreams is called.
type pingSet struct {
	s    *Server
	base time.Time
	tick time.Duration

	mu      sync.Mutex
	streams map[*wsStream]struct{}
}

// pingSets holds each Server's pingSet while it has streams (Server's
// fields are not this file's to add to).
var pingSets = struct {
	sync.Mutex
	m map[*Server]*pingSet
}{m: map[*Server]*pingSet{}}

// pingTick is how often the ping clock looks for streams due: a 32nd of
// the interval, from 5 ms to 1 s.
func pingTick(every time.Duration) time.Duration {
	return min(max(every/32, 5*time.Millisecond), time.Second)
}

// joinPings adds st to the server's ping clock, starting the clock when
// st is its first stream.
func (s *Server) joinPings(st *wsStream) {
	pingSets.Lock()
	set := pingSets.m[s]
	if set == nil {
		set = &pingSet{s: s, base: time.Now(), tick: pingTick(s.streamPing), streams: map[*wsStream]struct{}{}}
		pingSets.m[s] = set
		go set.run()
	}
	set.mu.Lock()
	st.nextPing = time.Since(set.base) + s.streamPing
	set.streams[st] = struct{}{}
	set.mu.Unlock()
	pingSets.Unlock()
	if s.isStopping() { // CloseStreams may have looked before st joined
		st.kick(workShutdown)
	}
}

// leavePings removes st from the server's ping clock.
func (s *Server) leavePings(st *wsStream) {
	pingSets.Lock()
	defer pingSets.Unlock()
	if set := pingSets.m[s]; set != nil {
		set.mu.Lock()
		delete(set.streams, st)
		set.mu.Unlock()
	}
}

// run is the ping clock. It returns once no stream is left.
func (set *pingSet) run() {
	t := time.NewTicker(set.tick)
	defer t.Stop()
	closing := set.s.closing
	for {
		select {
		case <-closing:
			closing = nil
			set.mu.Lock()
			for st := range set.streams {
				st.kick(workShutdown)
			}
			set.mu.Unlock()
		case <-t.C:
			now := time.Since(set.base)
			set.mu.Lock()
			for st := range set.streams {
				if st.nextPing <= now+set.tick {
					if st.nextPing += set.s.streamPing; st.nextPing <= now {
						st.nextPing = now + set.s.streamPing // the clock fell behind
					}
					st.kick(workPing)
				}
			}
			set.mu.Unlock()
		}
		if set.done() {
			return
		}
	}
}

// done removes an empty set from pingSets.
func (set *pingSet) done() bool {
	pingSets.Lock()
	defer pingSets.Unlock()
	set.mu.Lock()
	defer set.mu.Unlock()
	if len(set.streams) > 0 {
		return false
	}
	delete(pingSets.m, set.s)
	return true
}
