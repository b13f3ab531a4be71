package natshub

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/realtime"
	"github.com/nats-io/nats.go"
)

// DefaultSubject is the NATS subject the nodes of a deployment share.
const DefaultSubject = "glasshouse.events"

// SessionsSuffix makes the subject on which the nodes tell each other
// which sessions ended (glasshouse.SessionBus): Subject + SessionsSuffix.
const SessionsSuffix = ".sessions-ended"

// Defaults of Config.
const (
	DefaultGrace         = 100 * time.Millisecond
	DefaultPoll          = time.Second
	DefaultReconnectWait = 500 * time.Millisecond
)

// catchUpPage is how many events one read of the database returns.
const catchUpPage = 1000

// maxPending bounds the events held while an earlier one is missing: past
// it the hub stops waiting and reads the database at once.
const maxPending = 10000

// outBuffer is how many committed events may wait to be sent to NATS.
// Past it Publish drops them (the other nodes then read them from the
// database) rather than hold up the store's commit path.
const outBuffer = 8192

// Source is the database as the hub reads it to catch up: sqlstore.Store.
type Source interface {
	// LastMessageID returns the id of the newest committed message.
	LastMessageID(ctx context.Context) (int64, error)
	// EventsAfter returns, in id order, the events of up to limit
	// committed messages with an id above after, and the id through
	// which the answer is complete.
	EventsAfter(ctx context.Context, after int64, limit int) (events []glasshouse.Event, through int64, err error)
}

// Config sets up a Hub. URL is required.
type Config struct {
	// URL names the NATS server(s): nats://host:4222, several separated by
	// commas; tls://, and user:password@ or a token, as nats.go accepts.
	URL string
	// Subject is the subject the nodes publish to; DefaultSubject if empty.
	// Nodes of one deployment must agree on it.
	Subject string
	// Name names this node's connection in NATS's monitoring.
	Name string
	// Buffer is each subscription's buffer (see realtime.NewHub).
	Buffer int
	// Grace is how long a missing event may take to arrive through NATS,
	// behind later ones, before the hub reads it from the database.
	Grace time.Duration
	// Poll is how often the hub reads the newest committed id from the
	// database, to notice events that NATS never brought.
	Poll time.Duration
	// ReconnectWait is the pause between attempts to reach NATS again.
	ReconnectWait time.Duration
	// Logger receives connection changes and failures; nil discards them.
	Logger *slog.Logger
}

// Hub is a glasshouse.Hub for one node of several: see the package
// documentation. Create it with New, then Start it.
type Hub struct {
	cfg   Config
	local *realtime.Hub
	log   *slog.Logger

	out  chan glasshouse.Event // committed here, to send to NATS
	kick chan struct{}         // a catch-up is due now
	done chan struct{}         // closed by Close
	wg   sync.WaitGroup

	// Set by Start.
	src    Source
	nc     *nats.Conn
	ctx    context.Context // ends with Close
	cancel context.CancelFunc

	mu        sync.Mutex
	started   bool
	closed    bool
	last      int64                      // every event up to it was delivered, or does not exist
	high      int64                      // the highest id known to be committed
	pending   map[int64]glasshouse.Event // received ahead of an event still missing
	holeSince time.Time                  // when delivery stopped short of high; zero when caught up
	holeAt    int64                      // last at holeSince

	published, dropped, failed, received, duplicates, catchUps, fromDB atomic.Uint64

	warned sync.Map // what was logged when, to log a repeated failure once in a while

	sessionsEnded atomic.Pointer[func(glasshouse.SessionsEnded)] // OnSessionsEnded's
}

var (
	_ glasshouse.Hub        = (*Hub)(nil)
	_ glasshouse.SessionBus = (*Hub)(nil)
)

// New returns a Hub that is not connected yet: give it to the store as its
// Publisher, then call Start with the store. Events published before Start
// are neither delivered nor sent (no stream is open yet; the other nodes
// read them from the database).
func New(cfg Config) *Hub {
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = DefaultReconnectWait
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		cfg:     cfg,
		local:   realtime.NewHub(cfg.Buffer),
		log:     logger.With("component", "natshub"),
		out:     make(chan glasshouse.Event, outBuffer),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		pending: make(map[int64]glasshouse.Event),
	}
}

