package realtime

import (
	"context"
	"sync"

	"github.com/glasshouse/glasshouse"
)

// DefaultBuffer is the number of events a subscription holds for a
// subscriber that has not read them yet. An event is 32 bytes, so 64
// events cost 2 KiB per open stream (a Feed allocates its queue only while
// events wait in it).
const DefaultBuffer = 64

// Hub is an in-process glasshouse.Hub. The zero value is not usable; call
// NewHub.
type Hub struct {
	buffer int

	mu     sync.Mutex
	subs   map[int64][]sink // by member id; each sink knows its index
	closed bool
}

// sink is one receiver of a member's events: a channel subscription or a
// Feed. Its methods run with the hub's mutex held.
type sink interface {
	// offer hands ev over without blocking; false if the sink is full.
	offer(ev glasshouse.Event) bool
	// end tells the sink it was removed (lagged, or the hub closed).
	end()
	index() *int
	member() int64
}

var _ glasshouse.Hub = (*Hub)(nil)

// NewHub returns a Hub whose subscriptions buffer up to buffer events
// (DefaultBuffer when buffer <= 0).
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, subs: make(map[int64][]sink)}
}

// Publish hands ev to every subscription of its recipients. It never
// blocks: a subscription whose buffer is full is closed instead. Its cost
// is one non-blocking hand-over per open stream of each recipient.
func (h *Hub) Publish(ev glasshouse.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ev.Recipients {
		set := h.subs[id]
		for i := 0; i < len(set); {
			if set[i].offer(ev) {
				i++
				continue
			}
			h.remove(set[i]) // moves the last sink to i
			set = h.subs[id]
		}
	}
}

// add registers k, or fails once the hub is closed. The caller holds h.mu.
func (h *Hub) add(k sink) error {
	if h.closed {
		return glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The server is shutting down.")
	}
	set := h.subs[k.member()]
	*k.index() = len(set)
	h.subs[k.member()] = append(set, k)
	return nil
}

// Subscribe opens a feed of memberID's events. It ends when the caller
// closes it, ctx is done, the subscriber lags a full buffer behind, or the
// hub closes. EUNAVAILABLE once the hub is closed.
func (h *Hub) Subscribe(ctx context.Context, memberID int64) (glasshouse.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{hub: h, memberID: memberID, idx: -1, c: make(chan glasshouse.Event, h.buffer)}
	h.mu.Lock()
	if err := h.add(s); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	// No goroutine waits on ctx: AfterFunc starts one to run Close only
	// when ctx ends.
	s.stop = context.AfterFunc(ctx, s.Close)
	h.mu.Unlock()
	return s, nil
}

// Watch opens a feed of memberID's events that, unlike Subscribe, needs no
// goroutine waiting on a channel: notify is called whenever the feed goes
// from empty to holding an event, and once when it ends (the subscriber
// lagged a full buffer behind, or the hub closed). The subscriber then
// takes events with Next until it reports none. notify runs while the hub
// is locked, from Publish or Close: it must return at once and must not
// call the hub. An idle Feed holds no buffer. EUNAVAILABLE once the hub is
// closed.
func (h *Hub) Watch(memberID int64, notify func()) (*Feed, error) {
	f := &Feed{hub: h, memberID: memberID, idx: -1, notify: notify}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.add(f); err != nil {
		return nil, err
	}
	return f, nil
}

// Len returns the number of open subscriptions.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.subs {
		n += len(set)
	}
	return n
}

// Close closes every subscription; later Subscribe calls fail.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for id, set := range h.subs {
		for _, k := range set {
			*k.index() = -1
			k.end()
		}
		delete(h.subs, id)
	}
}

// remove unregisters k and ends it. The caller holds h.mu; all hand-overs
// happen under h.mu too, so none can reach an ended sink.
func (h *Hub) remove(k sink) {
	if h.unlink(k) {
		k.end()
	}
}

// unlink unregisters k; false if it was not registered. The caller holds
// h.mu.
func (h *Hub) unlink(k sink) bool {
	i := *k.index()
	if i < 0 {
		return false
	}
	id := k.member()
	set := h.subs[id]
	last := len(set) - 1
	set[i] = set[last]
	*set[i].index() = i
	set[last] = nil
	if last == 0 {
		delete(h.subs, id)
	} else {
		h.subs[id] = set[:last]
	}
	*k.index() = -1
	return true
}

type subscription struct {
	hub      *Hub
	memberID int64
	idx      int // in hub.subs[memberID]; -1 once removed; guarded by hub.mu
	c        chan glasshouse.Event
	stop     func() bool // guarded by hub.mu
}

func (s *subscription) C() <-chan glasshouse.Event { return s.c }

func (s *subscription) offer(ev glasshouse.Event) bool {
	select {
	case s.c <- ev:
		return true
	default:
		return false
	}
}

func (s *subscription) end()          { close(s.c) }
func (s *subscription) index() *int   { return &s.idx }
func (s *subscription) member() int64 { return s.memberID }

// Close ends the subscription; it is safe to call more than once.
func (s *subscription) Close() {
	s.hub.mu.Lock()
	s.hub.remove(s)
	stop := s.stop
	s.hub.mu.Unlock()
	stop()
}

// Feed is a subscription opened with Hub.Watch.
type Feed struct {
	hub      *Hub
	memberID int64
	idx      int // in hub.subs[memberID]; -1 once removed; guarded by hub.mu
	notify   func()

	mu    sync.Mutex
	queue []glasshouse.Event // nil while empty
	head  int                // queue[head:] waits
	ended bool
}

func (f *Feed) offer(ev glasshouse.Event) bool {
	f.mu.Lock()
	n := len(f.queue) - f.head
	if n >= f.hub.buffer {
		f.mu.Unlock()
		return false
	}
	if f.queue == nil {
		f.queue = make([]glasshouse.Event, 0, min(f.hub.buffer, 4))
	} else if f.head > 0 && len(f.queue) == cap(f.queue) {
		// Reuse the room of the events taken rather than grow.
		k := copy(f.queue, f.queue[f.head:])
		clear(f.queue[k:])
		f.queue, f.head = f.queue[:k], 0
	}
	f.queue = append(f.queue, ev)
	f.mu.Unlock()
	if n == 0 {
		f.notify()
	}
	return true
}

func (f *Feed) end() {
	f.mu.Lock()
	f.ended = true
	f.mu.Unlock()
	f.notify()
}

func (f *Feed) index() *int   { return &f.idx }
func (f *Feed) member() int64 { return f.memberID }

// Next takes the oldest event waiting. ok is false when none waits; open
// is false once, in addition, the feed has ended (see Watch), after every
// event queued before the end was taken.
func (f *Feed) Next() (ev glasshouse.Event, ok, open bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.queue) {
		return glasshouse.Event{}, false, !f.ended
	}
	ev = f.queue[f.head]
	f.queue[f.head] = glasshouse.Event{}
	f.head++
	if f.head == len(f.queue) {
		// Drained: drop a queue that grew, keep a small one for the next
		// event.
		if cap(f.queue) > 4 {
			f.queue = nil
		} else {
			f.queue = f.queue[:0]
		}
		f.head = 0
	}
	return ev, true, true
}

// Close ends the feed without calling notify; it is safe to call more than
// once. Events still queued can be taken with Next.
func (f *Feed) Close() {
	f.hub.mu.Lock()
	defer f.hub.mu.Unlock()
	if f.hub.unlink(f) {
		f.mu.Lock()
		f.ended = true
		f.mu.Unlock()
	}
}
