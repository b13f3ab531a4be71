package realtime

import (
	"context"
	"sync"

	"github.com/glasshouse/glasshouse"
)

// DefaultBuffer is the number of events a subscription holds for a
// subscriber that has not read them yet. An event is 32 bytes, so 64
// events cost 2 KiB per open stream.
const DefaultBuffer = 64

// Hub is an in-process glasshouse.Hub. The zero value is not usable; call
// NewHub.
type Hub struct {
	buffer int

	mu     sync.Mutex
	subs   map[int64]map[*subscription]struct{} // by member id
	closed bool
}

var _ glasshouse.Hub = (*Hub)(nil)

// NewHub returns a Hub whose subscriptions buffer up to buffer events
// (DefaultBuffer when buffer <= 0).
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, subs: make(map[int64]map[*subscription]struct{})}
}

// Publish hands ev to every subscription of its recipients. It never
// blocks: a subscription whose buffer is full is closed instead. Its cost
// is one non-blocking channel send per open stream of each recipient.
func (h *Hub) Publish(ev glasshouse.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ev.Recipients {
		for s := range h.subs[id] {
			select {
			case s.c <- ev:
			default:
				h.remove(s)
			}
		}
	}
}

// Subscribe opens a feed of memberID's events. It ends when the caller
// closes it, ctx is done, the subscriber lags a full buffer behind, or the
// hub closes. EUNAVAILABLE once the hub is closed.
func (h *Hub) Subscribe(ctx context.Context, memberID int64) (glasshouse.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{hub: h, memberID: memberID, c: make(chan glasshouse.Event, h.buffer)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, glasshouse.Errorf(glasshouse.EUNAVAILABLE, "The server is shutting down.")
	}
	set := h.subs[memberID]
	if set == nil {
		set = make(map[*subscription]struct{})
		h.subs[memberID] = set
	}
	set[s] = struct{}{}
	// No goroutine waits on ctx: AfterFunc starts one to run Close only
	// when ctx ends.
	s.stop = context.AfterFunc(ctx, s.Close)
	h.mu.Unlock()
	return s, nil
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
	for _, set := range h.subs {
		for s := range set {
			h.remove(s)
		}
	}
}

// remove unregisters s and closes its channel. The caller holds h.mu; all
// sends happen under h.mu too, so no send can hit the closed channel.
func (h *Hub) remove(s *subscription) {
	set := h.subs[s.memberID]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(h.subs, s.memberID)
	}
	close(s.c)
}

type subscription struct {
	hub      *Hub
	memberID int64
	c        chan glasshouse.Event
	stop     func() bool // guarded by hub.mu
}

func (s *subscription) C() <-chan glasshouse.Event { return s.c }

// Close ends the subscription; it is safe to call more than once.
func (s *subscription) Close() {
	s.hub.mu.Lock()
	s.hub.remove(s)
	stop := s.stop
	s.hub.mu.Unlock()
	stop()
}