// Start connects to NATS, subscribes, and from then on delivers every event
// committed after the newest one in src at this moment. It fails if NATS
// cannot be reached now; later outages are waited out (see the package
// documentation).
func (h *Hub) Start(ctx context.Context, src Source) error {
	if h.cfg.URL == "" {
		return errors.New("natshub: no NATS URL")
	}
	h.mu.Lock()
	if h.started || h.closed {
		h.mu.Unlock()
		return errors.New("natshub: already started or closed")
	}
	h.mu.Unlock()
	nc, err := nats.Connect(h.cfg.URL,
		nats.Name(h.cfg.Name),
		nats.NoEcho(), // this node's own events are delivered without NATS
		nats.MaxReconnects(-1),
		nats.ReconnectWait(h.cfg.ReconnectWait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // our own Close
			}
			h.log.Warn("NATS connection lost; streams here follow the database until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			h.log.Info("NATS connection back; catching up from the database", "server", nc.ConnectedUrlRedacted())
			h.catchUpSoon()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				h.catchUpSoon() // NATS dropped events for us
			}
			h.warn("nats", "NATS", "err", err)
		}),
	)
	if err != nil {
		return fmt.Errorf("natshub: connect to NATS: %w", err)
	}
	// Subscribe before reading where to start: whatever arrives before the
	// read committed before it, so it is not lost by being ignored.
	sub, err := nc.Subscribe(h.cfg.Subject, h.receive)
	if err == nil {
		err = sub.SetPendingLimits(1<<16, 256<<20)
	}
	if err == nil {
		_, err = nc.Subscribe(h.cfg.Subject+SessionsSuffix, h.receiveSessionsEnded)
	}
	if err == nil {
		err = nc.FlushTimeout(10 * time.Second)
	}
	if err != nil {
		nc.Close()
		return fmt.Errorf("natshub: subscribe to %s: %w", h.cfg.Subject, err)
	}
	last, err := src.LastMessageID(ctx)
	if err != nil {
		nc.Close()
		return fmt.Errorf("natshub: %w", err)
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		nc.Close()
		return errors.New("natshub: closed")
	}
	h.src, h.nc = src, nc
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.last, h.high, h.started = last, last, true
	h.mu.Unlock()
	h.wg.Add(2)
	go h.send()
	go h.keep()
	return nil
}

// Publish delivers an event committed on this node to its streams here and
// queues it for the other nodes. It never blocks.
func (h *Hub) Publish(ev glasshouse.Event) {
	h.mu.Lock()
	if !h.started || h.closed {
		h.mu.Unlock()
		return
	}
	h.offerLocked(ev)
	h.mu.Unlock()
	select {
	case h.out <- ev:
	default:
		h.dropped.Add(1)
		h.warn("dropped", "events are committed faster than NATS takes them; the other nodes will read them from the database")
	}
}

// EndSessions tells the other nodes that the sessions e names ended. It
// never blocks; should NATS not take it, the streams of those sessions on
// other nodes end at their next check of the session.
func (h *Hub) EndSessions(e glasshouse.SessionsEnded) {
	h.mu.Lock()
	nc := h.nc
	h.mu.Unlock()
	if nc == nil {
		return
	}
	b, err := json.Marshal(e)
	if err == nil {
		err = nc.Publish(h.cfg.Subject+SessionsSuffix, b)
	}
	if err != nil {
		h.warn("sessions", "tell the other nodes that sessions ended; their streams end at their next session check", "err", err)
	}
}

// OnSessionsEnded sets what this node does when another node says that
// sessions ended.
func (h *Hub) OnSessionsEnded(f func(glasshouse.SessionsEnded)) {
	h.sessionsEnded.Store(&f)
}

func (h *Hub) receiveSessionsEnded(m *nats.Msg) {
	var e glasshouse.SessionsEnded
	if err := json.Unmarshal(m.Data, &e); err != nil || (e.MemberID == 0 && e.TokenHash == nil) {
		h.warn("format", "ignored a NATS message that names no session", "err", err)
		return
	}
	if f := h.sessionsEnded.Load(); f != nil {
		(*f)(e)
	}
}

// Subscribe opens a feed of memberID's events, committed on any node, in
// commit order. It ends as a realtime.Hub subscription does.
func (h *Hub) Subscribe(ctx context.Context, memberID int64) (glasshouse.Subscription, error) {
	return h.local.Subscribe(ctx, memberID)
}

// Watch opens a feed of memberID's events, committed on any node, in
// commit order, without a channel: see realtime.Hub.Watch.
func (h *Hub) Watch(memberID int64, notify func()) (*realtime.Feed, error) {
	return h.local.Watch(memberID, notify)
}

// Len returns the number of open subscriptions on this node.
func (h *Hub) Len() int { return h.local.Len() }

// Connected reports whether the hub is connected to NATS now.
func (h *Hub) Connected() bool {
	h.mu.Lock()
	nc := h.nc
	h.mu.Unlock()
	return nc != nil && nc.IsConnected()
}

// Close disconnects from NATS and closes every subscription; later
// Subscribe calls fail. Events still queued for NATS are not sent: the
// other nodes read them from the database.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	nc, cancel := h.nc, h.cancel
	h.mu.Unlock()
	close(h.done)
	if cancel != nil {
		cancel()
	}
	if nc != nil {
		nc.Close()
	}
	h.wg.Wait()
	h.local.Close()
}

// Stats are a hub's counts since New, for tests and metrics.
type Stats struct {
	Published  uint64 // events of this node sent to NATS
	Dropped    uint64 // events of this node not sent: the queue to NATS was full
	Failed     uint64 // events of this node NATS refused (while disconnected, past its buffer)
	Received   uint64 // events of other nodes received through NATS
	Duplicates uint64 // events received again, or after the database had given them
	CatchUps   uint64 // reads of the database to fill a gap
	FromDB     uint64 // events delivered from the database rather than NATS
	Last       int64  // every event up to this id has been delivered here
}

// Stats returns the hub's counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	last := h.last
	h.mu.Unlock()
	return Stats{
		Published: h.published.Load(), Dropped: h.dropped.Load(), Failed: h.failed.Load(),
		Received: h.received.Load(), Duplicates: h.duplicates.Load(),
		CatchUps: h.catchUps.Load(), FromDB: h.fromDB.Load(), Last: last,
	}
}

// wire is an event as it travels on NATS: JSON, with a version so that a
// node ignores what it does not understand (and reads it from the
// database instead).
type wire struct {
	V          int                 `json:"v"`
	Message    *glasshouse.Message `json:"message"`
	Recipients []int64             `json:"recipients"`
}

const wireVersion = 1

// send publishes this node's committed events on NATS, in commit order.
func (h *Hub) send() {
	defer h.wg.Done()
	for {
		select {
		case <-h.done:
			return
		case ev := <-h.out:
			b, err := json.Marshal(wire{V: wireVersion, Message: ev.Message, Recipients: ev.Recipients})
			if err == nil {
				err = h.nc.Publish(h.cfg.Subject, b)
			}
			if err != nil {
				h.failed.Add(1)
				h.warn("publish", "publish to NATS; the other nodes will read the event from the database", "err", err)
				continue
			}
			h.published.Add(1)
		}
	}
}

// receive takes an event another node committed, from NATS.
func (h *Hub) receive(m *nats.Msg) {
	var w wire
	if err := json.Unmarshal(m.Data, &w); err != nil || w.V != wireVersion || w.Message == nil || w.Message.ID <= 0 {
		// Its id is unknown, so it can only show as a gap: the database
		// fills it.
		h.warn("format", "ignored a NATS message that is not an event of this version", "err", err)
		return
	}
	h.received.Add(1)
	h.mu.Lock()
	if h.started && !h.closed {
		h.offerLocked(glasshouse.Event{Message: w.Message, Recipients: w.Recipients})
	}
	h.mu.Unlock()
}

// offerLocked takes one event, from this node or NATS: delivered at once if
// it is the next id, held if an earlier one is missing, dropped if already
// delivered. The caller holds h.mu.
func (h *Hub) offerLocked(ev glasshouse.Event) {
	id := ev.Message.ID
	if id <= h.last {
		h.duplicates.Add(1)
		return
	}
	h.high = max(h.high, id)
	if id == h.last+1 {
		h.deliverLocked(ev)
		h.drainLocked()
	} else if _, held := h.pending[id]; held {
		h.duplicates.Add(1)
	} else {
		h.pending[id] = ev
		if len(h.pending) > maxPending {
			h.catchUpSoon()
		}
	}
	h.noteLocked()
}

// deliverLocked hands ev to the streams here; ids only grow.
func (h *Hub) deliverLocked(ev glasshouse.Event) {
	h.local.Publish(ev)
	h.last = ev.Message.ID
}

// drainLocked delivers the held events that follow on from h.last.
func (h *Hub) drainLocked() {
	for {
		ev, ok := h.pending[h.last+1]
		if !ok {
			return
		}
		delete(h.pending, h.last+1)
		h.deliverLocked(ev)
	}
}

// noteLocked starts the grace period when delivery stops short of the
// highest known id, restarts it whenever delivery moves on, and ends it
// once caught up.
func (h *Hub) noteLocked() {
	if h.high <= h.last {
		h.holeSince = time.Time{}
		return
	}
	if h.holeSince.IsZero() || h.holeAt != h.last {
		h.holeSince, h.holeAt = time.Now(), h.last
	}
}

// catchUpSoon asks keep to read the database now.
func (h *Hub) catchUpSoon() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// keep runs the catch-ups: when a gap outlived the grace period, when
// asked (NATS reconnected or dropped events), and it polls the newest
// committed id so that an event NATS never brought shows as a gap.
func (h *Hub) keep() {
	defer h.wg.Done()
	tick := time.NewTicker(max(h.cfg.Grace/4, time.Millisecond))
	defer tick.Stop()
	poll := time.NewTicker(h.cfg.Poll)
	defer poll.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-h.kick:
			h.catchUp()
		case <-tick.C:
			h.mu.Lock()
			due := !h.holeSince.IsZero() && time.Since(h.holeSince) >= h.cfg.Grace
			h.mu.Unlock()
			if due {
				h.catchUp()
			}
		case <-poll.C:
			id, err := h.src.LastMessageID(h.ctx)
			if err != nil {
				if h.ctx.Err() == nil {
					h.warn("poll", "read the newest message id", "err", err)
				}
				continue
			}
			h.mu.Lock()
			h.high = max(h.high, id)
			h.noteLocked()
			h.mu.Unlock()
		}
	}
}

// catchUp reads what follows h.last from the database and delivers it,
// with the events held meanwhile, in id order.
func (h *Hub) catchUp() {
	h.catchUps.Add(1)
	for {
		h.mu.Lock()
		after := h.last
		h.mu.Unlock()
		evs, through, err := h.src.EventsAfter(h.ctx, after, catchUpPage)
		if err != nil {
			if h.ctx.Err() != nil {
				return
			}
			h.warn("catchup", "read missed events from the database; retrying", "err", err)
			h.mu.Lock()
			if !h.holeSince.IsZero() {
				h.holeSince = time.Now() // try again after another grace period
			}
			h.mu.Unlock()
			return
		}
		h.mu.Lock()
		h.applyLocked(evs, through)
		h.mu.Unlock()
		if len(evs) < catchUpPage {
			return
		}
	}
}

// applyLocked delivers the events of a database read complete through
// through, merged with the held ones, in id order, skipping what was
// delivered since the read began. An event both read and held is
// delivered once, as held: its recipients are those of its commit.
func (h *Hub) applyLocked(evs []glasshouse.Event, through int64) {
	if through <= h.last {
		return
	}
	var merged []glasshouse.Event
	for _, ev := range evs {
		id := ev.Message.ID
		if id <= h.last {
			continue
		}
		if held, ok := h.pending[id]; ok {
			merged = append(merged, held)
			delete(h.pending, id)
		} else {
			merged = append(merged, ev)
			h.fromDB.Add(1)
		}
	}
	for id, ev := range h.pending {
		if id <= through {
			merged = append(merged, ev) // committed, but gone from the database since
			delete(h.pending, id)
		}
	}
	slices.SortFunc(merged, func(a, b glasshouse.Event) int { return cmp.Compare(a.Message.ID, b.Message.ID) })
	for _, ev := range merged {
		h.deliverLocked(ev)
	}
	h.last = through
	h.high = max(h.high, through)
	h.drainLocked()
	h.noteLocked()
}

// warnEvery is how often one kind of repeated failure is logged.
const warnEvery = 10 * time.Second

// warn logs msg unless a warning of the same kind was logged in the last
// warnEvery.
func (h *Hub) warn(kind, msg string, args ...any) {
	now := time.Now()
	if prev, ok := h.warned.Load(kind); ok && now.Sub(prev.(time.Time)) < warnEvery {
		return
	}
	h.warned.Store(kind, now)
	h.log.Warn(msg, args...)
}
